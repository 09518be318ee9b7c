"""The reference connector reads the bank's day statements: each closed day's camt.053 once,
checked to close and to chain, its fees (a charge per executed transfer, the monthly account
fee) booked as one audited GL_VOUCHER named after the statement, nothing twice across a
restart; a statement that does not chain is parked; faulty/ignores_bank_fees books no fee.
In process: the real bank app over ASGI, the real ERP service, the OMS clock stubbed."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from connectors.faulty.ignores_bank_fees import IgnoresFeesFlow
from connectors.reference.clients.bank import BankClient
from connectors.reference.clients.http import HttpxClient
from connectors.reference.payment_flow import PaymentFlow
from connectors.reference.retry import RetryPolicy
from connectors.reference.statement_flow import StatementFlow
from connectors.reference.store import StateStore
from fake_systems.bank.api.iso20022 import create_app
from fake_systems.bank.service import BankService, transfer_fee_cents
from fake_systems.common.context import SystemContext
from fake_systems.erp.service import ErpService
from simulator.clock import CHINA, ManualClock
from simulator.world import World
from tests.connector.test_connector_payments import SETTLED, Erp, Oms
from tests.fakes.erp.test_erp_payments import booked_payable
from tests.support.bank import CREDENTIALS
from tests.support.erp import CREDS

pytestmark = pytest.mark.anyio
DAY = 86_400.0

Parts = tuple[ErpService, BankService, Callable[..., Any]]


@pytest.fixture
def clock() -> ManualClock:
    # Days pass in these tests: at this scale a day is 4.3 wall seconds, so the bank's session
    # and one-time passwords stay in step with the real clock the connector reads.
    manual = ManualClock(scale=20_000.0)
    manual.wall_now = time.time()
    return manual


@pytest.fixture
def parts(
    make_context: Callable[[str], SystemContext],
    world: World,
    clock: ManualClock,
    asgi_client: Callable[[object], httpx.AsyncClient],
    tmp_path: Any,
) -> Parts:
    erp = ErpService(make_context("erp"), CREDS)
    erp.setup(world)
    for supplier in world.suppliers:
        erp.master.set_payment_terms(supplier.code, 0)
    bank = BankService(make_context("bank"), CREDENTIALS)
    bank.setup(world)
    bank.set_fees(True, 5_000, 11)  # 50 CNY a month, on the 11th
    client = HttpxClient(asgi_client(create_app(bank, CREDENTIALS)))
    store = StateStore(tmp_path / "connector.db")
    # One client for every flow, as in the connector: a one-time password step is used once.
    teller = BankClient(
        client, "", CREDENTIALS.account, CREDENTIALS.password, CREDENTIALS.totp_seed
    )

    def flow(kind: type[Any] = StatementFlow) -> Any:
        return kind(store, Oms(clock), Erp(erp), teller, RetryPolicy(20_000.0))

    return erp, bank, flow


def vouchers(erp: ErpService) -> list[tuple[str, str, int, str | None]]:
    rows = erp.conn.execute(
        "SELECT bill_no, document_status, amount_cents, note FROM documents"
        " WHERE form_id = 'GL_VOUCHER' ORDER BY bill_no"
    )
    return [tuple(row) for row in rows]


async def pay_one(parts: Parts, world: World, clock: ManualClock) -> None:
    """A payable due now, paid and settled through the bank (its fee charged)."""
    erp, _, flow = parts
    booked_payable(erp, world, date=clock.now().astimezone(CHINA).strftime("%Y-%m-%d %H:%M:%S"))
    payments = flow(PaymentFlow)
    for _ in range(3):
        await payments.round()
        clock.advance(SETTLED)


async def test_each_closed_day_is_fetched_once_and_its_fees_booked_once(
    parts: Parts, world: World, clock: ManualClock
) -> None:
    erp, bank, flow = parts
    await pay_one(parts, world, clock)  # 2026-11-10: a transfer of 31.50 and its fee
    statements = flow()
    await statements.round()
    assert vouchers(erp) == []  # the day is not over yet
    clock.advance(DAY)  # 2026-11-11: the account fee at midnight
    await statements.round()
    first = f"STMT-{CREDENTIALS.account}-20261110"
    assert vouchers(erp) == [(first, "C", transfer_fee_cents(3150), first)]
    clock.advance(DAY)
    await statements.round()
    second = f"STMT-{CREDENTIALS.account}-20261111"
    assert vouchers(erp)[1] == (second, "C", 5_000, second)
    rows = statements.conn.execute(
        "SELECT booking_date, status, opening_cents, closing_cents, fee_cents"
        " FROM bank_statements ORDER BY booking_date"
    ).fetchall()
    assert [tuple(r)[:2] for r in rows] == [("2026-11-10", "booked"), ("2026-11-11", "booked")]
    assert rows[0]["closing_cents"] == rows[1]["opening_cents"]
    assert rows[1]["closing_cents"] == bank.balance_cents()
    # A restart (a new flow on the same state) fetches and books nothing again.
    served = bank.ctx.conn.execute("SELECT SUM(served) FROM statements_served").fetchone()[0]
    await flow().round()
    assert len(vouchers(erp)) == 2
    again = bank.ctx.conn.execute("SELECT SUM(served) FROM statements_served").fetchone()[0]
    assert again == served
    finals = bank.ctx.conn.execute(
        "SELECT booking_date FROM statements_served WHERE final = 1 ORDER BY booking_date"
    ).fetchall()
    assert [r[0] for r in finals] == ["2026-11-10", "2026-11-11"]


async def test_a_statement_that_does_not_chain_is_parked(
    parts: Parts, world: World, clock: ManualClock
) -> None:
    erp, bank, flow = parts
    clock.advance(DAY)
    statements = flow()
    await statements.round()  # 2026-11-10 fetched, empty
    # The bank's books change behind a closed day: the next opening no longer chains.
    bank.ctx.conn.execute(
        "INSERT INTO entries (entry_ref, account, booking_date, amount_cents, direction,"
        " end_to_end_id, remittance, booked_sim, booked_wall)"
        " VALUES ('BKX', ?, '2026-11-10', 100, 'CRDT', 'X', '', '', 0)",
        (CREDENTIALS.account,),
    )
    clock.advance(DAY)
    await statements.round()
    row = statements.conn.execute(
        "SELECT status, reason FROM bank_statements WHERE booking_date = '2026-11-11'"
    ).fetchone()
    assert row["status"] == "parked"
    assert "previous day's closing" in row["reason"]
    assert vouchers(erp) == []


async def test_faulty_ignores_bank_fees_books_none(
    parts: Parts, world: World, clock: ManualClock
) -> None:
    erp, _, flow = parts
    await pay_one(parts, world, clock)
    clock.advance(2 * DAY)
    statements = flow(IgnoresFeesFlow)
    await statements.round()
    assert vouchers(erp) == []
    statuses = statements.conn.execute("SELECT status FROM bank_statements").fetchall()
    assert [r[0] for r in statuses] == ["booked", "booked"]
