"""The judge's reports: report.json, JUnit XML, the summary table, and `judge_folder`."""

from __future__ import annotations

import json
from pathlib import Path

import defusedxml.ElementTree as SafeET
from rich.console import Console

from contract_tests.invariants import INVARIANTS
from contract_tests.judge import RunMeta, judge_folder, judge_run, read_meta
from contract_tests.metrics import LatencyStats, percentile
from contract_tests.report import (
    latency_table,
    render_summary,
    summary_table,
    write_junit_xml,
    write_report_json,
)
from contract_tests.run_status import FINISHED, RunStatus, write_run_status
from tests.support.judge import META, RunBuilder, failing_run


def test_report_json_keys(tmp_path: Path) -> None:
    verdict = failing_run(tmp_path)
    path = tmp_path / "run" / "report.json"
    write_report_json(verdict, path, extra={"html": "report.html"})
    report = json.loads(path.read_text())
    assert report["verdict"] == "fail"
    assert (report["seed"], report["scenario"], report["connector"]) == (42, "smoke", "reference")
    assert report["orders"] == {
        "created": 6,
        "at_wms": 5,
        "shipped": 4,
        "invoiced": 3,
        "delivered": 2,
        "completed": 2,
        "cancelled": 0,
        "backlog": 1,
        "returns_open": 0,
        "returned": 0,
        "receipts_unbooked": 0,
        "transfers_unbooked": 0,
        "counts_unbooked": 0,
        "purchase_returns_unbooked": 0,
        "payments_unbooked": 0,
        "bank_fees_unbooked": 0,
        "returns_receiving": 0,
    }
    assert report["throughput"]["orders_per_min"] == 6.0
    # The money section: counted from the fakes, None where a table (or column) is missing.
    assert set(report["payments"]) == {
        "settlements_billed",
        "settlements_paid",
        "bank_credits",
        "bank_debits",
        "bank_fees",
        "fees_booked",
        "payments_submitted",
        "payments_settled",
        "payments_rejected",
        "statements_fetched",
        "receivables_written_off",
        "payables_written_off",
    }
    assert report["payments"]["bank_debits"] == {"count": 0, "cents": None}
    assert report["payments"]["statements_fetched"] is None
    assert set(report["latency_seconds"]) == {
        "paid_to_wms",
        "shipped_to_oms",
        "shipped_to_erp",
        "cancel_to_wms",
        "return_to_refund",
        "cancel_to_intercept",
    }
    for stats in report["latency_seconds"].values():
        assert set(stats) == {"p50", "p95", "p99", "max", "count"}
    assert report["latency_seconds"]["paid_to_wms"]["count"] == 5
    assert report["run"]["objectives"] == {
        "paid_to_wms_p99_seconds": 2.5,
        "shipped_to_oms_p99_seconds": 3.0,
        "shipped_to_erp_p99_seconds": 3.0,
        "cancel_to_wms_p99_seconds": 3.0,
    }
    assert report["html"] == "report.html"
    invariants = {inv["name"]: inv for inv in report["invariants"]}
    assert len(invariants) == len(INVARIANTS) + 1  # and run_databases_present
    for inv in invariants.values():
        assert {"name", "passed", "checked", "violations", "examples"} <= set(inv)
    receivable = invariants["erp_receivable_audited"]
    assert (receivable["passed"], receivable["violations"]) == (False, 1)
    assert receivable["examples"][0]["problem"] == "missing"
    assert receivable["examples"][0]["expected"]["amount"] == "89.90"


def test_judge_folder_reads_meta_back(tmp_path: Path) -> None:
    verdict = failing_run(tmp_path)
    write_report_json(verdict, tmp_path / "run" / "report.json")
    again = judge_folder(tmp_path / "run")
    assert again.meta == META
    assert again.verdict == "fail"
    assert again.throughput.orders_per_min == verdict.throughput.orders_per_min


def test_judge_folder_without_report_uses_defaults(tmp_path: Path) -> None:
    builder = RunBuilder(tmp_path / "run")
    builder.good_mix()
    builder.close()
    (tmp_path / "run" / "report.json").write_text("{not json")
    verdict = judge_folder(tmp_path / "run")
    assert verdict.meta == RunMeta()
    assert verdict.meta.objectives == {
        "paid_to_wms_p99_seconds": 3.0,
        "shipped_to_oms_p99_seconds": 3.0,
        "shipped_to_erp_p99_seconds": 3.0,
        "cancel_to_wms_p99_seconds": 3.0,
    }
    assert verdict.passed


