"""no_orphan_documents: every audited ERP sales document and every delivery order has a trade."""

from __future__ import annotations

from tests.support.judge import Line, RunBuilder, failed, judge


def test_a_good_run_passes_and_the_check_counted_everything(builder: RunBuilder) -> None:
    builder.good_mix()
    verdict = judge(builder)
    assert failed(verdict) == []
    # Six audited documents (three shipped trades) and four delivery orders.
    assert verdict.invariant("no_orphan_documents").checked == 10


def test_a_second_receivable_under_a_fresh_number_without_a_note_fails(
    builder: RunBuilder,
) -> None:
    builder.good_mix()
    # An amount no other trade has, so the candidates name this one alone.
    billed = builder.order("shipped", lines=[Line("SKU-Z", 1, 1234)])
    builder.erp_document("AR_receivable", "AR-000001", billed.paid_cents)
    verdict = judge(builder)
    # The duplicate check links by number or note: this copy has neither.
    assert failed(verdict) == ["no_orphan_documents"]
    inv = verdict.invariant("no_orphan_documents")
    assert (inv.violations, inv.breakdown) == (1, {"AR_receivable": 1})
    [example] = inv.examples
    assert example["entity"] == "AR-000001" and example["observed"]["note"] is None
    assert example["candidate_trades"] == [billed.trade_no]


def test_a_document_with_the_note_of_its_trade_is_not_an_orphan(builder: RunBuilder) -> None:
    builder.good_mix()
    billed = builder.order("shipped")
    builder.erp_document("AR_receivable", "AR-000001", billed.paid_cents, note=billed.trade_no)
    verdict = judge(builder)
    assert verdict.invariant("no_orphan_documents").passed
    assert failed(verdict) == ["no_duplicate_erp_documents"]


def test_an_unaudited_draft_is_not_counted(builder: RunBuilder) -> None:
    builder.good_mix()
    builder.erp_document("SAL_OUTSTOCK", "DRAFT-1", 100, status="A")
    assert failed(judge(builder)) == []


def test_a_document_under_another_shop_is_an_orphan(builder: RunBuilder) -> None:
    builder.good_mix()
    billed = builder.order("shipped")
    builder.sql(
        "erp",
        "UPDATE documents SET customer_number = 'SHOP9' WHERE bill_no = ? AND form_id = ?",
        (billed.trade_no, "SAL_OUTSTOCK"),
    )
    verdict = judge(builder)
    assert failed(verdict) == ["erp_outstock_audited", "no_orphan_documents"]
    [example] = verdict.invariant("no_orphan_documents").examples
    assert example["observed"]["customer_number"] == "SHOP9"


def test_a_delivery_order_naming_no_trade_fails(builder: RunBuilder) -> None:
    builder.good_mix()
    builder.sql(
        "wms",
        "INSERT INTO delivery_orders (delivery_order_id, delivery_order_code, source_order_code,"
        " owner_code, warehouse_code, order_type, status) VALUES"
        " ('DO999999', 'X-1', 'TB-UNKNOWN', 'OWNER1', 'GZ01', 'JYCK', 'NEW')",
    )
    verdict = judge(builder)
    assert failed(verdict) == ["no_orphan_documents"]
    inv = verdict.invariant("no_orphan_documents")
    assert inv.breakdown == {"delivery order": 1}
    assert inv.examples[0]["delivery_order_id"] == "DO999999"


def test_another_owners_orders_and_bills_are_not_ours(builder: RunBuilder) -> None:
    builder.good_mix()
    builder.erp_document("AR_receivable", "THEIRS-1", 100)
    builder.sql("erp", "UPDATE documents SET owner_code = 'OWNER2' WHERE bill_no = 'THEIRS-1'")
    builder.sql(
        "wms",
        "INSERT INTO delivery_orders (delivery_order_id, delivery_order_code, owner_code,"
        " status) VALUES ('DO-THEIRS', 'THEIRS-1', 'OWNER2', 'NEW')",
    )
    verdict = judge(builder)
    assert failed(verdict) == []
    assert verdict.invariant("no_orphan_documents").checked == 10
