"""The reference connector pays payables due: one XSD-valid pain.001 per payable (EndToEndId
and remittance = the payable), its pain.002 fetched until final, one audited AP_PAYBILL once
the bank settled it, nothing for a rejected one (the payable stays open), however often a
round runs; the two faulty variants change exactly one thing. In process: the real bank app
over ASGI, the real ERP service behind a K3 client stand-in, the OMS clock stubbed."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from connectors.faulty.books_rejected_payments import BooksRejectedFlow
from connectors.faulty.pays_twice_on_retry import PaysTwiceFlow
from connectors.reference.clients.bank import BankClient
from connectors.reference.clients.http import HttpxClient, Reply, Request
from connectors.reference.clients.oms import OmsClock
from connectors.reference.payment_flow import PaymentFlow
from connectors.reference.retry import RetryPolicy
from connectors.reference.store import StateStore
from fake_systems.bank.api.iso20022 import create_app
from fake_systems.bank.service import STATUS_DELAYS, BankService
from fake_systems.common.context import SystemContext
from fake_systems.erp.service import ErpService
from simulator.clock import CHINA, ManualClock
from simulator.world import World
from tests.fakes.erp.test_erp_payments import booked_payable
from tests.support.bank import CREDENTIALS
from tests.support.erp import CREDS

pytestmark = pytest.mark.anyio
SETTLED = sum(STATUS_DELAYS) + 4


class Erp:
    """The K3 client's surface the flow uses, served by the ERP service in process."""

    def __init__(self, erp: ErpService) -> None:
        self.erp = erp

    async def execute_bill_query(
        self, form_id: str, field_keys: str, filter_string: str, start_row: int, limit: int
    ) -> list[list[Any]]:
        return self.erp.execute_bill_query(form_id, field_keys, filter_string, "", start_row, limit)

    async def post_audited(self, form_id: str, model: dict[str, Any]) -> None:
        if self.erp.document(form_id, model["FBillNo"]) is None:
            self.erp.save(form_id, model, auto_submit_audit=True)


class Oms:
    def __init__(self, clock: ManualClock) -> None:
        self.clock_ = clock

    async def clock(self) -> OmsClock:
        return OmsClock(self.clock_.now().astimezone(CHINA).replace(tzinfo=None), 0.0)


class LosesFirstAnswers(HttpxClient):
    """Sends every request, but answers the first one of each path in `lossy` with a 504:
    the bank did the work, the answer was lost (a gateway timeout)."""

    def __init__(self, client: httpx.AsyncClient, *lossy: str) -> None:
        super().__init__(client)
        self.lossy = set(lossy)
        self.lost: list[str] = []

    async def send(self, request: Request, timeout: float = 10.0) -> Reply:
        reply = await super().send(request, timeout)
        path = next((p for p in self.lossy if p in request.url), None)
        if path is not None:
            self.lossy.discard(path)
            self.lost.append(path)
            return Reply(504, b"Gateway Timeout")
        return reply


@pytest.fixture
def parts(
    make_context: Callable[[str], SystemContext],
    world: World,
    clock: ManualClock,
    asgi_client: Callable[[object], httpx.AsyncClient],
    tmp_path: Any,
) -> tuple[ErpService, BankService, Callable[[type[PaymentFlow]], PaymentFlow]]:
    clock.wall_now = time.time()  # the connector's TOTP reads the real clock, as in a run
    erp = ErpService(make_context("erp"), CREDS)
    erp.setup(world)
    for supplier in world.suppliers:
        erp.master.set_payment_terms(supplier.code, 0)
    bank = BankService(make_context("bank"), CREDENTIALS)
    bank.setup(world)
    client = LosesFirstAnswers(asgi_client(create_app(bank, CREDENTIALS)))
    store = StateStore(tmp_path / "connector.db")

    def flow(kind: type[PaymentFlow] = PaymentFlow, *lossy: str) -> PaymentFlow:
        client.lossy = set(lossy)
        teller = BankClient(
            client, "", CREDENTIALS.account, CREDENTIALS.password, CREDENTIALS.totp_seed
        )
        return kind(store, Oms(clock), Erp(erp), teller, RetryPolicy(60.0))  # type: ignore[arg-type]

    return erp, bank, flow


def paid(bank: BankService) -> list[tuple[str, str, int, str, str | None]]:
    rows = bank.ctx.conn.execute(
        "SELECT end_to_end_id, remittance, amount_cents, status, reason FROM payments"
        " ORDER BY end_to_end_id"
    )
    return [tuple(row) for row in rows]


def payment_bills(erp: ErpService) -> list[tuple[str, int, str | None]]:
    rows = erp.conn.execute(
        "SELECT d.bill_no, w.amount_cents, w.source_bill_no FROM documents AS d"
        " JOIN write_offs AS w ON w.fid = d.fid WHERE d.form_id = 'AP_PAYBILL'"
        " AND d.document_status = 'C' ORDER BY d.bill_no"
    )
    return [tuple(row) for row in rows]


