"""The five fakes wired over one clock: services for the simulator, apps for the connector."""

from __future__ import annotations

import functools
import tempfile
from dataclasses import dataclass
from pathlib import Path

from starlette.types import ASGIApp

from fake_systems.bank.api import iso20022, notices
from fake_systems.bank.service import DEFAULT_OPENING_CENTS, BankService
from fake_systems.carrier.api import kdniao, kdniao_push
from fake_systems.carrier.service import CarrierConfig, CarrierService
from fake_systems.common.app import add_control_router, fault_router
from fake_systems.common.context import SystemContext
from fake_systems.common.credentials import Credentials
from fake_systems.common.faults import NO_FAULTS, FaultInjector
from fake_systems.common.pipeline import pipelines_in
from fake_systems.common.webhooks import Push, PushReply, PushSender, PushTransportError
from fake_systems.erp.api import k3
from fake_systems.erp.service import ErpService
from fake_systems.oms.api import wdt
from fake_systems.oms.service import OmsService
from fake_systems.wms.api import qimen, qimen_push
from fake_systems.wms.service import WmsConfig, WmsService
from simulator.clock import Clock, ManualClock
from simulator.scenario import fault_context
from simulator.world import World, build_world

SYSTEMS = ("oms", "wms", "erp", "bank", "carrier")
# The pushes each fake sends, as the history names them.
PUSHES: dict[str, tuple[str, ...]] = {
    "oms": (),
    "wms": qimen_push.PUSHES,
    "erp": (),
    "bank": notices.PUSHES,
    "carrier": kdniao_push.PUSHES,
}


@dataclass
class Ecosystem:
    """OMS, WMS, ERP, bank and carrier over their databases in one run folder."""

    credentials: Credentials
    contexts: dict[str, SystemContext]
    oms: OmsService
    wms: WmsService
    erp: ErpService
    bank: BankService
    carrier: CarrierService

    @classmethod
    def create(
        cls,
        run_dir: Path,
        world: World,
        clock: Clock,
        sender: PushSender,
        *,
        seed: int,
        credentials: Credentials,
        faults: FaultInjector,  # the plan: each fake keeps its own rules in its own injector
        wms_config: WmsConfig | None = None,
        carrier_config: CarrierConfig | None = None,
        bank_opening_cents: int = DEFAULT_OPENING_CENTS,
    ) -> Ecosystem:
        contexts = {
            name: SystemContext.create(name, run_dir, clock, sender, seed=seed, faults=faults)
            for name in SYSTEMS
        }
        carrier = CarrierService(contexts["carrier"], credentials.carrier, carrier_config)
        # The owners' accounts exist from the start: the WMS asks which owner each waybill
        # may ship for before the Kdniao app is built.
        for account in credentials.grants("carrier")[1:]:
            carrier.add_account(account)
        ecosystem = cls(
            credentials=credentials,
            contexts=contexts,
            oms=OmsService(contexts["oms"], credentials.oms),
            wms=WmsService(contexts["wms"], credentials.wms, wms_config, carrier),
            erp=ErpService(contexts["erp"], credentials.erp),
            bank=BankService(contexts["bank"], credentials.bank, bank_opening_cents),
            carrier=carrier,
        )
        for service in (ecosystem.oms, ecosystem.wms, ecosystem.erp, ecosystem.bank, carrier):
            service.setup(world)
        return ecosystem

    def apps(self) -> dict[str, ASGIApp]:
        """Each fake's app: its protocols, and the /_fake/ control surface with its faults."""
        apps = self._protocol_apps()
        for system, app in apps.items():
            context = fault_context({system: operations_of(app)}, {system: PUSHES[system]})
            injector = functools.partial(_faults_of, self.contexts[system])
            add_control_router(app, fault_router(system, injector, context))
        return apps

    def _protocol_apps(self) -> dict[str, ASGIApp]:
        return {
            "oms": wdt.create_app(
                self.oms, self.credentials.oms, tenants=self.credentials.grants("oms")[1:]
            ),
            "wms": qimen.create_app(
                self.wms, self.credentials.wms, tenants=self.credentials.grants("wms")[1:]
            ),
            "erp": k3.create_app(
                self.erp, self.credentials.erp, tenants=self.credentials.grants("erp")[1:]
            ),
            "bank": iso20022.create_app(
                self.bank, self.credentials.bank, tenants=self.credentials.grants("bank")[1:]
            ),
            "carrier": kdniao.create_app(
                self.carrier,
                self.credentials.carrier,
                tenants=self.credentials.grants("carrier")[1:],
            ),
        }

    def point_pushes_at(self, wms_confirm_url: str | None, carrier_push_url: str | None) -> None:
        """Where the WMS confirms shipments and the carrier pushes tracking (the connector)."""
        self.wms.confirm_callback_url = wms_confirm_url
        self.carrier.push_callback_url = carrier_push_url

    @property
    def pushes_in_flight(self) -> int:
        return sum(ctx.dispatcher.in_flight for ctx in self.contexts.values())

    @property
    def faults_fired(self) -> int:
        """Faults the plan fired so far, on every fake (calls and pushes)."""
        return sum(ctx.faults.fired for ctx in self.contexts.values())

    async def close(self) -> None:
        for ctx in self.contexts.values():
            await ctx.dispatcher.close()
            ctx.conn.close()


class NoPushes:
    """A push sender for an ecosystem that never runs: every push would go nowhere."""

    async def post(self, push: Push, timeout: float) -> PushReply:
        raise PushTransportError("NoPushes")


def _faults_of(ctx: SystemContext) -> FaultInjector:
    """A fake's injector when asked: tests swap `ctx.faults`, and the routes follow."""
    return ctx.faults


def operations_of(app: ASGIApp) -> frozenset[str]:
    """The operations a fake's app serves, from its protocols' tables."""
    return frozenset(
        name for pipeline in pipelines_in(app) for name in pipeline.protocol.operations
    )


@functools.cache
def protocol_operations() -> dict[str, frozenset[str]]:
    """Every operation each fake serves, read from its protocols' tables.

    Built from a throwaway ecosystem in a temporary folder, so the answer is what the
    adapters really route, with no list of names kept beside them.
    """
    world = build_world(seed=1, sku_count=2, customer_count=2)
    credentials = Credentials.issue([owner.code for owner in world.owners])
    with tempfile.TemporaryDirectory(prefix="ecomock-ops-") as folder:
        ecosystem = Ecosystem.create(
            Path(folder),
            world,
            ManualClock(),
            NoPushes(),
            seed=1,
            credentials=credentials,
            faults=NO_FAULTS,
        )
        try:
            return {system: operations_of(app) for system, app in ecosystem.apps().items()}
        finally:
            for ctx in ecosystem.contexts.values():
                ctx.conn.close()
