"""The OMS's settlement bills: issued and paid by the platforms (the simulator), read with
ecomock.Settlement.search by number or issue window, each owner seeing only its own."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import orjson
import pytest

from fake_systems.oms.api import wdt
from fake_systems.oms.service import OmsService
from fake_systems.oms.settlements import SettlementBill, SettlementLine
from simulator.clock import ManualClock, format_qimen_time
from simulator.world import World
from tests.support.oms import CREDS, TENANT_A, TENANT_B, call

SEARCH = "ecomock.Settlement.search"


@pytest.fixture
def bill(oms: OmsService, world: World) -> SettlementBill:
    """A paid bill of an OWNER-B shop (the test world's owners are OWNER-A and OWNER-B, as
    the tenants' credentials): two trades, one partly refunded, an adjustment."""
    shop = next(s for s in world.shops if s.owner_code == "OWNER-B")
    issued = SettlementBill(
        settlement_no=f"ST20261111-{shop.shop_no}",
        shop_no=shop.shop_no,
        platform=shop.platform,
        owner_code=shop.owner_code,
        period_end="2026-11-10",
        lines=(
            SettlementLine("T1", "P1", 10_000, 0, 500, "2026-11-10 10:00:00"),
            SettlementLine("T2", "P2", 5_990, 1_990, 200, "2026-11-10 12:00:00"),
        ),
        adjustment_cents=-123,
        adjustment_reason="平台扣款",
    )
    oms.settlements.issue(issued)
    oms.settlements.mark_paid(issued.settlement_no, "BK1")
    return issued


@pytest.fixture
def client(
    oms: OmsService, asgi_client: Callable[[object], httpx.AsyncClient]
) -> httpx.AsyncClient:
    return asgi_client(wdt.create_app(oms, CREDS, [TENANT_A, TENANT_B]))


@pytest.mark.anyio
async def test_a_bill_reads_back_with_its_lines_in_yuan(
    client: httpx.AsyncClient, clock: ManualClock, bill: SettlementBill
) -> None:
    answer = (
        await call(client, clock, SEARCH, {"settlement_no": bill.settlement_no}, paged=True)
    ).json()
    assert answer["status"] == 0
    [wire] = answer["data"]["order"]
    assert (wire["status"], wire["bank_entry_ref"], wire["adjust_reason"]) == (
        "paid",
        "BK1",
        "平台扣款",
    )
    # 100.00 + 59.90 paid, 19.90 refunded, 7.00 commission, -1.23 adjusted.
    assert (wire["send_amount"], wire["refund_amount"], wire["commission"]) == (159.9, 19.9, 7.0)
    assert (wire["adjust_amount"], wire["settle_amount"]) == (-1.23, 131.77)
    assert [(d["trade_no"], d["settle_amount"]) for d in wire["detail_list"]] == [
        ("T1", 95.0),
        ("T2", 38.0),
    ]


@pytest.mark.anyio
async def test_bills_by_issue_window(
    client: httpx.AsyncClient, clock: ManualClock, bill: SettlementBill
) -> None:
    now = format_qimen_time(clock.now())
    window = {"start_time": "2026-01-01 00:00:00", "end_time": "2099-01-01 00:00:00"}
    answer = (await call(client, clock, SEARCH, window, paged=True)).json()
    assert [b["settlement_no"] for b in answer["data"]["order"]] == [bill.settlement_no]
    empty = (
        await call(client, clock, SEARCH, {"start_time": now, "end_time": now}, paged=True)
    ).json()
    assert empty["data"] == {"total_count": 0, "order": []}
    bad = (
        await call(client, clock, SEARCH, {"start_time": "yesterday", "end_time": now}, paged=True)
    ).json()
    assert bad["status"] == 100 and "start_time" in bad["message"]
    unpaged = (await call(client, clock, SEARCH, window, paged=False)).json()
    assert unpaged["status"] == 100


@pytest.mark.anyio
async def test_another_owners_bill_answers_exactly_like_a_missing_one(
    client: httpx.AsyncClient, clock: ManualClock, bill: SettlementBill
) -> None:
    foreign, missing = bill.settlement_no, "ST20261111-NEVER"
    answers = []
    for number in (foreign, missing):
        answer = (
            await call(client, clock, SEARCH, {"settlement_no": number}, creds=TENANT_A, paged=True)
        ).json()
        answers.append(
            orjson.dumps(answer, option=orjson.OPT_SORT_KEYS).decode().replace(number, "@")
        )
    assert answers[0] == answers[1]
    assert orjson.loads(answers[0])["status"] == 100
    window = {"start_time": "2026-01-01 00:00:00", "end_time": "2099-01-01 00:00:00"}
    seen_a = (await call(client, clock, SEARCH, window, creds=TENANT_A, paged=True)).json()
    assert seen_a["data"]["total_count"] == 0
    seen_b = (await call(client, clock, SEARCH, window, creds=TENANT_B, paged=True)).json()
    assert seen_b["data"]["total_count"] == 1
