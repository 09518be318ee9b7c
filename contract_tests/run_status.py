"""run-status.json: how a run ended, written by the runner and read by the judge.

The runner writes `running` as soon as the run folder exists and the final state when it
stops, so a folder left by a run that was killed (even by SIGKILL) still says `running`, and
`ecomock check` on it later judges it invalid instead of passing half a run. A folder without
the file (hand-built, or from before the file existed) has no status: only its databases count.

It also keeps the fault plan the scenario declared (`fault_plan`, each rule with its window
as simulated time) and how much simulated time the run covered (`sim_seconds`), so the judge
can tell a plan that never fired (contract_tests/chaos.py) from one that did, again later.
Once the run stopped it keeps the judge's meta too (`meta`: scenario, seed, connector, wall
times, objectives), so `ecomock check` on a folder whose report.json is gone still judges with
the run's own objectives.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import orjson

from contract_tests.files import write_atomically

RUN_STATUS_FILE = "run-status.json"

RUNNING = "running"
FINISHED = "finished"
INTERRUPTED = "interrupted"
CONNECTOR_EXITED = "connector_exited"
ABORTED = "aborted"
UNREADABLE = "unreadable"
# How the drain ended (RunStatus.drain): every trade in an end state, nothing moved for
# run.stall_timeout, or run.drain_timeout ran out while things still moved.
DRAIN_ENDED = "ended"
DRAIN_STALLED = "stalled"
DRAIN_TIMED_OUT = "timed_out"

NOT_FINISHED_REASON = (
    "the run did not finish: ecomock was killed or crashed while playing it, or is still"
    " playing it (run-status.json says running)"
)


@dataclass(frozen=True)
class RunStatus:
    """The state of a run; every state but `finished` makes its verdict "invalid"."""

    state: str
    reason: str = ""  # for people: why the run proves nothing (empty when finished)
    pid: int | None = None  # the ecomock process that played it
    connector_pgid: int | None = None  # the connector's process group, once started
    connector_exit_code: int | None = None
    connector_log_tail: list[str] = field(default_factory=list)
    # A crash scenario's planned connector crashes, and each one as it was played
    # (simulator/crashes.py, CrashRecord.as_dict).
    crashes_planned: int = 0
    crashes: list[dict[str, Any]] = field(default_factory=list)
    fault_plan: list[dict[str, Any]] = field(default_factory=list)  # the declared rules
    sim_seconds: float | None = None  # simulated time the run covered, once it stopped
    # What the scenario's curve plans for the traffic phase, to tell a run that fell behind it.
    planned_orders: float | None = None
    planned_wall_seconds: float | None = None
    drain: str | None = None  # DRAIN_*; None: the run never drained (or an older run)
    meta: dict[str, Any] = field(default_factory=dict)  # RunMeta.as_dict(), once stopped

    @property
    def finished(self) -> bool:
        return self.state == FINISHED

    @property
    def crashes_played(self) -> int:
        """Crashes whose connector was killed and served again."""
        return sum(1 for crash in self.crashes if crash.get("ready_wall") is not None)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def write_run_status(run_dir: Path, status: RunStatus) -> None:
    data = orjson.dumps(status.as_dict(), option=orjson.OPT_INDENT_2)
    write_atomically(Path(run_dir) / RUN_STATUS_FILE, data + b"\n")


def _float_or_none(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def read_run_status(run_dir: Path) -> RunStatus | None:
    """The folder's status; None without the file; state `unreadable` when it is garbage."""
    path = Path(run_dir) / RUN_STATUS_FILE
    if not path.exists():
        return None
    try:
        data = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError) as exc:
        return RunStatus(UNREADABLE, f"{path} cannot be read: {exc}")
    if not isinstance(data, dict) or not isinstance(data.get("state"), str):
        return RunStatus(UNREADABLE, f"{path} does not say how the run ended")
    tail = data.get("connector_log_tail")
    crashes = data.get("crashes")
    plan = data.get("fault_plan")
    sim_seconds = data.get("sim_seconds")
    state = data["state"]
    reason = str(data["reason"]) if isinstance(data.get("reason"), str) else ""
    if state != FINISHED and not reason:
        reason = NOT_FINISHED_REASON if state == RUNNING else f"the run ended {state}"
    return RunStatus(
        state=state,
        reason=reason,
        pid=_int_or_none(data.get("pid")),
        connector_pgid=_int_or_none(data.get("connector_pgid")),
        connector_exit_code=_int_or_none(data.get("connector_exit_code")),
        connector_log_tail=[str(line) for line in tail] if isinstance(tail, list) else [],
        crashes_planned=_int_or_none(data.get("crashes_planned")) or 0,
        crashes=[c for c in crashes if isinstance(c, dict)] if isinstance(crashes, list) else [],
        fault_plan=[rule for rule in plan if isinstance(rule, dict)]
        if isinstance(plan, list)
        else [],
        sim_seconds=_float_or_none(sim_seconds),
        planned_orders=_float_or_none(data.get("planned_orders")),
        planned_wall_seconds=_float_or_none(data.get("planned_wall_seconds")),
        drain=data["drain"] if isinstance(data.get("drain"), str) else None,
        meta=data["meta"] if isinstance(data.get("meta"), dict) else {},
    )
