"""End to end with problem parcels and clocks a little off (scenarios/chaos/problem_parcels.yaml):
the reference connector passes, completes exactly the orders whose parcels were signed for
(those signed after a 405 too), and the report counts the hits of every rule; a connector
that takes State 4 for an end fails `completed_only_when_signed`."""

from __future__ import annotations

from pathlib import Path

import pytest

from contract_tests.database import attach_run
from tests.support.paths import SCENARIOS
from tests.support.runs import failed, invariant, play

PROBLEMS = SCENARIOS / "chaos" / "problem_parcels.yaml"

pytestmark = pytest.mark.e2e


def test_reference_connector_passes_problem_parcels_and_skewed_clocks(tmp_path: Path) -> None:
    exit_code, report = play(PROBLEMS, "reference", tmp_path / "run")
    assert report["verdict"] == "pass", (failed(report), report.get("invalid"))
    assert exit_code == 0
    # Every rule hit (or the run would be invalid), and the report counts the hits.
    plan = report["faults"]["plan"]
    assert len(plan) == 6 and all(rule["hits"] > 0 for rule in plan), plan
    by_kind = report["faults"]["by_kind"]
    assert by_kind["problem_parcel"] >= 10
    # One row per skewed fake when its skew first applied; none refused a call.
    assert by_kind["clock_skew"] == 4

    conn = attach_run(tmp_path / "run")
    try:
        fates = {
            row[0]
            for row in conn.execute(
                "SELECT json_extract(payload, '$.fate') FROM carrier.events"
                " WHERE kind = 'fault' AND outcome = 'problem_parcel'"
            )
        }
        # An order is completed exactly when its parcel was signed for.
        rows = conn.execute(
            "SELECT o.trade_no, o.trade_status, p.state, p.state_ex FROM oms.orders AS o"
            " JOIN carrier.parcels AS p ON p.logistic_code = o.logistics_no"
        ).fetchall()
    finally:
        conn.close()
    assert "exception_then_signed" in fates and len(fates) >= 4, fates
    completed_unsigned = [r[0] for r in rows if r[1] == 110 and r[2] != 3]
    assert completed_unsigned == []
    signed_after_problem = [r for r in rows if r[3] == "302"]
    assert signed_after_problem and all(r[1] == 110 for r in signed_after_problem)
    assert any(r[2] == 4 for r in rows)  # some parcels really ended in trouble
    assert invariant(report, "delivered_orders_completed")["checked"] > 0
    assert invariant(report, "completed_only_when_signed")["checked"] > 0


def test_a_connector_that_completes_on_state_4_fails_on_its_invariant(tmp_path: Path) -> None:
    exit_code, report = play(PROBLEMS, "faulty/completes_on_problem_parcel", tmp_path / "run")
    assert (exit_code, report["verdict"]) == (1, "fail")
    assert failed(report) == {"completed_only_when_signed"}
    result = invariant(report, "completed_only_when_signed")
    assert result["violations"] > 0
    assert "completed while its parcels were" in result["examples"][0]["observed"]
