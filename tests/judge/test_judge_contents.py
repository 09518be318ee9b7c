"""The contents invariants: the WMS order in the trade's warehouse, the ERP documents booking
what the WMS shipped from where it shipped it; each defect fails exactly its invariant."""

from __future__ import annotations

import pytest

from tests.support.judge import WAREHOUSE, Line, RunBuilder, failed, judge


def fid(builder: RunBuilder, form: str, bill_no: str) -> int:
    row = builder.conns["erp"].execute(
        "SELECT fid FROM documents WHERE form_id = ? AND bill_no = ?", (form, bill_no)
    )
    return int(row.fetchone()[0])


def test_a_good_run_passes_and_the_checks_looked_at_its_orders(builder: RunBuilder) -> None:
    builder.good_mix()
    verdict = judge(builder)
    assert failed(verdict) == []
    assert verdict.invariant("wms_order_in_trade_warehouse").checked == 4
    # Three shipped trades, two documents each.
    assert verdict.invariant("erp_documents_match_shipment").checked == 6


def test_a_delivery_order_in_another_warehouse_fails(builder: RunBuilder) -> None:
    builder.good_mix()
    astray = builder.order("at_wms")
    builder.sql(
        "wms",
        "UPDATE delivery_orders SET warehouse_code = 'WH-XX' WHERE delivery_order_id = ?",
        (astray.delivery_order_id,),
    )
    verdict = judge(builder)
    assert failed(verdict) == ["wms_order_in_trade_warehouse"]
    [example] = verdict.invariant("wms_order_in_trade_warehouse").examples
    assert example["entity"] == astray.trade_no
    assert (example["expected"], example["observed"]) == (
        {"warehouse": WAREHOUSE},
        {"warehouse": "WH-XX"},
    )


def test_a_cancelled_delivery_order_elsewhere_is_not_counted(builder: RunBuilder) -> None:
    builder.good_mix()
    cancelled = builder.order("at_wms")
    builder.sql(
        "wms",
        "UPDATE delivery_orders SET warehouse_code = 'WH-XX', status = 'CANCELED'"
        " WHERE delivery_order_id = ?",
        (cancelled.delivery_order_id,),
    )
    builder.sql(
        "oms", "UPDATE orders SET trade_status = 5 WHERE trade_no = ?", (cancelled.trade_no,)
    )
    assert "wms_order_in_trade_warehouse" not in failed(judge(builder))


@pytest.mark.parametrize("form", ["SAL_OUTSTOCK", "AR_receivable"])
def test_a_document_booking_another_quantity_fails(builder: RunBuilder, form: str) -> None:
    builder.good_mix()
    bad = builder.order("shipped", lines=[Line("SKU-A", 2, 5000), Line("SKU-D", 1, 990)])
    builder.sql(
        "erp",
        "UPDATE document_entries SET qty = 3 WHERE fid = ? AND material_number = 'SKU-A'",
        (fid(builder, form, bad.trade_no),),
    )
    verdict = judge(builder)
    assert failed(verdict) == ["erp_documents_match_shipment"]
    inv = verdict.invariant("erp_documents_match_shipment")
    assert (inv.violations, inv.breakdown) == (1, {"quantities differ": 1})
    [example] = inv.examples
    assert (example["entity"], example["form_id"]) == (bad.trade_no, form)
    assert example["expected"]["lines"] == {"SKU-A": 2, "SKU-D": 1}
    assert example["observed"]["lines"] == {"SKU-A": 3, "SKU-D": 1}


def test_a_material_the_wms_did_not_ship_fails(builder: RunBuilder) -> None:
    builder.good_mix()
    bad = builder.order("shipped")
    builder.sql(
        "erp",
        "INSERT INTO document_entries VALUES (?, 9, 'SKU-GIFT', 1, 0, NULL)",
        (fid(builder, "AR_receivable", bad.trade_no),),
    )
    verdict = judge(builder)
    assert failed(verdict) == ["erp_documents_match_shipment"]
    [example] = verdict.invariant("erp_documents_match_shipment").examples
    assert example["observed"]["lines"] == {"SKU-A": 2, "SKU-B": 1, "SKU-GIFT": 1}


