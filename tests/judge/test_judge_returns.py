"""The returns checks on built runs: a carried return passes all three; each defect fails
exactly its own check, naming the order."""

from __future__ import annotations

from contract_tests.database import attach_run
from contract_tests.metrics import latency_samples
from tests.support.judge import Line, RunBuilder, failed, judge

RETURNS_CHECKS = ("return_refund_booked", "receivable_net_of_refunds", "returned_stock_by_quality")


def carried(builder: RunBuilder) -> tuple[str, str]:
    """The good mix, and 2 of 3 units of a completed order back, one defective."""
    builder.good_mix()
    built = builder.order("completed", lines=[Line("SKU-R", 3, 3000), Line("SKU-B", 1, 990)])
    return built.trade_no, builder.returned(built, 2, 1)


def test_a_carried_return_passes_and_is_timed(builder: RunBuilder) -> None:
    _, refund_no = carried(builder)
    builder.close()
    conn = attach_run(builder.run_dir)
    assert latency_samples(conn, "return_to_refund") == [(refund_no, 10.5)]
    conn.close()
    verdict = judge(builder)
    assert failed(verdict) == []
    checked = {inv.name: inv.checked for inv in verdict.invariants}
    assert [checked[name] for name in RETURNS_CHECKS] == [1, 1, 1]


def test_a_missing_red_receivable_fails_return_refund_booked_only(builder: RunBuilder) -> None:
    trade_no, refund_no = carried(builder)
    builder.sql("erp", "DELETE FROM documents WHERE amount_cents < 0")
    verdict = judge(builder)
    assert failed(verdict) == ["return_refund_booked"]
    inv = verdict.invariant("return_refund_booked")
    assert inv.breakdown == {"red AR_receivable missing": 1}
    assert (inv.examples[0]["entity"], inv.examples[0]["refund_no"]) == (trade_no, refund_no)


def test_an_unsettled_refund_fails_return_refund_booked(builder: RunBuilder) -> None:
    carried(builder)
    builder.sql("oms", "UPDATE refunds SET status = 40")
    verdict = judge(builder)
    # The red receivable now takes back what was not refunded: the balance is off too.
    assert failed(verdict) == ["return_refund_booked", "receivable_net_of_refunds"]
    assert verdict.invariant("return_refund_booked").breakdown == {"refund not settled": 1}


def test_a_red_receivable_of_the_wrong_amount_fails_the_net_receivable_only(
    builder: RunBuilder,
) -> None:
    trade_no, _ = carried(builder)
    builder.sql("erp", "UPDATE documents SET amount_cents = -3000 WHERE amount_cents < 0")
    verdict = judge(builder)
    assert failed(verdict) == ["receivable_net_of_refunds"]
    [example] = verdict.invariant("receivable_net_of_refunds").examples
    assert example["entity"] == trade_no
    assert example["observed"]["red"] == "-30.00"
    assert example["expected"]["refunded"] == "20.00"


def test_defective_units_booked_available_fail_returned_stock_only(builder: RunBuilder) -> None:
    trade_no, _ = carried(builder)
    builder.sql("erp", "UPDATE document_links SET stock_status = 'KCZT01_SYS'")
    verdict = judge(builder)
    assert failed(verdict) == ["returned_stock_by_quality"]
    inv = verdict.invariant("returned_stock_by_quality")
    assert inv.breakdown == {"ERP stock status differs from the quality check": 1}
    assert inv.examples[0]["entity"] == trade_no


def test_more_back_than_shipped_fails_returned_stock(builder: RunBuilder) -> None:
    carried(builder)
    builder.sql("wms", "UPDATE inbound_quality SET qty = 4 WHERE inventory_type = 'ZP'")
    builder.sql(
        "wms", "UPDATE stock_ledger SET change = 4 WHERE reason = 'return' AND field = 'on_hand'"
    )
    verdict = judge(builder)
    inv = verdict.invariant("returned_stock_by_quality")
    assert "more back than shipped" in inv.breakdown
    assert "returned_stock_by_quality" in failed(verdict)
