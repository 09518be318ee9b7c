"""Carrier fees: the price card, fee statements per account and express company (a parcel's
way out and way back each billed once), and ecomock's RequestType 1950 that serves them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import httpx
import pytest

from fake_systems.carrier.api.kdniao import create_app
from fake_systems.carrier.fees import FAR, NEAR, SAME, fee_cents, weight_grams, zone
from fake_systems.carrier.service import CarrierService
from tests.support.carrier import CREDENTIALS, EORDER, FIXED, OTHER, envelope, post

HOUR = 3600.0
GUANGZHOU = ("广东省", "广东省")


@pytest.fixture
def carrier(make_context, world) -> CarrierService:
    service = CarrierService(make_context("carrier"), CREDENTIALS, FIXED)
    service.setup(world)
    return service


@pytest.fixture
def tenanted(
    carrier: CarrierService, asgi_client: Callable[[object], httpx.AsyncClient]
) -> httpx.AsyncClient:
    return asgi_client(create_app(carrier, CREDENTIALS, [OTHER]))


def test_zones_by_province():
    assert zone("广东省", "广东省") == SAME
    assert zone("广东省", "湖南省") == NEAR
    assert zone("四川省", "重庆市") == NEAR
    assert zone("广东省", "黑龙江省") == FAR
    assert zone("广东省", "") == FAR  # a receiver not known is billed as far
    assert zone("北京市", "天津市") == FAR  # no neighbours listed for that sender


def test_fee_by_started_kilo():
    assert fee_cents(0, SAME) == 800  # at least the first kilo
    assert fee_cents(1000, SAME) == 800
    assert fee_cents(1001, SAME) == 1000  # a started kilo is a kilo
    assert fee_cents(2500, NEAR) == 1000 + 2 * 500
    assert fee_cents(3000, FAR) == 1200 + 2 * 800
    assert weight_grams(1.2345) == 1235  # half up, through Decimal, not binary floats
    assert weight_grams(0.0005) == 1


def _period(carrier: CarrierService, hours: float):
    start = carrier.ctx.clock.now()
    return start, start + timedelta(hours=hours)


def test_statement_bills_each_parcel_and_its_return_once(carrier, clock):
    start, end = _period(carrier, 24)
    out = carrier.issue_waybill("T-1", "SF")
    back = carrier.issue_waybill("T-2", "SF")
    carrier.hand_over(out, "SF", 1.2, GUANGZHOU)
    carrier.hand_over(back, "SF", 0.4, ("广东省", "黑龙江省"))
    clock.advance(5 * HOUR)
    carrier.intercept("SF", back, "T-2", "买家取消订单")
    clock.advance(18 * HOUR)  # stopped at 11 h, back with the sender 11 h later: 22 h
    clock.advance(2 * HOUR)
    numbers = carrier.close_fee_period(start, end)
    assert numbers == [f"FS{start:%Y%m%d}-SF-{CREDENTIALS.ebusiness_id}"]
    lines = carrier.ctx.conn.execute(
        "SELECT logistic_code, kind, weight_grams, zone, fee_cents FROM fee_statement_lines"
        " ORDER BY seq"
    ).fetchall()
    assert [tuple(line) for line in lines] == [
        (out, "delivery", 1200, SAME, 1000),
        (back, "delivery", 400, FAR, 1200),
        (back, "return", 400, FAR, 1200),
    ]
    header = carrier.ctx.conn.execute("SELECT total_cents, line_count FROM fee_statements")
    assert tuple(header.fetchone()) == (3400, 3)
    assert carrier.close_fee_period(start, end) == []  # nothing is billed twice


def test_a_return_after_the_period_goes_on_the_next_statement(carrier, clock):
    start, end = _period(carrier, 6)
    code = carrier.issue_waybill("T-1", "SF")
    carrier.hand_over(code, "SF", 1.0, GUANGZHOU)
    clock.advance(5 * HOUR)
    carrier.intercept("SF", code, "T-1", "")
    clock.advance(2 * HOUR)
    first = carrier.close_fee_period(start, end)
    clock.advance(30 * HOUR)
    second = carrier.close_fee_period(end, end + timedelta(days=2))
    kinds = carrier.ctx.conn.execute(
        "SELECT statement_no, kind FROM fee_statement_lines ORDER BY statement_no"
    ).fetchall()
    assert [tuple(k) for k in kinds] == [(first[0], "delivery"), (second[0], "return")]


@pytest.mark.anyio
async def test_1950_lists_statements_then_pages_their_lines(tenanted, carrier, clock):
    start, end = _period(carrier, 1)
    codes = [carrier.issue_waybill(f"T-{n}", "SF") for n in range(3)]
    for code in codes:
        carrier.hand_over(code, "SF", 2.5, ("广东省", "湖南省"))
    clock.advance(2 * HOUR)
    (number,) = carrier.close_fee_period(start, end)
    listed = await post(tenanted, EORDER, envelope("1950", {}))
    assert listed["Success"] is True and listed["Total"] == 1
    assert listed["Statements"][0] == {
        "StatementNo": number,
        "ShipperCode": "SF",
        "ShipperName": "顺丰速运",
        "PeriodStart": listed["Statements"][0]["PeriodStart"],
        "PeriodEnd": listed["Statements"][0]["PeriodEnd"],
        "CloseTime": listed["Statements"][0]["CloseTime"],
        "TotalFee": "60.00",
        "LineCount": 3,
    }
    pages = [
        await post(
            tenanted,
            EORDER,
            envelope("1950", {"StatementNo": number, "PageIndex": page, "PageSize": 2}),
        )
        for page in (1, 2)
    ]
    lines = [line for page in pages for line in page["Lines"]]
    # By hand-over time, then number: all three left at once.
    assert [line["LogisticCode"] for line in lines] == sorted(codes)
    assert lines[0] | {"LogisticCode": ""} == {
        "LogisticCode": "",
        "FeeType": "delivery",
        "Weight": "2.500",
        "SenderProvince": "广东省",
        "ReceiverProvince": "湖南省",
        "Zone": NEAR,
        "Fee": "20.00",
        "EventTime": lines[0]["EventTime"],
    }
    # Another account sees none of it: not listed, and the number is as unknown as none.
    theirs = await post(tenanted, EORDER, envelope("1950", {}, OTHER))
    assert (theirs["Success"], theirs["Total"], theirs["Statements"]) == (True, 0, [])
    peek = await post(tenanted, EORDER, envelope("1950", {"StatementNo": number}, OTHER))
    assert (peek["Success"], peek["ResultCode"]) == (False, "105")


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("data", "code"),
    [
        ({"PageSize": 101}, "103"),
        ({"PageSize": 0}, "103"),
        ({"PageIndex": "x"}, "103"),
        ({"StatementNo": ["FS"]}, "103"),
        ({"StatementNo": "FS20990101-SF-none"}, "105"),
    ],
)
async def test_1950_bad_input_in_kdniao_errors(tenanted, data, code):
    answer = await post(tenanted, EORDER, envelope("1950", data))
    assert (answer["Success"], answer["ResultCode"]) == (False, code)
    assert answer["Reason"]
