"""OMS test helpers: credentials, method names, 旗舰版 and 企业版 signers, a caller, trades."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import httpx
import orjson

from connectors.reference.clients.oms import OmsClient, QimenApp
from fake_systems.common.credentials import OmsCredentials
from fake_systems.oms.models import RefundStatus, RefundType
from fake_systems.oms.service import OmsService
from fake_systems.oms.settlements import SettlementBill, SettlementLine
from simulator.clock import CHINA, ManualClock
from simulator.world import NewTrade, NewTradeLine, World
from tests.support.site import Site

CREDS = OmsCredentials(sid="ecomock", app_key="oms_test", app_secret="s3cr3t:s4lt")
QUERY = "sales.TradeQuery.queryWithDetail"
SHIP = "ecomock.Trade.ship"  # ecomock's: 旺店通 hears of shipments from the warehouse
TRACE = "ecomock.LogisticsTrace.upload"  # ecomock's: 旺店通 has no trace upload
SYNC_ACK = "sales.LogisticsSync.update"
SYNC_LIST = "sales.LogisticsSync.getSyncListExt"
TAOBAO_QUERY = "wdt.sales.tradequery.querywithdetail"
QIMEN_ROUTE = "/router/qm"
WINDOW = {"start_time": "2026-11-10 20:00:00", "end_time": "2026-11-10 21:00:00"}
PUSH = "sales.RawTrade.pushSelf2"
PUSH_OLD = "sales.RawTrade.pushSelf"  # obsolete in QJB-DOCS, still served
STOCK = "wms.StockPd.stockSyncByPd"
GOODS = "goods.Goods.push"
REFUNDS = "aftersales.refund.Refund.search"
RETURN_CONFIRM = "ecomock.Refund.confirmReturn"
SHOPS = "setting.Shop.queryShop"
WAREHOUSES = "setting.Warehouse.queryWarehouse"
SETTLEMENTS = "ecomock.Settlement.search"  # ecomock's: the platforms' settlement bills
WAYBILL = "SF1000000001"  # the waybill the valid write-backs name
# Methods that take the pager in the query string (and refuse a call without it).
PAGED = frozenset(
    {
        SETTLEMENTS,
        QUERY,
        REFUNDS,
        SYNC_LIST,
        SHOPS,
        WAREHOUSES,
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

    A list is sent as it is (already positional: a push's `[shop_no, rawTradeList,
    rawTradeOrderList]`, a stock count's `[pdOrder, specList]`); an object becomes
    `[params]` with `page_size`/`page_no`/`calc_total` moved to the query string.
    """
    if not isinstance(body, dict):
        return body, {}
    pager = {name: str(body[name]) for name in PAGER if name in body}
    return [{k: v for k, v in body.items() if k not in PAGER}], pager


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
    paged: bool | None = None,
) -> httpx.Request:
    """A 旗舰版 call to /openapi signed with `creds` as the public clients sign it, not sent.

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
    return client.build_request(
        "POST",
        "/openapi",
        params=params,
        content=content,
        headers={"Content-Type": "application/json"},
    )


async def call(
    client: httpx.AsyncClient, clock: ManualClock, method: str, body: Any, **options: Any
) -> httpx.Response:
    """Send `request(...)`: a signed 旗舰版 call (or a wrong one, by the keywords)."""
    return await client.send(request(client, clock, method, body, **options))


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
    """A valid `rawTradeList` entry of pushSelf2 (QJB-DOCS field table) for the two lines of
    `raw_lines`: goods 120.00, shares 110.00, freight 8.00, receivable 118.00."""
    entry: dict[str, Any] = {
        "tid": tid,
        "process_status": 10,
        "trade_status": 30,
        "refund_status": 0,
        "pay_status": 2,
        "order_count": 2,
        "goods_count": 3,
        "pay_method": 1,
        "trade_time": "2026-11-10 19:58:00",
        "pay_time": "2026-11-10 19:59:30",
        "end_time": None,
        "buyer_nick": "tb_buyer",
        "receiver_name": "张三",
        "receiver_area": "浙江省 杭州市 西湖区",
        "receiver_address": "文三路 1 号",
        "receiver_mobile": "13800000000",
        "post_amount": "8.00",
        "discount": "10.00",
        "receivable": "118.00",
        "delivery_term": 1,
        "is_auto_wms": False,
        "warehouse_no": "",
    }
    entry.update(changes)
    return entry


def raw_lines(world: World, tid: str) -> list[dict[str, Any]]:
    """The `rawTradeOrderList` lines of `raw_trade(tid)`: 2 x 40.00 less 10.00 of platform
    discount (70.00), and 1 x 40.00 with a digit-string num and an empty goods_name."""
    first, second = world.skus[0], world.skus[1]
    common = {"tid": tid, "status": 30, "refund_status": 0, "share_discount": 0}
    common |= {"adjust_amount": 0, "refund_amount": "", "remark": "", "json": ""}
    return [
        {
            **common,
            "oid": f"{tid}-a",
            "goods_id": "g-1",
            "spec_id": "s-1",
            "goods_no": first.item_code,
            "spec_no": first.item_code,
            "goods_name": "push name",
            "num": 2,
            "price": "40.00",
            "discount": "10.00",
            "total_amount": "70.00",
        },
        {
            **common,
            "oid": f"{tid}-b",
            "goods_id": "g-2",
            "spec_id": "s-2",
            "goods_no": second.item_code,
            "spec_no": second.item_code,
            "goods_name": "",
            "num": "1",
            "price": 40,
            "discount": 0,
            "total_amount": 40.0,
        },
    ]


def raw_push(world: World, *tids: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """pushSelf2's `rawTradeList` and `rawTradeOrderList` for the trades `tids`."""
    return [raw_trade(world, tid) for tid in tids], [
        line for tid in tids for line in raw_lines(world, tid)
    ]


