"""Connector crash and restart, end to end: scenarios/smoke-crashes.yaml kills the connector
(SIGKILL) and stops it (SIGTERM) mid-run; the reference resumes from its state folder and
passes, a connector keeping its state in memory does not."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.paths import SCENARIOS
from tests.support.runs import check, failed, invariant, play

CRASHES = SCENARIOS / "smoke-crashes.yaml"

pytestmark = pytest.mark.e2e


def test_the_reference_connector_survives_two_crashes(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    exit_code, report = play(CRASHES, "reference", run_dir)
    assert (exit_code, report["verdict"]) == (0, "pass"), (failed(report), report["crashes"])
    orders = report["orders"]
    assert orders["created"] >= 40
    assert orders["created"] == orders["at_wms"] == orders["shipped"] == orders["invoiced"]
    kill, term = report["crashes"]
    assert (kill["signal"], kill["exit"], kill["planned_at_sim_seconds"]) == (
        "SIGKILL",
        "signal SIGKILL",
        1800.0,
    )
    # The reference stops cleanly on SIGTERM: it exits 0 of its own accord.
    assert (term["signal"], term["exit_code"], term["planned_at_sim_seconds"]) == (
        "SIGTERM",
        0,
        3600.0,
    )
    for crash in (kill, term):
        assert crash["error"] is None
        assert crash["killed_sim"] >= "2026-11-10 20:30:00"
        assert crash["killed_wall"] < crash["restarted_wall"] < crash["ready_wall"]
        assert 0 < crash["down_wall_seconds"] < 20
    assert kill["killed_sim"] < term["killed_sim"]
    # Three processes wrote the log: the first, and one per restart.
    log = (run_dir / "connector.log").read_text()
    assert log.count("reference connector up on") == 3
    status = json.loads((run_dir / "run-status.json").read_text())
    assert (status["state"], status["crashes_planned"], len(status["crashes"])) == (
        "finished",
        2,
        2,
    )
    page = (run_dir / "report.html").read_text()
    assert "2 of 2 planned crash(es) played" in page
    # `ecomock check` finds the crashes again from run-status.json.
    check_code, rejudged = check(run_dir)
    assert (check_code, rejudged["crashes"]) == (0, report["crashes"])


def test_state_kept_in_memory_loses_work_in_a_crash(tmp_path: Path) -> None:
    exit_code, report = play(CRASHES, "faulty/keeps_state_in_memory", tmp_path / "run")
    assert (exit_code, report["verdict"]) == (1, "fail")
    assert [crash["error"] for crash in report["crashes"]] == [None, None]
    # Orders shipped before a crash and signed after it: the new process never knew. Either
    # it had marked them shipped in the OMS (95) and never completes them, or the crash took
    # the acknowledged WMS confirm before it reached the OMS at all (still paid, 30).
    assert "delivered_orders_completed" in failed(report), failed(report)
    lost = invariant(report, "delivered_orders_completed")
    assert lost["violations"] > 0
    for example in lost["examples"]:
        assert example["entity"] and example["observed"]["trade_status"] in (30, 95), example
