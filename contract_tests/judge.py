"""The judge: every invariant, the latencies, the counts and the throughput of one run folder."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Mapping
from dataclasses import InitVar, asdict, dataclass, field
from pathlib import Path
from typing import Any

import orjson

from contract_tests.chaos import ChaosReport, chaos_report, plan_not_fired
from contract_tests.database import SYSTEMS, attach_run, integrity_errors
from contract_tests.invariants import (
    DEFAULT_P99_SECONDS,
    INVARIANTS,
    LATENCY_OBJECTIVES,
    InvariantResult,
    run_invariants,
)
from contract_tests.metrics import LatencyStats, compute_latencies, count_flows, count_orders
from contract_tests.run_status import DRAIN_TIMED_OUT, RunStatus, read_run_status
from contract_tests.statements import money_summary
from contract_tests.throughput import (
    THROUGHPUT_INVARIANT,
    THROUGHPUT_OBJECTIVE,
    throughput_objective,
    traffic_behind,
)

REPORT_FILE = "report.json"
DEFAULT_OBJECTIVES: dict[str, float] = dict.fromkeys(
    LATENCY_OBJECTIVES.values(), DEFAULT_P99_SECONDS
)
# What `ecomock run` and `ecomock check` exit with; "invalid": the run proves nothing either way.
EXIT_CODES: dict[str, int] = {"pass": 0, "fail": 1, "invalid": 2}
DATABASES_PRESENT = "run_databases_present"  # the first invariant of every verdict


def _float_or_none(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


@dataclass
class RunMeta:
    """What the judge knows about a run besides its databases.

    `traffic_wall_seconds` is the wall duration of the traffic phase (not the drain): the
    throughput is orders created per wall minute of it. `objectives` uses the names of
    simulator.scenario.Objectives (`paid_to_wms_p99_seconds`), so
    `scenario.objectives.model_dump()` can be passed as it is; `paid_to_wms_p99_objective`,
    when given, is a shorthand that overrides that one objective. `connector_exit_code` is
    recorded in the report (the connector process's exit status after the run, if any).
    """

    scenario: str = "unknown"
    seed: int | None = None
    connector: str = "unknown"
    wall_started: float | None = None
    wall_ended: float | None = None
    traffic_wall_seconds: float | None = None
    objectives: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_OBJECTIVES))
    connector_exit_code: int | None = None
    paid_to_wms_p99_objective: InitVar[float | None] = None

    def __post_init__(self, paid_to_wms_p99_objective: float | None) -> None:
        self.objectives = {**DEFAULT_OBJECTIVES, **self.objectives}
        if paid_to_wms_p99_objective is not None:
            self.objectives["paid_to_wms_p99_seconds"] = float(paid_to_wms_p99_objective)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_report(cls, data: Mapping[str, Any]) -> RunMeta:
        """Read a meta back from a report.json (ours, or a hand-written subset); lenient."""
        run = data.get("run")
        run = run if isinstance(run, Mapping) else {}
        objectives = dict(DEFAULT_OBJECTIVES)
        raw_objectives = run.get("objectives", data.get("objectives"))
        if isinstance(raw_objectives, Mapping):
            for key, value in raw_objectives.items():
                number = _float_or_none(value)
                if number is not None:
                    objectives[str(key)] = number
        seed = data.get("seed")
        exit_code = run.get("connector_exit_code", data.get("connector_exit_code"))
        return cls(
            scenario=str(data.get("scenario") or "unknown"),
            seed=seed if isinstance(seed, int) and not isinstance(seed, bool) else None,
            connector=str(data.get("connector") or "unknown"),
            wall_started=_float_or_none(run.get("wall_started", data.get("wall_started"))),
            wall_ended=_float_or_none(run.get("wall_ended", data.get("wall_ended"))),
            traffic_wall_seconds=_float_or_none(
                run.get("traffic_wall_seconds", data.get("traffic_wall_seconds"))
            ),
            objectives=objectives,
            connector_exit_code=(
                exit_code
                if isinstance(exit_code, int) and not isinstance(exit_code, bool)
                else None
            ),
        )


@dataclass(frozen=True)
class Throughput:
    """Orders created per wall minute; `basis` says which duration it was divided by."""

    orders_per_min: float | None
    orders: int
    wall_seconds: float | None
    basis: str | None  # traffic_wall_seconds | wall_started..wall_ended | paid_wall span

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Verdict:
    """The judgement of one run: "pass" only when every invariant passed.

    "invalid" when the run cannot prove anything, whatever its invariants say (no orders, a
    database missing or damaged, the run interrupted or its connector dead): `invalid_reasons`
    says why.
    """

    verdict: str
    meta: RunMeta
    run_dir: str
    invariants: list[InvariantResult]
    latencies: dict[str, LatencyStats]
    counts: dict[str, int]
    throughput: Throughput
    missing_databases: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)
    judged_wall: float = 0.0
    duration_seconds: float = 0.0
    invalid_reasons: list[str] = field(default_factory=list)
    run_status: RunStatus | None = None
    chaos: ChaosReport = field(default_factory=ChaosReport)
    # What happened to the trades (metrics.count_flows): report.json's `flows`.
    flows: dict[str, int | None] = field(default_factory=dict)
    # The run's money (statements.money_summary): report.json's `payments`.
    money: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return self.verdict == "pass"

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.verdict]

    @property
    def failed_invariants(self) -> list[InvariantResult]:
        return [inv for inv in self.invariants if not inv.passed]

    def invariant(self, name: str) -> InvariantResult:
        for inv in self.invariants:
            if inv.name == name:
                return inv
        raise KeyError(name)


def _databases_present(unreadable: Mapping[str, str]) -> InvariantResult:
    # A run folder without one of its files cannot be judged completely: say so by name.
    return InvariantResult(
        name=DATABASES_PRESENT,
        description="the run folder holds " + ", ".join(f"{s}.db" for s in SYSTEMS) + ", intact",
        passed=not unreadable,
        checked=len(SYSTEMS),
        violations=len(unreadable),
        examples=[
            {"entity": f"{name}.db", "expected": "a readable SQLite file", "observed": error}
            for name, error in unreadable.items()
        ],
        summary="all present" if not unreadable else "unreadable: " + ", ".join(unreadable),
    )


def invalid_reasons(
    unreadable: Mapping[str, str], counts: Mapping[str, int], status: RunStatus | None
) -> list[str]:
    """Why a run proves nothing, if it does not; empty for a run worth judging."""
    reasons = [status.reason] if status is not None and not status.finished else []
    if status is not None and status.finished and status.crashes_played < status.crashes_planned:
        # A crash scenario whose crashes did not all happen proved nothing about restarts.
        reasons.append(
            f"the scenario planned {status.crashes_planned} connector crash(es) and"
            f" {status.crashes_played} were played: the run ended before the rest"
        )
    reasons += [f"cannot judge {name}.db: {error}" for name, error in unreadable.items()]
    if "oms" not in unreadable and counts.get("created", 0) == 0:
        reasons.append("no orders in the run: the OMS holds none, so nothing was tested")
    return reasons


def _paid_span(conn: sqlite3.Connection) -> float | None:
    try:
        row = conn.execute("SELECT MIN(paid_wall), MAX(paid_wall) FROM oms.orders").fetchone()
    except sqlite3.Error:
        return None
    if row is None or row[0] is None or row[1] is None:
        return None
    return float(row[1]) - float(row[0])


def _throughput(conn: sqlite3.Connection, meta: RunMeta, created: int) -> Throughput:
    seconds: float | None = None
    basis: str | None = None
    if meta.traffic_wall_seconds and meta.traffic_wall_seconds > 0:
        seconds, basis = meta.traffic_wall_seconds, "traffic_wall_seconds"
    elif (
        meta.wall_started is not None
        and meta.wall_ended is not None
        and meta.wall_ended > meta.wall_started
    ):
        seconds, basis = meta.wall_ended - meta.wall_started, "wall_started..wall_ended"
    if seconds is None:
        span = _paid_span(conn)
        if span is not None and span > 0:
            seconds, basis = span, "paid_wall span"
    per_min = created / (seconds / 60.0) if seconds else None
    return Throughput(orders_per_min=per_min, orders=created, wall_seconds=seconds, basis=basis)


def invariant_names(objectives: Mapping[str, float]) -> list[str]:
    """The invariants `judge_run` reports under these objectives, in its order, before any
    run: the pytest plugin's test items are named from it."""
    throughput = [THROUGHPUT_INVARIANT] if objectives.get(THROUGHPUT_OBJECTIVE) is not None else []
    return [DATABASES_PRESENT, *(inv.name for inv in INVARIANTS), *throughput]


def judge_run(run_dir: Path, meta: RunMeta) -> Verdict:
    """Judge a finished run folder. Never raises for bad or missing data: that is "invalid"."""
    run_dir = Path(run_dir)
    started = time.perf_counter()
    status = read_run_status(run_dir)
    conn = attach_run(run_dir)
    try:
        damaged = {**conn.attach_errors, **integrity_errors(conn)}
        unreadable = {name: damaged[name] for name in SYSTEMS if name in damaged}
        present = _databases_present(unreadable)
        invariants = [present, *run_invariants(conn, meta.objectives)]
        throughput_check = throughput_objective(conn, meta.objectives)
        if throughput_check is not None:
            invariants.append(throughput_check)
        counts = count_orders(conn)
        flows = count_flows(conn)
        money = money_summary(conn)
        paid_span = _paid_span(conn)
        latencies, latency_errors = compute_latencies(conn)
        throughput = _throughput(conn, meta, counts["created"])
        chaos = chaos_report(conn, status.fault_plan if status else [])
    finally:
        conn.close()
    errors = {f"attach {name}": msg for name, msg in unreadable.items()}
    errors.update({f"latency {flow}": msg for flow, msg in latency_errors.items()})
    errors.update({inv.name: inv.error for inv in invariants if inv.error})
    reasons = invalid_reasons(unreadable, counts, status)
    behind = traffic_behind(counts["created"], paid_span, status)
    if behind is not None:
        reasons.append(behind)
    reasons += drain_unfinished(status, counts, flows)
    # A plan that never fired tested nothing of what the scenario declares.
    reasons += plan_not_fired(chaos.plan, status.sim_seconds if status else None)
    passed = all(inv.passed for inv in invariants)
    return Verdict(
        verdict="invalid" if reasons else "pass" if passed else "fail",
        meta=meta,
        run_dir=str(run_dir),
        invariants=invariants,
        latencies=latencies,
        counts=counts,
        throughput=throughput,
        missing_databases=list(unreadable),
        errors=errors,
        judged_wall=time.time(),
        duration_seconds=time.perf_counter() - started,
        invalid_reasons=reasons,
        run_status=status,
        chaos=chaos,
        flows=flows,
        money=money,
    )


def drain_unfinished(
    status: RunStatus | None, counts: Mapping[str, int], flows: Mapping[str, int | None]
) -> list[str]:
    """Why the run proves nothing about its last trades, if the drain ran out of time while
    the warehouse still had delivery orders in hand: the world had not finished, so those
    trades never reached an end state through no fault of the connector's (a drain that
    stalled, nothing moving, leaves the invariants to judge what the connector left)."""
    if status is None or status.drain != DRAIN_TIMED_OUT or counts.get("backlog", 0) == 0:
        return []
    return [
        f"the drain timed out with {counts['backlog']} delivery order(s) still in the"
        f" warehouse and {flows.get('unsettled')} trade(s) in no end state (paid and neither"
        " shipped nor cancelled, or a cancellation waiting): the run ended mid-flight; raise"
        " run.drain_timeout"
    ]


def read_meta(run_dir: Path) -> RunMeta:
    """The meta saved in run_dir/report.json; else the one run-status.json kept when the run
    stopped (the report was deleted or never written); else defaults."""
    path = Path(run_dir) / REPORT_FILE
    try:
        data = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError):
        data = None
    if isinstance(data, dict):
        return RunMeta.from_report(data)
    status = read_run_status(Path(run_dir))
    return RunMeta.from_report(status.meta) if status is not None and status.meta else RunMeta()


def judge_folder(run_dir: Path) -> Verdict:
    """`ecomock check DIR`: judge a finished run with the meta its report.json recorded."""
    return judge_run(Path(run_dir), read_meta(Path(run_dir)))
