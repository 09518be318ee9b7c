"""After-sales traffic the simulated buyers make: cancellations before shipment and after
picking, and returns after delivery, played in simulated time against the OMS, the WMS and the
carrier in process.

A buyer cancels a paid, unshipped trade the way 旺店通 sees it: a refund of type 1 (退款,
未发货) for every line. Stage `before_pickup` cancels `delay_seconds` after payment;
`before_picking` waits until the WMS has the delivery order (deliveryOrderCode = trade_no,
as docs/CONTRACT.md asks) and cancels `delay_seconds` later, while the order waits for a
picker in scenarios that give the connector time to intercept it
(scenarios/after_sales.yaml). Both refunds are agreed at once, which cancels the trade
(trade_status 5).

`after_picking` waits until a picker has started on the order (the WMS then answers
order.cancel with CANCELEDFAIL) and asks for the refund `delay_seconds` later. That refund
waits (20, WAIT_SELLER_AGREE): the merchant, played here, agrees it only once the goods are
back, that is once the WMS order was cancelled after all (nothing left), or its parcel is
back with the sender (intercepted at the carrier, or refused by the buyer) and the warehouse
has shelved it again. A buyer who `refuses` turns the parcel away at the door if it reaches
them. A parcel signed for by the buyer is never refunded here: the buyer was charged for
goods they cancelled, which the judge's `cancelled_after_picking_returned` catches.
"""

from __future__ import annotations

from collections.abc import Generator

import simpy

from fake_systems.carrier.models import STATE_EX_RETURN_SIGNED, STATE_SIGNED
from fake_systems.carrier.service import CarrierService
from fake_systems.oms.models import OmsError, RefundStatus, RefundType, TradeStatus
from fake_systems.oms.service import OmsService
from fake_systems.wms.inbound import ParcelLine
from fake_systems.wms.models import DeliveryOrderView, DeliveryStatus, WmsError
from fake_systems.wms.service import WmsService
from simulator.demand import CancelPlan, ReturnPlan

# How often (simulated seconds) a `before_picking` buyer looks whether the WMS has the order,
# and for how long at most: an order that never reaches the WMS is cancelled all the same
# (the buyer does not wait for the warehouse).
WMS_LOOK_EVERY_SECONDS = 10.0
WMS_LOOK_FOR_SECONDS = 3600.0
# The steps of a 旺店通 refund from applied (20) to agreed and settled (80): the last
# cancels a trade none of whose lines is left unrefunded.
_AGREED = (RefundStatus.REVIEWED, RefundStatus.PUSHED, RefundStatus.SETTLED)
CANCEL_REASON = "买家取消订单"
# An `after_picking` buyer waits this long at most for a picker (orders wait for their wave).
PICK_LOOK_FOR_SECONDS = 4 * 3600.0
# How often the merchant looks whether the goods of an after-pick cancellation are back.
RETURN_LOOK_EVERY_SECONDS = 10.0
# Delivery-order states before picking: order.cancel still works.
_NOT_PICKED = (DeliveryStatus.NEW, DeliveryStatus.ACCEPT, DeliveryStatus.EXCEPTION)


