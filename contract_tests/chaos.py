"""What the fault plan did to a run, read from the fakes' histories: hits, calls, recoveries.

Three views, none with a recording path of its own (docs/CHAOS.md, "In the report"):
- **fault hits**: every `fault` row (its outcome is the kind), counted per kind, system and
  operation;
- **the plan fired**: each rule the scenario declared (run-status.json keeps the plan) and
  how often it hit inside its window; a rule whose window opened during the run and that
  never hit makes the run invalid, since the run did not test what it says it tested;
- **calls, Jepsen-style**: each request the connector made (`api_in`) is an *invoke* that
  ended *ok*, *fail* (the connector was told it failed) or *info* (it cannot know: the answer
  was lost, cut, reset or timed out), per system and operation; and *recovered*, the orders
  that met a fault and still ended right.
"""

from __future__ import annotations

import sqlite3
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, TypeVar

from contract_tests.database import SYSTEMS, has_table
from contract_tests.metrics import DO_TRADE_CTE, RECEIVABLE, SALES_OUTSTOCK
from simulator.fault_plan import KINDS, Stage

# BEFORE kinds whose caller cannot tell whether the work was done: the connection dropped, or
# a gateway timed out waiting (it may have forwarded the request). The other BEFORE kinds
# answer a definite refusal; every AFTER kind spoils the answer of committed work (info).
UNKNOWN_OUTCOME_BEFORE = frozenset({"reset_before", "http_504"})
# BEFORE kinds that do not decide the outcome: the call goes on and is recorded as usual.
PASSING_BEFORE = frozenset({"latency"})
OK_OUTCOMES = frozenset({"ok", "partial"})
MAX_RECOVERY_EXAMPLES = 10
T = TypeVar("T")


@dataclass(frozen=True)
class FaultHit:
    """How often one kind of fault hit one operation of one system."""

    system: str
    operation: str
    kind: str
    count: int


def fault_hits(conn: sqlite3.Connection) -> list[FaultHit]:
    """Every fault row of the run, counted per system, operation and kind."""
    hits: list[FaultHit] = []
    for system in SYSTEMS:
        if not _has_events(conn, system):
            continue
        rows = conn.execute(
            f"SELECT operation, outcome, COUNT(*) FROM {system}.events WHERE kind = 'fault'"
            " GROUP BY operation, outcome ORDER BY operation, outcome"
        ).fetchall()
        hits += [FaultHit(system, str(op), str(kind), int(n)) for op, kind, n in rows]
    return hits


def fault_times(conn: sqlite3.Connection) -> dict[str, list[float]]:
    """The wall time of every fault hit, by kind (for the report's timeline)."""
    times: dict[str, list[float]] = defaultdict(list)
    for system in SYSTEMS:
        try:
            if not _has_events(conn, system):
                continue
            rows = conn.execute(
                f"SELECT outcome, wall_time FROM {system}.events WHERE kind = 'fault'"
            ).fetchall()
        except sqlite3.Error:
            continue  # a damaged database: the plot shows what the others hold
        for kind, wall in rows:
            times[str(kind)].append(float(wall))
    return {kind: sorted(values) for kind, values in sorted(times.items())}


# --- the plan fired --------------------------------------------------------------------


@dataclass(frozen=True)
class PlannedRule:
    """A rule the scenario declared, as run-status.json keeps it, and its hits in the run."""

    rule: str  # `faults.N`, as the scenario's validation names it
    system: str
    operation: str
    kind: str
    start: float  # simulated seconds since the run's start
    until: float | None
    hits: int

    def describe(self) -> str:
        window = f"from {self.start:g} s" + (
            f" until {self.until:g} s" if self.until is not None else ""
        )
        return f"{self.rule} ({self.kind} on {self.system} {self.operation}, {window})"


def planned_rules(conn: sqlite3.Connection, plan: Sequence[Mapping[str, Any]]) -> list[PlannedRule]:
    """Each declared rule with its hits: the fault rows of its kind, on its operation (any,
    for `*`), whose simulated time falls inside its window."""
    rules: list[PlannedRule] = []
    for entry in plan:
        system = str(entry.get("system"))
        operation = str(entry.get("operation"))
        kind = str(entry.get("kind"))
        hits = 0
        if system in SYSTEMS and _has_events(conn, system):
            sql = (
                f"SELECT COUNT(*) FROM {system}.events WHERE kind = 'fault' AND outcome = ?"
                " AND sim_time >= ?"
            )
            params: list[Any] = [kind, str(entry.get("from_sim", ""))]
            if operation != "*":
                sql += " AND operation = ?"
                params.append(operation)
            if entry.get("until_sim"):
                sql += " AND sim_time < ?"
                params.append(str(entry["until_sim"]))
            rule_id = _rule_id(entry.get("rule"))
            if rule_id is not None:
                # A row names the rule that fired it (its id is `faults.N`'s N + 1): another
                # rule of the same kind on the same operation does not count for this one.
                # Rows of runs from before the ids were recorded count for every such rule.
                sql += " AND COALESCE(json_extract(payload, '$.rule'), ?) = ?"
                params += [rule_id, rule_id]
            hits = int(conn.execute(sql, params).fetchone()[0] or 0)
        until = entry.get("until")
        rules.append(
            PlannedRule(
                rule=str(entry.get("rule")),
                system=system,
                operation=operation,
                kind=kind,
                start=float(entry.get("from") or 0.0),
                until=float(until) if isinstance(until, int | float) else None,
                hits=hits,
            )
        )
    return rules


