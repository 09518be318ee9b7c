"""The reference connector books each closed carrier fee statement once, as one audited
AP_Payable to the express company for the statement's total, however often a round runs; the
faulty variant books the first kilo only. In process: the real carrier's Kdniao app over ASGI,
the real ERP service behind a K3 client stand-in."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest

from connectors.faulty.books_fees_without_weight import FeesWithoutWeightFlow
from connectors.reference.clients.http import HttpxClient
from connectors.reference.clients.kdniao import KdniaoClient
from connectors.reference.fee_flow import FeeFlow
from connectors.reference.retry import RetryPolicy
from connectors.reference.store import StateStore
from fake_systems.carrier.api.kdniao import create_app
from fake_systems.carrier.service import CarrierService
from fake_systems.common.context import SystemContext
from fake_systems.erp.service import ErpService
from simulator.clock import ManualClock
from simulator.world import World
from tests.connector.test_connector_payments import Erp
from tests.support.carrier import CREDENTIALS, FIXED
from tests.support.erp import CREDS

pytestmark = pytest.mark.anyio
HOUR = 3600.0


@pytest.fixture
def parts(
    make_context: Callable[[str], SystemContext],
    world: World,
    clock: ManualClock,
    asgi_client: Callable[[object], httpx.AsyncClient],
    tmp_path: Any,
) -> tuple[CarrierService, ErpService, Callable[[type[FeeFlow]], FeeFlow]]:
    erp = ErpService(make_context("erp"), CREDS)
    erp.setup(world)
    carrier = CarrierService(make_context("carrier"), CREDENTIALS, FIXED)
    carrier.setup(world)
    client = KdniaoClient(
        HttpxClient(asgi_client(create_app(carrier, CREDENTIALS))),
        "",
        CREDENTIALS.ebusiness_id,
        CREDENTIALS.api_key,
    )
    store = StateStore(tmp_path / "connector.db")

    def flow(kind: type[FeeFlow] = FeeFlow) -> FeeFlow:
        return kind(store, client, Erp(erp), RetryPolicy(60.0))  # type: ignore[arg-type]

    return carrier, erp, flow


def bill(carrier: CarrierService, clock: ManualClock, weights: list[float]) -> str:
    start = carrier.ctx.clock.now()
    for n, weight in enumerate(weights):
        code = carrier.issue_waybill(f"T-{n}", "SF")
        carrier.hand_over(code, "SF", weight, ("广东省", "湖南省"))
    clock.advance(2 * HOUR)
    (number,) = carrier.close_fee_period(start, start + timedelta(hours=1))
    return number


def payables(erp: ErpService) -> list[tuple[Any, ...]]:
    rows = erp.conn.execute(
        "SELECT bill_no, supplier_number, amount_cents, document_status FROM documents"
        " WHERE form_id = 'AP_Payable' ORDER BY bill_no"
    )
    return [tuple(row) for row in rows]


async def test_each_statement_is_booked_once_for_its_total(parts: Any, clock: ManualClock) -> None:
    carrier, erp, flow = parts
    number = bill(carrier, clock, [0.5, 2.5, 1.0])  # near: 10, 20, 10 yuan
    reference = flow()
    for _ in range(3):
        await reference.round()
    assert payables(erp) == [(number, "3900000001", 4000, "C")]
    entries = erp.conn.execute(
        "SELECT e.material_number, e.qty, e.amount_cents FROM document_entries AS e"
        " JOIN documents AS d ON d.fid = e.fid WHERE d.bill_no = ?",
        (number,),
    ).fetchall()
    assert [tuple(e) for e in entries] == [(None, 3, 4000)]  # one zone, one fee type
    # A restart (a new flow over the same state) books nothing again.
    await flow().round()
    assert len(payables(erp)) == 1
    assert reference.stats["fee_statements_booked"] == 1


async def test_faulty_books_the_first_kilo_only(parts: Any, clock: ManualClock) -> None:
    carrier, erp, flow = parts
    number = bill(carrier, clock, [0.5, 2.5, 1.0])
    await flow(FeesWithoutWeightFlow).round()
    assert payables(erp) == [(number, "3900000001", 3000, "C")]
