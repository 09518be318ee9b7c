"""Respects Retry-After: after a refusal that names a wait, the same call comes no sooner.

A fake that refuses a call with a wait (HTTP 429 `Retry-After`, the WMS's TOP ban of N
seconds, the bank's 429 ACCESS_EXCEEDED) records it in the `fault` row's payload as
`retry_after` (fake_systems/common/pipeline.py, `Protocol.waiting_refusals`). The next call
of the same operation for the same entity on that fake must come at least that many wall
seconds later: a connector that retries at once only gets throttled again, and a real
gateway may ban it for longer. Refusals that name no wait (旺店通 status 100, TOP code 7,
K3 MsgCode 14, Kdniao 405) and calls that name no entity (logins, polls) are not judged.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from contract_tests.database import SYSTEMS
from contract_tests.evidence import MAX_EXAMPLES, InvariantResult, history, result

# The wall clock is the machine's, shared by the fakes and the connector; a connector's timer
# may fire a hair early and the fake stamps its row a little after the socket read.
TOLERANCE = 0.1

DESCRIPTIONS = {
    "respects_retry_after": (
        "after a refusal that asks for a wait (HTTP 429 Retry-After, a TOP ban), the same"
        " operation for the same entity is not called again sooner (wall seconds, 10 %"
        " tolerance)"
    ),
}


@dataclass(frozen=True)
class RetryGap:
    """One refusal that asked for a wait, and when the same call came next (None: never)."""

    system: str
    operation: str
    entity: str
    kind: str
    refused_wall: float
    retry_after: float
    gap: float | None


def _gaps_sql(schema: str) -> str:
    # The next call is any row of the same operation and entity after the refusal: served
    # (`api_in`) or refused again (`fault`, which writes no `api_in`).
    return f"""
        SELECT f.operation, f.entity, f.outcome, f.wall_time,
               json_extract(f.payload, '$.retry_after') AS retry_after,
               (SELECT MIN(e.wall_time) FROM {schema}.events AS e
                WHERE e.seq > f.seq AND e.entity = f.entity AND e.operation = f.operation
                  AND e.kind IN ('api_in', 'fault')) - f.wall_time AS gap
        FROM {schema}.events AS f
        WHERE f.kind = 'fault' AND f.entity IS NOT NULL
          AND json_extract(f.payload, '$.retry_after') IS NOT NULL
        ORDER BY f.seq"""


def retry_gaps(conn: sqlite3.Connection) -> list[RetryGap]:
    """Every refusal with a wait in the run's histories and the wall gap to the next call."""
    gaps: list[RetryGap] = []
    # Every fake has an events table: a missing one is an error (the check could not run),
    # not a run without throttling.
    for system in SYSTEMS:
        for operation, entity, kind, wall, wait, gap in conn.execute(_gaps_sql(system)):
            gaps.append(RetryGap(system, operation, entity, kind, float(wall), float(wait), gap))
    return gaps


def respects_retry_after(
    conn: sqlite3.Connection, objectives: Mapping[str, float]
) -> InvariantResult:
    gaps = retry_gaps(conn)
    short = [g for g in gaps if g.gap is not None and g.gap < g.retry_after * (1 - TOLERANCE)]
    breakdown: dict[str, int] = {}
    for g in short:
        key = f"{g.system} {g.kind}"
        breakdown[key] = breakdown.get(key, 0) + 1
    examples: list[dict[str, Any]] = [
        {
            "entity": g.entity,
            "system": g.system,
            "operation": g.operation,
            "fault": g.kind,
            "expected": f"the next {g.operation} call at least {g.retry_after:g} s later",
            "observed": f"called again {g.gap:.3f} s later",
            "history": history(conn, (g.system,), (g.entity,)),
        }
        for g in short[:MAX_EXAMPLES]
        if g.gap is not None
    ]
    return result(
        "respects_retry_after",
        DESCRIPTIONS["respects_retry_after"],
        len(gaps),
        len(short),
        examples,
        breakdown,
    )


CHECKS = (respects_retry_after,)
