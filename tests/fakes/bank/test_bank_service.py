"""Bank service: the account, bookings, and day statements that always balance."""

from __future__ import annotations

from datetime import date

import pytest

from fake_systems.bank.models import StatementNotAvailable, UnknownAccount
from fake_systems.bank.service import BankService
from fake_systems.common.credentials import BankCredentials

HOUR = 3600.0
DAY = 24 * HOUR
CREDENTIALS = BankCredentials(account="6222000011112222", username="treasury", password="pw-1")
OPENING = 100_000_000


@pytest.fixture
def bank(make_context, world) -> BankService:
    service = BankService(make_context("bank"), CREDENTIALS)
    service.setup(world)
    return service


def test_setup_opens_the_connector_account_once(bank, world):
    bank.setup(world)
    rows = bank.ctx.conn.execute("SELECT account, currency, opening_cents FROM accounts").fetchall()
    assert [tuple(r) for r in rows] == [("6222000011112222", "CNY", OPENING)]
    assert bank.balance_cents() == OPENING


def test_statements_balance_over_several_days(bank, clock):
    # The manual clock starts 2026-11-10 20:00 China time.
    bank.book(10_000, "CRDT", "E2E-1", "settlement TM-A")
    bank.book(3_050, "DBIT", "E2E-2", "bank fee")
    clock.advance(6 * HOUR)  # 2026-11-11 02:00
    bank.book(200_000, "CRDT", "E2E-3", "settlement JD-A")
    clock.advance(2 * DAY)  # 2026-11-13 02:00, nothing on the 12th
    bank.book(500, "DBIT", "E2E-4", "fee")
    bank.book(1, "CRDT", "E2E-5", "interest")

    day1 = bank.statement(CREDENTIALS.account, date(2026, 11, 10))
    day2 = bank.statement(CREDENTIALS.account, date(2026, 11, 11))
    day3 = bank.statement(CREDENTIALS.account, date(2026, 11, 12))
    day4 = bank.statement(CREDENTIALS.account, date(2026, 11, 13))

    assert (day1.opening_cents, day1.closing_cents) == (OPENING, OPENING + 10_000 - 3_050)
    assert [e.end_to_end_id for e in day1.entries] == ["E2E-1", "E2E-2"]
    assert day2.opening_cents == day1.closing_cents
    assert day2.closing_cents == day1.closing_cents + 200_000
    assert day3.entries == ()
    assert day3.opening_cents == day3.closing_cents == day2.closing_cents
    assert day4.opening_cents == day3.closing_cents
    assert day4.closing_cents == day4.opening_cents - 500 + 1
    assert day4.closing_cents == bank.balance_cents()
    for statement in (day1, day2, day3, day4):
        assert statement.closing_cents == (
            statement.opening_cents + statement.credit_cents - statement.debit_cents
        )
    assert [s.sequence_number for s in (day1, day2, day3, day4)] == [1, 2, 3, 4]
    assert day1.statement_id == "STMT-6222000011112222-20261110"


def test_entry_references_are_unique_and_booked_today(bank, clock):
    first = bank.book(100, "CRDT", "A", "x")
    clock.advance(DAY)
    second = bank.book(100, "CRDT", "B", "y")
    assert first.entry_ref != second.entry_ref
    assert (first.booking_date, second.booking_date) == (date(2026, 11, 10), date(2026, 11, 11))
    events = bank.ctx.conn.execute(
        "SELECT entity, outcome FROM events WHERE kind = 'state' ORDER BY seq"
    ).fetchall()
    assert [tuple(r) for r in events] == [(first.entry_ref, "BOOK"), (second.entry_ref, "BOOK")]


@pytest.mark.parametrize(
    ("amount", "direction"),
    [(0, "CRDT"), (-5, "CRDT"), (1.5, "CRDT"), (True, "CRDT"), (100, "CREDIT")],
)
def test_bad_bookings_are_refused(bank, amount, direction):
    with pytest.raises(ValueError):
        bank.book(amount, direction, "E", "r")
    assert bank.ctx.conn.execute("SELECT COUNT(*) FROM entries").fetchone()[0] == 0


def test_booking_on_an_unknown_account_is_refused(bank):
    with pytest.raises(UnknownAccount):
        bank.book(100, "CRDT", "E", "r", account="999")
    assert bank.ctx.conn.execute("SELECT COUNT(*) FROM entries").fetchone()[0] == 0


def test_statement_refusals(bank):
    with pytest.raises(UnknownAccount):
        bank.statement("999", date(2026, 11, 10))
    with pytest.raises(StatementNotAvailable):
        bank.statement(CREDENTIALS.account, date(2026, 11, 9))  # before the account opened
    with pytest.raises(StatementNotAvailable):
        bank.statement(CREDENTIALS.account, date(2026, 11, 11))  # tomorrow
