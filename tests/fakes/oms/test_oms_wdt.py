"""OMS 旺店通-style adapter over HTTP: signing, common-parameter errors, methods, wire amounts."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import pytest

from fake_systems.common.faults import FaultInjector, FaultRule
from fake_systems.common.signing import wdt_sign
from fake_systems.oms.service import OmsService
from simulator.clock import ManualClock
from simulator.world import NewTradeLine, World
from tests.support.oms import CREDS, QUERY, SYNC, TRACE, WINDOW, call, reference_sign, simple, trade


def test_sign_worked_example_from_the_docs() -> None:
    body = '{"trade_no":"2026111000000001","logistics_code":"SF","logistics_no":"SF1234567890"}'
    params = {
        "sid": "ecomock",
        "key": "oms_demo",
        "method": SYNC,
        "timestamp": "1800000000",
        "v": "1.0",
        "body": body,
    }
    assert reference_sign("s3cr3t", params) == "7d630d413e85c096a35ee253f7384466"
    assert wdt_sign("s3cr3t", params) == "7d630d413e85c096a35ee253f7384466"


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
    assert (answer["status"], answer["message"]) == (0, "ok")
    assert answer["data"]["total_count"] == 1
    got = answer["data"]["order"][0]
    shop, warehouse, customer = world.shops[2], world.warehouses[1], world.customers[3]
    assert got["trade_no"] == trade_no
    assert got["src_tid"] == "TB-778899"
    assert (got["platform_id"], got["shop_no"], got["owner_code"]) == (
        shop.platform,
        shop.shop_no,
        shop.owner_code,
    )
    assert (got["warehouse_no"], got["logistics_code"], got["logistics_no"]) == (
        warehouse.code,
        warehouse.carrier_code,
        "",
    )
    assert got["trade_status"] == 30
    assert got["trade_time"] == got["pay_time"] == got["modified"] == "2026-11-10 20:00:00"
    assert (got["receiver_name"], got["receiver_mobile"], got["receiver_district"]) == (
        customer.name,
        customer.mobile,
        customer.area,
    )
    assert (got["receiver_province"], got["receiver_city"], got["receiver_address"]) == (
        customer.province,
        customer.city,
        customer.address,
    )
    # goods 3*99.99 + 0 + 2*49.01 = 397.99; shares 299.96 + 0 + 98.00 = 397.96; post 10.01.
    assert got["goods_amount"] == "397.99"
    assert got["discount"] == "0.03"
    assert got["post_amount"] == "10.01"
    assert got["paid"] == "407.97"
    assert got["detail_list"] == [
        {
            "rec_id": 1,
            "src_oid": "TB-778899-1",
            "src_tid": "TB-778899",
            "spec_no": "1000000000000001",
            "goods_name": "蓝牙耳机",
            "num": 3,
            "price": "99.99",
            "share_amount": "299.96",
            "refund_status": 0,
        },
        {
            "rec_id": 2,
            "src_oid": "TB-778899-2",
            "src_tid": "TB-778899",
            "spec_no": "1000000000000002",
            "goods_name": "赠品",
            "num": 1,
            "price": "0.00",
            "share_amount": "0.00",
            "refund_status": 0,
        },
        {
            "rec_id": 3,
            "src_oid": "TB-778899-3",
            "src_tid": "TB-778899",
            "spec_no": "1000000000000003",
            "goods_name": "T恤",
            "num": 2,
            "price": "49.01",
            "share_amount": "98.00",
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
        ({"start_time": "2026-11-10 20:00:00", "end_time": "2026-11-10 21:00:01"}, 1501),
        ({"start_time": "2026-11-10 20:00:00"}, 1500),
        ({"start_time": "2026/11/10 20:00", "end_time": "2026-11-10 20:10:00"}, 1500),
        ({**WINDOW, "page_size": 101}, 1500),
        ({**WINDOW, "page_size": "many"}, 1500),
        ({**WINDOW, "page_no": True}, 1500),
        ({**WINDOW, "page_no": -1}, 1500),
        ([WINDOW], 1500),
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

    answer = (await call(client, clock, SYNC, ship)).json()
    assert answer == {"status": 0, "message": "ok", "data": {"trade_no": trade_no, "changed": True}}
    assert status_of(oms, trade_no) == (95, "YT9")
    again = (await call(client, clock, SYNC, ship)).json()
    assert (again["status"], again["data"]["changed"]) == (0, False)

    other = (await call(client, clock, SYNC, {**ship, "logistics_no": "YT10"})).json()
    assert other["status"] == 2002
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
    assert (await call(client, clock, SYNC, unknown)).json()["status"] == 2001
    trace_unknown = {"trade_no": "9999999999999999", "logistics_no": "SF1", "state": 3}
    assert (await call(client, clock, TRACE, trace_unknown)).json()["status"] == 2001
    not_shipped = {"trade_no": trade_no, "logistics_no": "SF1", "state": 3}
    assert (await call(client, clock, TRACE, not_shipped)).json()["status"] == 2002
    no_state = {"trade_no": trade_no, "logistics_no": "SF1"}
    assert (await call(client, clock, TRACE, no_state)).json()["status"] == 1500
    blank = {"trade_no": trade_no, "logistics_code": "SF", "logistics_no": "  "}
    assert (await call(client, clock, SYNC, blank)).json()["status"] == 1500
    assert status_of(oms, trade_no) == (30, None)


# ---------------------------------------------------------------- authentication and format


@pytest.mark.anyio
async def test_wrong_signature_is_refused_and_changes_nothing(
    client: httpx.AsyncClient, clock: ManualClock, oms: OmsService, world: World
) -> None:
    trade_no = oms.create_paid_order(simple(world, "A"))
    ship = {"trade_no": trade_no, "logistics_code": "SF", "logistics_no": "SF1"}
    answer = (await call(client, clock, SYNC, ship, secret="not-the-secret")).json()
    assert answer["status"] == 1200
    assert status_of(oms, trade_no) == (30, None)

    # Signed over one body, sent with another: the body is part of the sign.
    params = {
        "sid": CREDS.sid,
        "key": CREDS.app_key,
        "method": SYNC,
        "timestamp": str(int(clock.wall())),
        "v": "1.0",
    }
    params["sign"] = reference_sign(CREDS.app_secret, {**params, "body": "{}"})
    tampered = await client.post("/openapi", params=params, content=orjson.dumps(ship))
    assert tampered.json()["status"] == 1200
    assert status_of(oms, trade_no) == (30, None)

    # An upper-case hex sign is the same sign.
    params["sign"] = reference_sign(
        CREDS.app_secret, {**params, "body": orjson.dumps(ship).decode()}
    )
    params["sign"] = params["sign"].upper()
    accepted = await client.post("/openapi", params=params, content=orjson.dumps(ship))
    assert accepted.json()["status"] == 0


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"timestamp": 1_800_000_000 - 121}, 1300),
        ({"timestamp": 1_800_000_000 + 121}, 1300),
        ({"overrides": {"key": "oms_other"}}, 1100),
        ({"overrides": {"sid": "someone-else"}}, 1101),
        ({"overrides": {"method": "sales.Trade.delete"}}, 1400),
        ({"overrides": {"v": "2.0"}}, 1001),
        ({"overrides": {"timestamp": "yesterday"}}, 1001),
        ({"overrides": {"body": "x"}}, 1001),
        ({"drop": ("sign",)}, 1001),
        ({"drop": ("timestamp",)}, 1001),
        ({"drop": ("sid",)}, 1001),
        ({"raw": b'{"start_time": "2026-11-10 20:00:00",'}, 1500),
        ({"raw": b""}, 1500),
        ({"raw": b"\xff\xfe"}, 1500),
    ],
)
async def test_common_parameter_errors(
    client: httpx.AsyncClient, clock: ManualClock, oms: OmsService, kwargs: Any, code: int
) -> None:
    assert clock.wall() == 1_800_000_000
    response = await call(client, clock, QUERY, WINDOW, **kwargs)
    assert response.status_code == 200
    assert response.json()["status"] == code
    recorded = oms.conn.execute(
        "SELECT kind, outcome FROM events WHERE kind = 'api_in' ORDER BY seq"
    ).fetchall()
    assert [tuple(r) for r in recorded] == [("api_in", str(code))]


@pytest.mark.anyio
async def test_timestamp_within_tolerance_is_accepted(
    client: httpx.AsyncClient, clock: ManualClock
) -> None:
    for skew in (-120, 120):
        response = await call(client, clock, QUERY, WINDOW, timestamp=1_800_000_000 + skew)
        assert response.json()["status"] == 0


@pytest.mark.anyio
async def test_every_request_is_recorded_without_the_sign(
    client: httpx.AsyncClient, clock: ManualClock, oms: OmsService, world: World
) -> None:
    trade_no = oms.create_paid_order(simple(world, "A"))
    ship = {"trade_no": trade_no, "logistics_code": "SF", "logistics_no": "SF1"}
    await call(client, clock, SYNC, ship)
    await call(client, clock, SYNC, {**ship, "logistics_no": "SF2"})
    rows = oms.conn.execute(
        "SELECT operation, outcome, entity, payload FROM events WHERE kind = 'api_in' ORDER BY seq"
    ).fetchall()
    assert [(r[0], r[1], r[2]) for r in rows] == [(SYNC, "ok", trade_no), (SYNC, "2002", trade_no)]
    payload = orjson.loads(rows[0][3])
    assert payload["query"]["sign"] == "***"
    assert payload["body"] == ship
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
    assert response.json() == {"status": 9999, "message": "internal error"}
    assert "disk on fire" not in response.text
    recorded = oms.conn.execute("SELECT outcome FROM events WHERE kind = 'api_in'").fetchall()
    assert [r[0] for r in recorded] == ["9999"]


@pytest.mark.anyio
async def test_lost_response_fault_does_the_work_then_times_out(
    client: httpx.AsyncClient, clock: ManualClock, oms: OmsService, world: World
) -> None:
    oms.ctx.faults = FaultInjector([FaultRule("oms", SYNC, "lost_response", 1.0)], seed=1)
    trade_no = oms.create_paid_order(simple(world, "A"))
    ship = {"trade_no": trade_no, "logistics_code": "SF", "logistics_no": "SF1"}
    response = await call(client, clock, SYNC, ship)
    assert response.status_code == 504
    assert status_of(oms, trade_no) == (95, "SF1")
    faults = oms.conn.execute("SELECT outcome FROM events WHERE kind = 'fault'").fetchall()
    assert [f[0] for f in faults] == ["lost_response"]
    # The connector's retry with the same waybill is then answered as a success.
    oms.ctx.faults = FaultInjector([], seed=1)
    retry = (await call(client, clock, SYNC, ship)).json()
    assert (retry["status"], retry["data"]["changed"]) == (0, False)
