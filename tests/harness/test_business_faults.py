"""End to end under the business faults (stock_out, short_pick, odd_data): the reference
connector passes, and the report counts every hit."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from contract_tests.database import attach_run
from tests.support.runs import failed, play
from tests.support.scenarios import smoke_with_faults

pytestmark = pytest.mark.e2e

RULES: list[dict[str, Any]] = [
    {
        "system": "wms",
        "operation": "deliveryorder.create",
        "kind": "stock_out",
        "rate": 0.1,
        "params": {"restock_after": 600},
    },
    {
        "system": "wms",
        "operation": "*",
        "kind": "short_pick",
        "rate": 0.15,
        "params": {"restock_after": 300},
    },
    *(
        {"system": "oms", "operation": "*", "kind": "odd_data", "every_nth": nth,
         "params": {"variant": variant}}
        for nth, variant in (
            (5, "fuzzy_address"), (7, "emoji"), (9, "long_text"), (11, "many_lines")
        )
    ),
]  # fmt: skip


def test_reference_connector_passes_the_business_faults(tmp_path: Path) -> None:
    scenario = smoke_with_faults(tmp_path, "business", RULES)
    # Enough goods for 200 distinct lines, through Qimen, Kdniao and K3.
    raw = yaml.safe_load(scenario.read_text(encoding="utf-8"))
    raw["world"]["skus"] = 250
    scenario.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    exit_code, report = play(scenario, "reference", tmp_path / "run")
    assert report["verdict"] == "pass", failed(report)
    assert exit_code == 0
    by_kind = report["faults"]["by_kind"]
    assert by_kind["stock_out"] > 0
    assert by_kind["short_pick"] > 0
    assert by_kind["odd_data"] >= 4
    assert all(rule["hits"] > 0 for rule in report["faults"]["plan"]), report["faults"]["plan"]
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
        # Every odd trade was fulfilled: it reached the WMS and shipped.
        odd_unshipped = conn.execute(
            "SELECT COUNT(*) FROM oms.events AS f LEFT JOIN wms.delivery_orders AS d"
            " ON d.delivery_order_code = f.entity"
            " WHERE f.kind = 'fault' AND f.outcome = 'odd_data'"
            " AND COALESCE(d.status, '') <> 'DELIVERED'"
        ).fetchone()[0]
        long_lines = conn.execute(
            "SELECT MAX(n) FROM (SELECT COUNT(*) AS n FROM wms.delivery_order_lines"
            " GROUP BY delivery_order_id)"
        ).fetchone()[0]
    finally:
        conn.close()
    assert waited == by_kind["stock_out"]
    assert split > 0
    assert odd_unshipped == 0
    assert long_lines == 200
