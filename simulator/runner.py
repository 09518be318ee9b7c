"""Plays a scenario end to end: fakes up, connector started, traffic, drain, judge, reports.

One runner for `ecomock run` and `ecomock load`: only the `Traffic` source differs. A run
stopped early (SIGTERM, Ctrl-C, the connector's death) still ends with its reports, marked
invalid, and with the connector stopped (simulator/stopping.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import threading
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol, TypeVar

import simpy

from contract_tests.database import attach_run
from contract_tests.judge import RunMeta, Verdict, judge_run
from contract_tests.ledgers import oms_keys_behind
from contract_tests.live import count_orders, live_violations
from contract_tests.report import write_reports
from contract_tests.run_status import (
    ABORTED,
    DRAIN_ENDED,
    DRAIN_STALLED,
    DRAIN_TIMED_OUT,
    FINISHED,
    NOT_FINISHED_REASON,
    RUNNING,
    RunStatus,
    write_run_status,
)
from fake_systems.carrier.service import CarrierConfig
from fake_systems.common.credentials import Credentials
from fake_systems.common.faults import FaultInjector
from fake_systems.common.server import ServerGroup, bind_free_port
from fake_systems.common.webhooks import MAX_PUSHES_IN_FLIGHT, AiohttpSender
from fake_systems.ecosystem import SYSTEMS, Ecosystem
from fake_systems.wms.service import WmsConfig
from load.launcher import LocustLauncher
from load.orders import worker_arrivals
from simulator.after_sales import Cancellations, Returns
from simulator.carrier_fees import CarrierFees, arrange_carrier_terms
from simulator.clock import RealtimeClock, format_qimen_time
from simulator.connector import ConnectorProcess, ConnectorProfile
from simulator.counts import Counts
from simulator.crashes import CrashPlayer
from simulator.demand import DemandModel, play_demand
from simulator.master_data import MasterDataChanges
from simulator.procurement import Procurement
from simulator.progress import Snapshot
from simulator.scenario import Scenario
from simulator.settlement import Settlement, arrange_bank_fees, arrange_payments
from simulator.snapshots import play_snapshots
from simulator.stopping import RunStop, until_stopped
from simulator.transfers import Transfers
from simulator.world import World

PROGRESS_EVERY_SECONDS = 0.5
# The counts (contract_tests.metrics) of work still under way: the drain ends only when each
# is 0, and a change in any of them is movement. Delivery orders neither shipped nor
# cancelled, returned parcels whose refund is open, and what the ERP has not booked yet.
UNFINISHED_COUNTS = (
    "backlog",
    "returns_open",
    "receipts_unbooked",
    "purchase_returns_unbooked",
    "transfers_unbooked",
    "counts_unbooked",
    "payments_unbooked",
    "bank_fees_unbooked",
)
RUNS_DIR = Path("runs")
T = TypeVar("T")


def run_async(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run on uvloop when installed (uvicorn[standard] brings it): the fakes serve faster."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coroutine)
    return uvloop.run(coroutine)


@dataclass
class LiveFakes:
    """The five fakes serving on 127.0.0.1, with the clock that drives them."""

    ecosystem: Ecosystem
    world: World
    clock: RealtimeClock
    servers: ServerGroup
    run_dir: Path

    @property
    def endpoints(self) -> dict[str, dict[str, object]]:
        return self.ecosystem.credentials.endpoints(self.servers.urls, self.servers.control_token)


def default_run_dir(scenario_name: str) -> Path:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    return RUNS_DIR / f"{stamp}-{scenario_name}"


def build_faults(scenario: Scenario) -> FaultInjector:
    """The scenario's fault plan, its windows counted from the simulated start."""
    return FaultInjector(
        [f.rule() for f in scenario.faults], seed=scenario.seed, run_start=scenario.clock.start
    )


def declared_plan(scenario: Scenario) -> list[dict[str, Any]]:
    """The plan as run-status.json keeps it for the judge: each rule named as the scenario's
    validation names it (`faults.N`), its window also in the history's simulated time."""

    def sim_text(offset: float) -> str:
        return format_qimen_time(scenario.clock.start + timedelta(seconds=offset))

    return [
        {
            "rule": f"faults.{index}",
            **fault.rule().describe(),
            "from_sim": sim_text(fault.start),
            "until_sim": None if fault.until is None else sim_text(fault.until),
        }
        for index, fault in enumerate(scenario.faults)
    ]


