"""`bank_statements_close` on built runs: every closed day's statement closes and chains, its
credits are the receipts booked, its debits the payments booked plus its fees booked (one
voucher named after the statement); days the bank has not closed are not judged."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.judge import RunBuilder, failed, judge

CHECK = "bank_statements_close"
ACCOUNT = "6222000011112222"
PAY_DAY = "2026-11-20"
STATEMENT = f"STMT-{ACCOUNT}-20261120"


def with_statements(builder: RunBuilder) -> None:
    """The bank's fee codes and served statements, the ERP's voucher lines, as fakes keep them
    since bank fees; the bank's history moved on to 2026-11-21 (the 20th is closed)."""
    builder.sql("bank", "ALTER TABLE entries ADD COLUMN bank_tx_code TEXT NOT NULL DEFAULT ''")
    builder.conns["bank"].executescript(
        "CREATE TABLE statements_served (account TEXT, booking_date TEXT, statement_id TEXT,"
        " opening_cents INTEGER, credit_cents INTEGER, debit_cents INTEGER,"
        " closing_cents INTEGER, entries INTEGER, final INTEGER, served INTEGER,"
        " served_sim TEXT);"
    )
    for column in ("account_number TEXT", "debit_cents INTEGER", "credit_cents INTEGER"):
        builder.sql("erp", f"ALTER TABLE document_entries ADD COLUMN {column}")
    builder.sql(
        "bank",
        "INSERT INTO events (sim_time, wall_time, kind, operation, entity, outcome, payload)"
        " VALUES ('2026-11-21 01:00:00', 0, 'api_in', 'camt.053', ?, 'ok', NULL)",
        (ACCOUNT,),
    )


def fee(builder: RunBuilder, ref: str, cents: int, day: str = PAY_DAY) -> None:
    builder.sql(
        "bank",
        "INSERT INTO entries VALUES (?, ?, ?, ?, 'DBIT', 'CGDD1-AP', 'fee', 'PMNT/ICDT/CHRG')",
        (ref, ACCOUNT, day, cents),
    )


def voucher(builder: RunBuilder, bill_no: str, cents: int) -> None:
    fid = (
        builder.conns["erp"]
        .execute(
            "INSERT INTO documents (form_id, bill_no, document_status, amount_cents, note,"
            " model) VALUES ('GL_VOUCHER', ?, 'C', ?, ?, '{}')",
            (bill_no, cents, bill_no),
        )
        .lastrowid
    )
    builder.sql(
        "erp",
        "INSERT INTO document_entries (fid, seq, qty, amount_cents, account_number, debit_cents,"
        " credit_cents) VALUES (?, 1, 0, ?, '6603', ?, 0), (?, 2, 0, ?, '1002', 0, ?)",
        (fid, cents, cents, fid, cents, cents),
    )


def served(builder: RunBuilder, opening: int, credits: int, debits: int, closing: int) -> None:
    builder.sql(
        "bank",
        "INSERT INTO statements_served VALUES (?, ?, ?, ?, ?, ?, ?, 2, 1, 1, '')",
        (ACCOUNT, PAY_DAY, STATEMENT, opening, credits, debits, closing),
    )


@pytest.fixture
def builder(tmp_path: Any) -> RunBuilder:
    built = RunBuilder(tmp_path / "run")
    built.good_mix()
    # As the reference books it: a payment, its bank fee, the fee voucher.
    built.payment(built.payable("CGDD1-AP", 31_50), 31_50)
    with_statements(built)
    fee(built, "BK2026112099999999", 5_00)
    voucher(built, STATEMENT, 5_00)
    return built


def test_a_day_booked_as_the_reference_books_it_passes(builder: RunBuilder) -> None:
    served(builder, 0, 0, 36_50, -36_50)
    verdict = judge(builder)
    assert failed(verdict) == []
    assert verdict.invariant(CHECK).checked == 1


def breakdown(builder: RunBuilder) -> tuple[list[str], dict[str, int], dict[str, Any]]:
    verdict = judge(builder)
    result = verdict.invariant(CHECK)
    return failed(verdict), result.breakdown, result.examples[0]


def test_fees_not_booked_are_named(builder: RunBuilder) -> None:
    builder.sql("erp", "DELETE FROM documents WHERE form_id = 'GL_VOUCHER'")
    names, kinds, example = breakdown(builder)
    assert names == [CHECK]
    assert kinds == {"fees not booked": 1}
    assert example["entity"] == STATEMENT
    assert example["expected"]["of which fees"] == "5.00"


def test_fees_booked_short_are_named(builder: RunBuilder) -> None:
    fee(builder, "BK2026112099999998", 50_00)  # the monthly account fee, not booked
    names, kinds, _ = breakdown(builder)
    assert names == [CHECK]
    assert kinds == {"fees booked differ from the bank's": 1}


def test_a_payment_not_booked_is_a_debit_the_erp_does_not_explain(builder: RunBuilder) -> None:
    builder.sql("erp", "UPDATE documents SET document_status = 'B' WHERE form_id = 'AP_PAYBILL'")
    verdict = judge(builder)
    assert verdict.invariant(CHECK).breakdown == {"debits differ from the payment bills booked": 1}


def test_a_served_statement_that_does_not_close_or_chain_is_named(builder: RunBuilder) -> None:
    served(builder, 1_00, 0, 36_50, -36_50)
    names, kinds, example = breakdown(builder)
    assert names == [CHECK]
    assert kinds == {"statement does not close": 1, "opening is not the previous day's closing": 1}
    assert example["observed"]["served (opening, credits, debits, closing)"][0] == "1.00"


def test_a_day_the_bank_has_not_closed_is_not_judged(builder: RunBuilder) -> None:
    fee(builder, "BK2026112199999999", 5_00, day="2026-11-21")  # today: not closed
    assert failed(judge(builder)) == []
