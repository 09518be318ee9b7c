"""The per-order flow: which steps run when, each through the outbox with graded retries.

Flows per trade (each step is a row in `steps`, written before its call):
  outbound:   waybill -> (subscribe, wms_create) concurrently
  shipment:   on a WMS confirm: oms_shipped, erp_outstock, erp_receivable concurrently
  packages:   an order the WMS ships in several: each partial confirm's package to the OMS at
              once (oms_package, keyed by its outBizCode); on the final confirm oms_shipped
              marks the last package once the earlier ones are marked, and erp_outstock books
              the units every package shipped once all their confirms are in
  completion: on a signed carrier push, after oms_shipped: oms_completed
  cancellation: when the poll sees the trade cancelled (5), or a refund of every line
              waiting for the merchant, every step not done is skipped and, if a create may
              have reached the WMS, wms_cancel (order.cancel); if the WMS answers
              CANCELEDFAIL (picked), intercept (Kdniao 1816: back to the sender)
  return (keyed by refund_no): when the poll sees a return refund whose goods are on the way:
              wms_return (returnorder.create); on the WMS's returnorder.confirm:
              erp_returnstock, erp_red_receivable and oms_return_confirm concurrently
  purchase and stock: connectors/reference/stock_flow.py
  transfers between warehouses: connectors/reference/transfer_flow.py
  cycle counts: connectors/reference/count_flow.py
  purchase returns to suppliers: connectors/reference/purchase_return_flow.py
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from connectors.reference.clients.k3 import K3Client
from connectors.reference.clients.kdniao import KdniaoClient
from connectors.reference.clients.oms import OmsClient
from connectors.reference.clients.qimen import CANCELEDFAIL, ORDER_NOT_EXIST, QimenClient
from connectors.reference.count_flow import COUNT_STEPS, CountFlow
from connectors.reference.mapper import Trade, TradeMapper
from connectors.reference.purchase_return_flow import PURCHASE_RETURN_STEPS, PurchaseReturnFlow
from connectors.reference.retry import PermanentError, RetryableError, RetryPolicy, StepError
from connectors.reference.stock_flow import PURCHASE_STEPS, StockFlow
from connectors.reference.store import (
    CANCEL_STEPS,
    OUTBOUND_STEPS,
    RETURN_BOOKING_STEPS,
    SHIPMENT_STEPS,
    SIGNED_STATE,
    Package,
    StateStore,
    Step,
    StepStatus,
    StoredPackage,
)
from connectors.reference.transfer_flow import TRANSFER_STEPS, TransferFlow

log = logging.getLogger("connectors.reference")

Action = Callable[[str, int], Awaitable[None]]
# How long (wall seconds) a WMS cancel waits for the same trade's create in flight to end.
CREATE_WAIT_SECONDS = 30.0

# The peer each step calls.
STEP_PEER = {
    Step.WAYBILL: "carrier",
    Step.SUBSCRIBE: "carrier",
    Step.WMS_CREATE: "wms",
    Step.OMS_SHIPPED: "oms",
    Step.ERP_OUTSTOCK: "erp",
    Step.ERP_RECEIVABLE: "erp",
    Step.OMS_COMPLETED: "oms",
    Step.OMS_PACKAGE: "oms",
    Step.WMS_CANCEL: "wms",
    Step.WMS_RETURN: "wms",
    Step.ERP_RETURNSTOCK: "erp",
    Step.ERP_RED_RECEIVABLE: "erp",
    Step.OMS_RETURN_CONFIRM: "oms",
    Step.INTERCEPT: "carrier",
    Step.WMS_ENTRY: "wms",
    Step.ERP_INSTOCK: "erp",
    Step.ERP_PAYABLE: "erp",
    Step.ERP_TRANSFER_OUT: "erp",
    Step.ERP_TRANSFER_IN: "erp",
    Step.ERP_COUNT_GAIN: "erp",
    Step.ERP_COUNT_LOSS: "erp",
    Step.WMS_STOCKOUT: "wms",
    Step.ERP_PURCHASE_RETURN: "erp",
    Step.ERP_RED_PAYABLE: "erp",
}


@dataclass
class Peers:
    """The four protocol clients the flow calls."""

    oms: OmsClient
    wms: QimenClient
    carrier: KdniaoClient
    erp: K3Client


class Workflow:
    """Runs steps as asyncio tasks; the database, not memory, says what is left to do."""

    def __init__(
        self,
        store: StateStore,
        peers: Peers,
        mapper: TradeMapper,
        policy: RetryPolicy,
        max_in_flight: int = 16,
        transfer_flow: Callable[[Workflow], TransferFlow] = TransferFlow,
        count_flow: Callable[[Workflow], CountFlow] = CountFlow,
        purchase_return_flow: Callable[[Workflow], PurchaseReturnFlow] = PurchaseReturnFlow,
    ) -> None:
        self.store = store
        self.peers = peers
        self.mapper = mapper
        self.policy = policy
        self.stats: Counter[str] = Counter()
        # Calls in flight are bounded per peer, so a slow ERP never holds up WMS creates.
        self._slots = {peer: asyncio.Semaphore(max_in_flight) for peer in set(STEP_PEER.values())}
        self._running: set[tuple[str, Step]] = set()
        # Set by `shutdown`: no new call starts and no step waits out its back-off.
        self._stopping = asyncio.Event()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._actions: dict[Step, Action] = {
            Step.WAYBILL: self._waybill,
            Step.SUBSCRIBE: self._subscribe,
            Step.WMS_CREATE: self._wms_create,
            Step.OMS_SHIPPED: self._oms_shipped,
            Step.ERP_OUTSTOCK: self._erp_outstock,
            Step.ERP_RECEIVABLE: self._erp_receivable,
            Step.OMS_COMPLETED: self._oms_completed,
            Step.OMS_PACKAGE: self._oms_package,
            Step.WMS_CANCEL: self._wms_cancel,
            Step.WMS_RETURN: self._wms_return,
            Step.ERP_RETURNSTOCK: self._erp_returnstock,
            Step.ERP_RED_RECEIVABLE: self._erp_red_receivable,
            Step.OMS_RETURN_CONFIRM: self._oms_return_confirm,
            Step.INTERCEPT: self._intercept,
        }
        # Notified whenever a step stops running: the WMS cancel waits for a create in flight.
        self._step_ended = asyncio.Condition()
        self.stock = StockFlow(self)
        self._actions.update(self.stock.actions())
        self.transfers = transfer_flow(self)
        self._actions.update(self.transfers.actions())
        self.counts = count_flow(self)
        self._actions.update(self.counts.actions())
        self.purchase_returns = purchase_return_flow(self)
        self._actions.update(self.purchase_returns.actions())

    # ---------------------------------------------------------------- starting flows

    def start_order(self, trade_no: str) -> None:
        self._spawn(self._outbound(trade_no))

    def cancel_order(self, trade: Trade) -> None:
        """The OMS cancelled the trade: stop its flows, and cancel it at the WMS if needed."""
        if self.store.cancel(trade):
            self._spawn(self._cancellation(str(trade["trade_no"])))

    def start_shipment(self, trade_no: str) -> None:
        self._spawn(self._shipment(trade_no))

    def start_package(self, out_biz_code: str) -> None:
        """A package's confirm: a partial one's waybill to the OMS now, not when the rest
        ships; a package of a trade cancelled after picking is stopped at the carrier."""
        self._spawn(self._package(out_biz_code))

    async def _package(self, out_biz_code: str) -> None:
        await self.run_step(out_biz_code, Step.OMS_PACKAGE)
        await self.run_step(out_biz_code, Step.INTERCEPT)

    def start_completion(self, trade_no: str) -> None:
        """Complete now if the OMS already knows the trade shipped; else the shipment flow will."""
        if self.store.is_done(trade_no, Step.OMS_SHIPPED):
            self._spawn(self.run_step(trade_no, Step.OMS_COMPLETED))

    def start_return(self, refund: dict[str, Any]) -> None:
        """A return refund of one of our trades: its goods are on the way to the warehouse."""
        if self.store.add_return(refund):
            self._spawn(self.run_step(str(refund["refund_no"]), Step.WMS_RETURN))

    def start_return_booking(self, refund_no: str) -> None:
        """The WMS confirmed the return: book it in the ERP and settle the refund in the OMS."""
        self._spawn(self._return_booking(refund_no))

    def resume(self) -> int:
        """After a restart: start the flows of every trade (and return) with a pending step."""
        trades = self.store.unfinished_trades()
        for trade_no in trades:
            pending = self.store.pending_steps(trade_no)
            if Step.WMS_RETURN in pending:
                self._spawn(self.run_step(trade_no, Step.WMS_RETURN))
            if Step.OMS_PACKAGE in pending:
                self.start_package(trade_no)
            if pending & set(RETURN_BOOKING_STEPS):
                self.start_return_booking(trade_no)
            if pending & set(OUTBOUND_STEPS):
                self.start_order(trade_no)
            if pending & set(SHIPMENT_STEPS):
                self.start_shipment(trade_no)
            elif Step.OMS_COMPLETED in pending:
                self.start_completion(trade_no)
            if pending & set(CANCEL_STEPS):
                self._spawn(self._cancellation(trade_no))
            if pending & set(PURCHASE_STEPS):
                self.stock.resume(trade_no, pending)
            if pending & set(TRANSFER_STEPS):
                self.transfers.resume(trade_no, pending)
            if pending & set(COUNT_STEPS):
                self.counts.resume(trade_no, pending)
            if pending & set(PURCHASE_RETURN_STEPS):
                self.purchase_returns.resume(trade_no, pending)
        return len(trades)

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @property
    def in_flight(self) -> int:
        return len(self._tasks)

    async def shutdown(self, timeout_seconds: float) -> int:
        """A graceful stop: calls in flight may finish (bounded), steps waiting for a retry
        stop waiting at once, no new call starts; returns how many flows it cancelled.

        Steps left pending resume on the next start. Waiting out a back-off would make a stop
        last up to 15 simulated minutes: a supervisor would SIGKILL the process first, and the
        restart that follows would come all the later.
        """
        self._stopping.set()
        return await self.drain(timeout_seconds)

    async def drain(self, timeout_seconds: float) -> int:
        """Let running calls finish (bounded), then cancel the rest; returns how many it cancelled.

        A cancelled step stays pending in the database and resumes on the next start.
        """
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=timeout_seconds)
        left = list(self._tasks)
        for task in left:
            task.cancel()
        if left:
            await asyncio.wait(left, timeout=1.0)
        return len(left)

    # ---------------------------------------------------------------- flows

    async def _outbound(self, trade_no: str) -> None:
        if await self.run_step(trade_no, Step.WAYBILL):
            # Tracking subscription must not delay the WMS: run both at once.
            await asyncio.gather(
                self.run_step(trade_no, Step.SUBSCRIBE), self.run_step(trade_no, Step.WMS_CREATE)
            )

    async def _shipment(self, trade_no: str) -> None:
        await asyncio.gather(
            self._ship_then_complete(trade_no),
            self.run_step(trade_no, Step.ERP_OUTSTOCK),
            self.run_step(trade_no, Step.ERP_RECEIVABLE),
        )

    async def _return_booking(self, refund_no: str) -> None:
        await asyncio.gather(*(self.run_step(refund_no, step) for step in RETURN_BOOKING_STEPS))

    async def _cancellation(self, trade_no: str) -> None:
        # A create still in flight would land after the cancel: let it end first (bounded),
        # outside the WMS's call slots, which that create may be waiting for.
        create = (trade_no, Step.WMS_CREATE)
        async with self._step_ended:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    self._step_ended.wait_for(lambda: create not in self._running),
                    timeout=CREATE_WAIT_SECONDS,
                )
        await self.run_step(trade_no, Step.WMS_CANCEL)
        # Added by a CANCELEDFAIL (now or before a restart): the parcel must be stopped.
        await self.run_step(trade_no, Step.INTERCEPT)

    async def _ship_then_complete(self, trade_no: str) -> None:
        # No await between the step's commit and this check, so a signed push arriving now
        # is either seen here or sees oms_shipped done in start_completion: never both or neither.
        if await self.run_step(trade_no, Step.OMS_SHIPPED) and self.store.step(
            trade_no, Step.OMS_COMPLETED
        ):
            await self.run_step(trade_no, Step.OMS_COMPLETED)

    # ---------------------------------------------------------------- one step

    async def run_step(self, trade_no: str, step: Step) -> bool:
        """Run one step to done (True) or parked (False), retrying on the graded schedule."""
        key = (trade_no, step)
        if key in self._running:
            return False
        self._running.add(key)
        try:
            return await self._run_step(trade_no, step)
        finally:
            self._running.discard(key)
            async with self._step_ended:
                self._step_ended.notify_all()

    async def _run_step(self, trade_no: str, step: Step) -> bool:
        action = self._actions[step]
        while True:
            state = self.store.step(trade_no, step)
            if state is None or state.status is StepStatus.FAILED:
                return False
            if state.status is StepStatus.DONE:
                return True
            if state.status is StepStatus.SKIPPED:
                return False
            if step not in CANCEL_STEPS and self.store.is_cancelled(self._trade_of(trade_no, step)):
                # Added after the cancellation (a confirm, a signed parcel): not to be done.
                self.store.skip(trade_no, step)
                return False
            if self._stopping.is_set():
                return False  # still pending: the next start resumes it
            wait = state.next_attempt - time.time()
            if wait > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), timeout=wait)
                continue  # something (a confirm) may have finished the step meanwhile
            attempt = self.store.begin_attempt(trade_no, step)
            try:
                async with self._slots[STEP_PEER[step]]:
                    await action(trade_no, attempt)
            except StepError as error:
                self._failed(trade_no, step, attempt, error)
                continue
            except (KeyError, ValueError, TypeError) as error:
                # Data the mapping cannot handle: no retry will change it.
                self._failed(trade_no, step, attempt, PermanentError("connector", repr(error)))
                continue
            self.store.finish(trade_no, step)
            self.stats[f"done.{step.value}"] += 1
            return True

    def _trade_of(self, key: str, step: Step) -> str:
        """The trade a step's key stands for: a package's step is keyed by its confirm."""
        return self.store.package(key).trade_no if step is Step.OMS_PACKAGE else key

    def _failed(self, trade_no: str, step: Step, attempt: int, error: StepError) -> None:
        if self.store.is_done(trade_no, step):
            return  # finished meanwhile by other evidence (a confirm for a lost create answer)
        delay = self.policy.delay_for(attempt, error)
        if delay is None:
            self.store.park(trade_no, step, str(error))
            self.stats["parked"] += 1
            log.error("parked %s %s after %d attempt(s): %s", trade_no, step.value, attempt, error)
            return
        self.store.schedule_retry(trade_no, step, time.time() + delay, str(error))
        self.stats["retries"] += 1
        log.warning(
            "retry %s %s in %.1fs (attempt %d failed): %s",
            trade_no,
            step.value,
            delay,
            attempt,
            error,
        )

    # ---------------------------------------------------------------- the calls

    async def _waybill(self, trade_no: str, attempt: int) -> None:
        trade = self.store.trade(trade_no)
        code = await self.peers.carrier.create_waybill(self.mapper.waybill_request(trade))
        self.store.set_waybill(trade_no, code)

    def _known_waybill(self, trade_no: str) -> str:
        code = self.store.waybill(trade_no)
        if code is None:
            raise PermanentError("connector", f"{trade_no} has no waybill")
        return code

    async def _subscribe(self, trade_no: str, attempt: int) -> None:
        trade = self.store.trade(trade_no)
        request = self.mapper.subscribe_request(trade, self._known_waybill(trade_no))
        await self.peers.carrier.subscribe(request)

    async def _wms_create(self, trade_no: str, attempt: int) -> None:
        trade = self.store.trade(trade_no)
        code = self.mapper.delivery_order_code(trade, attempt)
        # Known before it is sent, so the confirm finds its trade even if this answer is lost.
        self.store.record_delivery_code(code, trade_no)
        body = self.mapper.delivery_order_xml(trade, code, self._known_waybill(trade_no))
        delivery_order_id = await self.peers.wms.create_delivery_order(body)
        self.store.set_delivery_order_id(trade_no, delivery_order_id)

    def _logistics(self, trade_no: str) -> tuple[str, str]:
        """(carrier code, waybill number) as shipped: the confirm's package, else as ordered."""
        trade = self.store.trade(trade_no)
        shipment = self.store.shipment(trade_no)
        logistics_code = shipment.logistics_code or str(trade["logistics_code"])
        logistics_no = shipment.express_code or self._known_waybill(trade_no)
        return logistics_code, logistics_no

    async def _oms_shipped(self, trade_no: str, attempt: int) -> None:
        packages = self._all_packages(trade_no)
        if packages is None:
            logistics_code, logistics_no = self._logistics(trade_no)
            await self.peers.oms.mark_shipped(trade_no, logistics_code, logistics_no)
            return
        # The OMS makes the first package it hears of the trade's waybill: the earlier
        # packages go first (their own steps), then this last one.
        for stored in packages:
            if stored.partial and not self.store.is_done(stored.out_biz_code, Step.OMS_PACKAGE):
                raise RetryableError("oms", f"{trade_no}: an earlier package is not marked yet")
        await self._mark_package(trade_no, packages[-1].package)

    async def _oms_package(self, out_biz_code: str, attempt: int) -> None:
        stored = self.store.package(out_biz_code)
        await self._mark_package(stored.trade_no, stored.package)

    async def _mark_package(self, trade_no: str, package: Package) -> None:
        trade = self.store.trade(trade_no)
        await self.peers.oms.mark_package(
            trade_no,
            package.logistics_code or str(trade["logistics_code"]),
            package.express_code,
            self.mapper.package_oids(trade, package),
            package.units,
        )

    def _all_packages(self, trade_no: str) -> list[StoredPackage] | None:
        """The trade's packages, the final one last, once their units make the trade's; None
        for a trade shipped whole. Raises RetryableError while an earlier package's confirm
        is still on its way (the WMS redelivers a lost push minutes later)."""
        packages = self.store.packages(trade_no)
        if not packages:
            return None
        ordered = sum(int(d["num"]) for d in self.store.trade(trade_no).get("detail_list") or [])
        shipped = sum(stored.package.units for stored in packages)
        if shipped < ordered:
            raise RetryableError("wms", f"{trade_no}: {shipped} of {ordered} units confirmed")
        return packages

    def _bill_date(self, trade_no: str) -> str:
        shipped = self.store.shipment(trade_no).confirm_time
        return shipped or str(self.store.trade(trade_no).get("pay_time") or "")

    async def _erp_outstock(self, trade_no: str, attempt: int) -> None:
        # One SAL_OUTSTOCK per trade, of the units the WMS confirmed (every package's).
        packages = self._all_packages(trade_no)
        shipped: dict[str, int] | None = None
        if packages is not None:
            shipped = {}
            for stored in packages:
                for line_no, _, qty in stored.package.lines:
                    shipped[line_no] = shipped.get(line_no, 0) + qty
        model = self.mapper.outstock_model(
            self.store.trade(trade_no), self._bill_date(trade_no), shipped
        )
        await self.peers.erp.post_audited("SAL_OUTSTOCK", model)

    async def _erp_receivable(self, trade_no: str, attempt: int) -> None:
        model = self.mapper.receivable_model(self.store.trade(trade_no), self._bill_date(trade_no))
        await self.peers.erp.post_audited("AR_receivable", model)

    async def _wms_cancel(self, trade_no: str, attempt: int) -> None:
        refused = await self.peers.wms.cancel_order(
            self.mapper.cancel_xml(self.store.trade(trade_no))
        )
        if refused == ORDER_NOT_EXIST and self.store.is_done(trade_no, Step.WMS_CREATE):
            raise RetryableError("wms", f"order.cancel: {trade_no} created but not found")
        if refused == CANCELEDFAIL:
            self.on_canceledfail(trade_no)
        self.stats[f"wms_cancel.{refused or 'cancelled'}"] += 1

    def on_canceledfail(self, trade_no: str) -> None:
        """The WMS refused the cancel (a picker started): the goods will leave, so the parcel
        must be intercepted at the carrier. The trade stays cancelled: nothing is marked
        shipped, booked or completed for it (docs/CONTRACT.md). A package that left with a
        waybill of its own (an order shipped in several) is stopped too."""
        for key in self.store.add_intercept(trade_no):
            self._spawn(self.run_step(key, Step.INTERCEPT))

    async def _intercept(self, key: str, attempt: int) -> None:
        try:
            stored = self.store.package(key)
        except KeyError:
            # The waybill as shipped (the confirm's package), else the one ordered: the parcel
            # may not have left yet, and the carrier stops it at its first scan.
            _, logistics_no = self._logistics(key)
            request = self.mapper.intercept_request(self.store.trade(key), logistics_no)
        else:
            # A later package's own waybill, which the WMS asked for under a code of its own:
            # no OrderCode (optional in 1816), so the carrier matches the waybill alone.
            trade = self.store.trade(stored.trade_no)
            request = self.mapper.intercept_request(trade, stored.package.express_code)
            request.pop("OrderCode", None)
        status = await self.peers.carrier.intercept(request)
        self.stats[f"intercept.{status}"] += 1

    async def _oms_completed(self, trade_no: str, attempt: int) -> None:
        _, logistics_no = self._logistics(trade_no)
        await self.peers.oms.upload_trace(trade_no, logistics_no, SIGNED_STATE)

    # ---------------------------------------------------------------- returns (by refund_no)

    def _return_trade(self, refund_no: str) -> tuple[Trade, dict[str, Any]]:
        refund = self.store.return_refund(refund_no)
        return self.store.trade(str(refund["trade_no"])), refund

    async def _wms_return(self, refund_no: str, attempt: int) -> None:
        trade, refund = self._return_trade(refund_no)
        await self.peers.wms.create_return_order(self.mapper.return_order_xml(trade, refund))

    def _return_date(self, refund_no: str) -> str:
        _, confirmed = self.store.return_confirm(refund_no)
        return confirmed or self._bill_date(str(self.store.return_refund(refund_no)["trade_no"]))

    async def _erp_returnstock(self, refund_no: str, attempt: int) -> None:
        trade, refund = self._return_trade(refund_no)
        lines, _ = self.store.return_confirm(refund_no)
        model = self.mapper.return_stock_model(trade, refund, lines, self._return_date(refund_no))
        await self.peers.erp.post_audited("SAL_RETURNSTOCK", model)

    async def _erp_red_receivable(self, refund_no: str, attempt: int) -> None:
        trade, refund = self._return_trade(refund_no)
        model = self.mapper.red_receivable_model(trade, refund, self._return_date(refund_no))
        await self.peers.erp.post_audited("AR_receivable", model)

    async def _oms_return_confirm(self, refund_no: str, attempt: int) -> None:
        await self.peers.oms.confirm_return(refund_no)