class Cancellations:
    """Plays each planned cancellation as its own SimPy process; counts what it did."""

    def __init__(
        self,
        env: simpy.Environment,
        oms: OmsService,
        wms: WmsService,
        carrier: CarrierService | None = None,
    ) -> None:
        self.env = env
        self.oms = oms
        self.wms = wms
        self.carrier = carrier
        self.planned = 0
        self.cancelled = 0
        self.by_stage: dict[str, int] = {}
        # after_picking: refunds asked, agreed once the goods were back, and how they came back.
        self.after_picking = {
            "requested": 0,
            "too_late": 0,
            "refunded": 0,
            "stopped_at_wms": 0,
            "returned": 0,
            "refused_planned": 0,
            "delivered": 0,
        }

    def plan(self, trade_no: str, plan: CancelPlan) -> simpy.events.Process:
        """Start the buyer's cancellation of `trade_no` (the demand's `cancel` callback)."""
        self.planned += 1
        self.by_stage[plan.stage] = self.by_stage.get(plan.stage, 0) + 1
        return self.env.process(self._play(trade_no, plan))

    def _play(self, trade_no: str, plan: CancelPlan) -> Generator[simpy.events.Event, object, None]:
        if plan.stage == "after_picking":
            yield from self._after_picking(trade_no, plan)
            return
        if plan.stage == "before_picking":
            waited = 0.0
            while not self._at_wms(trade_no) and waited < WMS_LOOK_FOR_SECONDS:
                yield self.env.timeout(WMS_LOOK_EVERY_SECONDS)
                waited += WMS_LOOK_EVERY_SECONDS
        yield self.env.timeout(plan.delay_seconds)
        if self.cancel(trade_no):
            self.cancelled += 1

    def _at_wms(self, trade_no: str) -> bool:
        trade = self.oms.get_trade(trade_no)
        if trade is None:
            return False
        try:
            self.wms.query_delivery_order(trade_no, trade.owner_code)
        except WmsError:
            return False
        return True

    def cancel(self, trade_no: str) -> bool:
        """The buyer's refund before shipment, agreed at once: the trade is cancelled. False
        if the OMS refuses it (the trade shipped meanwhile: a refund before shipment no
        longer applies)."""
        try:
            refund_no = self.oms.create_refund(
                trade_no, RefundType.REFUND_BEFORE_SHIPMENT, reason=CANCEL_REASON
            )
            for status in _AGREED:
                self.oms.advance_refund(refund_no, status)
        except OmsError:
            return False
        return True

    def _after_picking(
        self, trade_no: str, plan: CancelPlan
    ) -> Generator[simpy.events.Event, object, None]:
        """Ask for the refund once picking started; agree it once the goods are back."""
        trade = self.oms.get_trade(trade_no)
        if trade is None:
            return
        owner = trade.owner_code
        waited = 0.0
        while waited < PICK_LOOK_FOR_SECONDS:
            order = self._order(trade_no, owner)
            if order is not None and order.status not in _NOT_PICKED:
                break
            yield self.env.timeout(WMS_LOOK_EVERY_SECONDS)
            waited += WMS_LOOK_EVERY_SECONDS
        yield self.env.timeout(plan.delay_seconds)
        try:
            refund_no = self.oms.create_refund(
                trade_no, RefundType.REFUND_BEFORE_SHIPMENT, reason=CANCEL_REASON
            )
        except OmsError:
            # Shipped in the OMS already: a refund before shipment no longer applies (a
            # return is the buyer's way then, not played here).
            self.after_picking["too_late"] += 1
            return
        counts = self.after_picking
        counts["requested"] += 1
        refusal_told = False
        while True:
            order = self._order(trade_no, owner)
            if order is None or order.status is DeliveryStatus.CANCELED:
                counts["stopped_at_wms"] += 1  # nothing left the warehouse
                break
            state = self._parcel(order)
            if plan.refuses and not refusal_told and order.express_code and self.carrier:
                self.carrier.refuse_on_delivery(order.express_code)
                counts["refused_planned"] += 1
                refusal_told = True
            if state is not None and state[1] == STATE_EX_RETURN_SIGNED:
                self.wms.receive_returned_parcel(trade_no, owner)
                counts["returned"] += 1
                break
            if state is not None and state[0] == STATE_SIGNED:
                counts["delivered"] += 1  # the buyer has the goods: no refund from here
                return
            yield self.env.timeout(RETURN_LOOK_EVERY_SECONDS)
        if self._agree(refund_no, trade_no):
            counts["refunded"] += 1

    def _order(self, trade_no: str, owner: str) -> DeliveryOrderView | None:
        try:
            return self.wms.query_delivery_order(trade_no, owner)
        except WmsError:
            return None

    def _parcel(self, order: DeliveryOrderView) -> tuple[int, str] | None:
        if self.carrier is None or not order.express_code:
            return None
        return self.carrier.parcel_state(order.express_code)

    def _agree(self, refund_no: str, trade_no: str) -> bool:
        """The merchant agrees the waiting refund: settled, which cancels an unshipped trade."""
        try:
            for status in _AGREED:
                self.oms.advance_refund(refund_no, status)
        except OmsError:
            return False
        trade = self.oms.get_trade(trade_no)
        if trade is not None and trade.trade_status == TradeStatus.CANCELLED:
            self.cancelled += 1
        return True

    def report(self) -> dict[str, object]:
        """For report.json: the cancellations planned (by stage) and those the OMS made, and
        what became of the after-pick ones."""
        report: dict[str, object] = {
            "planned": self.planned,
            "planned_by_stage": dict(sorted(self.by_stage.items())),
            "cancelled": self.cancelled,
        }
        if self.by_stage.get("after_picking"):
            report["after_picking"] = dict(self.after_picking)
        return report


# How often (simulated seconds) a returning buyer looks whether their parcel was signed for,
# and for how long at most: a parcel never signed for (lost, refused) is not returned.
SIGNED_LOOK_EVERY_SECONDS = 300.0
SIGNED_LOOK_FOR_SECONDS = 7 * 86400.0


