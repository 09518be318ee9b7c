"""What the fault plan did, read from the histories: hits per kind, the plan fired or the run is
invalid, the connector's calls as invoke → ok / fail / info, and the orders that recovered."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from typer.testing import CliRunner

from contract_tests.chaos import CallCounts, call_history, recovery
from contract_tests.database import attach_run
from simulator.cli import app
from tests.support.judge import BASE_WALL, SIM, RunBuilder

RULE_WINDOW_START = "2026-11-11 00:10:00"  # from: 600 s after the run's simulated start


def fault(builder: RunBuilder, system: str, operation: str, kind: str, entity: str | None,
          sim: str = SIM, rule_id: int | None = None) -> None:  # fmt: skip
    """A fault row as the fakes write it: kind `fault`, the fault's kind as the outcome, and
    the id of the rule that fired it (none in runs from before the ids were recorded)."""
    payload = None if rule_id is None else json.dumps({"rule": rule_id})
    builder.sql(
        system,
        "INSERT INTO events (sim_time, wall_time, kind, operation, entity, outcome, payload)"
        " VALUES (?, ?, 'fault', ?, ?, ?, ?)",
        (sim, BASE_WALL + 5, operation, entity, kind, payload),
    )


def plan_rule(index: int, system: str, operation: str, kind: str, start: float = 0.0,
              from_sim: str = "2026-11-10 23:50:00") -> dict[str, object]:  # fmt: skip
    """A declared rule as the runner keeps it in run-status.json."""
    return {
        "rule": f"faults.{index}",
        "system": system,
        "operation": operation,
        "kind": kind,
        "rate": 0.5,
        "every_nth": 0,
        "from": start,
        "until": None,
        "params": {},
        "from_sim": from_sim,
        "until_sim": None,
    }


def write_status(run_dir: Path, plan: list[dict[str, object]], sim_seconds: float) -> None:
    status = {"state": "finished", "fault_plan": plan, "sim_seconds": sim_seconds}
    (run_dir / "run-status.json").write_text(json.dumps(status))


def test_a_declared_rule_that_never_fired_makes_the_run_invalid(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    builder = RunBuilder(run_dir)
    orders = builder.good_mix()
    fault(builder, "wms", "deliveryorder.create", "lost_response", orders[0].trade_no)
    # an erp Save 503 before the rule's window opened: not the rule's hit
    fault(builder, "erp", "SAL_OUTSTOCK.Save", "http_503", orders[1].trade_no)
    builder.close()
    plan = [
        plan_rule(0, "wms", "deliveryorder.create", "lost_response"),
        plan_rule(1, "erp", "*", "http_503", start=600.0, from_sim=RULE_WINDOW_START),
        plan_rule(2, "carrier", "1007", "busy", start=9000.0, from_sim="2026-11-11 02:20:00"),
    ]
    write_status(run_dir, plan, sim_seconds=7200.0)
    result = CliRunner().invoke(app, ["check", str(run_dir)])
    assert result.exit_code == 2, result.output
    report = json.loads((run_dir / "report.json").read_text())
    [reason] = report["invalid_reasons"]
    assert reason.startswith(
        "the fault plan did not fire: faults.1 (http_503 on erp *, from 600 s) never hit"
        " during the run of 7,200 simulated s"
    )
    assert all(inv["passed"] for inv in report["invariants"])  # it would have passed
    # faults.2 opens after the run ended: not expected to fire, not a reason
    assert [rule["hits"] for rule in report["faults"]["plan"]] == [1, 0, 0]

    conn = sqlite3.connect(run_dir / "erp.db")  # the rule's hit, inside its window
    conn.execute(
        "INSERT INTO events (sim_time, wall_time, kind, operation, entity, outcome)"
        " VALUES (?, ?, 'fault', 'AR_receivable.Save', ?, 'http_503')",
        ("2026-11-11 00:30:00", BASE_WALL + 9, orders[1].trade_no),
    )
    conn.commit()
    conn.close()
    again = CliRunner().invoke(app, ["check", str(run_dir)])
    assert again.exit_code == 0, again.output
    report = json.loads((run_dir / "report.json").read_text())
    assert [rule["hits"] for rule in report["faults"]["plan"]] == [1, 1, 0]
    assert report["faults"]["by_kind"] == {"http_503": 2, "lost_response": 1}
    hits = {(h["system"], h["operation"], h["kind"]): h["count"] for h in report["faults"]["hits"]}
    assert hits == {
        ("wms", "deliveryorder.create", "lost_response"): 1,
        ("erp", "SAL_OUTSTOCK.Save", "http_503"): 1,
        ("erp", "AR_receivable.Save", "http_503"): 1,
    }
    page = (run_dir / "report.html").read_text()
    assert "<h2>Faults</h2>" in page and "lost_response" in page and "faults.1" in page


def test_two_rules_of_one_kind_on_one_operation_are_counted_apart(tmp_path: Path) -> None:
    """Four odd_data rules (one per variant) share kind and operation: each row names its
    rule, so a rule that never fired is found even when its twins did."""
    run_dir = tmp_path / "run"
    builder = RunBuilder(run_dir)
    orders = builder.good_mix()
    fault(builder, "oms", "*", "odd_data", orders[0].trade_no, rule_id=1)
    fault(builder, "oms", "*", "odd_data", orders[1].trade_no, rule_id=1)
    fault(builder, "oms", "*", "odd_data", orders[2].trade_no, rule_id=3)
    builder.close()
    plan = [plan_rule(index, "oms", "*", "odd_data") for index in range(3)]
    write_status(run_dir, plan, sim_seconds=7200.0)
    result = CliRunner().invoke(app, ["check", str(run_dir)])
    assert result.exit_code == 2, result.output
    report = json.loads((run_dir / "report.json").read_text())
    assert [rule["hits"] for rule in report["faults"]["plan"]] == [2, 0, 1]
    [reason] = report["invalid_reasons"]
    assert reason.startswith("the fault plan did not fire: faults.1 (odd_data on oms *")


def api(
    builder: RunBuilder, operation: str, outcome: str, entity: str, system: str = "wms"
) -> None:
    builder.sql(
        system,
        "INSERT INTO events (sim_time, wall_time, kind, operation, entity, outcome)"
        " VALUES (?, ?, 'api_in', ?, ?, ?)",
        (SIM, BASE_WALL, operation, entity, outcome),
    )


def test_calls_are_invoke_then_ok_fail_or_info(tmp_path: Path) -> None:
    builder = RunBuilder(tmp_path / "run")
    create, cancel = "deliveryorder.create", "order.cancel"
    api(builder, create, "ok", "D1")  # answered: ok
    api(builder, create, "ok", "D2")  # committed, the answer lost: info
    fault(builder, "wms", create, "lost_response", "D2")
    api(builder, create, "ok", "D3")  # its answer cut short: info
    fault(builder, "wms", create, "truncated_answer", "D3")
    api(builder, create, "15", "D4")  # refused by the service: fail
    fault(builder, "wms", create, "http_503", "D5")  # a gateway's 503, no api_in row: fail
    fault(builder, "wms", create, "busy", "D6")  # a transient refusal and its own row: one fail
    api(builder, create, "isp.top-remote-service-unavailable", "D6")
    api(builder, create, "isp.top-remote-service-unavailable", "D7")  # its row first: one fail
    fault(builder, "wms", create, "busy", "D7")
    fault(builder, "wms", create, "reset_before", "D8")  # reset: the caller cannot know, info
    fault(builder, "wms", cancel, "latency", "D1")  # delayed, then answered: ok
    api(builder, cancel, "ok", "D1")
    for outcome in ("ok", "partial", "500"):  # a system no fault hit: counted in SQL alone
        api(builder, "Save", outcome, "B1", system="erp")
    builder.close()
    conn = attach_run(tmp_path / "run")
    try:
        calls = {(c.system, c.operation): c for c in call_history(conn)}
    finally:
        conn.close()
    assert calls["wms", create] == CallCounts("wms", create, invoke=8, ok=1, fail=4, info=3)
    assert calls["wms", cancel] == CallCounts("wms", cancel, invoke=1, ok=1, fail=0, info=0)
    assert calls["erp", "Save"] == CallCounts("erp", "Save", invoke=3, ok=2, fail=1, info=0)
    assert set(calls) == {("wms", create), ("wms", cancel), ("erp", "Save")}


def test_recovered_orders_met_a_fault_and_ended_right(tmp_path: Path) -> None:
    builder = RunBuilder(tmp_path / "run")
    done, _, shipped, at_wms = builder.good_mix()
    stuck = builder.order("paid")
    fault(builder, "wms", "deliveryorder.create", "lost_response", done.trade_no)
    fault(builder, "carrier", "101", "push_duplicate", shipped.waybill)  # by its waybill
    fault(builder, "wms", "deliveryorder.create", "http_503", stuck.trade_no)
    fault(builder, "bank", "pain.001", "rejected", "MSG-1")  # not an order
    builder.close()
    conn = attach_run(tmp_path / "run")
    try:
        found = recovery(conn)
    finally:
        conn.close()
    assert (found.met_fault, found.recovered) == (3, 2)
    assert found.not_recovered == [stuck.trade_no]
    assert at_wms.trade_no not in found.not_recovered  # no fault met: not counted at all
