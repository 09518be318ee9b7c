"""Bank fees: a charge per executed transfer by the inter-bank schedule and a monthly account
fee, each its own DBIT entry with a charges BkTxCd in the camt.053; none for a rejected
transfer, none unless the scenario turns them on."""

from __future__ import annotations

import pytest
from lxml import etree

from fake_systems.bank.iso_xml import render_camt053, render_pain001
from fake_systems.bank.service import STATUS_DELAYS, BankService, transfer_fee_cents
from simulator.clock import ManualClock
from tests.support.bank import CREDENTIALS, PAIN001, TENANT, message, session, transfer

C53 = {"c": "urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"}
SETTLED = sum(STATUS_DELAYS) + 4

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    ("cents", "fee"),
    [
        (1, 500),
        (1_000_000, 500),
        (1_000_001, 1_000),
        (10_000_000, 1_000),
        (50_000_000, 1_500),
        (100_000_000, 2_000),
        (100_000_001, 2_000),  # 0.002 % of 1,000,000.01 CNY: 20.00
        (500_000_000, 10_000),
        (10**12, 20_000),  # capped at 200 CNY
    ],
)
def test_the_transfer_fee_follows_the_inter_bank_schedule(cents: int, fee: int) -> None:
    assert transfer_fee_cents(cents) == fee


def entries(bank: BankService) -> list[tuple[str, int, str, str]]:
    rows = bank.ctx.conn.execute(
        "SELECT end_to_end_id, amount_cents, direction, bank_tx_code FROM entries ORDER BY rowid"
    )
    return [tuple(r) for r in rows]


async def test_an_executed_transfer_is_charged_a_rejected_one_is_not(
    client, bank: BankService, clock: ManualClock, auth
) -> None:
    bank.set_fees(True)
    bank.mark_creditor_account("6222000000000099", "closed")
    sent = await client.post(
        PAIN001,
        content=render_pain001(
            message("M1", transfer("E1"), transfer("E2", creditor="6222000000000099"))
        ),
        headers=auth,
    )
    assert sent.status_code == 201
    clock.advance(SETTLED)
    paid = bank.ctx.conn.execute("SELECT amount_cents FROM payments WHERE end_to_end_id = 'E1'")
    (amount,) = paid.fetchone()
    assert entries(bank) == [
        ("E1", amount, "DBIT", ""),
        ("E1", transfer_fee_cents(amount), "DBIT", "PMNT/ICDT/CHRG"),
    ]
    statement = bank.statement(CREDENTIALS.account, bank.today())
    assert statement.debit_cents == amount + transfer_fee_cents(amount)
    root = etree.fromstring(render_camt053(statement, "2026-11-10T21:00:00+08:00"))
    codes = [
        "/".join(
            n.findtext(p, namespaces=C53) for p in ("c:Cd", "c:Fmly/c:Cd", "c:Fmly/c:SubFmlyCd")
        )
        for n in root.iterfind(".//c:Ntry/c:BkTxCd/c:Domn", C53)
    ]
    assert codes == ["PMNT/ICDT/DMCT", "PMNT/ICDT/CHRG"]


async def test_the_account_fee_is_charged_monthly_on_its_day(
    bank: BankService, clock: ManualClock
) -> None:
    bank.set_fees(False, 5_000, 11)  # the clock starts on 2026-11-10 at 20:00
    clock.advance(3_600 * 5)
    assert entries(bank) == [("NOTPROVIDED", 5_000, "DBIT", "ACMT/MDOP/CHRG")]
    assert bank.statement(CREDENTIALS.account, bank.today()).entries[0].is_charge
    clock.advance(86_400 * 30)
    assert len(entries(bank)) == 2  # 2026-12-11


def test_no_fee_unless_turned_on(bank: BankService, clock: ManualClock) -> None:
    clock.advance(86_400 * 40)
    assert entries(bank) == []
    with pytest.raises(ValueError):
        bank.set_fees(True, 100, 29)


def test_a_served_statement_is_recorded_final_once_its_day_is_over(
    bank: BankService, clock: ManualClock
) -> None:
    day = bank.today()
    bank.book(1_000, "CRDT", "S1", "settlement")
    bank.serve_statement(CREDENTIALS.account, day)
    clock.advance(86_400)
    bank.serve_statement(CREDENTIALS.account, day)
    row = bank.ctx.conn.execute(
        "SELECT opening_cents, credit_cents, closing_cents, final, served FROM statements_served"
    ).fetchone()
    assert tuple(row) == (100_000_000, 1_000, 100_001_000, 1, 2)


async def test_another_owner_sees_neither_the_fees_nor_the_statement(
    client, bank: BankService, clock: ManualClock
) -> None:
    bank.set_fees(True, 5_000, 11)
    clock.advance(3_600 * 5)  # the account fee, on the connector's account
    tenant = await session(client, clock, TENANT)
    query = "/iso20022/camt.053/statements?account={}&date=2026-11-11"
    theirs = await client.get(query.format(CREDENTIALS.account), headers=tenant)
    assert theirs.status_code == 404
    own = await client.get(query.format(TENANT.account), headers=tenant)
    assert own.status_code == 200
    assert b"CHRG" not in own.content
    served = bank.ctx.conn.execute("SELECT account FROM statements_served").fetchall()
    assert [r[0] for r in served] == [TENANT.account]