def _rule_id(name: object) -> int | None:
    """The injector's id of the scenario rule `faults.N`: N + 1 (rules are armed in order)."""
    prefix, _, number = str(name).partition(".")
    return int(number) + 1 if prefix == "faults" and number.isdigit() else None


def plan_not_fired(rules: Sequence[PlannedRule], sim_seconds: float | None) -> list[str]:
    """Why the run is invalid for its plan: each rule whose window opened during the run
    (`sim_seconds` of simulated time) and that never hit. Unknown length: every rule."""
    reasons = []
    for rule in rules:
        opened = sim_seconds is None or rule.start < sim_seconds
        if opened and rule.hits == 0:
            length = "" if sim_seconds is None else f" of {sim_seconds:,.0f} simulated s"
            reasons.append(
                f"the fault plan did not fire: {rule.describe()} never hit during the run{length},"
                " so the run did not test what its scenario declares"
            )
    return reasons


# --- calls, Jepsen-style -----------------------------------------------------------------


@dataclass
class CallCounts:
    """The connector's calls of one operation: invoked, and how each ended for it."""

    system: str
    operation: str
    invoke: int = 0
    ok: int = 0
    fail: int = 0
    info: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class _Call:
    seq: int
    entity: str | None
    outcome: str  # ok | fail | info


def call_history(conn: sqlite3.Connection) -> list[CallCounts]:
    """Each system's requests (`api_in`) with the faults that hit them, as invoke → ok /
    fail / info, per operation.

    A fault row follows the request's own row (the pipeline writes them in one go): an
    AFTER kind turns that call's ok into info; a BEFORE kind that answered instead of the
    work is one call, fail or info by kind, whether or not the fake also wrote a refusal
    `api_in` row for it right beside, before or after (a refusal row of the same operation
    and entity next to it is the same call, not another).
    """
    counts: list[CallCounts] = []
    for system in SYSTEMS:
        if not _has_events(conn, system):
            continue
        if not _has_faults(conn, system):
            counts += _plain_calls(conn, system)  # the common case, in SQL: no pairing needed
            continue
        per_operation: dict[str, CallCounts] = {}
        last: dict[str, _Call] = {}  # the latest call of each operation
        pending: dict[str, _Call] = {}  # a BEFORE fault whose refusal row may come next
        rows = conn.execute(
            f"SELECT seq, kind, operation, entity, outcome FROM {system}.events"
            " WHERE kind IN ('api_in', 'fault') ORDER BY seq"
        )
        for seq, kind, operation, entity, outcome in rows:
            tally = per_operation.setdefault(operation, CallCounts(system, operation))
            if kind == "api_in":
                ended = "ok" if outcome in OK_OUTCOMES else "fail"
                before = pending.pop(operation, None)
                if _beside(before, seq, entity) and ended == "fail":
                    continue  # the refusal row of the fault just counted
                _count(tally, ended)
                last[operation] = _Call(seq, entity, ended)
                continue
            stage = KINDS.get(outcome)
            if stage is Stage.AFTER:
                call = last.get(operation)
                if call is not None and call.outcome == "ok":
                    tally.ok -= 1
                    tally.info += 1
                    call.outcome = "info"
                else:  # not the answer of a call we saw: still one call whose end is unknown
                    _count(tally, "info")
            elif stage is Stage.BEFORE and outcome not in PASSING_BEFORE:
                ended = "info" if outcome in UNKNOWN_OUTCOME_BEFORE else "fail"
                call = last.get(operation)
                if call is not None and _beside(call, seq, entity) and call.outcome == "fail":
                    tally.fail -= 1  # its refusal row came first: the same call
                    setattr(tally, ended, getattr(tally, ended) + 1)
                    call.outcome = ended
                else:
                    _count(tally, ended)
                    pending[operation] = last[operation] = _Call(seq, entity, ended)
        counts += [per_operation[op] for op in sorted(per_operation) if per_operation[op].invoke]
    return counts


def _has_faults(conn: sqlite3.Connection, system: str) -> bool:
    row = conn.execute(f"SELECT 1 FROM {system}.events WHERE kind = 'fault' LIMIT 1").fetchone()
    return row is not None


def _plain_calls(conn: sqlite3.Connection, system: str) -> list[CallCounts]:
    """The calls of a system no fault hit: ok when answered, fail when refused."""
    oks = ", ".join(f"'{outcome}'" for outcome in sorted(OK_OUTCOMES))
    rows = conn.execute(
        f"SELECT operation, COUNT(*), SUM(outcome IN ({oks})) FROM {system}.events"
        " WHERE kind = 'api_in' GROUP BY operation ORDER BY operation"
    )
    return [
        CallCounts(system, str(op), invoke=int(n), ok=int(ok), fail=int(n) - int(ok))
        for op, n, ok in rows
    ]


