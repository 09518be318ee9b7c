"""Wires the reference connector together and runs it until SIGTERM / SIGINT."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta

import uvicorn

from connectors.reference.callbacks import CallbackHandlers, create_callback_app
from connectors.reference.clients.bank import BankClient
from connectors.reference.clients.http import HttpClient, make_client
from connectors.reference.clients.k3 import K3Client
from connectors.reference.clients.kdniao import KdniaoClient
from connectors.reference.clients.oms import OmsClient, QimenApp
from connectors.reference.clients.qimen import QimenClient
from connectors.reference.count_flow import CountFlow
from connectors.reference.fee_flow import FeeFlow
from connectors.reference.mapper import TradeMapper
from connectors.reference.master_flow import MasterDataFlow
from connectors.reference.payment_flow import PaymentFlow
from connectors.reference.poller import Poller
from connectors.reference.retry import RetryPolicy
from connectors.reference.settings import Settings, SettingsError
from connectors.reference.settlement_flow import SettlementFlow
from connectors.reference.statement_flow import StatementFlow
from connectors.reference.store import StateStore
from connectors.reference.transfer_flow import TransferFlow
from connectors.reference.workflow import Peers, Workflow

log = logging.getLogger("connectors.reference")
PEERS = ("oms", "wms", "carrier", "erp", "bank")


class _CallbackServer(uvicorn.Server):
    """uvicorn minus its own signal handling: the connector drains its flows before it stops."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class Connector:
    """One running connector: state store, peers, workflow, poller and callback server.

    `mapper` is the extension point: pass a TradeMapper subclass to change one business rule;
    a subclass may set `handlers` to change how pushes are received, `transfer_flow` how
    transfers are booked, `count_flow` how cycle counts are, `statements` how the bank's day
    statements and their fees are.
    """

    handlers: type[CallbackHandlers] = CallbackHandlers
    settlements: type[SettlementFlow] = SettlementFlow
    payments: type[PaymentFlow] = PaymentFlow
    statements: type[StatementFlow] = StatementFlow
    fees: type[FeeFlow] = FeeFlow
    transfer_flow: type[TransferFlow] = TransferFlow
    count_flow: type[CountFlow] = CountFlow

    def __init__(self, settings: Settings, mapper: TradeMapper | None = None) -> None:
        self.settings = settings
        self.mapper = mapper or TradeMapper()
        self.stop_event = asyncio.Event()
        self.ready = False

    def build_peers(self, clients: dict[str, HttpClient]) -> Peers:
        s = self.settings
        return Peers(
            oms=OmsClient(
                clients["oms"],
                s.oms_url,
                s.oms_sid,
                s.oms_app_key,
                s.oms_app_secret,
                QimenApp(s.oms_qimen_app_key, s.oms_qimen_secret, s.oms_qimen_target_app_key),
            ),
            wms=QimenClient(
                clients["wms"], s.wms_url, s.wms_app_key, s.wms_secret, s.wms_customer_id
            ),
            carrier=KdniaoClient(
                clients["carrier"], s.carrier_url, s.carrier_ebusiness_id, s.carrier_api_key
            ),
            erp=K3Client(
                clients["erp"],
                s.erp_url,
                s.erp_acct_id,
                s.erp_username,
                s.erp_app_id,
                s.erp_app_secret,
                s.erp_lcid,
            ),
        )

    def open_store(self) -> StateStore:
        """The durable state: SQLite in the state folder, which outlives the process."""
        return StateStore(self.settings.state_dir / "connector.db")

    def retry_policy(self) -> RetryPolicy:
        """The graded retries of a failed step (retry.py)."""
        return RetryPolicy(self.settings.time_scale)

    def request_stop(self) -> None:
        self.stop_event.set()

    async def run(self) -> None:
        s = self.settings
        store = self.open_store()
        # One client per peer: separate pools, and the poller's OMS calls never queue behind
        # a burst of ERP calls.
        clients = {name: make_client(s.max_in_flight) for name in PEERS}
        workflow = Workflow(
            store,
            self.build_peers(clients),
            self.mapper,
            self.retry_policy(),
            s.max_in_flight,
            self.transfer_flow,
            self.count_flow,
        )
        poller = Poller(
            workflow.peers.oms, store, workflow, self.mapper, timedelta(seconds=s.overlap_seconds)
        )
        handlers = self.handlers(
            store,
            workflow,
            s.wms_secret,
            s.carrier_api_key,
            s.carrier_ebusiness_id,
            lambda: self.ready,
        )
        handlers.stock = workflow.stock
        handlers.transfers = workflow.transfers
        handlers.counts = workflow.counts
        master = MasterDataFlow(workflow)
        settlements = self.settlements(
            workflow.peers.oms, workflow.peers.erp, s.bank_webhook_secret
        )
        payments = None
        statements = None
        if s.bank_url and s.bank_account:
            bank = BankClient(
                clients["bank"], s.bank_url, s.bank_account, s.bank_password, s.bank_totp_seed
            )
            payments = self.payments(
                store, workflow.peers.oms, workflow.peers.erp, bank, workflow.policy
            )
            statements = self.statements(
                store, workflow.peers.oms, workflow.peers.erp, bank, workflow.policy
            )
        fees = self.fees(store, workflow.peers.carrier, workflow.peers.erp, workflow.policy)
        server = _CallbackServer(
            uvicorn.Config(
                create_callback_app(handlers, [settlements.route()]),
                host="127.0.0.1",
                port=s.port,
                log_level="warning",
                access_log=False,
                lifespan="off",
            )
        )
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self.request_stop)

        server_task = asyncio.create_task(server.serve())
        background: list[asyncio.Task[None]] = []
        try:
            while not server.started:
                if server_task.done():
                    server_task.result()
                    raise RuntimeError("callback server stopped while starting")
                await asyncio.sleep(0.01)
            resumed = workflow.resume()
            log.info(
                "reference connector up on 127.0.0.1:%d (state %s, scale %g, %d order(s) resumed)",
                s.port,
                store.path,
                s.time_scale,
                resumed,
            )
            self.ready = True
            background = [
                asyncio.create_task(poller.run(self.stop_event, s.poll_seconds)),
                asyncio.create_task(
                    self._summaries(
                        workflow, poller, handlers, settlements, payments, statements, master
                    )
                ),
                asyncio.create_task(workflow.stock.poll(self.stop_event, s.poll_seconds)),
                asyncio.create_task(workflow.stock.sync(self.stop_event)),
                asyncio.create_task(master.poll(self.stop_event, s.poll_seconds)),
            ]
            if payments is not None:
                background.append(asyncio.create_task(payments.run(self.stop_event)))
            if statements is not None:
                background.append(asyncio.create_task(statements.run(self.stop_event)))
            background.append(asyncio.create_task(fees.run(self.stop_event)))
            await self.stop_event.wait()
        finally:
            log.info("stopping: draining %d flow(s)", workflow.in_flight)
            self.ready = False
            self.stop_event.set()
            for task in background:
                task.cancel()
            await asyncio.gather(*background, return_exceptions=True)
            cancelled = await workflow.shutdown(s.shutdown_grace_seconds)
            server.should_exit = True
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server_task, timeout=5)
            for client in clients.values():
                await client.aclose()
            store.close()
            log.info("stopped (%d flow(s) left pending for the next start)", cancelled)

    async def _summaries(
        self,
        workflow: Workflow,
        poller: Poller,
        handlers: CallbackHandlers,
        settlements: SettlementFlow,
        payments: PaymentFlow | None,
        statements: StatementFlow | None,
        master: MasterDataFlow,
    ) -> None:
        """One INFO line every few seconds instead of one per order."""
        previous: Counter[str] = Counter()
        while True:
            await asyncio.sleep(self.settings.summary_every_seconds)
            current = (
                poller.stats
                + workflow.stats
                + handlers.stats
                + settlements.stats
                + workflow.stock.stats
                + workflow.transfers.stats
                + workflow.counts.stats
                + (payments.stats if payments is not None else Counter())
                + (statements.stats if statements is not None else Counter())
                + master.stats
            )
            delta = current - previous
            previous = current
            if delta:
                parts = ", ".join(f"{key}={delta[key]}" for key in sorted(delta))
                log.info(
                    "last %gs: %s; in flight %d",
                    self.settings.summary_every_seconds,
                    parts,
                    workflow.in_flight,
                )


def main(mapper: TradeMapper | None = None, connector: type[Connector] | None = None) -> None:
    """Entry point of `python -m connectors.reference` (and of the variants, with their mapper
    or their Connector subclass)."""
    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        settings = Settings.from_env()
    except SettingsError as error:
        log.error("%s", error)
        raise SystemExit(2) from error
    asyncio.run((connector or Connector)(settings, mapper).run())
