"""report.json's `flows` and the drain: the figures follow the tables they count, the page
shows them, and a drain that ran out of time with work still in the warehouse is invalid."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from contract_tests.html_report import write_html_report
from contract_tests.judge import judge_run
from contract_tests.report import write_report_json
from contract_tests.run_status import (
    DRAIN_ENDED,
    DRAIN_STALLED,
    DRAIN_TIMED_OUT,
    FINISHED,
    RunStatus,
    read_run_status,
    write_run_status,
)
from tests.support.judge import META, Line, RunBuilder, judge


def test_flows_count_what_the_tables_hold(builder: RunBuilder) -> None:
    builder.good_mix()  # two completed, one shipped, one at the WMS (still paid: unsettled)
    first = builder.order("shipped", lines=[Line("SKU-S1", 1, 1000), Line("SKU-S2", 1, 900)])
    second = builder.order("shipped", lines=[Line("SKU-S3", 1, 500)], post_cents=0)
    builder.split(first, second)
    never_sent = builder.order("paid")
    at_wms = builder.order("at_wms")
    builder.sql(
        "oms",
        "UPDATE orders SET trade_status = 5 WHERE trade_no IN (?, ?)",
        (never_sent.trade_no, at_wms.trade_no),
    )
    builder.sql(
        "wms",
        "UPDATE delivery_orders SET status = 'CANCELED' WHERE delivery_order_id = ?",
        (at_wms.delivery_order_id,),
    )
    builder.event("wms", "deliveryorder", second.trade_no, "PARTDELIVERED")
    builder.sql("wms", "UPDATE events SET kind = 'state' WHERE outcome = 'PARTDELIVERED'")
    verdict = judge(builder)
    assert verdict.flows == {
        "created": 8,
        "cancelled_before_pickup": 1,
        "cancelled_before_picking": 1,
        "cancelled_after_picking": 0,
        "intercepted": 0,
        "refused": 0,
        "returned": 0,
        "refunded": 0,
        "split": 1,
        "split_sub_orders": 2,
        "partial": 1,
        "unsettled": 1,
    }


def test_report_json_and_html_carry_the_flows(builder: RunBuilder) -> None:
    builder.good_mix()
    verdict = judge(builder)
    report = write_report_json(verdict, builder.run_dir / "report.json")
    assert json.loads((builder.run_dir / "report.json").read_text())["flows"] == report["flows"]
    assert report["flows"]["created"] == 4 and report["flows"]["unsettled"] == 1
    write_html_report(verdict, builder.run_dir, builder.run_dir / "report.html")
    page = (builder.run_dir / "report.html").read_text()
    assert "<h2>Flows</h2>" in page and "trades in no end state at the end" in page


def test_a_missing_table_is_an_unknown_figure(builder: RunBuilder) -> None:
    builder.good_mix()
    builder.sql("carrier", "DROP TABLE intercepts")
    verdict = judge(builder)
    assert verdict.flows["intercepted"] is None and verdict.flows["created"] == 4


@pytest.mark.parametrize(
    ("drain", "backlog", "invalid"),
    [
        (DRAIN_TIMED_OUT, True, True),
        (DRAIN_TIMED_OUT, False, False),  # out of time, but the warehouse had finished
        (DRAIN_STALLED, True, False),  # nothing moved: the invariants judge what is left
        (DRAIN_ENDED, False, False),
        (None, True, False),  # a run folder from before the drain was recorded
    ],
)
def test_a_drain_out_of_time_with_work_in_the_warehouse_is_invalid(
    tmp_path: Path, drain: str | None, backlog: bool, invalid: bool
) -> None:
    builder = RunBuilder(tmp_path / "run")
    builder.order("completed")
    if backlog:
        builder.order("at_wms")
    builder.close()
    write_run_status(builder.run_dir, RunStatus(FINISHED, drain=drain))
    assert read_run_status(builder.run_dir) == RunStatus(FINISHED, drain=drain)
    verdict = judge_run(builder.run_dir, META)
    assert verdict.verdict == ("invalid" if invalid else "pass")
    if invalid:
        [reason] = verdict.invalid_reasons
        assert "drain timed out with 1 delivery order(s) still in the warehouse" in reason
        assert "1 trade(s) in no end state" in reason
