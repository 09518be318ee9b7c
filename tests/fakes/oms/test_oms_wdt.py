"""OMS 旺店通旗舰版 adapter over HTTP: signing, common-parameter errors, methods, wire amounts."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import orjson
import pytest

from fake_systems.common.faults import FaultInjector, FaultRule
from fake_systems.common.signing import wdt_sign
from fake_systems.oms.api import wdt
from fake_systems.oms.regions import PROVINCE_IDS
from fake_systems.oms.service import OmsService
from simulator.clock import ManualClock
from simulator.world import NewTradeLine, World
from tests.support.oms import (
    CREDS,
    QUERY,
    SHIP,
    TRACE,
    WINDOW,
    call,
    qyb_sign,
    reference_sign,
    simple,
    trade,
)


def test_sign_worked_example_from_the_docs() -> None:
    # docs/protocols/oms.md, worked example 2 (checked against two public clients).
    params = {
        "sid": "ecomock",
        "key": "oms_demo",
        "salt": "s4lt",
        "method": "sales.LogisticsSync.update",
        "timestamp": "474652800",
        "v": "1.0",
        "body": '[[{"sync_id":88950,"status":0,"error_msg":""}]]',
    }
    assert reference_sign("s3cr3t", params) == "4c432ac8aac68bd72258d25fcc41caa4"
    assert wdt_sign("s3cr3t", params) == "4c432ac8aac68bd72258d25fcc41caa4"


def status_of(oms: OmsService, trade_no: str) -> tuple[int, str | None]:
    row = oms.conn.execute(
        "SELECT trade_status, logistics_no FROM orders WHERE trade_no = ?", (trade_no,)
    ).fetchone()
    return row[0], row[1]


# ---------------------------------------------------------------- query


@pytest.mark.anyio
async def test_query_returns_the_trade_with_amounts_to_the_cent(
    client: httpx.AsyncClient, clock: ManualClock, oms: OmsService, world: World
) -> None:
    lines = (
        NewTradeLine("1000000000000001", "蓝牙耳机", 3, 9999, 29996),
        NewTradeLine("1000000000000002", "赠品", 1, 0, 0),
        NewTradeLine("1000000000000003", "T恤", 2, 4901, 9800),
    )
    trade_no = oms.create_paid_order(trade(world, "TB-778899", lines, post=1001))

    response = await call(client, clock, QUERY, WINDOW)
    assert response.status_code == 200
    answer = response.json()
    assert answer["status"] == 0 and "message" not in answer  # message only with an error
    assert answer["data"]["total_count"] == 1
    got = answer["data"]["order"][0]
    shop, warehouse, customer = world.shops[2], world.warehouses[1], world.customers[3]
    assert got["trade_no"] == trade_no
    assert got["trade_id"] == 1  # the run-wide sequence inside trade_no
    # 旗舰版 field shapes (QJB-DOCS queryWithDetail): src_tids at trade level, integer
    # platform and area ids, trade_time in ms, the other times as text, amounts as numbers.
    assert got["src_tids"] == "TB-778899" and "src_tid" not in got
    assert shop.platform == "DY"  # 抖店
    assert (got["platform_id"], got["sub_platform_id"], got["shop_platform_id"]) == (69, 0, 69)
    assert (got["shop_no"], got["owner_code"]) == (shop.shop_no, shop.owner_code)
    assert (got["warehouse_no"], got["logistics_code"], got["logistics_no"]) == (
        warehouse.code,
        warehouse.carrier_code,
        "",
    )
    assert (got["trade_status"], got["refund_status"], got["trade_type"]) == (30, 0, 1)
    assert got["trade_time"] == 1794312000000  # 2026-11-10 20:00:00 China time, in ms
    assert got["pay_time"] == got["modified"] == "2026-11-10 20:00:00"
    # created (递交时间) in ms too; consign_time "订单未发货不返回该字段": absent until shipped.
    assert got["created"] == 1794312000000 and "consign_time" not in got
    assert (got["receiver_name"], got["receiver_mobile"]) == (customer.name, customer.mobile)
    assert got["receiver_province"] == PROVINCE_IDS[customer.province]
    assert (got["receiver_city"], got["receiver_district"]) == (0, 0)  # 0: not set
    assert got["receiver_area"] == f"{customer.province} {customer.city} {customer.area}"
    assert got["receiver_address"] == customer.address
    # goods 3*99.99 + 0 + 2*49.01 = 397.99; shares 299.96 + 0 + 98.00 = 397.96; post 10.01.
    amounts = ("goods_amount", "discount", "post_amount", "paid", "receivable")
    assert [got[name] for name in amounts] == [397.99, 0.03, 10.01, 407.97, 407.97]
    assert all(isinstance(got[name], float) for name in amounts)
    assert '"goods_amount":397.99' in response.text  # a JSON number, exact to the cent
    assert got["detail_list"] == [
        {
            "rec_id": 1,
            "src_oid": "TB-778899-1",
            "src_tid": "TB-778899",
            "spec_no": "1000000000000001",
            "goods_name": "蓝牙耳机",
            "num": 3,
            "price": 99.99,
            "share_amount": 299.96,
            "refund_status": 0,
        },
        {
            "rec_id": 2,
            "src_oid": "TB-778899-2",
            "src_tid": "TB-778899",
            "spec_no": "1000000000000002",
            "goods_name": "赠品",
            "num": 1,
            "price": 0.0,
            "share_amount": 0.0,
            "refund_status": 0,
        },
        {
            "rec_id": 3,
            "src_oid": "TB-778899-3",
            "src_tid": "TB-778899",
            "spec_no": "1000000000000003",
            "goods_name": "T恤",
            "num": 2,
            "price": 49.01,
            "share_amount": 98.0,
            "refund_status": 0,
        },
    ]


@pytest.mark.anyio
async def test_query_paging_and_status_filter(
    client: httpx.AsyncClient, clock: ManualClock, oms: OmsService, world: World
) -> None:
    created = [oms.create_paid_order(simple(world, f"P{i}")) for i in range(5)]
    oms.sync_logistics(created[0], "SF", "SF0")
    seen: list[str] = []
    for page_no in range(3):
        body = {**WINDOW, "page_size": 2, "page_no": page_no, "status": 30}
        data = (await call(client, clock, QUERY, body)).json()["data"]
        assert data["total_count"] == 4
        seen.extend(t["trade_no"] for t in data["order"])
    assert seen == created[1:]
    # Digit strings are accepted for integers, as PHP clients send them.
    data = (await call(client, clock, QUERY, {**WINDOW, "page_size": "40"})).json()["data"]
    assert data["total_count"] == 5 and len(data["order"]) == 5


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"start_time": "2026-11-10 20:00:00", "end_time": "2026-11-10 21:00:01"}, 100),
        ({"start_time": "2026-11-10 20:00:00"}, 100),
        ({"start_time": "2026/11/10 20:00", "end_time": "2026-11-10 20:10:00"}, 100),
        ({**WINDOW, "page_size": 101}, 100),
        ({**WINDOW, "page_size": "many"}, 1),
        ({**WINDOW, "page_no": -1}, 100),
        ([WINDOW, WINDOW], 1),
        ([[WINDOW]], 1),
    ],
)
async def test_query_bad_params(
    client: httpx.AsyncClient, clock: ManualClock, body: Any, code: int
) -> None:
    response = await call(client, clock, QUERY, body)
    assert response.status_code == 200
    answer = response.json()
    assert answer["status"] == code
    assert answer["message"] and "data" not in answer


# ---------------------------------------------------------------- ship and complete


@pytest.mark.anyio
async def test_ship_and_complete_over_the_wire(
    client: httpx.AsyncClient, clock: ManualClock, oms: OmsService, world: World
) -> None:
    trade_no = oms.create_paid_order(simple(world, "A"))
    ship = {"trade_no": trade_no, "logistics_code": "YTO", "logistics_no": "YT9"}

    clock.advance(90)  # shipped a minute and a half after it entered the OMS
    answer = (await call(client, clock, SHIP, ship)).json()
    assert answer == {"status": 0, "data": {"trade_no": trade_no, "changed": True}}
    assert status_of(oms, trade_no) == (95, "YT9")
    [shipped] = (await call(client, clock, QUERY, WINDOW)).json()["data"]["order"]
    # QJB-DOCS queryWithDetail: consign_time (发货时间) and created (递交时间) in ms.
    assert (shipped["consign_time"], shipped["created"]) == (1794312090000, 1794312000000)
    again = (await call(client, clock, SHIP, ship)).json()
    assert (again["status"], again["data"]["changed"]) == (0, False)

    other = (await call(client, clock, SHIP, {**ship, "logistics_no": "YT10"})).json()
    assert other["status"] == 100
    assert status_of(oms, trade_no) == (95, "YT9")

    trace = {"trade_no": trade_no, "logistics_no": "YT9", "state": 2}
    assert (await call(client, clock, TRACE, trace)).json()["data"]["changed"] is False
    assert status_of(oms, trade_no)[0] == 95
    signed = (await call(client, clock, TRACE, {**trace, "state": "3"})).json()
    assert (signed["status"], signed["data"]["changed"]) == (0, True)
    assert status_of(oms, trade_no)[0] == 110
    repeat = (await call(client, clock, TRACE, {**trace, "state": 3})).json()
    assert (repeat["status"], repeat["data"]["changed"]) == (0, False)


@pytest.mark.anyio
async def test_business_refusals(
    client: httpx.AsyncClient, clock: ManualClock, oms: OmsService, world: World
) -> None:
    trade_no = oms.create_paid_order(simple(world, "A"))
    unknown = {"trade_no": "9999999999999999", "logistics_code": "SF", "logistics_no": "SF1"}
    assert (await call(client, clock, SHIP, unknown)).json()["status"] == 100
    trace_unknown = {"trade_no": "9999999999999999", "logistics_no": "SF1", "state": 3}
    assert (await call(client, clock, TRACE, trace_unknown)).json()["status"] == 100
    not_shipped = {"trade_no": trade_no, "logistics_no": "SF1", "state": 3}
    assert (await call(client, clock, TRACE, not_shipped)).json()["status"] == 100
    no_state = {"trade_no": trade_no, "logistics_no": "SF1"}
    assert (await call(client, clock, TRACE, no_state)).json()["status"] == 100
    blank = {"trade_no": trade_no, "logistics_code": "SF", "logistics_no": "  "}
    assert (await call(client, clock, SHIP, blank)).json()["status"] == 100
    assert status_of(oms, trade_no) == (30, None)


# ---------------------------------------------------------------- authentication and format


@pytest.mark.anyio
async def test_wrong_signature_is_refused_and_changes_nothing(
    client: httpx.AsyncClient, clock: ManualClock, oms: OmsService, world: World
) -> None:
    trade_no = oms.create_paid_order(simple(world, "A"))
    ship = {"trade_no": trade_no, "logistics_code": "SF", "logistics_no": "SF1"}
    answer = (await call(client, clock, SHIP, ship, secret="not-the-secret")).json()
    assert answer["status"] == 1
    assert status_of(oms, trade_no) == (30, None)

    # Signed over one body, sent with another: the body is part of the sign.
    secret = CREDS.app_secret.split(":")[0]
    params = {
        "sid": CREDS.sid,
        "key": CREDS.app_key,
        "salt": "s4lt",
        "method": SHIP,
        "timestamp": str(int(clock.wall()) - 1325347200),
        "v": "1.0",
    }
    params["sign"] = reference_sign(secret, {**params, "body": "[]"})
    tampered = await client.post("/openapi", params=params, content=orjson.dumps([ship]))
    assert tampered.json() == {"status": 1, "message": "验证失败"}
    assert status_of(oms, trade_no) == (30, None)

    # An upper-case hex sign is the same sign.
    params["sign"] = reference_sign(secret, {**params, "body": orjson.dumps([ship]).decode()})
    params["sign"] = params["sign"].upper()
    accepted = await client.post("/openapi", params=params, content=orjson.dumps([ship]))
    assert accepted.json()["status"] == 0


# The wire timestamp of the fake's wall clock (1_800_000_000): seconds since 2012-01-01.
NOW_2012 = 1_800_000_000 - 1325347200


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("kwargs", "code", "message"),
    [
        ({"timestamp": NOW_2012 - 121}, 7, "时间戳错误"),
        ({"timestamp": NOW_2012 + 121}, 7, "时间戳错误"),
        # Unix seconds, as the 企业版 counts them: 13 years off.
        ({"timestamp": 1_800_000_000}, 7, "时间戳错误"),
        ({"timestamp": 1_800_000_000_000}, 1, 'For input string: "1800000000000"'),
        ({"overrides": {"key": "oms_other"}}, 1, "app auth fail"),
        ({"overrides": {"sid": "someone-else"}}, 1, "sid is not exists"),
        ({"overrides": {"salt": "other-salt"}}, 1, "app auth fail"),
        ({"secret": "not-the-secret"}, 1, "验证失败"),
        ({"overrides": {"method": "sales.Trade.delete"}}, 1, None),
        ({"overrides": {"v": "2.0"}}, 8, "版本错误"),
        ({"overrides": {"timestamp": "yesterday"}}, 1, 'For input string: "yesterday"'),
        ({"overrides": {"body": "x"}}, 1, None),
        ({"drop": ("sign",)}, 1, None),
        ({"drop": ("salt",)}, 1, None),
        ({"drop": ("timestamp",)}, 1, None),
        ({"drop": ("sid",)}, 1, None),
        ({"paged": False}, 100, "此方法仅支持分页查询：sales.TradeQuery.queryWithDetail"),
        ({"raw": b'[{"start_time": "2026-11-10 20:00:00",'}, 1, None),
        ({"raw": b""}, 1, None),
        ({"raw": b"\xff\xfe"}, 1, None),
        ({"raw": orjson.dumps(WINDOW)}, 1, None),  # an object, not the array of arguments
    ],
)
async def test_common_parameter_errors(
    client: httpx.AsyncClient,
    clock: ManualClock,
    oms: OmsService,
    kwargs: Any,
    code: int,
    message: str | None,
) -> None:
    assert clock.wall() == 1_800_000_000
    response = await call(client, clock, QUERY, WINDOW, **kwargs)
    assert response.status_code == 200
    answer = response.json()
    assert answer["status"] == code and "data" not in answer
    if message is not None:
        assert answer["message"] == message
    else:
        assert answer["message"].startswith("参数错误")
    recorded = oms.conn.execute(
        "SELECT kind, outcome FROM events WHERE kind = 'api_in' ORDER BY seq"
    ).fetchall()
    assert [tuple(r) for r in recorded] == [("api_in", str(code))]


@pytest.mark.anyio
async def test_a_request_signed_the_enterprise_edition_way_is_refused(
    client: httpx.AsyncClient, clock: ManualClock, oms: OmsService, world: World
) -> None:
    """企业版 (qyb): Unix seconds, `appkey`, `LL-name:LLLL-value;…` + appsecret (the old fake)."""
    trade_no = oms.create_paid_order(simple(world, "A"))
    body = orjson.dumps({"trade_no": trade_no, "logistics_code": "SF", "logistics_no": "SF1"})
    params = {
        "sid": CREDS.sid,
        "key": CREDS.app_key,
        "method": SHIP,
        "timestamp": str(int(clock.wall())),
        "v": "1.0",
    }
    params["sign"] = qyb_sign(CREDS.app_secret, {**params, "body": body.decode()})
    answer = (await client.post("/openapi", params=params, content=body)).json()
    assert answer["status"] == 1
    # Even with the salt and a 旗舰版 timestamp, the 企业版 sign is not the sign.
    params.update(salt="s4lt", timestamp=str(NOW_2012))
    params["sign"] = qyb_sign(CREDS.app_secret, {**params, "body": body.decode()})
    answer = (await client.post("/openapi", params=params, content=body)).json()
    assert answer == {"status": 1, "message": "验证失败"}
    assert status_of(oms, trade_no) == (30, None)


@pytest.mark.anyio
async def test_timestamp_within_tolerance_is_accepted(
    client: httpx.AsyncClient, clock: ManualClock
) -> None:
    for skew in (-120, 120):
        response = await call(client, clock, QUERY, WINDOW, timestamp=NOW_2012 + skew)
        assert response.json()["status"] == 0


@pytest.mark.anyio
async def test_rate_limit_answers_status_100_with_the_documented_message(
    oms: OmsService, clock: ManualClock, asgi_client: Callable[[object], httpx.AsyncClient]
) -> None:
    client = asgi_client(wdt.create_app(oms, CREDS, rate_limit=2))
    assert [(await call(client, clock, QUERY, WINDOW)).json()["status"] for _ in range(2)] == [0, 0]
    throttled = (await call(client, clock, QUERY, WINDOW)).json()
    assert throttled == {"status": 100, "message": "超过每分钟最大调用频率限制，请稍后重试"}
    # Per method: another method still passes in the same minute.
    assert (await call(client, clock, "setting.Shop.queryShop", {})).json()["status"] == 0
    recorded = oms.conn.execute(
        "SELECT outcome FROM events WHERE kind = 'api_in' ORDER BY seq"
    ).fetchall()
    assert [r[0] for r in recorded] == ["ok", "ok", "100", "ok"]
    clock.advance(60 * clock.scale)  # the next wall minute
    assert (await call(client, clock, QUERY, WINDOW)).json()["status"] == 0


@pytest.mark.anyio
async def test_every_request_is_recorded_without_the_sign(
    client: httpx.AsyncClient, clock: ManualClock, oms: OmsService, world: World
) -> None:
    trade_no = oms.create_paid_order(simple(world, "A"))
    ship = {"trade_no": trade_no, "logistics_code": "SF", "logistics_no": "SF1"}
    await call(client, clock, SHIP, ship)
    await call(client, clock, SHIP, {**ship, "logistics_no": "SF2"})
    rows = oms.conn.execute(
        "SELECT operation, outcome, entity, payload FROM events WHERE kind = 'api_in' ORDER BY seq"
    ).fetchall()
    assert [(r[0], r[1], r[2]) for r in rows] == [(SHIP, "ok", trade_no), (SHIP, "100", trade_no)]
    payload = orjson.loads(rows[0][3])
    assert payload["query"]["sign"] == "***"
    assert payload["body"] == [ship]
    assert CREDS.app_secret not in rows[0][3]


@pytest.mark.anyio
async def test_unforeseen_error_answers_in_protocol_format(
    client: httpx.AsyncClient, clock: ManualClock, oms: OmsService, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(oms, "query_trades", broken)
    response = await call(client, clock, QUERY, WINDOW)
    assert response.status_code == 200
    assert response.json() == {"status": 99, "message": "其他错误"}
    assert "disk on fire" not in response.text
    recorded = oms.conn.execute("SELECT outcome FROM events WHERE kind = 'api_in'").fetchall()
    assert [r[0] for r in recorded] == ["99"]


@pytest.mark.anyio
async def test_lost_response_fault_does_the_work_then_times_out(
    client: httpx.AsyncClient, clock: ManualClock, oms: OmsService, world: World
) -> None:
    oms.ctx.faults = FaultInjector([FaultRule("oms", SHIP, "lost_response", 1.0)], seed=1)
    trade_no = oms.create_paid_order(simple(world, "A"))
    ship = {"trade_no": trade_no, "logistics_code": "SF", "logistics_no": "SF1"}
    response = await call(client, clock, SHIP, ship)
    assert response.status_code == 504
    assert status_of(oms, trade_no) == (95, "SF1")
    faults = oms.conn.execute("SELECT outcome FROM events WHERE kind = 'fault'").fetchall()
    assert [f[0] for f in faults] == ["lost_response"]
    # The connector's retry with the same waybill is then answered as a success.
    oms.ctx.faults = FaultInjector([], seed=1)
    retry = (await call(client, clock, SHIP, ship)).json()
    assert (retry["status"], retry["data"]["changed"]) == (0, False)