def stock_count(
    warehouse_no: str, *specs: tuple[str, object], mode: int = 0, **order: Any
) -> list[Any]:
    """stockSyncByPd's `[pdOrder, specList]`: (spec_no, new_num) entries of sound goods."""
    pd_order = {"warehouse_no": warehouse_no, "defect_mode": mode, "remark": "", **order}
    spec_list = [
        {"spec_no": spec_no, "remark": "", "new_num": num, "defect": False}
        for spec_no, num in specs
    ]
    return [pd_order, spec_list]


def trade_no_of(oms: OmsService, tid: str) -> str:
    """The OMS trade number given to the platform trade `tid`."""
    return str(
        oms.conn.execute("SELECT trade_no FROM orders WHERE src_tid = ?", (tid,)).fetchone()[0]
    )


def push_two_shops(oms: OmsService, world: World) -> None:
    """Platform trades A1 and A2 into shop JD-A (OWNER-A), B1 into JD-B (OWNER-B): JD, as
    `/openapi` queries never return Taobao/Tmall trades."""
    oms.push_raw_trades("JD-A", *raw_push(world, "A1", "A2"))
    oms.push_raw_trades("JD-B", *raw_push(world, "B1"))


# ---------------------------------------------------------------- one valid request per method
# Each builds what its method needs on `site` (through the service), then the request the
# connector's credential would sign; tests/support/operations.py holds the table of them.


def _signed(site: Site, method: str, body: Any) -> httpx.Request:
    return request(site.clients["oms"], site.clock, method, body, creds=site.credentials.oms)


def _paid(site: Site, tid: str, shop: int = 2) -> str:
    """A paid trade of one world good in the OMS (shop 2: Douyin, seen on /openapi)."""
    line = NewTradeLine(site.world.skus[0].item_code, "坚果礼盒", 1, 5900, 5900)
    paid = replace(trade(site.world, tid, (line,)), shop_no=site.world.shops[shop].shop_no)
    return site.ecosystem.oms.create_paid_order(paid)


async def valid_query(site: Site) -> httpx.Request:
    """sales.TradeQuery.queryWithDetail over the hour that holds one paid trade."""
    _paid(site, "LOST-Q1")
    return _signed(site, QUERY, WINDOW)


def _shipped(site: Site, tid: str) -> str:
    """A paid trade shipped under WAYBILL (which leaves it a logistics sync record)."""
    trade_no = _paid(site, tid)
    site.ecosystem.oms.sync_logistics(trade_no, "SF", WAYBILL)
    return trade_no


async def valid_ship(site: Site) -> httpx.Request:
    """ecomock.Trade.ship: a paid trade's waybill."""
    trade_no = _paid(site, "LOST-S1")
    return _signed(
        site, SHIP, {"trade_no": trade_no, "logistics_code": "SF", "logistics_no": WAYBILL}
    )


async def valid_trace(site: Site) -> httpx.Request:
    """ecomock.LogisticsTrace.upload: a shipped trade signed for."""
    trade_no = _shipped(site, "LOST-T1")
    return _signed(site, TRACE, {"trade_no": trade_no, "logistics_no": WAYBILL, "state": 3})


async def valid_sync_ack(site: Site) -> httpx.Request:
    """sales.LogisticsSync.update: the platform took a shipped trade's sync record."""
    _shipped(site, "LOST-A1")
    record = site.ecosystem.oms.logistics_sync_list().items[0]
    ack = [[{"sync_id": record.sync_id, "status": 0, "error_msg": ""}]]
    return _signed(site, SYNC_ACK, ack)


