"""`ecomock load` end to end: Locust alone, then a master with two workers; both judged."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from load.orders import worker_arrivals
from simulator.cli import app
from simulator.scenario import load_scenario
from tests.support.scenarios import with_latency_margin

# 20 wall seconds of traffic (20 simulated minutes at 60x) with a spike to 6x in minute 5;
# fulfilment and carriers faster than life so the drain takes seconds, not minutes.
SCENARIO = """
name: load-smoke
seed: 5
duration: 20m
clock: {scale: 60}
world: {skus: 40, customers: 200, warehouses: 2, stock_per_sku: 500, pickers: 30, packers: 30}
demand:
  orders_per_hour: 240
  curve:
    - {until: 5m, factor: 1}
    - {until: 6m, factor: 6}
    - {until: 20m, factor: 1, ramp: true}
fulfilment:
  accept_seconds: {low: 5, high: 20}
  pick_seconds: {low: 10, high: 40}
  pack_seconds: {low: 10, high: 30}
run: {drain_timeout: 30s, stall_timeout: 6s}
# These tests prove the load path, not speed: the latency objectives get the tests' margin
# (tests/support/scenarios.py; scenarios/double11.yaml keeps the real 3 s).
"""


def _load(tmp_path: Path, *options: str) -> tuple[int, dict, Path]:  # type: ignore[type-arg]
    written = tmp_path / "load-smoke-as-written.yaml"
    written.write_text(SCENARIO)
    scenario = with_latency_margin(written, tmp_path)
    out = tmp_path / "run"
    result = CliRunner().invoke(app, ["load", str(scenario), "--out", str(out), *options])
    report = json.loads((out / "report.json").read_text()) if (out / "report.json").exists() else {}
    # On failure, say why: the exception or the tail of what the command printed.
    failed = [i for i in report.get("invariants", []) if not i["passed"]]
    report["_why"] = f"{result.exception!r} {failed} {result.output[-1000:]}"
    return result.exit_code, report, out


def _sent_tids(out: Path) -> list[str]:
    with sqlite3.connect(out / "oms.db") as conn:
        return [row[0] for row in conn.execute("SELECT src_tid FROM orders")]


@pytest.mark.e2e
def test_locust_smoke_is_judged_and_reports_locust_statistics(tmp_path: Path) -> None:
    exit_code, report, out = _load(tmp_path)
    assert exit_code == 0, report["_why"]
    assert report["verdict"] == "pass"
    locust = report["locust"]
    push = {e["name"]: e for e in locust["endpoints"]}["sales.RawTrade.pushSelf2"]
    # One order per push: Locust's request count is the order count, all accepted.
    assert push["requests"] == locust["orders_scheduled"] == report["orders"]["created"]
    assert push["failures"] == 0
    assert push["p50_ms"] is not None and push["p99_ms"] >= push["p50_ms"]
    assert push["rps"] > 0
    # Exactly the simulator's orders for this seed, none twice.
    expected = {
        a.trade.src_tid for a in worker_arrivals(load_scenario(out / "scenario.json"), 0, 1)
    }
    sent = _sent_tids(out)
    assert len(sent) == len(set(sent)) and set(sent) == expected
    assert (out / "junit.xml").exists()


@pytest.mark.e2e
def test_distributed_master_and_two_workers_send_each_order_once(tmp_path: Path) -> None:
    exit_code, report, out = _load(tmp_path, "--workers", "2", "--drill", "0.5")
    assert exit_code == 0, report["_why"]
    locust = report["locust"]
    assert locust["workers"] == 2
    # Both workers took part (each wrote its own output and pushed its slice) …
    for index in (0, 1):
        assert (out / f"locust-worker-{index}.out").exists()
    scenario = load_scenario(out / "scenario.json")
    assert scenario.demand.drill == 0.5
    slices = [{a.trade.src_tid for a in worker_arrivals(scenario, i, 2)} for i in (0, 1)]
    sent = _sent_tids(out)
    # … and together sent the whole schedule, each order once.
    assert len(sent) == len(set(sent)) == locust["orders_scheduled"]
    assert set(sent) == slices[0] | slices[1] and slices[0] and slices[1]
    assert locust["total"]["requests"] == len(sent) and locust["total"]["failures"] == 0
