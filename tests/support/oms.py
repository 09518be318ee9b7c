"""OMS test helpers: credentials, method names, a reference signer, a signed caller, trades."""

from __future__ import annotations

import hashlib
from typing import Any

import httpx
import orjson

from fake_systems.common.credentials import OmsCredentials
from fake_systems.oms.models import RefundType
from fake_systems.oms.service import OmsService
from simulator.clock import ManualClock
from simulator.world import NewTrade, NewTradeLine, World
from tests.support.site import Site

CREDS = OmsCredentials(sid="ecomock", app_key="oms_test", app_secret="s3cr3t")
QUERY = "sales.TradeQuery.queryWithDetail"
SYNC = "sales.LogisticsSync.update"
TRACE = "sales.LogisticsTrace.upload"
WINDOW = {"start_time": "2026-11-10 20:00:00", "end_time": "2026-11-10 21:00:00"}
PUSH = "sales.RawTrade.pushSelf"
REFUNDS = "aftersales.refund.Refund.search"
SYNC_LIST = "sales.LogisticsSync.getSyncListExt"
STOCK = "wms.StockSpec.push"
SHOPS = "setting.Shop.queryShop"
WAREHOUSES = "setting.Warehouse.queryWarehouse"
WAYBILL = "SF1000000001"  # the waybill the valid write-backs name
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


def request(
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
) -> httpx.Request:
    """A wdt call to /openapi signed with `creds`, not sent; the keywords build wrong ones on
    purpose."""
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
    return client.build_request(
        "POST",
        "/openapi",
        params=params,
        content=content,
        headers={"Content-Type": "application/json"},
    )


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
    """Send `request(...)`: a signed wdt call (or a wrong one, by the keywords)."""
    built = request(
        client,
        clock,
        method,
        body,
        creds=creds,
        secret=secret,
        timestamp=timestamp,
        overrides=overrides,
        drop=drop,
        raw=raw,
    )
    return await client.send(built)


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


# ---------------------------------------------------------------- one valid request per method
# Each builds what its method needs on `site` (through the service), then the request the
# connector's credential would sign; tests/support/operations.py holds the table of them.


def _signed(site: Site, method: str, body: Any) -> httpx.Request:
    return request(site.clients["oms"], site.clock, method, body, creds=site.credentials.oms)


def _paid(site: Site, tid: str) -> str:
    """A paid trade of one world good in the OMS; its trade_no."""
    line = NewTradeLine(site.world.skus[0].item_code, "坚果礼盒", 1, 5900, 5900)
    return site.ecosystem.oms.create_paid_order(trade(site.world, tid, (line,)))


async def valid_query(site: Site) -> httpx.Request:
    """sales.TradeQuery.queryWithDetail over the hour that holds one paid trade."""
    _paid(site, "LOST-Q1")
    return _signed(site, QUERY, WINDOW)


async def valid_sync(site: Site) -> httpx.Request:
    """sales.LogisticsSync.update: a paid trade's waybill."""
    trade_no = _paid(site, "LOST-S1")
    return _signed(
        site, SYNC, {"trade_no": trade_no, "logistics_code": "SF", "logistics_no": WAYBILL}
    )


async def valid_trace(site: Site) -> httpx.Request:
    """sales.LogisticsTrace.upload: a shipped trade signed for."""
    trade_no = _paid(site, "LOST-T1")
    site.ecosystem.oms.sync_logistics(trade_no, "SF", WAYBILL)
    return _signed(site, TRACE, {"trade_no": trade_no, "logistics_no": WAYBILL, "state": 3})


async def valid_push(site: Site) -> httpx.Request:
    """sales.RawTrade.pushSelf: one platform trade into the first shop."""
    body = {
        "shop_no": site.world.shops[0].shop_no,
        "trade_list": [raw_trade(site.world, "LOST-P1")],
    }
    return _signed(site, PUSH, body)


async def valid_refunds(site: Site) -> httpx.Request:
    """aftersales.refund.Refund.search over the hour of one refund."""
    site.ecosystem.oms.create_refund(_paid(site, "LOST-R1"), RefundType.REFUND_BEFORE_SHIPMENT)
    return _signed(
        site, REFUNDS, {"modified_from": WINDOW["start_time"], "modified_to": WINDOW["end_time"]}
    )


async def valid_sync_list(site: Site) -> httpx.Request:
    """sales.LogisticsSync.getSyncListExt: the first page, one trade awaiting its waybill."""
    _paid(site, "LOST-L1")
    return _signed(site, SYNC_LIST, {"page_size": 10, "page_no": 0})


async def valid_stock(site: Site) -> httpx.Request:
    """wms.StockSpec.push: one goods spec's stock in one warehouse."""
    entry = {
        "spec_no": site.world.skus[0].item_code,
        "warehouse_no": site.world.warehouses[0].code,
        "stock_num": 7,
    }
    return _signed(site, STOCK, {"stock_list": [entry]})


async def valid_shops(site: Site) -> httpx.Request:
    """setting.Shop.queryShop: every shop."""
    return _signed(site, SHOPS, {})


async def valid_warehouses(site: Site) -> httpx.Request:
    """setting.Warehouse.queryWarehouse: every warehouse."""
    return _signed(site, WAREHOUSES, {})
