"""booked_after_wms_shipped: nothing shipped in the OMS or booked in the ERP before the WMS
ships; each defect fails exactly it and names the order (completed_only_when_signed, its twin
for the carrier, is tested with the other invariants)."""

from __future__ import annotations

from tests.support.judge import RunBuilder, failed, judge


def wall(builder: RunBuilder, system: str, sql: str, key: str | None) -> float:
    return float(builder.conns[system].execute(sql, (key,)).fetchone()[0])


def delivered_wall(builder: RunBuilder, trade_no: str) -> float:
    sql = "SELECT delivered_wall FROM delivery_orders WHERE delivery_order_code = ?"
    return wall(builder, "wms", sql, trade_no)


def test_a_good_run_passes_and_the_checks_looked_at_its_orders(builder: RunBuilder) -> None:
    builder.good_mix()
    verdict = judge(builder)
    assert failed(verdict) == []
    # Three shipped trades have acts (OMS shipped, two documents each).
    assert verdict.invariant("booked_after_wms_shipped").checked == 3


def test_erp_document_saved_before_the_wms_shipped_fails(builder: RunBuilder) -> None:
    builder.good_mix()
    early = builder.order("shipped")
    shipped_at = delivered_wall(builder, early.trade_no)
    builder.sql(
        "erp",
        "UPDATE documents SET saved_wall = ? WHERE bill_no = ? AND form_id = 'SAL_OUTSTOCK'",
        (shipped_at - 30.0, early.trade_no),
    )
    verdict = judge(builder)
    assert failed(verdict) == ["booked_after_wms_shipped"]
    inv = verdict.invariant("booked_after_wms_shipped")
    assert (inv.violations, inv.breakdown) == (1, {"SAL_OUTSTOCK saved early": 1})
    [example] = inv.examples
    assert example["entity"] == early.trade_no
    [observed] = example["observed"]
    assert observed.startswith(f"SAL_OUTSTOCK saved (bill {early.trade_no}")
    assert observed.endswith("30.000 s before the WMS shipped it")
    assert example["wms_shipped_wall"] == shipped_at


def test_documents_of_an_order_the_wms_never_shipped_fail(builder: RunBuilder) -> None:
    builder.good_mix()
    waiting = builder.order("at_wms")
    for form in ("SAL_OUTSTOCK", "AR_receivable"):
        builder.erp_document(form, waiting.trade_no, waiting.paid_cents)
    verdict = judge(builder)
    # The audited checks only look at shipped orders: this one is causality's alone.
    assert failed(verdict) == ["booked_after_wms_shipped"]
    inv = verdict.invariant("booked_after_wms_shipped")
    assert inv.violations == 1
    assert inv.breakdown == {"AR_receivable saved early": 1, "SAL_OUTSTOCK saved early": 1}
    [example] = inv.examples
    assert example["entity"] == waiting.trade_no and example["wms_shipped_wall"] is None
    assert all(line.endswith("while the WMS never shipped it") for line in example["observed"])


def test_a_document_under_another_number_is_found_by_its_note(builder: RunBuilder) -> None:
    builder.good_mix()
    waiting = builder.order("at_wms")
    builder.erp_document("AR_receivable", "AR-000917", waiting.paid_cents, note=waiting.trade_no)
    inv = judge(builder).invariant("booked_after_wms_shipped")
    assert [e["entity"] for e in inv.examples] == [waiting.trade_no]
    assert "bill AR-000917" in inv.examples[0]["observed"][0]


def test_oms_shipped_before_the_wms_shipped_fails(builder: RunBuilder) -> None:
    builder.good_mix()
    early = builder.order("shipped")
    builder.sql(
        "oms",
        "UPDATE orders SET shipped_wall = ? WHERE trade_no = ?",
        (delivered_wall(builder, early.trade_no) - 5.0, early.trade_no),
    )
    verdict = judge(builder)
    assert failed(verdict) == ["booked_after_wms_shipped"]
    inv = verdict.invariant("booked_after_wms_shipped")
    assert inv.breakdown == {"OMS shipped early": 1}
    assert inv.examples[0]["entity"] == early.trade_no


def test_the_first_package_in_the_history_counts_as_shipped(builder: RunBuilder) -> None:
    builder.good_mix()
    split = builder.order("shipped")
    shipped_at = delivered_wall(builder, split.trade_no)
    # The first package left 40 s before the last one: booking in between follows it.
    builder.sql(
        "wms",
        "INSERT INTO events (sim_time, wall_time, kind, operation, entity, outcome, payload)"
        " VALUES ('2026-11-11 00:00:00', ?, 'state', 'deliveryorder', ?, 'PARTDELIVERED', NULL)",
        (shipped_at - 40.0, split.trade_no),
    )
    builder.sql(
        "erp",
        "UPDATE documents SET saved_wall = ? WHERE bill_no = ?",
        (shipped_at - 20.0, split.trade_no),
    )
    assert failed(judge(builder)) == []