async def rounds(flow: PaymentFlow, clock: ManualClock, n: int = 3) -> None:
    for _ in range(n):
        await flow.round()
        clock.advance(SETTLED)


async def test_a_payable_due_is_paid_once_and_booked_once(
    parts: Any, world: World, clock: ManualClock
) -> None:
    erp, bank, flow = parts
    booked_payable(erp, world, date=clock.now().astimezone(CHINA).strftime("%Y-%m-%d %H:%M:%S"))
    reference = flow()
    await rounds(reference, clock, 4)
    assert paid(bank) == [("AP1", "AP1", 3150, "ACSC", None)]
    assert payment_bills(erp) == [("AP1", 3150, "AP1")]
    row = reference.conn.execute("SELECT status, entry_ref FROM payments").fetchone()
    assert row["status"] == "booked"
    assert erp.document("AP_PAYBILL", "AP1")["note"] == row["entry_ref"]  # type: ignore[index]
    creditor = bank.ctx.conn.execute("SELECT creditor_account FROM payments").fetchone()[0]
    assert creditor == world.suppliers[0].bank_account
    # A restart (a new flow on the same state) pays and books nothing again.
    await rounds(flow(), clock, 2)
    assert len(paid(bank)) == 1 and len(payment_bills(erp)) == 1


async def test_a_payable_not_due_yet_is_not_paid(
    parts: Any, world: World, clock: ManualClock
) -> None:
    erp, bank, flow = parts
    erp.master.set_payment_terms(world.suppliers[0].code, 3)
    booked_payable(erp, world, date=clock.now().astimezone(CHINA).strftime("%Y-%m-%d %H:%M:%S"))
    await rounds(flow(), clock, 2)
    assert paid(bank) == []


async def test_a_rejected_payment_books_nothing_and_the_payable_stays_open(
    parts: Any, world: World, clock: ManualClock
) -> None:
    erp, bank, flow = parts
    bank.set_closed_share(1.0, "all")
    booked_payable(erp, world, date=clock.now().astimezone(CHINA).strftime("%Y-%m-%d %H:%M:%S"))
    reference = flow()
    await rounds(reference, clock, 4)
    assert paid(bank) == [("AP1", "AP1", 3150, "RJCT", "AC04")]
    assert payment_bills(erp) == []
    row = reference.conn.execute("SELECT status, reason FROM payments").fetchone()
    assert tuple(row) == ("rejected", "AC04")


async def test_faulty_books_rejected_payments_books_them(
    parts: Any, world: World, clock: ManualClock
) -> None:
    erp, bank, flow = parts
    bank.set_closed_share(1.0, "all")
    booked_payable(erp, world, date=clock.now().astimezone(CHINA).strftime("%Y-%m-%d %H:%M:%S"))
    await rounds(flow(BooksRejectedFlow), clock, 4)
    assert paid(bank) == [("AP1", "AP1", 3150, "RJCT", "AC04")]
    assert payment_bills(erp) == [("AP1", 3150, "AP1")]


async def test_faulty_pays_twice_on_retry_sends_a_second_payment(
    parts: Any, world: World, clock: ManualClock
) -> None:
    erp, bank, flow = parts
    booked_payable(erp, world, date=clock.now().astimezone(CHINA).strftime("%Y-%m-%d %H:%M:%S"))
    await rounds(flow(PaysTwiceFlow), clock, 4)
    assert paid(bank) == [
        ("AP1", "AP1", 3150, "ACSC", None),
        ("AP1-R", "AP1", 3150, "ACSC", None),
    ]
    assert payment_bills(erp) == [("AP1", 3150, "AP1")]


async def test_lost_answers_are_retried_without_paying_or_booking_twice(
    parts: Any, world: World, clock: ManualClock
) -> None:
    erp, bank, flow = parts
    booked_payable(erp, world, date=clock.now().astimezone(CHINA).strftime("%Y-%m-%d %H:%M:%S"))
    reference = flow(PaymentFlow, "/iso20022/pain.001", "/iso20022/pain.002/")
    # Retries wait the graded delay: let each round find its step due again.
    for _ in range(6):
        await reference.round()
        reference.conn.execute("UPDATE payments SET next_wall = 0")
        clock.advance(SETTLED)
    assert reference.bank.client.lost == ["/iso20022/pain.001", "/iso20022/pain.002/"]  # type: ignore[attr-defined]
    assert paid(bank) == [("AP1", "AP1", 3150, "ACSC", None)]
    assert payment_bills(erp) == [("AP1", 3150, "AP1")]
    resends = bank.ctx.conn.execute(
        "SELECT COUNT(*) FROM events WHERE operation = 'pain.001' AND payload LIKE ?",
        ('%"resend":true%',),
    ).fetchone()[0]
    assert resends == 1  # the same MsgId sent again, answered with the first's report
