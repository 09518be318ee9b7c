"""The throughput objective and the traffic-behind-its-curve validity check (docs/JUDGE.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from contract_tests.judge import judge_run
from contract_tests.run_status import FINISHED, RunStatus
from contract_tests.throughput import traffic_behind
from tests.support.judge import META, RunBuilder

FINISHED_PLAN = RunStatus(FINISHED, planned_orders=10_000, planned_wall_seconds=600)


@pytest.mark.parametrize(
    ("created", "seconds", "behind"),
    [
        (10_000, 600.0, False),  # on the curve
        (9_100, 600.0, False),  # 9 % short: within 10 %
        (8_500, 600.0, True),  # 15 % short
        (10_000, 800.0, True),  # every order, but paid 25 % slower than the curve plans
        (10_000, 560.0, False),  # a generator that starts late and keeps the rate
    ],
)
def test_a_large_run_may_fall_ten_percent_behind(
    created: int, seconds: float, behind: bool
) -> None:
    reason = traffic_behind(created, seconds, FINISHED_PLAN)
    assert (reason is not None) is behind, reason


def test_a_small_run_is_allowed_what_chance_gives() -> None:
    """60 planned orders in 10 s: 45 paid over those 10 s is within three Poisson deviations
    (39 %), 30 is not."""
    plan = RunStatus(FINISHED, planned_orders=60, planned_wall_seconds=10)
    assert traffic_behind(45, 10.0, plan) is None
    reason = traffic_behind(30, 10.0, plan)
    assert reason is not None and "more than the 39% chance allows" in reason


def test_no_plan_or_an_unfinished_run_is_not_judged_here() -> None:
    assert traffic_behind(0, 600.0, RunStatus(FINISHED)) is None  # a folder from before plans
    assert traffic_behind(0, 600.0, None) is None
    # An interrupted run is invalid for that reason already, not for its shortfall.
    assert (
        traffic_behind(0, 600.0, RunStatus("running", planned_orders=10, planned_wall_seconds=1))
        is None
    )


def slow_connector_run(run_dir: Path) -> None:
    """Four orders paid a second apart; the connector brought each 30 s late, the last one
    33 s after the first payment: 4 orders in 33 s, 7.3/min."""
    builder = RunBuilder(run_dir)
    for _ in range(4):
        builder.order("at_wms", paid_to_wms_seconds=30.0)
    builder.close()


def test_a_connector_slower_than_the_objective_fails_it(tmp_path: Path) -> None:
    slow_connector_run(tmp_path / "run")
    meta = META.__class__(**{**META.as_dict(), "objectives": {"orders_per_min": 60.0}})
    verdict = judge_run(tmp_path / "run", meta)
    result = verdict.invariant("throughput_objective")
    assert not result.passed and verdict.verdict == "fail"
    assert result.examples[0]["observed"] == "7/min"
    assert result.summary == "7/min over 4 orders (objective 60/min)"


def test_a_connector_that_keeps_up_meets_it(tmp_path: Path) -> None:
    slow_connector_run(tmp_path / "run")
    meta = META.__class__(**{**META.as_dict(), "objectives": {"orders_per_min": 7.0}})
    result = judge_run(tmp_path / "run", meta).invariant("throughput_objective")
    assert result.passed and result.checked == 4


def test_without_an_objective_there_is_no_throughput_invariant(tmp_path: Path) -> None:
    slow_connector_run(tmp_path / "run")
    verdict = judge_run(tmp_path / "run", META)
    assert "throughput_objective" not in [inv.name for inv in verdict.invariants]
