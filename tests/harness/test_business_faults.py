"""End to end under the business faults (scenarios/chaos/business_trouble.yaml: stock_out,
short_pick, odd_data): the reference connector passes, and the report counts every hit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from contract_tests.database import attach_run
from fake_systems.ecosystem import PUSHES, protocol_operations
from fake_systems.oms.models import TradeStatus
from simulator.fault_plan import ODD_DATA_VARIANTS
from simulator.scenario import load_scenario
from tests.support.paths import SCENARIOS
from tests.support.runs import failed, invariant, play

TROUBLE = SCENARIOS / "chaos" / "business_trouble.yaml"

pytestmark = pytest.mark.e2e


def test_the_scenario_declares_every_business_kind_and_variant() -> None:
    faults = load_scenario(TROUBLE, protocol_operations(), PUSHES).faults
    assert {fault.kind for fault in faults} == {"stock_out", "short_pick", "odd_data"}
    variants = {fault.params.get("variant") for fault in faults if fault.kind == "odd_data"}
    assert variants == set(ODD_DATA_VARIANTS)


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
        # Each money variant's trades: what the OMS holds (paid, discount, lines) and what
        # the ERP booked for them (audited, the total and the lines' sum, one entry a line).
        booked = conn.execute(
            "SELECT json_extract(f.payload, '$.variant'), o.trade_no, o.trade_status,"
            " o.paid_cents, o.discount_cents,"
            " (SELECT json_group_array(json_array(l.spec_no, l.num, l.price_cents,"
            "  l.share_cents)) FROM oms.order_lines AS l WHERE l.trade_no = o.trade_no),"
            " (SELECT json_group_array(json_array(e.form_id, e.document_status, e.amount_cents,"
            "  (SELECT COUNT(*) FROM erp.document_entries AS n WHERE n.fid = e.fid),"
            "  (SELECT SUM(n.amount_cents) FROM erp.document_entries AS n WHERE n.fid = e.fid)))"
            "  FROM erp.documents AS e WHERE e.bill_no = o.trade_no)"
            " FROM oms.events AS f JOIN oms.orders AS o ON o.trade_no = f.entity"
            " WHERE f.kind = 'fault' AND f.outcome = 'odd_data'"
            " AND json_extract(f.payload, '$.variant') IN"
            " ('gift_line', 'duplicate_sku', 'coupon', 'one_fen')"
        ).fetchall()
        longest = conn.execute(
            "SELECT MAX(n) FROM (SELECT COUNT(*) AS n FROM wms.delivery_order_lines"
            " GROUP BY delivery_order_id)"
        ).fetchone()[0]
    finally:
        conn.close()
    assert waited == by_kind["stock_out"]
    assert split > 0
    # The short picks that shipped their rest were carried package by package (each waybill
    # in the OMS, one outstock of both packages): judged, and passed with the verdict.
    assert 0 < invariant(report, "partial_shipments_complete")["checked"] <= split
    assert {json.loads(payload)["variant"] for payload, _ in odd} == set(ODD_DATA_VARIANTS)
    assert {status for _, status in odd} == {"DELIVERED"}
    assert longest == 200
    assert {row[0] for row in booked} == {"gift_line", "duplicate_sku", "coupon", "one_fen"}
    for variant, trade_no, status, paid, discount, lines_json, documents_json in booked:
        lines = json.loads(lines_json)
        assert status in (TradeStatus.SHIPPED, TradeStatus.COMPLETED), (trade_no, status)
        assert paid >= sum(share for *_, share in lines)  # the postage on top
        documents = sorted(tuple(document) for document in json.loads(documents_json))
        # Each trade booked once as each document, audited, to the cent, a line an entry.
        assert documents == [
            ("AR_receivable", "C", paid, len(lines), paid),
            ("SAL_OUTSTOCK", "C", paid, len(lines), paid),
        ], (variant, trade_no)
        if variant == "gift_line":
            assert [1, 0, 0] in [line[1:] for line in lines], trade_no
        elif variant == "duplicate_sku":
            assert len({line[0] for line in lines}) < len(lines), trade_no
        elif variant == "coupon":
            # More off than one whole line, and that line paid nothing.
            assert any(line[3] == 0 and discount > line[1] * line[2] for line in lines), trade_no
        else:
            assert (paid, len(lines)) == (1, 1), trade_no
