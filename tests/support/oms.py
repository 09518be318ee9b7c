"""OMS test helpers: credentials, method names, 旗舰版 and 企业版 signers, a caller, trades."""

from __future__ import annotations

import hashlib
from typing import Any

import httpx
import orjson

from fake_systems.common.credentials import OmsCredentials
from fake_systems.oms.service import OmsService
from simulator.clock import ManualClock
from simulator.world import NewTrade, NewTradeLine, World

CREDS = OmsCredentials(sid="ecomock", app_key="oms_test", app_secret="s3cr3t:s4lt")
QUERY = "sales.TradeQuery.queryWithDetail"
SHIP = "ecomock.Trade.ship"  # ecomock's: 旺店通 hears of shipments from the warehouse
TRACE = "ecomock.LogisticsTrace.upload"  # ecomock's: 旺店通 has no trace upload
SYNC_ACK = "sales.LogisticsSync.update"
SYNC_LIST = "sales.LogisticsSync.getSyncListExt"
WINDOW = {"start_time": "2026-11-10 20:00:00", "end_time": "2026-11-10 21:00:00"}
PUSH = "sales.RawTrade.pushSelf"
STOCK = "wms.StockSpec.push"
# Methods that take the pager in the query string (and refuse a call without it).
PAGED = frozenset(
    {
        QUERY,
        "aftersales.refund.Refund.search",
        "sales.LogisticsSync.getSyncListExt",
        "setting.Shop.queryShop",
        "setting.Warehouse.queryWarehouse",
    }
)
PAGER = ("page_size", "page_no", "calc_total")
# 旺店通旗舰版 timestamps count from 2012-01-01 00:00:00 (Unix 1325347200).
EPOCH_2012 = 1325347200
TENANT_A = OmsCredentials(
    sid="ecomock-a", app_key="oms_a", app_secret="secret-a:salt-a", owners=("OWNER-A",)
)
TENANT_B = OmsCredentials(
    sid="ecomock-b", app_key="oms_b", app_secret="secret-b:salt-b", owners=("OWNER-B",)
)


def reference_sign(secret: str, params: dict[str, str]) -> str:
    """旗舰版 sign re-derived from the public clients (PHP-WESTNG `makeSign`, DENO-WAYWAKE
    `buildSign`): md5(secret + sorted name+value pairs + secret), so the fake and signing.py
    cannot share a mistake."""
    joined = "".join(name + str(params[name]) for name in sorted(params) if name != "sign")
    return hashlib.md5((secret + joined + secret).encode("utf-8")).hexdigest()


def qyb_sign(secret: str, params: dict[str, str]) -> str:
    """The 企业版 scheme (`LL-name:LLLL-value;…` + appsecret): what a wrong-edition client sends."""
    text = ";".join(
        "%02d-%s:%04d-%s" % (len(name), name, len(params[name]), params[name])  # noqa: UP031
        for name in sorted(params)
        if name != "sign"
    )
    return hashlib.md5((text + secret).encode("utf-8")).hexdigest()


def positional(method: str, body: Any) -> tuple[Any, dict[str, str]]:
    """A test's business object as 旗舰版 arguments, and the pager it named.

    A list is sent as it is (already positional). A push `{shop_no, trade_list}` becomes
    `[shop_no, trade_list]`, a stock push `{stock_list}` becomes `[stock_list]`, any other
    object `[params]` with `page_size`/`page_no`/`calc_total` moved to the query string.
    """
    if not isinstance(body, dict):
        return body, {}
    if method == PUSH and set(body) <= {"shop_no", "trade_list"}:
        return [body.get("shop_no"), body.get("trade_list")], {}
    if method == STOCK and set(body) == {"stock_list"}:
        return [body["stock_list"]], {}
    pager = {name: str(body[name]) for name in PAGER if name in body}
    return [{k: v for k, v in body.items() if k not in PAGER}], pager


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
    paged: bool | None = None,
) -> httpx.Response:
    """A 旗舰版 call to /openapi signed with `creds` as the public clients sign it.

    `body` goes through `positional`; a paged method gets `page_size=40&page_no=0` unless the
    body names its pager or `paged=False`. `timestamp` is the wire value (seconds since
    2012-01-01). The keywords build wrong calls on purpose.
    """
    args, pager = positional(method, body)
    content = raw if raw is not None else orjson.dumps(args)
    secret_part, salt = creds.app_secret.partition(":")[::2]
    params = {
        "sid": creds.sid,
        "key": creds.app_key,
        "salt": salt,
        "method": method,
        "timestamp": str(int(clock.wall()) - EPOCH_2012 if timestamp is None else timestamp),
        "v": "1.0",
    }
    if paged or (paged is None and method in PAGED):
        params.update({"page_size": "40", "page_no": "0", **pager})
    else:
        params.update(pager)
    params.update(overrides or {})
    signed = {**params, "body": content.decode("utf-8", errors="replace")}
    params["sign"] = reference_sign(secret_part if secret is None else secret, signed)
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
    """Platform trades A1 and A2 into shop JD-A (OWNER-A), B1 into JD-B (OWNER-B): JD, as
    `/openapi` queries never return Taobao/Tmall trades."""
    oms.push_raw_trades("JD-A", [raw_trade(world, "A1"), raw_trade(world, "A2")])
    oms.push_raw_trades("JD-B", [raw_trade(world, "B1")])