class Returns:
    """Plays each planned return as its own SimPy process, after the carrier's signed state.

    The buyer applies for a return refund (旺店通 type 2, 退货退款, status 20) of some units;
    the seller agrees at once (30); the buyer sends the goods back under a return waybill
    (the refund's `logistics_no`, status 40); after `transit_seconds` the parcel is at the
    warehouse that shipped the trade, where the return order the connector creates (with
    that waybill as expressCode) receives it: the units the plan marks defective go to CC.
    Settling the refund (80) is the connector's part: `ecomock.Refund.confirmReturn` once the
    WMS confirmed the return (docs/CONTRACT.md).
    """

    def __init__(
        self, env: simpy.Environment, oms: OmsService, wms: WmsService, carrier: CarrierService
    ) -> None:
        self.env = env
        self.oms = oms
        self.wms = wms
        self.carrier = carrier
        self.planned = 0
        self.applied = 0
        self.arrived = 0
        self.units = 0
        self.defective = 0
        self.partial = 0
        self.pending = 0

    def plan(self, trade_no: str, plan: ReturnPlan) -> simpy.events.Process:
        """Start the buyer's return of `trade_no` (the demand's `give_back` callback)."""
        self.planned += 1
        self.pending += 1
        return self.env.process(self._play(trade_no, plan))

    def _play(self, trade_no: str, plan: ReturnPlan) -> Generator[simpy.events.Event, object, None]:
        try:
            waited = 0.0
            while (shipped := self._signed(trade_no)) is None:
                if waited >= SIGNED_LOOK_FOR_SECONDS:
                    return
                yield self.env.timeout(SIGNED_LOOK_EVERY_SECONDS)
                waited += SIGNED_LOOK_EVERY_SECONDS
            yield self.env.timeout(plan.apply_seconds)
            applied = self.apply(trade_no, plan)
            if applied is None:
                return
            refund_no, parcel = applied
            yield self.env.timeout(plan.transit_seconds)
            owner, warehouse = shipped
            self.wms.parcel_arrives(owner, warehouse, return_waybill(refund_no), trade_no, parcel)
            self.arrived += 1
        finally:
            self.pending -= 1

    def _signed(self, trade_no: str) -> tuple[str, str] | None:
        """(owner, warehouse) of the trade's delivery order once its parcel was signed for."""
        trade = self.oms.get_trade(trade_no)
        if trade is None:
            return None
        try:
            order = self.wms.query_delivery_order(trade_no, trade.owner_code)
        except WmsError:
            return None
        if order.status is not DeliveryStatus.DELIVERED or not order.express_code:
            return None
        if not self.carrier.signed(order.express_code):
            return None
        return order.owner_code, order.warehouse_code

    def apply(self, trade_no: str, plan: ReturnPlan) -> tuple[str, list[ParcelLine]] | None:
        """The buyer's return application, agreed, and the goods sent back: the refund_no and
        what the parcel holds. None if the OMS refuses it (the trade is not shipped)."""
        trade = self.oms.get_trade(trade_no)
        if trade is None:
            return None
        lines = [(trade.lines[line.index], line) for line in plan.lines]
        try:
            refund_no = self.oms.create_refund(
                trade_no,
                RefundType.RETURN,
                oids=[stored.src_oid for stored, _ in lines],
                reason=plan.reason,
                quantities={stored.src_oid: line.qty for stored, line in lines},
            )
            self.oms.advance_refund(refund_no, RefundStatus.REVIEWED)
            self.oms.ship_return(refund_no, trade.logistics_code, return_waybill(refund_no))
        except OmsError:
            return None
        self.applied += 1
        self.units += sum(line.qty for _, line in lines)
        self.defective += sum(line.defective for _, line in lines)
        self.partial += int(
            len(lines) < len(trade.lines) or any(line.qty < s.num for s, line in lines)
        )
        parcel = [ParcelLine(stored.spec_no, line.qty, line.defective) for stored, line in lines]
        return refund_no, parcel

    def report(self) -> dict[str, object]:
        """For report.json: the returns planned, applied for, and back at the warehouse."""
        return {
            "planned": self.planned,
            "applied": self.applied,
            "partial": self.partial,
            "at_warehouse": self.arrived,
            "units": self.units,
            "defective_units": self.defective,
        }


def return_waybill(refund_no: str) -> str:
    """The buyer's return parcel's waybill number (one per refund; ecomock's own numbers:
    the carrier does not track the way back)."""
    return f"RT{refund_no.removeprefix('TK')}"
