"""What every invariant returns: the result, its examples' history, and small SQL helpers."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from contract_tests.database import has_table
from fake_systems.common.money import cents_to_text

MAX_EXAMPLES = 10
R = TypeVar("R")  # a judged entity: a row, or what a check made of its rows
MAX_HISTORY_LINES = 20
MAX_HISTORY_SCAN = 500  # events read per entity set and database, to bound the cost
MAX_PAYLOAD_CHARS = 400


@dataclass
class InvariantResult:
    """Outcome of one named check.

    `checked` is how many entities were examined, `violations` how many broke the rule (for
    the latency objective: how many orders were over it, while `passed` judges the p99).
    `examples` holds up to ten dicts with at least `entity`, `expected` and `observed`, and
    `history` (the events rows of that entity) where the history explains it. `breakdown`
    counts violations per kind where a check tells kinds apart (missing, duplicate, ...).
    """

    name: str
    description: str
    passed: bool
    checked: int
    violations: int
    examples: list[dict[str, Any]] = field(default_factory=list)
    breakdown: dict[str, int] = field(default_factory=dict)
    summary: str = ""
    error: str | None = None
    duration_seconds: float = 0.0


Check = Callable[[sqlite3.Connection, Mapping[str, float]], InvariantResult]


@dataclass(frozen=True)
class Invariant:
    name: str
    description: str
    check: Check


def history(
    conn: sqlite3.Connection, schemas: Iterable[str], entities: Iterable[str | None]
) -> list[dict[str, Any]]:
    """Events rows about any of `entities` from the given databases, oldest first.

    At most MAX_HISTORY_LINES: the first and the last half, with an `{"omitted": n}` line
    between them, because how it started (the create, the lost response) and how it ended
    both explain a violation. Evidence only: a database without an events table contributes
    nothing rather than turning a clear violation into an error.
    """
    keys = sorted({e for e in entities if e})
    if not keys:
        return []
    marks = ",".join("?" * len(keys))
    lines: list[dict[str, Any]] = []
    for schema in schemas:
        try:
            if not has_table(conn, schema, "events"):
                continue
            rows = conn.execute(
                "SELECT seq, sim_time, wall_time, kind, operation, entity, outcome, payload"
                f" FROM {schema}.events WHERE entity IN ({marks}) ORDER BY seq LIMIT ?",
                (*keys, MAX_HISTORY_SCAN),
            ).fetchall()
        except sqlite3.Error:
            continue
        for row in rows:
            line = {"db": schema, **dict(row)}
            payload = line.get("payload")
            if isinstance(payload, str) and len(payload) > MAX_PAYLOAD_CHARS:
                line["payload"] = payload[:MAX_PAYLOAD_CHARS] + "…"
            lines.append(line)
    lines.sort(key=lambda line: (line["wall_time"] or 0.0, line["db"], line["seq"]))
    if len(lines) <= MAX_HISTORY_LINES:
        return lines
    half = MAX_HISTORY_LINES // 2
    return [*lines[:half], {"omitted": len(lines) - 2 * half}, *lines[-half:]]


def scalar(conn: sqlite3.Connection, sql: str, params: tuple[Any, ...] = ()) -> int:
    row = conn.execute(sql, params).fetchone()
    return int(row[0] or 0)


def yuan(cents: int | None) -> str | None:
    return None if cents is None else cents_to_text(int(cents))


def result(
    name: str,
    description: str,
    checked: int,
    violations: int,
    examples: list[dict[str, Any]],
    breakdown: dict[str, int] | None = None,
) -> InvariantResult:
    """A result whose summary is "ok", the breakdown, or "n of m violate it"."""
    breakdown = breakdown or {}
    if violations == 0:
        summary = "ok"
    elif breakdown:
        summary = ", ".join(f"{n} {kind}" for kind, n in breakdown.items())
    else:
        summary = f"{violations} of {checked} violate it"
    return InvariantResult(
        name=name,
        description=description,
        passed=violations == 0,
        checked=checked,
        violations=violations,
        examples=examples,
        breakdown=breakdown,
        summary=summary,
    )


def judge_rows(
    rows: Iterable[R],
    problems_of: Callable[[R], list[str]],
    example_of: Callable[[R, list[str]], dict[str, Any]],
) -> tuple[int, dict[str, int], list[dict[str, Any]]]:
    """(violations, breakdown by problem, the first examples) of rows (entities) with
    problems; an entity with several problems is one violation, counted under each."""
    breakdown: dict[str, int] = {}
    examples: list[dict[str, Any]] = []
    violations = 0
    for row in rows:
        problems = problems_of(row)
        if not problems:
            continue
        violations += 1
        for problem in problems:
            breakdown[problem] = breakdown.get(problem, 0) + 1
        if len(examples) < MAX_EXAMPLES:
            examples.append(example_of(row, problems))
    return violations, breakdown, examples


def rows_result(
    name: str,
    description: str,
    rows: Collection[R],
    problems_of: Callable[[R], list[str]],
    example_of: Callable[[R, list[str]], dict[str, Any]],
) -> InvariantResult:
    """The result of a check that judges each of `rows` (its entities) on its own."""
    violations, breakdown, examples = judge_rows(rows, problems_of, example_of)
    return result(name, description, len(rows), violations, examples, breakdown)


def table_in_run(conn: sqlite3.Connection, schema: str, table: str) -> bool:
    """Whether the run's database has the table: False only for a run from before it (a
    missing database, True, lets the query fail by name, as every check does)."""
    return schema in getattr(conn, "missing", ()) or has_table(conn, schema, table)


def with_excused(judged: InvariantResult, excused: int, what: str) -> InvariantResult:
    """A passing result whose summary also counts what it `excused` ("ok (3 sold in a
    sell-out: excused)"); a failing one, or one that excused nothing, as it is."""
    if not excused or not judged.passed:
        return judged
    return replace(judged, summary=f"ok ({excused} {what}: excused)")