@asynccontextmanager
async def serve_fakes(
    scenario: Scenario,
    run_dir: Path,
    host: str = "127.0.0.1",
    control_token: str | None = None,
) -> AsyncIterator[LiveFakes]:
    """Create the world and the five fakes in `run_dir`, serve them, and tidy up afterwards.

    On `host` (loopback by default); /_fake/ needs `control_token` when given, and a
    generated one when `host` is not loopback (see fake_systems/common/app.py, ControlGuard).
    """
    run_dir.mkdir(parents=True, exist_ok=True)
    world = scenario.world.build(scenario.seed)
    clock = RealtimeClock(scenario.clock.start, scenario.clock.scale)
    # One sender for the five fakes' pushes, each fake capped at MAX_PUSHES_IN_FLIGHT: with a
    # connection for each, no push waits for one inside its timeout.
    async with AiohttpSender(limit=len(SYSTEMS) * MAX_PUSHES_IN_FLIGHT) as sender:
        ecosystem = Ecosystem.create(
            run_dir,
            world,
            clock,
            sender,
            seed=scenario.seed,
            credentials=Credentials.issue([owner.code for owner in world.owners]),
            faults=build_faults(scenario),
            wms_config=WmsConfig(
                accept_seconds=scenario.fulfilment.accept_seconds.as_tuple(),
                pick_seconds=scenario.fulfilment.pick_seconds.as_tuple(),
                pack_seconds=scenario.fulfilment.pack_seconds.as_tuple(),
                partial_delivery_share=scenario.fulfilment.partial_delivery_share,
                process_reports=scenario.fulfilment.process_reports,
                stock_change_reports=scenario.fulfilment.stock_change_reports,
                supplier_deliveries=scenario.procurement.enabled,
            ),
            bank_opening_cents=int(scenario.payments.opening_balance * 100),
            carrier_config=CarrierConfig(
                collect_hours=scenario.carrier.collect_hours.as_tuple(),
                transit_hours=scenario.carrier.transit_hours.as_tuple(),
                transit_mode_hours=scenario.carrier.transit_mode_hours,
                dispatch_hours=scenario.carrier.dispatch_hours.as_tuple(),
                delivery_hours=scenario.carrier.delivery_hours.as_tuple(),
                refused_rate=scenario.carrier.refused_rate,
                stuck_rate=scenario.carrier.stuck_rate,
                locker_rate=scenario.carrier.locker_rate,
                locker_overdue_rate=scenario.carrier.locker_overdue_rate,
                stuck_hours=scenario.carrier.stuck_hours,
                locker_overdue_hours=scenario.carrier.locker_overdue_hours,
            ),
        )
        servers = ServerGroup(host, control_token)
        driver: asyncio.Task[None] | None = None
        try:
            await servers.start(ecosystem.apps())
            fakes = LiveFakes(ecosystem, world, clock, servers, run_dir)
            (run_dir / "endpoints.json").write_text(
                json.dumps(fakes.endpoints, indent=2, ensure_ascii=False)
            )
            driver = asyncio.create_task(clock.drive())
            yield fakes
        finally:
            clock.stop()
            if driver is not None:
                await driver
            # Servers first: a request still in flight (held by a latency fault, say) ends
            # on open databases instead of meeting closed ones.
            await servers.stop()
            await ecosystem.close()


# Where the connector's port is drawn from when the kernel does not say its ephemeral range.
EPHEMERAL_RANGE_FILE = Path("/proc/sys/net/ipv4/ip_local_port_range")
LOWEST_PORT = 10_000
PORT_ATTEMPTS = 200


