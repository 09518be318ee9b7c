"""Throughput: the objective on orders carried per minute, and traffic that fell behind its curve.

Two different questions (docs/JUDGE.md, "Throughput"):
- **did the connector keep up?** `throughput_objective`, an invariant when the scenario sets
  `objectives.orders_per_min`: the orders the connector brought to the WMS, per wall minute
  from the first order paid to the last one the WMS received. A connector that falls behind
  stretches that span (its backlog drains late), so its rate drops below what was offered.
- **was the run the one the scenario describes?** `traffic_behind`: orders paid per wall
  minute, first payment to last, against the rate the scenario's curve plans. When the harness
  itself could not place them (a loaded machine, Locust short of users), the run measured a
  lighter load than it claims: invalid, never pass.
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Mapping

from contract_tests.invariants import InvariantResult
from contract_tests.metrics import DO_TRADE_CTE
from contract_tests.run_status import RunStatus

THROUGHPUT_OBJECTIVE = "orders_per_min"
THROUGHPUT_INVARIANT = "throughput_objective"  # the invariant checking it
# How far the orders created may fall short of the curve's plan before the run is invalid:
# 10 %, or three standard deviations of a Poisson count when that is more (a run of 60 orders
# may well see 45 by chance alone: 3 / sqrt(60) = 39 %).
ALLOWED_SHORTFALL = 0.10
POISSON_SIGMAS = 3.0


def carried_per_minute(conn: sqlite3.Connection) -> tuple[int, float | None]:
    """Orders that reached the WMS, and how many per wall minute from the first payment to
    the last one's arrival (None when there is no span to divide by)."""
    row = conn.execute(
        f"""WITH {DO_TRADE_CTE}
        SELECT (SELECT COUNT(DISTINCT trade_no) FROM do_trade),
               (SELECT MAX(created_wall) FROM do_trade),
               (SELECT MIN(paid_wall) FROM oms.orders)"""
    ).fetchone()
    carried, last_received, first_paid = int(row[0] or 0), row[1], row[2]
    if last_received is None or first_paid is None or last_received <= first_paid:
        return carried, None
    return carried, carried / ((float(last_received) - float(first_paid)) / 60.0)


def throughput_objective(
    conn: sqlite3.Connection, objectives: Mapping[str, float]
) -> InvariantResult | None:
    """The `orders_per_min` objective, checked; None when the scenario sets none."""
    objective = objectives.get(THROUGHPUT_OBJECTIVE)
    if objective is None:
        return None
    carried, per_minute = carried_per_minute(conn)
    passed = per_minute is not None and per_minute >= objective
    observed = "no span to measure" if per_minute is None else f"{per_minute:,.0f}/min"
    return InvariantResult(
        name=THROUGHPUT_INVARIANT,
        description=(
            f"the connector carries at least {objective:,.0f} orders/min to the WMS (first"
            " payment to the last order received)"
        ),
        passed=passed,
        checked=carried,
        violations=0 if passed else 1,
        examples=[]
        if passed
        else [
            {
                "entity": None,
                "expected": f">= {objective:,.0f}/min",
                "observed": observed,
                "orders_carried": carried,
            }
        ],
        summary=f"{observed} over {carried:,} orders (objective {objective:,.0f}/min)",
    )


def traffic_behind(
    created: int, paid_span_seconds: float | None, status: RunStatus | None
) -> str | None:
    """Why the run's traffic fell behind the scenario's curve, or None (also when the run
    does not say what it planned: a run folder from before the plan was recorded).

    The rate played is measured between the first and the last order paid, not over the
    traffic phase: a load generator's start-up (Locust spawning its users) is not load, and
    the span still stretches when the orders came slower than the curve.
    """
    if status is None or not status.finished or created < 2 or not paid_span_seconds:
        return None
    planned, planned_seconds = status.planned_orders, status.planned_wall_seconds
    if not planned or not planned_seconds:
        return None
    planned_rate = planned / planned_seconds * 60.0
    # n orders mark n - 1 gaps between the first payment and the last.
    achieved_rate = (created - 1) / paid_span_seconds * 60.0
    shortfall = 1.0 - achieved_rate / planned_rate
    allowed = max(ALLOWED_SHORTFALL, POISSON_SIGMAS / math.sqrt(planned))
    if shortfall <= allowed:
        return None
    return (
        f"the traffic fell {shortfall:.0%} behind the scenario's curve: {created:,} orders paid"
        f" over {paid_span_seconds:,.1f} wall s ({achieved_rate:,.0f}/min) where the curve plans"
        f" {planned:,.0f} in {planned_seconds:,.1f} s ({planned_rate:,.0f}/min); more than the"
        f" {allowed:.0%} chance allows, so the run did not play the load it claims (a loaded"
        " machine, or a load generator short of users)"
    )