def test_judge_folder_without_report_uses_the_meta_run_status_kept(tmp_path: Path) -> None:
    builder = RunBuilder(tmp_path / "run")
    builder.good_mix()
    builder.close()
    write_run_status(tmp_path / "run", RunStatus(FINISHED, meta=META.as_dict()))
    assert read_meta(tmp_path / "run") == META
    # report.json, when there is one, says it: the status's meta is only the fallback.
    (tmp_path / "run" / "report.json").write_text(json.dumps({"seed": 7}))
    assert read_meta(tmp_path / "run").seed == 7


def test_read_meta_is_lenient() -> None:
    meta = RunMeta.from_report({"seed": "x", "scenario": None, "run": {"objectives": {"a": "b"}}})
    assert meta == RunMeta()


def test_read_meta_missing_file(tmp_path: Path) -> None:
    assert read_meta(tmp_path) == RunMeta()


def test_junit_xml_counts_failures(tmp_path: Path) -> None:
    verdict = failing_run(tmp_path)
    path = tmp_path / "junit.xml"
    write_junit_xml(verdict, path)
    root = SafeET.parse(path).getroot()
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == ["ecomock"]
    suite = suites[0]
    cases = suite.findall("testcase")
    # run_valid first (the run is valid: no error), then one per invariant.
    assert cases[0].get("name") == "run_valid" and list(cases[0]) == []
    # run_valid, run_databases_present, then the invariants.
    assert len(cases) == len(INVARIANTS) + 2 == int(suite.get("tests"))
    assert (int(suite.get("failures")), int(suite.get("errors"))) == (2, 0)
    failures = {c.get("name"): c.find("failure") for c in cases if c.find("failure") is not None}
    assert set(failures) == {"no_lost_orders", "erp_receivable_audited"}
    lost = failures["no_lost_orders"]
    assert lost.get("message").startswith("1 violation(s) of 6 checked; first: T00005")
    assert "T00005" in (lost.text or "")
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert props["seed"] == "42" and props["verdict"] == "fail"


def test_junit_xml_for_a_run_without_databases(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    verdict = judge_run(tmp_path / "empty", RunMeta())
    assert verdict.verdict == "invalid"
    assert sorted(verdict.missing_databases) == ["bank", "carrier", "erp", "oms", "wms"]
    write_junit_xml(verdict, tmp_path / "junit.xml")
    write_report_json(verdict, tmp_path / "report.json")
    suite = SafeET.parse(tmp_path / "junit.xml").getroot().find("testsuite")
    # Every invariant fails; all but run_databases_present because their SQL could not run.
    assert int(suite.get("failures")) == len(INVARIANTS) + 1
    assert int(suite.get("errors")) == 1  # run_valid
    errored = [c for c in suite.iter("failure") if c.get("type") == "InvariantError"]
    assert len(errored) == len(INVARIANTS)
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["orders"]["created"] == 0
    assert report["latency_seconds"]["paid_to_wms"]["p99"] is None


def test_summary_table_renders(tmp_path: Path) -> None:
    verdict = failing_run(tmp_path)
    console = Console(record=True, width=220, color_system=None)
    console.print(summary_table(verdict))
    console.print(latency_table(verdict))
    text = console.export_text()
    assert "FAIL" in text
    assert "no_lost_orders" in text and "T00005" in text
    assert "paid_to_wms" in text
    assert "created 6" in text


def test_render_summary_prints_both_tables(tmp_path: Path) -> None:
    verdict = failing_run(tmp_path)
    console = Console(record=True, width=220, color_system=None)
    render_summary(verdict, console)
    text = console.export_text()
    assert "ecomock verdict: FAIL" in text
    assert "latency (wall seconds)" in text


def test_nearest_rank_percentiles() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50.0
    assert percentile(values, 99) == 99.0
    assert percentile([1.0, 2.0], 50) == 1.0
    assert percentile([7.0], 99) == 7.0
    stats = LatencyStats.of([3.0, 1.0, 2.0])
    assert (stats.count, stats.p50, stats.p95, stats.max) == (3, 2.0, 3.0, 3.0)
    assert LatencyStats.of([]).p99 is None