def free_port(rng: random.Random | None = None) -> int:
    """A port free right now on 127.0.0.1 for a server another process will bind (the
    connector's callback server, Locust's master).

    Drawn below the kernel's ephemeral range: a port from `bind(0)` is one every outgoing
    connection and every `bind(0)` of another process may take in the moment before the
    connector binds it (a bench beside other tests lost a run to that). Below the range only
    another explicit pick can, and the draws are random.
    """
    rng = rng or random.SystemRandom()
    low = _ephemeral_low()
    if low > LOWEST_PORT + PORT_ATTEMPTS:
        for _ in range(PORT_ATTEMPTS):
            port = rng.randrange(LOWEST_PORT, low)
            try:
                with contextlib.closing(bind_free_port(port=port)):
                    return port
            except OSError:
                continue
    with contextlib.closing(bind_free_port()) as sock:  # no room below: any free port
        return int(sock.getsockname()[1])


def _ephemeral_low() -> int:
    """The lowest port the kernel hands out on its own (32768 on Linux by default)."""
    try:
        return int(EPHEMERAL_RANGE_FILE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32_768


class RunWatch:
    """Looks at the run's databases every half second: progress, violations so far, convergence."""

    def __init__(
        self,
        run_dir: Path,
        scenario: Scenario,
        clock: RealtimeClock,
        show: Callable[[Snapshot], None],
        wall_started: float,
    ) -> None:
        self.conn = attach_run(run_dir)
        self.scenario = scenario
        self.clock = clock
        self.show = show
        self.wall_started = wall_started
        self.counts: dict[str, int] = {}
        self.phase = "starting"
        self.drained: str | None = None  # how the drain ended (run_status.DRAIN_*)
        # A snapshot cancelled when the run is stopped leaves its query running in its
        # thread; the next one must not use the connection at the same time.
        self._reading = threading.Lock()

    async def snapshot(self, phase: str) -> Snapshot:
        self.phase = phase
        # The queries grow with the run; off the event loop, they never stall the fakes.
        self.counts, violations = await asyncio.to_thread(self._read)
        return Snapshot(
            phase=phase,
            wall_elapsed=time.time() - self.wall_started,
            sim_now=format_qimen_time(self.clock.now()),
            counts=self.counts,
            violations=violations,
            expected_orders=round(self.scenario.expected_orders),
        )

    def _read(self) -> tuple[dict[str, int], int]:
        with self._reading:
            return count_orders(self.conn), live_violations(self.conn)

    def _stock_behind(self) -> int:
        with self._reading:
            return oms_keys_behind(self.conn)

    async def until(self, done: Callable[[], bool], phase: str, deadline: float) -> None:
        """Show progress until `done()` or `deadline` wall seconds have passed."""
        ends = time.monotonic() + deadline
        while not done() and time.monotonic() < ends:
            self.show(await self.snapshot(phase))
            await asyncio.sleep(PROGRESS_EVERY_SECONDS)

    async def drain(
        self,
        timeout: float,
        stall_timeout: float,
        world_busy: Callable[[], int] = lambda: 0,
        owed: Callable[[], int] = lambda: 0,
        faults_fired: Callable[[], int] = lambda: 0,
    ) -> None:
        """Let in-flight orders finish: until all but the cancelled are shipped and invoiced,
        every return back at the warehouse is refunded, the world has no after-sales left to
        play (`world_busy`: buyers' returns under way; nor the WMS, returned parcels to count
        in) and the connector owes nothing the world handed it (`owed`: master-data changes
        not carried yet, which stall like the counts when nothing moves), and then until the
        OMS's stock is in step with the WMS's (when the WMS reports stock changes), or nothing
        moves. A fault fired (`faults_fired`, the plan's hits so far) is a move: a connector
        retrying into the faults is working, and between its tries waits its back-off, so the
        stall window need only outlast its longest single wait, not its whole schedule (the
        reference's 1 / 5 / 15 / 30 / 60 simulated minutes: nine wall seconds at 720x, which a
        6-second window cut short, failing a create on its sixth try)."""
        ends = time.monotonic() + timeout
        last_change = time.monotonic()
        previous: tuple[int, ...] = ()
        while time.monotonic() < ends:
            # Asked before the counts are taken: the world moves while they are read (off the
            # loop), and a purchase received or a transfer arriving meanwhile is then either
            # still the world's or already in the counts (`receipts_unbooked`,
            # `transfers_unbooked`), never in neither.
            world = world_busy()
            snap = await self.snapshot("draining")
            self.show(snap)
            c = snap.counts
            # The buyers' returns under way, and the WMS counting returned parcels in.
            busy = world + c["returns_receiving"]
            owing = owed()
            # A cancelled trade ships nowhere: the others must all be shipped and invoiced.
            live = c["created"] - c["cancelled"]
            unfinished = tuple(c[key] for key in UNFINISHED_COUNTS)
            finished = (
                live == c["shipped"] == c["invoiced"] <= c["at_wms"]
                and not any(unfinished)
                and busy == 0
                and owing == 0
            )
            # The rest done, the OMS's stock must have caught up with the WMS's too (a stock
            # push still being retried); asked only then: it reads every stock row.
            behind = await asyncio.to_thread(self._stock_behind) if finished else 0
            if finished and not behind:
                self.drained = DRAIN_ENDED
                return
            # A cancellation after picking ends when its goods are back (trade cancelled).
            moving = (c["at_wms"], c["shipped"], c["invoiced"], c["cancelled"], *unfinished)
            moving += (busy, owing, behind, faults_fired())
            # Buyers still on their way to a return keep the run going (bounded by `timeout`):
            # the world moves even when the counts do not.
            if moving != previous or busy:
                previous, last_change = moving, time.monotonic()
            elif time.monotonic() - last_change > stall_timeout:
                self.drained = DRAIN_STALLED
                return
            await asyncio.sleep(PROGRESS_EVERY_SECONDS)
        self.drained = DRAIN_TIMED_OUT

    async def settle(self, pushes_in_flight: Callable[[], int], timeout: float) -> None:
        """With the world paused: until every push is delivered and acted on, or `timeout`."""
        ends = time.monotonic() + timeout
        while time.monotonic() < ends:
            snap = await self.snapshot("settling")
            self.show(snap)
            # A bank day that closed as the drain ended: its fees are booked with the world
            # paused (after a drain that stalled, the connector was not booking them anyway).
            fees_owed = snap.counts["bank_fees_unbooked"] if self.drained == DRAIN_ENDED else 0
            if (
                pushes_in_flight() == 0
                and snap.counts["completed"] == snap.counts["delivered"]
                and fees_owed == 0
            ):
                return
            await asyncio.sleep(PROGRESS_EVERY_SECONDS / 5)

    async def close(self) -> None:
        self.show(await self.snapshot("done"))
        self.conn.close()


class Traffic(Protocol):
    """Where the orders come from; the only thing in which `ecomock run` and `load` differ."""

    async def start(self, fakes: LiveFakes, scenario: Scenario) -> None:
        """Begin placing orders (the clock has just started)."""

    @property
    def done(self) -> bool:
        """Every order has been placed."""

    async def stop(self) -> None:
        """Tidy up, whether the traffic finished or the run is being abandoned."""

    def report(self) -> dict[str, Any]:
        """Sections this source adds to report.json (after `stop`)."""

    def after_sales_pending(self) -> int:
        """After-sales the simulated buyers still have under way (the drain waits for them)."""

    def connector_owes(self) -> int:
        """Changes the world made that the connector has not carried yet (master data): the
        drain waits for them while they move."""


class SimulatedDemand:
    """The SimPy demand model places each order in process at its simulated time."""

    def __init__(self) -> None:
        self.process: simpy.events.Process | None = None
        self.cancellations: Cancellations | None = None
        self.returns: Returns | None = None
        self.procurement: Procurement | None = None
        self.transfers: Transfers | None = None
        self.counts: Counts | None = None
        self.master_data: MasterDataChanges | None = None
        self.settlement: Settlement | None = None
        self.carrier_fees: CarrierFees | None = None

    async def start(self, fakes: LiveFakes, scenario: Scenario) -> None:
        model = DemandModel(fakes.world, scenario.demand, scenario.seed)
        eco = fakes.ecosystem
        self.cancellations = Cancellations(fakes.clock.env, eco.oms, eco.wms, eco.carrier)
        self.returns = Returns(fakes.clock.env, eco.oms, eco.wms, eco.carrier)
        if scenario.procurement.enabled:
            self.procurement = Procurement(
                fakes.clock.env, fakes.world, scenario.procurement, eco.erp, eco.wms, scenario.seed
            )
            self.procurement.start(scenario.duration)
        if scenario.transfers.enabled:
            self.transfers = Transfers(
                fakes.clock.env, fakes.world, scenario.transfers, eco.wms, scenario.seed
            )
            self.transfers.start(scenario.duration)
        # The warehouse publishes its inventory snapshot whatever the scenario plays (the OMS's
        # stock recorded with it).
        play_snapshots(fakes.clock.env, eco.wms, eco.oms, scenario.duration)
        if scenario.counts.enabled:
            self.counts = Counts(
                fakes.clock.env, fakes.world, scenario.counts, eco.wms, scenario.seed
            )
            self.counts.start(scenario.duration)
        if scenario.master_data.enabled:
            self.master_data = MasterDataChanges(
                fakes.clock.env,
                fakes.world,
                scenario.master_data,
                eco.erp,
                eco.wms,
                eco.oms,
                scenario.seed,
                model.withdrawn,
            )
            self.master_data.start(scenario.duration)
        self.process = play_demand(
            fakes.clock.env,
            model,
            scenario.duration,
            eco.oms.create_paid_order,
            self.cancellations.plan,
            self.returns.plan,
        )
        if scenario.payments.enabled:
            arrange_payments(fakes.world, eco.erp, eco.bank, scenario.payments, scenario.seed)
        if scenario.bank_fees.enabled:
            arrange_bank_fees(eco.bank, scenario.bank_fees)
        if scenario.settlement.enabled:
            self.settlement = Settlement(
                fakes.clock.env, eco.oms, eco.bank, scenario.settlement, scenario.seed
            )
            self.settlement.start()
        if scenario.carrier_fees.enabled:
            arrange_carrier_terms(fakes.world, eco.erp, scenario.carrier_fees)
            self.carrier_fees = CarrierFees(
                fakes.clock.env, eco.carrier, eco.erp, scenario.carrier_fees
            )
            self.carrier_fees.start(scenario.duration)

    def after_sales_pending(self) -> int:
        returns = 0 if self.returns is None else self.returns.pending
        # Bills issued and not yet paid: the run waits for their bank credits; purchase orders
        # not yet received too: their goods come during the drain.
        procurement = 0 if self.procurement is None else self.procurement.pending
        # Transfers on the road: their goods arrive during the drain.
        procurement += 0 if self.transfers is None else self.transfers.pending
        # The carrier's last fee period: its statement closes during the drain.
        procurement += 0 if self.carrier_fees is None else self.carrier_fees.pending
        return returns + (0 if self.settlement is None else self.settlement.pending) + procurement

    def connector_owes(self) -> int:
        # Master-data changes the WMS or the OMS does not have yet: the connector's next poll.
        owed = 0 if self.master_data is None else self.master_data.pending
        # Fee statements closed and not booked as payables yet.
        if self.carrier_fees is not None:
            owed += self.carrier_fees.unbooked()
        return owed

    @property
    def done(self) -> bool:
        return self.process is not None and not self.process.is_alive

    async def stop(self) -> None:
        """Nothing runs outside the world."""

    def report(self) -> dict[str, Any]:
        sections: dict[str, Any] = {}
        if self.cancellations is not None and self.cancellations.planned:
            sections["cancellations"] = self.cancellations.report()
        if self.returns is not None and self.returns.planned:
            sections["returns"] = self.returns.report()
        if self.procurement is not None:
            sections["procurement"] = self.procurement.report()
        if self.transfers is not None:
            sections["transfers"] = self.transfers.report()
        if self.counts is not None:
            sections["counts"] = self.counts.report()
        if self.master_data is not None:
            sections["master_data"] = self.master_data.report()
        if self.settlement is not None:
            sections["settlements"] = self.settlement.report()
        if self.carrier_fees is not None:
            sections["carrier_fees"] = self.carrier_fees.report()
        return sections


class LocustTraffic:
    """Locust pushes the orders over HTTP (`sales.RawTrade.pushSelf2`), as platforms do.

    The scenario as played (seed and drill applied) is written to `scenario.json` in the
    run folder, which is what the Locust processes read.
    """

    def __init__(self, workers: int = 0) -> None:
        self.workers = workers
        self.launcher: LocustLauncher | None = None
        self.orders_scheduled = 0

    async def start(self, fakes: LiveFakes, scenario: Scenario) -> None:
        scenario_file = fakes.run_dir / "scenario.json"
        scenario_file.write_text(scenario.model_dump_json(indent=2), encoding="utf-8")
        self.orders_scheduled = sum(1 for _ in worker_arrivals(scenario, 0, 1))
        self.launcher = LocustLauncher(
            fakes.run_dir,
            scenario_file,
            fakes.run_dir / "endpoints.json",
            fakes.servers.urls["oms"],
            workers=self.workers,
            master_port=free_port() if self.workers else 0,
        )
        await self.launcher.start()

    @property
    def done(self) -> bool:
        return self.launcher is not None and self.launcher.done

    async def stop(self) -> None:
        if self.launcher is not None:
            await self.launcher.stop()

    def after_sales_pending(self) -> int:
        return 0  # Locust plays no after-sales (docs/DECISIONS.md)

    def connector_owes(self) -> int:
        return 0  # nor master-data changes

    def report(self) -> dict[str, Any]:
        if self.launcher is None:
            return {}
        return {"locust": {"orders_scheduled": self.orders_scheduled, **self.launcher.statistics()}}


@dataclass
class RunResult:
    run_dir: Path
    verdict: Verdict


@dataclass
class TrafficTimes:
    """Wall times of the traffic phase, for the throughput (it may be cut short)."""

    started: float | None = None
    ended: float | None = None

    def end(self) -> None:
        """The traffic stops now, unless it had stopped already."""
        if self.started is not None and self.ended is None:
            self.ended = time.time()

    def seconds(self) -> float | None:
        if self.started is None or self.ended is None:
            return None
        return self.ended - self.started


def _quiet(message: str) -> None:
    """Where a run's announcements go when nobody listens."""


async def play(
    scenario: Scenario,
    profile: ConnectorProfile,
    run_dir: Path,
    show: Callable[[Snapshot], None],
    traffic: Traffic | None = None,
    announce: Callable[[str], None] = _quiet,
) -> RunResult:
    """Run the connector against the fakes under the scenario, then judge it.

    `traffic` places the orders: the simulator's demand model by default, or Locust.
    `announce` tells the user, as it happens, why the run is stopping early.
    """
    traffic = traffic or SimulatedDemand()
    port = free_port()
    profile = profile.resolved(port)
    wall_started = time.time()
    times = TrafficTimes()
    watch: RunWatch | None = None
    stop = RunStop(announce, lambda: watch.phase if watch is not None else "starting")
    with stop.on_signals():
        async with serve_fakes(scenario, run_dir) as fakes:
            eco, clock = fakes.ecosystem, fakes.clock
            eco.point_pushes_at(profile.callbacks.wms_confirm, profile.callbacks.carrier_push)
            eco.bank.notification_callback_url = profile.callbacks.bank_notice
            connector = ConnectorProcess(
                profile, connector_environment(fakes, scenario, port), run_dir / "connector.log"
            )
            watch = RunWatch(run_dir, scenario, clock, show, wall_started)
            running = RunStatus(
                RUNNING,
                NOT_FINISHED_REASON,
                pid=os.getpid(),
                crashes_planned=len(scenario.crashes),
                fault_plan=declared_plan(scenario),
                planned_orders=scenario.expected_orders,
                planned_wall_seconds=scenario.wall_duration_seconds,
            )
            write_run_status(run_dir, running)

            def record_crashes() -> None:
                """A crash or restart: the new process group and the crashes so far."""
                write_run_status(
                    run_dir,
                    replace(running, connector_pgid=connector.pgid, crashes=crashes.describe()),
                )

            crashes = CrashPlayer(
                connector,
                scenario.crashes,
                clock,
                stop,
                scenario.run.connector_start_timeout,
                on_change=record_crashes,
                announce=announce,
            )
            watcher: asyncio.Task[None] | None = None
            try:
                show(await watch.snapshot("starting"))
                if not stop.requested:
                    await until_stopped(connector.start(scenario.run.connector_start_timeout), stop)
                if not stop.requested:
                    running = replace(running, connector_pgid=connector.pgid)
                    write_run_status(run_dir, running)
                    # Watches the connector, and kills and restarts it as the scenario says.
                    watcher = asyncio.create_task(crashes.run())
                    stall = profile.stall_window(scenario)
                    phases = play_phases(fakes, scenario, traffic, watch, times, stall)
                    await until_stopped(phases, stop)
            except Exception as exc:
                abandoned = f"the run was abandoned: {exc}"
                write_run_status(run_dir, replace(running, state=ABORTED, reason=abandoned))
                raise
            finally:
                try:
                    if watcher is not None:
                        watcher.cancel()  # from here on, the connector stops because we stop it
                        # A restart under way must be over before the stop looks for the process.
                        await asyncio.wait({watcher})
                    times.end()
                    clock.pause()
                    await traffic.stop()
                finally:
                    exit_code = await connector.stop()  # whatever failed before
                    await watch.close()
        meta = RunMeta(
            scenario=scenario.name,
            seed=scenario.seed,
            connector=profile.name,
            wall_started=wall_started,
            wall_ended=time.time(),
            traffic_wall_seconds=times.seconds(),
            objectives=scenario.objectives.model_dump(exclude_none=True),
            connector_exit_code=exit_code,
        )
        status = stop.status or replace(running, state=FINISHED, reason="")
        write_run_status(
            run_dir,
            replace(
                status,
                pid=running.pid,
                connector_pgid=connector.pgid,
                connector_exit_code=exit_code,
                crashes_planned=len(scenario.crashes),
                crashes=crashes.describe(),
                fault_plan=running.fault_plan,
                sim_seconds=clock.sim_seconds(),
                drain=watch.drained,
                meta=meta.as_dict(),  # `ecomock check` judges with it if report.json is gone
            ),
        )
        verdict = judge_run(run_dir, meta)
        write_reports(verdict, run_dir, extra=traffic.report())
    return RunResult(run_dir, verdict)


def connector_environment(fakes: LiveFakes, scenario: Scenario, port: int) -> dict[str, str]:
    """What the connector is told: the fakes' URLs and credentials, its port and folders."""
    state_dir = fakes.run_dir / "connector-state"
    state_dir.mkdir(exist_ok=True)
    return {
        **fakes.ecosystem.credentials.environment(fakes.servers.urls),
        "ECOMOCK_CONNECTOR_PORT": str(port),
        "ECOMOCK_STATE_DIR": str(state_dir.resolve()),
        "ECOMOCK_TIME_SCALE": str(scenario.clock.scale),
        "ECOMOCK_ENDPOINTS_FILE": str((fakes.run_dir / "endpoints.json").resolve()),
    }


async def play_phases(
    fakes: LiveFakes,
    scenario: Scenario,
    traffic: Traffic,
    watch: RunWatch,
    times: TrafficTimes,
    stall_timeout: float,
) -> None:
    """Traffic, drain, settle: the run proper, once the connector is ready; the drain and
    the settling end early after `stall_timeout` with nothing moving."""
    clock = fakes.clock
    times.started = time.time()
    clock.start()
    await traffic.start(fakes, scenario)
    await watch.until(
        lambda: traffic.done,
        "traffic",
        deadline=scenario.wall_duration_seconds * 3 + 60,
    )
    times.end()
    await traffic.stop()
    await watch.drain(
        scenario.run.drain_timeout,
        stall_timeout,
        traffic.after_sales_pending,
        traffic.connector_owes,
        lambda: fakes.ecosystem.faults_fired,
    )
    # Freeze the world so the last signed parcels and confirmations can be acted on
    # before the connector is stopped, instead of racing the stop.
    clock.pause()
    await watch.settle(lambda: fakes.ecosystem.pushes_in_flight, stall_timeout)