async def valid_taobao_query(site: Site) -> httpx.Request:
    """wdt.sales.tradequery.querywithdetail at /router/qm: the hour of one Tmall trade."""
    _paid(site, "LOST-TB1", shop=0)  # shop 0: Tmall
    creds = site.credentials.oms
    app = QimenApp(creds.qimen_app_key, creds.qimen_secret, creds.qimen_target_app_key)
    client = OmsClient(None, "", creds.sid, creds.app_key, creds.app_secret, app)  # type: ignore[arg-type]
    start = datetime.fromisoformat(WINDOW["start_time"]).replace(tzinfo=CHINA)
    signed_at = datetime.fromtimestamp(site.clock.wall(), CHINA)  # what signatures are checked on
    form = client.taobao_query_form(start, start + timedelta(hours=1), 0, now=signed_at)
    return site.clients["oms"].build_request("POST", QIMEN_ROUTE, data=form)


async def valid_push(site: Site) -> httpx.Request:
    """sales.RawTrade.pushSelf2: one platform trade into the first shop."""
    body = [site.world.shops[0].shop_no, *raw_push(site.world, "LOST-P1")]
    return _signed(site, PUSH, body)


async def valid_push_old(site: Site) -> httpx.Request:
    """sales.RawTrade.pushSelf (obsolete): the same arguments as pushSelf2."""
    body = [site.world.shops[0].shop_no, *raw_push(site.world, "LOST-P0")]
    return _signed(site, PUSH_OLD, body)


async def valid_refunds(site: Site) -> httpx.Request:
    """aftersales.refund.Refund.search over the hour of one refund."""
    site.ecosystem.oms.create_refund(_paid(site, "LOST-R1"), RefundType.REFUND_BEFORE_SHIPMENT)
    return _signed(
        site, REFUNDS, {"modified_from": WINDOW["start_time"], "modified_to": WINDOW["end_time"]}
    )


def returning(site: Site, tid: str) -> str:
    """A shipped trade whose buyer sent it back (a return refund at 40); its refund_no."""
    oms = site.ecosystem.oms
    refund_no = oms.create_refund(_shipped(site, tid), RefundType.RETURN)
    oms.advance_refund(refund_no, RefundStatus.REVIEWED)
    oms.ship_return(refund_no, "SF", f"RT{refund_no[2:]}")
    return refund_no


async def valid_return_confirm(site: Site) -> httpx.Request:
    """ecomock.Refund.confirmReturn: the goods of a return refund are back."""
    return _signed(site, RETURN_CONFIRM, {"refund_no": returning(site, "LOST-RC1")})


async def valid_sync_list(site: Site) -> httpx.Request:
    """sales.LogisticsSync.getSyncListExt: the first page, one shipped trade's record."""
    _shipped(site, "LOST-L1")
    return _signed(site, SYNC_LIST, {"page_size": 10, "page_no": 0})


async def valid_stock(site: Site) -> httpx.Request:
    """wms.StockPd.stockSyncByPd: one goods spec counted in one warehouse."""
    body = stock_count(site.world.warehouses[0].code, (site.world.skus[0].item_code, "7.0000"))
    return _signed(site, STOCK, body)


async def valid_goods(site: Site) -> httpx.Request:
    """goods.Goods.push: one goods with one spec, new name and barcode."""
    code = site.world.skus[0].item_code
    body = [{"goods_no": code, "goods_name": "改名"}, [{"spec_no": code, "barcode": "6901"}]]
    return _signed(site, GOODS, body)


async def valid_shops(site: Site) -> httpx.Request:
    """setting.Shop.queryShop: every shop."""
    return _signed(site, SHOPS, {})


async def valid_settlements(site: Site) -> httpx.Request:
    """ecomock.Settlement.search: a bill the platform issued, by its number."""
    shop = site.world.shops[0]
    site.ecosystem.oms.settlements.issue(
        SettlementBill(
            f"ST20261111-{shop.shop_no}",
            shop.shop_no,
            shop.platform,
            shop.owner_code,
            "2026-11-10",
            (SettlementLine("T1", "P1", 5900, 0, 295, "2026-11-10 10:00:00"),),
        )
    )
    return _signed(site, SETTLEMENTS, {"settlement_no": f"ST20261111-{shop.shop_no}"})


async def valid_warehouses(site: Site) -> httpx.Request:
    """setting.Warehouse.queryWarehouse: every warehouse."""
    return _signed(site, WAREHOUSES, {})