def test_quantities_are_compared_with_what_the_wms_shipped(builder: RunBuilder) -> None:
    builder.good_mix()
    short = builder.order("shipped")
    # The picker found one SKU-A of two; the documents still book the planned two.
    builder.sql(
        "wms",
        "UPDATE delivery_order_lines SET actual_qty = 1"
        " WHERE delivery_order_id = ? AND item_code = 'SKU-A'",
        (short.delivery_order_id,),
    )
    inv = judge(builder).invariant("erp_documents_match_shipment")
    assert [(e["entity"], e["form_id"]) for e in inv.examples] == [
        (short.trade_no, "SAL_OUTSTOCK"),
        (short.trade_no, "AR_receivable"),
    ]
    assert all(e["expected"]["lines"] == {"SKU-A": 1, "SKU-B": 1} for e in inv.examples)


def test_an_outstock_out_of_another_warehouse_fails(builder: RunBuilder) -> None:
    builder.good_mix()
    bad = builder.order("shipped")
    builder.sql(
        "erp",
        "UPDATE document_entries SET stock_number = 'WH-XX' WHERE fid = ? AND seq = 1",
        (fid(builder, "SAL_OUTSTOCK", bad.trade_no),),
    )
    verdict = judge(builder)
    assert failed(verdict) == ["erp_documents_match_shipment"]
    inv = verdict.invariant("erp_documents_match_shipment")
    assert inv.breakdown == {"wrong stock": 1}
    [example] = inv.examples
    assert example["entity"] == bad.trade_no
    # One entry moved to WH-XX, the other still booked out of the warehouse that shipped.
    assert (example["expected"]["stock"], example["observed"]["stock"]) == (
        [WAREHOUSE],
        [WAREHOUSE, "WH-XX"],
    )


def ship_again(builder: RunBuilder, delivery_order_id: str | None) -> None:
    """A second DELIVERED delivery order for the same trade, one more unit of each item."""
    for statement in (
        "INSERT INTO delivery_orders SELECT 'DO-AGAIN', delivery_order_code || '-R1',"
        " source_order_code, owner_code, warehouse_code, order_type, status, logistics_code,"
        " express_code, created_sim, created_wall, delivered_sim, delivered_wall, canceled_sim,"
        " canceled_wall"
        " FROM delivery_orders WHERE delivery_order_id = ?",
        "INSERT INTO delivery_order_lines SELECT 'DO-AGAIN', order_line_no, item_code,"
        " plan_qty + 1, actual_qty + 1 FROM delivery_order_lines WHERE delivery_order_id = ?",
    ):
        builder.sql("wms", statement, (delivery_order_id,))


def test_a_trade_shipped_twice_is_booked_right_if_its_document_matches_one(
    builder: RunBuilder,
) -> None:
    builder.good_mix()
    twice = builder.order("shipped")
    ship_again(builder, twice.delivery_order_id)
    verdict = judge(builder)
    # The duplicate is named where it belongs; the documents book the first shipment.
    assert "no_duplicate_delivery_orders" in failed(verdict)
    assert "erp_documents_match_shipment" not in failed(verdict)


def test_a_document_matching_no_shipment_of_a_trade_shipped_twice_fails(
    builder: RunBuilder,
) -> None:
    builder.good_mix()
    twice = builder.order("shipped")
    ship_again(builder, twice.delivery_order_id)
    builder.sql(
        "erp",
        "UPDATE document_entries SET qty = 7 WHERE fid = ? AND seq = 1",
        (fid(builder, "SAL_OUTSTOCK", twice.trade_no),),
    )
    [example] = judge(builder).invariant("erp_documents_match_shipment").examples
    assert (example["entity"], example["form_id"]) == (twice.trade_no, "SAL_OUTSTOCK")
    assert example["expected"]["lines"] == {
        twice.delivery_order_id: {"SKU-A": 2, "SKU-B": 1},
        "DO-AGAIN": {"SKU-A": 3, "SKU-B": 2},
    }
