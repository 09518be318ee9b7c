"""The settlement checks on built runs: a settlement booked as the reference books it passes
all three; each defect fails exactly its own check, naming the order or the settlement."""

from __future__ import annotations

from tests.support.judge import Line, RunBuilder, failed, judge

MONEY_CHECKS = ("settlement_conserved", "receivable_written_off_once", "bank_credits_booked")


def settled(builder: RunBuilder, adjustment_cents: int = 0) -> tuple[list[str], str]:
    """The good mix, and two completed orders settled and paid in one bill."""
    builder.good_mix()
    orders = [builder.order("completed"), builder.order("completed", post_cents=0)]
    # These bills are small: any adjustment here is over 0.5 % and flagged, as it must be.
    remark = "对账差异需审批" if adjustment_cents else None
    number = builder.settled(orders, adjustment_cents=adjustment_cents, remark=remark)
    return [o.trade_no for o in orders], number


def test_a_booked_settlement_passes_all_three(builder: RunBuilder) -> None:
    settled(builder, adjustment_cents=-1234)
    verdict = judge(builder)
    assert failed(verdict) == []
    checked = {inv.name: inv.checked for inv in verdict.invariants}
    assert [checked[name] for name in MONEY_CHECKS] == [2, 2, 1]


def test_a_run_without_settlements_passes_them_vacuously(builder: RunBuilder) -> None:
    builder.good_mix()
    verdict = judge(builder)
    assert failed(verdict) == []
    assert [verdict.invariant(name).checked for name in MONEY_CHECKS] == [0, 0, 0]


def test_a_settlement_net_of_a_refund_passes(builder: RunBuilder) -> None:
    builder.good_mix()
    built = builder.order("completed", lines=[Line("SKU-R", 3, 3000), Line("SKU-B", 1, 990)])
    builder.returned(built, 2, 0)
    builder.settled([built])
    verdict = judge(builder)
    assert failed(verdict) == []
    assert verdict.invariant("settlement_conserved").checked == 1


def test_commission_booked_as_revenue_fails_settlement_conserved_only(
    builder: RunBuilder,
) -> None:
    trades, number = settled(builder)
    # The legs settle only the money received and book no handling charge; the write-offs
    # stay whole (what books_commission_as_revenue does).
    builder.sql("erp", "UPDATE receipt_entries SET handling_cents = 0")
    builder.sql(
        "erp",
        "UPDATE documents SET amount_cents = (SELECT SUM(real_cents) FROM receipt_entries)"
        " WHERE form_id = 'AR_RECEIVEBILL'",
    )
    verdict = judge(builder)
    assert failed(verdict) == ["settlement_conserved"]
    inv = verdict.invariant("settlement_conserved")
    assert inv.breakdown == {"commission not booked as an expense": 2}
    example = inv.examples[0]
    assert (example["entity"], example["settlement_no"]) == (trades[0], number)
    assert example["observed"]["commission booked as expense"] == "0.00"


def test_a_wrong_commission_fails_settlement_conserved(builder: RunBuilder) -> None:
    trades, _ = settled(builder)
    builder.sql(
        "erp",
        "UPDATE receipt_entries SET handling_cents = handling_cents + 1 WHERE comment = ?",
        (trades[1],),
    )
    verdict = judge(builder)
    assert "settlement_conserved" in failed(verdict)
    inv = verdict.invariant("settlement_conserved")
    assert inv.breakdown == {"commission booked differs from the platform's": 1}
    assert inv.examples[0]["entity"] == trades[1]


def test_a_second_receipt_writing_off_fails_written_off_once_only(builder: RunBuilder) -> None:
    trades, number = settled(builder)
    # What writes_off_twice leaves: a twin receipt bill, submitted, its audit refused.
    builder.sql(
        "erp",
        "INSERT INTO documents (form_id, bill_no, document_status, customer_number, owner_code,"
        " amount_cents, note, model) SELECT form_id, bill_no || '-2', 'B', customer_number,"
        " owner_code, amount_cents, note, model FROM documents WHERE form_id = 'AR_RECEIVEBILL'",
    )
    builder.sql(
        "erp",
        "INSERT INTO write_offs SELECT (SELECT MAX(fid) FROM documents), seq, source_bill_no,"
        " amount_cents FROM write_offs",
    )
    verdict = judge(builder)
    assert failed(verdict) == ["receivable_written_off_once"]
    inv = verdict.invariant("receivable_written_off_once")
    assert inv.breakdown == {"written off by more than one receipt bill": 2}
    example = inv.examples[0]
    assert example["entity"] == trades[0]
    assert f"{number}-2 (B)" in example["observed"]["receipt bills"]


def test_a_partial_write_off_fails_written_off_once(builder: RunBuilder) -> None:
    trades, _ = settled(builder)
    builder.sql(
        "erp",
        "UPDATE write_offs SET amount_cents = amount_cents - 100 WHERE source_bill_no = ?",
        (trades[0],),
    )
    verdict = judge(builder)
    assert failed(verdict) == ["receivable_written_off_once"]
    inv = verdict.invariant("receivable_written_off_once")
    assert inv.breakdown == {"settled but not written off in full": 1}
    assert inv.examples[0]["entity"] == trades[0]


def test_a_credit_without_receipt_fails_bank_credits_booked(builder: RunBuilder) -> None:
    _, number = settled(builder)
    builder.sql(
        "erp", "UPDATE documents SET document_status = 'B' WHERE form_id = 'AR_RECEIVEBILL'"
    )
    verdict = judge(builder)
    # Nothing audited: no commission booked, nothing written off, no receipt for the credit.
    assert failed(verdict) == list(MONEY_CHECKS)
    inv = verdict.invariant("bank_credits_booked")
    assert inv.breakdown == {"no audited receipt bill": 1}
    assert inv.examples[0]["entity"] == number


def test_a_receipt_of_the_wrong_amount_fails_bank_credits_booked_only(
    builder: RunBuilder,
) -> None:
    _, number = settled(builder, adjustment_cents=500)
    # The platform's adjustment left out of the receipt: it no longer matches the credit.
    builder.sql("erp", "DELETE FROM receipt_entries WHERE comment = 'platform adjustment'")
    builder.sql(
        "erp",
        "UPDATE documents SET amount_cents = amount_cents - 500 WHERE form_id = 'AR_RECEIVEBILL'",
    )
    verdict = judge(builder)
    assert failed(verdict) == ["bank_credits_booked"]
    inv = verdict.invariant("bank_credits_booked")
    assert inv.breakdown == {"receipt differs from the bank credit": 1}
    assert inv.examples[0]["entity"] == number


def test_a_credit_differing_from_the_settlement_fails_bank_credits_booked(
    builder: RunBuilder,
) -> None:
    _, number = settled(builder)
    builder.sql("bank", "UPDATE entries SET amount_cents = amount_cents + 1")
    verdict = judge(builder)
    assert failed(verdict) == ["bank_credits_booked"]
    inv = verdict.invariant("bank_credits_booked")
    assert inv.breakdown == {
        "bank credit differs from the settlement": 1,
        "receipt differs from the bank credit": 1,
    }
    assert inv.examples[0]["entity"] == number
