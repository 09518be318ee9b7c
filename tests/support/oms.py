"""OMS test helpers: credentials, method names, a reference signer, a signed caller, trades."""

from __future__ import annotations

import hashlib
from typing import Any

import httpx
import orjson

from fake_systems.common.credentials import OmsCredentials
from fake_systems.oms.service import OmsService
from simulator.clock import ManualClock
from simulator.world import NewTrade, NewTradeLine, World

CREDS = OmsCredentials(sid="ecomock", app_key="oms_test", app_secret="s3cr3t")
QUERY = "sales.TradeQuery.queryWithDetail"
SYNC = "sales.LogisticsSync.update"
TRACE = "sales.LogisticsTrace.upload"
WINDOW = {"start_time": "2026-11-10 20:00:00", "end_time": "2026-11-10 21:00:00"}
PUSH = "sales.RawTrade.pushSelf"
TENANT_A = OmsCredentials(
    sid="ecomock-a", app_key="oms_a", app_secret="secret-a", owners=("OWNER-A",)
)
TENANT_B = OmsCredentials(
    sid="ecomock-b", app_key="oms_b", app_secret="secret-b", owners=("OWNER-B",)
)


def reference_sign(secret: str, params: dict[str, str]) -> str:
    """Re-derived from docs/protocols/oms.md, so the fake and signing.py cannot share a mistake."""
    text = ";".join(
        "%02d-%s:%04d-%s" % (len(name), name, len(params[name]), params[name])  # noqa: UP031
        for name in sorted(params)
        if name != "sign"
    )
    return hashlib.md5((text + secret).encode("utf-8")).hexdigest()


async def call(
    client: httpx.AsyncClient,
    clock: ManualClock,
    method: str,
    body: Any,
    *,
    creds: OmsCredentials = CREDS,
    secret: str | None = None,
    timestamp: int | None = None,
    overrides: dict[str, str] | None = None,
    drop: tuple[str, ...] = (),
    raw: bytes | None = None,
) -> httpx.Response:
    """A wdt call to /openapi signed with `creds`; the keywords build wrong ones on purpose."""
    content = raw if raw is not None else orjson.dumps(body)
    params = {
        "sid": creds.sid,
        "key": creds.app_key,
        "method": method,
        "timestamp": str(int(clock.wall()) if timestamp is None else timestamp),
        "v": "1.0",
    }
    params.update(overrides or {})
    signed = {**params, "body": content.decode("utf-8", errors="replace")}
    params["sign"] = reference_sign(creds.app_secret if secret is None else secret, signed)
    for name in drop:
        params.pop(name, None)
    return await client.post(
        "/openapi", params=params, content=content, headers={"Content-Type": "application/json"}
    )


def trade(world: World, src_tid: str, lines: tuple[NewTradeLine, ...], post: int = 0) -> NewTrade:
    """A paid trade of `lines` in a fixed shop and warehouse of the world."""
    return NewTrade(
        src_tid=src_tid,
        shop_no=world.shops[2].shop_no,
        warehouse_no=world.warehouses[1].code,
        logistics_code=world.warehouses[1].carrier_code,
        receiver=world.customers[3],
        lines=lines,
        post_cents=post,
    )


def simple(world: World, src_tid: str) -> NewTrade:
    """A paid trade of one line."""
    return trade(world, src_tid, (NewTradeLine("1000000000000001", "坚果礼盒", 1, 5900, 5900),))


def raw_trade(world: World, tid: str, **changes: Any) -> dict[str, Any]:
    """A valid trade_list entry: two lines of world goods, a coupon, freight."""
    first, second = world.skus[0], world.skus[1]
    entry: dict[str, Any] = {
        "tid": tid,
        "trade_status": 30,
        "pay_status": 2,
        "trade_time": "2026-11-10 19:58:00",
        "pay_time": "2026-11-10 19:59:30",
        "buyer_nick": "tb_buyer",
        "receiver_name": "张三",
        "receiver_mobile": "13800000000",
        "receiver_province": "浙江省",
        "receiver_city": "杭州市",
        "receiver_district": "西湖区",
        "receiver_address": "文三路 1 号",
        "post_amount": "8.00",
        "paid": "118.00",
        "order_list": [
            {
                "oid": f"{tid}-a",
                "spec_no": first.item_code,
                "goods_name": "push name",
                "num": 2,
                "price": "40.00",
                "share_amount": "70.00",
            },
            {
                "oid": f"{tid}-b",
                "spec_no": second.item_code,
                "goods_name": "",
                "num": "1",
                "price": "40.00",
                "share_amount": "40.00",
            },
        ],
    }
    entry.update(changes)
    return entry


def trade_no_of(oms: OmsService, tid: str) -> str:
    """The OMS trade number given to the platform trade `tid`."""
    return str(
        oms.conn.execute("SELECT trade_no FROM orders WHERE src_tid = ?", (tid,)).fetchone()[0]
    )


def push_two_shops(oms: OmsService, world: World) -> None:
    """Platform trades A1 and A2 into shop TM-A (OWNER-A), B1 into TM-B (OWNER-B)."""
    oms.push_raw_trades("TM-A", [raw_trade(world, "A1"), raw_trade(world, "A2")])
    oms.push_raw_trades("TM-B", [raw_trade(world, "B1")])