def _beside(call: _Call | None, seq: int, entity: str | None) -> bool:
    """Whether `call` is the row right next to `seq` about the same entity."""
    return call is not None and abs(call.seq - seq) == 1 and call.entity == entity


def _count(tally: CallCounts, ended: str) -> None:
    tally.invoke += 1
    setattr(tally, ended, getattr(tally, ended) + 1)


# Orders that ended right: at the WMS once, shipped in the OMS, and booked in the ERP (both
# documents audited, one of each form) under the trade's number.
ENDED_RIGHT_SQL = f"""
    WITH {DO_TRADE_CTE},
    at_wms AS (SELECT trade_no FROM do_trade GROUP BY trade_no HAVING COUNT(*) = 1),
    booked AS (
        SELECT bill_no FROM erp.documents
        WHERE document_status = 'C' AND form_id IN ('{SALES_OUTSTOCK}', '{RECEIVABLE}')
        GROUP BY bill_no HAVING COUNT(*) = 2 AND MIN(form_id) <> MAX(form_id)
    )
    SELECT o.trade_no FROM oms.orders AS o
    WHERE o.trade_status IN (95, 110)
      AND o.trade_no IN (SELECT trade_no FROM at_wms)
      AND o.trade_no IN (SELECT bill_no FROM booked)"""


@dataclass
class Recovery:
    """Orders that met at least one fault, and how many of them still ended right."""

    met_fault: int = 0
    recovered: int = 0
    not_recovered: list[str] = field(default_factory=list)  # the first few trade numbers

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def recovery(conn: sqlite3.Connection) -> Recovery:
    """Orders a fault touched (a fault row names the trade, its platform order or its
    waybill) and which of them ended right (`ENDED_RIGHT_SQL`)."""
    touched: set[str] = set()
    for system in SYSTEMS:
        if _has_events(conn, system):
            touched.update(
                str(row[0])
                for row in conn.execute(
                    f"SELECT DISTINCT entity FROM {system}.events"
                    " WHERE kind = 'fault' AND entity IS NOT NULL"
                )
            )
    if not touched or not has_table(conn, "oms", "orders"):
        return Recovery()
    met = sorted(
        str(trade_no)
        for trade_no, src_tid, logistics_no in conn.execute(
            "SELECT trade_no, src_tid, logistics_no FROM oms.orders"
        )
        if touched.intersection((trade_no, src_tid, logistics_no))
    )
    try:
        right = {str(row[0]) for row in conn.execute(ENDED_RIGHT_SQL)}
    except sqlite3.Error:
        right = set()  # a missing table is a failed invariant already; nothing recovered
    wrong = [trade_no for trade_no in met if trade_no not in right]
    return Recovery(len(met), len(met) - len(wrong), wrong[:MAX_RECOVERY_EXAMPLES])


# --- together --------------------------------------------------------------------------


@dataclass
class ChaosReport:
    """The report's `faults` and `calls` sections."""

    hits: list[FaultHit] = field(default_factory=list)
    plan: list[PlannedRule] = field(default_factory=list)
    calls: list[CallCounts] = field(default_factory=list)
    recovery: Recovery = field(default_factory=Recovery)

    def faults_section(self) -> dict[str, Any]:
        by_kind: Counter[str] = Counter()
        for hit in self.hits:
            by_kind[hit.kind] += hit.count
        return {
            "total": sum(by_kind.values()),
            "by_kind": dict(sorted(by_kind.items())),
            "hits": [asdict(hit) for hit in self.hits],
            "plan": [asdict(rule) for rule in self.plan],
        }

    def calls_section(self) -> dict[str, Any]:
        total = {"invoke": 0, "ok": 0, "fail": 0, "info": 0}
        for tally in self.calls:
            for key in total:
                total[key] += getattr(tally, key)
        return {
            "total": total,
            "per_operation": [tally.as_dict() for tally in self.calls],
            "recovered": self.recovery.as_dict(),
        }


def chaos_report(conn: sqlite3.Connection, plan: Sequence[Mapping[str, Any]]) -> ChaosReport:
    """Everything the report says about faults, from the attached run and its plan. A part
    a damaged database keeps from being read stays empty: that run is invalid already."""
    return ChaosReport(
        hits=_guarded(lambda: fault_hits(conn), []),
        plan=_guarded(lambda: planned_rules(conn, plan), []),
        calls=_guarded(lambda: call_history(conn), []),
        recovery=_guarded(lambda: recovery(conn), Recovery()),
    )


def _guarded(compute: Callable[[], T], empty: T) -> T:
    try:
        return compute()
    except sqlite3.Error:
        return empty


def _has_events(conn: sqlite3.Connection, system: str) -> bool:
    try:
        return has_table(conn, system, "events")
    except sqlite3.Error:
        return False
