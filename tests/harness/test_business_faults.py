"""End to end under the business faults (scenarios/chaos/business_trouble.yaml: stock_out,
short_pick, odd_data): the reference connector passes, and the report counts every hit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from contract_tests.database import attach_run
from fake_systems.ecosystem import PUSHES, protocol_operations
from simulator.scenario import load_scenario
from tests.support.paths import SCENARIOS
from tests.support.runs import failed, play

TROUBLE = SCENARIOS / "chaos" / "business_trouble.yaml"

pytestmark = pytest.mark.e2e


def test_the_scenario_declares_every_business_kind_and_variant() -> None:
    faults = load_scenario(TROUBLE, protocol_operations(), PUSHES).faults
    assert {fault.kind for fault in faults} == {"stock_out", "short_pick", "odd_data"}
    variants = {fault.params.get("variant") for fault in faults if fault.kind == "odd_data"}
    assert variants == {"fuzzy_address", "emoji", "long_text", "many_lines"}


def test_reference_connector_passes_the_business_trouble(tmp_path: Path) -> None:
    exit_code, report = play(TROUBLE, "reference", tmp_path / "run")
    assert report["verdict"] == "pass", failed(report)
    assert exit_code == 0
    by_kind = report["faults"]["by_kind"]
    assert by_kind["stock_out"] > 0
    assert by_kind["short_pick"] > 0
    assert all(rule["hits"] > 0 for rule in report["faults"]["plan"]), report["faults"]["plan"]
    recovered = report["calls"]["recovered"]
    assert recovered["met_fault"] >= by_kind["stock_out"] + by_kind["short_pick"]
    assert recovered["recovered"] == recovered["met_fault"]
    conn = attach_run(tmp_path / "run")
    try:
        # A stock-out waited in EXCEPTION, then shipped; a short pick shipped in two.
        waited = conn.execute(
            "SELECT COUNT(DISTINCT f.entity) FROM wms.events AS f JOIN wms.events AS s"
            " ON s.entity = f.entity AND s.kind = 'state' AND s.outcome = 'EXCEPTION'"
            " WHERE f.kind = 'fault' AND f.outcome = 'stock_out'"
        ).fetchone()[0]
        split = conn.execute(
            "SELECT COUNT(DISTINCT f.entity) FROM wms.events AS f JOIN wms.events AS s"
            " ON s.entity = f.entity AND s.kind = 'state' AND s.outcome = 'PARTDELIVERED'"
            " WHERE f.kind = 'fault' AND f.outcome = 'short_pick'"
        ).fetchone()[0]
        # Every odd trade was fulfilled, whatever its variant: it reached the WMS and shipped.
        odd = conn.execute(
            "SELECT f.payload, COALESCE(d.status, '') FROM oms.events AS f"
            " LEFT JOIN wms.delivery_orders AS d ON d.delivery_order_code = f.entity"
            " WHERE f.kind = 'fault' AND f.outcome = 'odd_data'"
        ).fetchall()
        longest = conn.execute(
            "SELECT MAX(n) FROM (SELECT COUNT(*) AS n FROM wms.delivery_order_lines"
            " GROUP BY delivery_order_id)"
        ).fetchone()[0]
    finally:
        conn.close()
    assert waited == by_kind["stock_out"]
    assert split > 0
    assert {json.loads(payload)["variant"] for payload, _ in odd} == {
        "fuzzy_address",
        "emoji",
        "long_text",
        "many_lines",
    }
    assert {status for _, status in odd} == {"DELIVERED"}
    assert longest == 200
