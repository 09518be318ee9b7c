"""End to end, split trades: a connector that ships a split trade whole (one delivery order per
platform order) fails split_trade_covered_once, naming the platform orders. The reference
connector's split trades are checked on scenarios/after_sales.yaml's run (test_after_sales.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from contract_tests.database import attach_run
from tests.support.runs import failed, invariant, play
from tests.support.scenarios import smoke_variant

pytestmark = pytest.mark.e2e


def test_a_connector_that_ships_split_trades_whole_fails_naming_them(tmp_path: Path) -> None:
    # Smoke's shape, an hour of it, half the trades of two lines split, no faults.
    scenario = smoke_variant(
        tmp_path,
        "splits",
        duration="1h",
        faults=[],
        demand={"orders_per_hour": 30, "mean_lines": 2.5, "split_share": 0.5},
    )
    run = tmp_path / "run"
    exit_code, report = play(scenario, "faulty/ships_split_trade_whole", run)
    assert exit_code == 1
    # The per-trade checks see it too: the dropped sub-orders are lost, the first ones carry
    # lines the OMS did not give them, and their SAL_OUTSTOCK books less than they shipped
    # (so the ERP's book stock parts from the warehouse's too).
    assert failed(report) == {
        "split_trade_covered_once",
        "no_lost_orders",
        "wms_lines_match_oms",
        "erp_documents_match_shipment",
        "three_ledgers_agree",
    }
    assert "WMS and ERP differ at the end" in invariant(report, "three_ledgers_agree")["breakdown"]
    inv = invariant(report, "split_trade_covered_once")
    assert inv["checked"] == report["flows"]["split"] > 0
    assert inv["breakdown"] == {"line sent under another sub-order": inv["violations"]}
    assert inv["violations"] == inv["checked"]
    conn = attach_run(run)
    try:
        for example in inv["examples"]:
            sub_orders = example["sub_orders"]
            sent = conn.execute(
                "SELECT delivery_order_code, warehouse_code FROM wms.delivery_orders"
                f" WHERE delivery_order_code IN ({','.join('?' * len(sub_orders))})",
                tuple(sub_orders),
            ).fetchall()
            tids = conn.execute(
                "SELECT DISTINCT src_tid FROM oms.orders"
                f" WHERE trade_no IN ({','.join('?' * len(sub_orders))})",
                tuple(sub_orders),
            ).fetchall()
            # One platform order, split in two warehouses, sent as one order to one of them.
            assert [row[0] for row in tids] == [example["entity"]]
            assert len(set(sub_orders.values())) == 2
            [(code, warehouse)] = sent
            assert sub_orders[code] == warehouse
            for line in example["observed"].values():
                assert line["sub_order"] != code
                assert [s["under"] for s in line["sent"]] == [code]
    finally:
        conn.close()
    assert invariant(report, "no_lost_orders")["violations"] == inv["violations"]
