"""旺店通旗舰版 open API adapter: `POST /openapi`, signed query string, positional JSON body.

What this protocol is, for the shared pipeline (fake_systems/common/pipeline.py): the codec
(body a JSON array of positional arguments, common parameters and pager in the query), the
authentication (key, sid, salt, sign, timestamp window from 2012-01-01, optional nonce,
rate limit), the owner scope of each credential and the table of methods.
The pipeline does the rest: body limit, history, transaction, faults, error answers.
"""

from __future__ import annotations

import contextlib
import heapq
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp

from fake_systems.common.app import make_app
from fake_systems.common.credentials import OmsCredentials
from fake_systems.common.faults import FaultRule
from fake_systems.common.money import cents_to_text
from fake_systems.common.pipeline import (
    Call,
    Caller,
    Handler,
    Inbound,
    Pipeline,
    Protocol,
    WireError,
)
from fake_systems.common.scope import OwnerScope
from fake_systems.common.signing import (
    WDT_EPOCH,
    constant_time_equal,
    wdt_sign,
    wdt_split_appsecret,
)
from fake_systems.common.wire import (
    MAX_CODE_CHARS,
    WireValueError,
    check_text,
    load_json,
    parse_int,
)
from fake_systems.oms.models import (
    HIDDEN_FROM_OPENAPI,
    Forbidden,
    LineRefundStatus,
    OmsError,
    Refund,
    SyncRecord,
    Trade,
    WindowTooLong,
    platform_ids,
)
from fake_systems.oms.regions import NOT_SET, province_id
from fake_systems.oms.service import OmsService
from fake_systems.oms.settlements import MAX_PAGE_SIZE as SETTLEMENT_PAGE_MAX
from fake_systems.oms.settlements import SettlementBill
from simulator.clock import parse_qimen_time

SYSTEM = "oms"
API_VERSION = "1.0"
TIMESTAMP_TOLERANCE_SECONDS = 120
COMMON_PARAMS = ("sid", "key", "salt", "method", "timestamp", "v", "sign")
PAGER_PARAMS = ("page_size", "page_no", "calc_total")
NONCE_PARAM = "nonce"  # ecomock's optional extension; a second use within the tolerance is refused
MAX_NONCE_LENGTH = 64
MAX_INTEGER = 2**31 - 1
MAX_BODY_BYTES = 1024 * 1024  # a 100-trade pushSelf2 of two-line trades is about 120 KiB

# `status` codes of 旺店通旗舰版 (QJB-DOCS 错误码说明; docs/protocols/oms.md). 0 is success.
OK = 0
ERR_PARAMS = 1  # envelope, arguments, appkey/sid/salt, sign: all share code 1
ERR_TIMESTAMP = 7
ERR_VERSION = 8
ERR_OTHER = 99  # 其他错误: here only a bug of the fake
ERR_APP = 100  # 应用错误: every business refusal, the reason in `message`
# A package's `oids`: every sub-order of a trade at the most (200 lines, each oid a code).
MAX_OIDS_CHARS = 200 * (MAX_CODE_CHARS + 1)
ERR_INTERNAL = ERR_OTHER

# The documented messages (verbatim), so connectors' retry and alert logic can match them.
MSG_PARAMS = "参数错误"
MSG_AUTH = "app auth fail"
MSG_SID = "sid is not exists"
MSG_SIGN = "验证失败"
MSG_TIMESTAMP = "时间戳错误"
MSG_VERSION = "版本错误"
MSG_ARG_COUNT = "参数个数错误"
MSG_ARG_TYPE = "argument type mismatch"
MSG_OTHER = "其他错误"
MSG_PAGED_ONLY = "此方法仅支持分页查询："
MSG_RATE_LIMIT = "超过每分钟最大调用频率限制，请稍后重试"
MSG_CONCURRENCY_LIMIT = "超过每分钟最大并发次数限制，请稍后重试"
MSG_STATUS_LIST = "状态应该是由逗号分隔开的整数数组"
MSG_FORBIDDEN = "权限不足"

METHOD_QUERY = "sales.TradeQuery.queryWithDetail"
METHOD_SYNC_ACK = "sales.LogisticsSync.update"
METHOD_RAW_TRADE_PUSH = "sales.RawTrade.pushSelf2"
METHOD_RAW_TRADE_PUSH_OLD = "sales.RawTrade.pushSelf"  # "接口已过时" (obsolete) in QJB-DOCS
# ecomock's own methods, named so nobody mistakes them for 旺店通's: in 旗舰版 the waybill
# comes from the warehouse (its own module or a WMS's Qimen deliveryorder.confirm), and no
# open method takes a logistics trace (docs/protocols/oms.md).
METHOD_SHIP = "ecomock.Trade.ship"
METHOD_TRACE_UPLOAD = "ecomock.LogisticsTrace.upload"
METHOD_REFUND_SEARCH = "aftersales.refund.Refund.search"
METHOD_RETURN_CONFIRM = "ecomock.Refund.confirmReturn"
METHOD_SYNC_LIST = "sales.LogisticsSync.getSyncListExt"
METHOD_STOCK_SYNC = "wms.StockPd.stockSyncByPd"
METHOD_GOODS_PUSH = "goods.Goods.push"
METHOD_SHOP_QUERY = "setting.Shop.queryShop"
METHOD_WAREHOUSE_QUERY = "setting.Warehouse.queryWarehouse"
# ecomock's: the platforms' settlement bills with their bank payment (docs/protocols/oms.md).
METHOD_SETTLEMENT_SEARCH = "ecomock.Settlement.search"

JSON_HEADERS = {"content-type": "application/json; charset=utf-8"}


def _message(exc: OmsError) -> str:
    """The status-100 message of a domain refusal: the doc's text where it names the case."""
    if isinstance(exc, WindowTooLong):
        return f"您的查询时间过宽,查询时间不能大于{exc.limit_text}"
    if isinstance(exc, Forbidden):
        return MSG_FORBIDDEN
    return str(exc)


def _json(payload: dict[str, Any], status: int = 200) -> Response:
    return Response(content=orjson.dumps(payload), status_code=status, headers=JSON_HEADERS)


def error_response(code: int, message: str) -> Response:
    """`{"status": code, "message": …}` with HTTP 200, as 旺店通 answers refusals."""
    return _json({"status": code, "message": message})


# ---------------------------------------------------------------- body fields


def _text(body: Mapping[str, Any], name: str, max_chars: int = MAX_CODE_CHARS) -> str:
    """A code or time field: non-empty, without control characters, at most `max_chars`."""
    value = body.get(name)
    if not isinstance(value, str) or not value.strip():
        raise WireError(ERR_APP, f"{name} is required (a non-empty string)")
    try:
        return check_text(value, max_chars).strip()
    except WireValueError as exc:
        raise WireError(ERR_APP, f"{name} {exc}") from None


def _integer(body: Mapping[str, Any], name: str, default: int | None) -> int | None:
    """An integer field within ±MAX_INTEGER; plain digit strings count, as PHP clients send them."""
    value = body.get(name)
    if value is None:
        return default
    try:
        return parse_int(value, -MAX_INTEGER, MAX_INTEGER)
    except WireValueError as exc:
        raise WireError(ERR_APP, f"{name} {exc}") from None


def _required_integer(body: Mapping[str, Any], name: str) -> int:
    value = _integer(body, name, None)
    if value is None:
        raise WireError(ERR_APP, f"{name} is required (an integer)")
    return value


def read_body(raw: bytes) -> Any:
    """The body's JSON value; WireError(1) if it is not JSON or too deep or big to walk.
    Pure, so the pipeline reads big bodies off the event loop (and answers after the sign)."""
    try:
        return load_json(raw)
    except orjson.JSONDecodeError:
        raise WireError(ERR_PARAMS, f"{MSG_PARAMS}：body is not valid JSON") from None
    except WireValueError as exc:
        raise WireError(ERR_PARAMS, f"{MSG_PARAMS}：body {exc}") from None


# ---------------------------------------------------------------- wire shapes


def yuan(cents: int) -> float:
    """An amount as the JSON number 旗舰版 sends (Decimal(19,4) in the doc): 39799 -> 397.99.

    Exact to the cent: the shortest float text of n/100 is the decimal n/100.
    """
    return cents / 100


def epoch_ms(text: str) -> int:
    """A simulated China time `yyyy-MM-dd HH:mm:ss` as milliseconds since the Unix epoch."""
    return int(parse_qimen_time(text).timestamp()) * 1000


def trade_to_wire(trade: Trade) -> dict[str, Any]:
    """A stored trade as the query's `order` entry, with 旗舰版's field types (QJB-DOCS
    queryWithDetail): integer platform and area ids, `trade_time`, `created` and (once
    shipped: "订单未发货不返回该字段") `consign_time` in ms, amounts as numbers."""
    platform_id, sub_platform_id = platform_ids(trade.platform)
    src_tids = ",".join(sorted({line.src_tid for line in trade.lines} or {trade.src_tid}))
    shipped = {"consign_time": epoch_ms(trade.consign_time)} if trade.consign_time else {}
    return {
        "trade_id": trade_id(trade.trade_no),
        "trade_no": trade.trade_no,
        "src_tids": src_tids,
        "platform_id": platform_id,
        "sub_platform_id": sub_platform_id,
        "shop_platform_id": platform_id,
        "shop_no": trade.shop_no,
        "owner_code": trade.owner_code,
        "warehouse_no": trade.warehouse_no,
        "logistics_code": trade.logistics_code,
        "logistics_no": trade.logistics_no or "",
        "trade_status": trade.trade_status,
        "trade_type": 1,  # 网店销售 (online shop sale)
        "trade_mask": trade.trade_mask,
        "delivery_term": 1,  # 款到发货 (paid before shipment)
        "refund_status": _trade_refund_status(trade),
        "trade_time": epoch_ms(trade.trade_time),
        "pay_time": trade.pay_time,
        **shipped,
        "modified": trade.modified,
        "created": epoch_ms(trade.created),
        "buyer_nick": trade.buyer_nick,
        "receiver_name": trade.receiver_name,
        "receiver_mobile": trade.receiver_mobile,
        "receiver_province": province_id(trade.receiver_province),
        "receiver_city": NOT_SET,
        "receiver_district": NOT_SET,
        "receiver_area": " ".join(
            (trade.receiver_province, trade.receiver_city, trade.receiver_district)
        ),
        "receiver_address": trade.receiver_address,
        "goods_amount": yuan(trade.goods_cents),
        "discount": yuan(trade.discount_cents),
        "post_amount": yuan(trade.post_cents),
        "receivable": yuan(trade.paid_cents),
        "paid": yuan(trade.paid_cents),
        "detail_list": [
            {
                "rec_id": line.rec_id,
                "src_oid": line.src_oid,
                "src_tid": line.src_tid,
                "spec_no": line.spec_no,
                "goods_name": line.goods_name,
                "num": line.num,
                "price": yuan(line.price_cents),
                "share_amount": yuan(line.share_cents),
                "refund_status": line.refund_status,
            }
            for line in trade.lines
        ],
    }


def _trade_refund_status(trade: Trade) -> int:
    """The trade's `refund_status`: 0 none, 1 applied, 2 partly refunded, 3 fully refunded."""
    states = [line.refund_status for line in trade.lines]
    refunded = sum(1 for state in states if state == LineRefundStatus.REFUNDED)
    if refunded and refunded == len(states):
        return 3
    if refunded:
        return 2
    if any(state == LineRefundStatus.APPLIED for state in states):
        return 1
    return 0


def sync_to_wire(record: SyncRecord) -> dict[str, Any]:
    """A logistics sync record as getSyncListExt lists it (QJB-DOCS field names)."""
    platform_id, _ = platform_ids(record.platform)
    return {
        "sync_id": record.sync_id,
        "tid": record.tid,
        "logistics_no": record.logistics_no,
        "logistics_code": record.logistics_code,
        "logistics_name": record.logistics_code,
        "is_part_sync": record.is_part_sync,
        "oids": record.oids,
        "trade_id": trade_id(record.trade_no),
        "platform_id": platform_id,
        "created": record.created,
        "shop_no": record.shop_no,
        # Returned for a package only (QJB-DOCS: "当is_part_sync = 1 … 时返回").
        **({"goods_count": record.goods_count} if record.is_part_sync else {}),
    }


def trade_id(trade_no: str) -> int:
    """The trade's integer id: the run-wide sequence inside its trade_no (date + 8 digits)."""
    return int(trade_no[8:])


def refund_to_wire(refund: Refund) -> dict[str, Any]:
    """A refund as the refund search's `order` entry."""
    return {
        "refund_no": refund.refund_no,
        "type": refund.type,
        "status": refund.status,
        "trade_no": refund.trade_no,
        "tid": refund.src_tid,
        "shop_no": refund.shop_no,
        "owner_code": refund.owner_code,
        "refund_amount": cents_to_text(refund.refund_cents),
        "reason": refund.reason,
        "created": refund.created,
        "modified": refund.modified,
        # A return's parcel back to the warehouse (退货物流), once the buyer has sent it.
        "logistics_code": refund.logistics_code or "",
        "logistics_no": refund.logistics_no or "",
        "detail_list": [
            {
                "oid": line.src_oid,
                "spec_no": line.spec_no,
                "num": line.num,
                "refund_amount": cents_to_text(line.refund_cents),
            }
            for line in refund.lines
        ],
    }


def _optional_text(body: Mapping[str, Any], name: str) -> str | None:
    if body.get(name) is None:
        return None
    return _text(body, name)


def _stripped(value: object) -> object:
    return value.strip() if isinstance(value, str) else value


def _statuses(body: Mapping[str, Any]) -> list[int] | None:
    """The `status` filter: one code, or several joined by commas (`"30,95"`), as documented."""
    value = body.get("status")
    if value is None:
        return None
    parts = value.split(",") if isinstance(value, str) else [value]
    try:
        return [
            parse_int(part.strip() if isinstance(part, str) else part, 0, 999) for part in parts
        ]
    except WireValueError:
        raise WireError(ERR_APP, MSG_STATUS_LIST) from None


# ---------------------------------------------------------------- methods


@dataclass(frozen=True)
class Pager:
    """The query string's pager: `page_size`, `page_no` (from 0), `calc_total`."""

    page_size: int
    page_no: int
    calc_total: bool


# A method gets the service, its positional arguments (the body's array), the pager (paged
# methods only) and the caller's owner scope; it answers the envelope's fields other than
# `status` (most `{"data": …}`; getSyncListExt is flat), or raises WireError or an OmsError.
Method = Callable[[OmsService, list[Any], Pager | None, OwnerScope], dict[str, Any]]


@dataclass(frozen=True)
class MethodSpec:
    """A method of the table: its handler, whether it is paged, how many arguments it takes."""

    handler: Method
    paged: bool
    min_args: int
    max_args: int


def _params(args: list[Any], index: int = 0) -> dict[str, Any]:
    """The positional argument `index` as a `params` object (`{}` when left out)."""
    value = args[index] if index < len(args) else {}
    if not isinstance(value, dict):
        raise WireError(ERR_PARAMS, MSG_ARG_TYPE)
    return value


def _pager(pager: Pager | None) -> Pager:
    assert pager is not None  # the table says the method is paged; the handler checked it
    return pager


def trade_page(
    service: OmsService,
    params: Mapping[str, Any],
    page: Pager,
    scope: OwnerScope,
    platforms: Collection[int] | None = None,
    hidden: Collection[int] = (),
) -> dict[str, Any]:
    """queryWithDetail's `data` for its `params` object; shared with the Qimen route."""
    result = service.query_trades(
        start_time=_text(params, "start_time"),
        end_time=_text(params, "end_time"),
        status=_statuses(params),
        page_size=page.page_size,
        page_no=page.page_no,
        scope=scope,
        platforms=platforms,
        hidden_platforms=hidden,
    )
    return {
        "total_count": result.total_count,
        "order": [trade_to_wire(t) for t in result.trades],
    }


def _query(
    service: OmsService, args: list[Any], pager: Pager | None, scope: OwnerScope
) -> dict[str, Any]:
    # Never Taobao/Tmall nor Pinduoduo trades, as the doc says (docs/protocols/oms.md).
    page = trade_page(service, _params(args), _pager(pager), scope, hidden=HIDDEN_FROM_OPENAPI)
    return {"data": page}


def _ship(
    service: OmsService, args: list[Any], pager: Pager | None, scope: OwnerScope
) -> dict[str, Any]:
    params = _params(args)
    trade_no = _text(params, "trade_no")
    code, number = _text(params, "logistics_code"), _text(params, "logistics_no")
    if _flag(params, "is_part_sync"):
        # One package of a split shipment: the sub-orders it holds and its units, as the
        # logistics sync record of 拆单发货 lists them (docs/protocols/oms.md).
        oids = [oid.strip() for oid in _text(params, "oids", MAX_OIDS_CHARS).split(",")]
        if not all(oids):
            raise WireError(ERR_APP, "oids must be src_oids separated by commas")
        goods_count = _required_integer(params, "goods_count")
        if goods_count < 1:
            raise WireError(ERR_APP, "goods_count must be at least 1")
        changed = service.ship_package(trade_no, code, number, oids, goods_count, scope)
    else:
        changed = service.sync_logistics(trade_no, code, number, scope)
    return {"data": {"trade_no": trade_no, "changed": changed}}


def _flag(body: Mapping[str, Any], name: str) -> bool:
    """A 0/1 field (left out: 0); anything else is refused, naming the values allowed."""
    value = _integer(body, name, 0)
    if value not in (0, 1):
        raise WireError(ERR_APP, f"{name} must be one of [0, 1]")
    return value == 1


def _trace_upload(
    service: OmsService, args: list[Any], pager: Pager | None, scope: OwnerScope
) -> dict[str, Any]:
    params = _params(args)
    trade_no = _text(params, "trade_no")
    changed = service.upload_trace(
        trade_no, _text(params, "logistics_no"), _required_integer(params, "state"), scope
    )
    return {"data": {"trade_no": trade_no, "changed": changed}}


def _push_arguments(args: list[Any]) -> tuple[str, Any, Any]:
    """`[shop_no, rawTradeList, rawTradeOrderList, discountList?]`: the lists must be lists
    (the Java server's `argument type mismatch` otherwise); discountList is not kept."""
    shop_no = args[0]
    if not isinstance(shop_no, str) or not all(isinstance(a, list) for a in args[1:3]):
        raise WireError(ERR_PARAMS, MSG_ARG_TYPE)
    if len(args) > 3 and not (args[3] is None or isinstance(args[3], list)):
        raise WireError(ERR_PARAMS, MSG_ARG_TYPE)
    return _text({"shop_no": shop_no}, "shop_no"), args[1], args[2]


def _raw_trade_push(
    service: OmsService, args: list[Any], pager: Pager | None, scope: OwnerScope
) -> dict[str, Any]:
    """pushSelf2: refused trades come back in `error_list` with status 0, the rest stored."""
    result = service.push_raw_trades(*_push_arguments(args), scope)
    errors = [{"no": error.no, "error": error.error} for error in result.errors]
    return {
        "data": {
            "chg_count": result.chg_count,
            "error_list": errors,
            "new_count": result.new_count,
        }
    }


def _raw_trade_push_old(
    service: OmsService, args: list[Any], pager: Pager | None, scope: OwnerScope
) -> dict[str, Any]:
    """The obsolete pushSelf: the same arguments, no error_list; any refused trade refuses
    the call (100), ecomock's reading of a method whose answer has no place for one."""
    result = service.push_raw_trades(*_push_arguments(args), scope, atomic=True)
    return {"data": {"chg_count": result.chg_count, "new_count": result.new_count}}


def _refund_search(
    service: OmsService, args: list[Any], pager: Pager | None, scope: OwnerScope
) -> dict[str, Any]:
    params, page = _params(args), _pager(pager)
    result = service.search_refunds(
        _text(params, "modified_from"),
        _text(params, "modified_to"),
        status=_integer(params, "status", None),
        refund_type=_integer(params, "type", None),
        page_size=page.page_size,
        page_no=page.page_no,
        scope=scope,
        hidden_platforms=HIDDEN_FROM_OPENAPI,
    )
    return {
        "data": {
            "total_count": result.total_count,
            "order": [refund_to_wire(r) for r in result.items],
        }
    }


def _return_confirm(
    service: OmsService, args: list[Any], pager: Pager | None, scope: OwnerScope
) -> dict[str, Any]:
    """ecomock's method: the warehouse has the return's goods; the refund is settled."""
    params = _params(args)
    refund_no = _text(params, "refund_no")
    changed = service.confirm_return(refund_no, scope)
    return {"data": {"refund_no": refund_no, "changed": changed}}


def _sync_list(
    service: OmsService, args: list[Any], pager: Pager | None, scope: OwnerScope
) -> dict[str, Any]:
    params, page = _params(args), _pager(pager)
    result = service.logistics_sync_list(
        _optional_text(params, "shop_no"),
        page.page_size,
        page.page_no,
        scope,
        tid=_optional_text(params, "tid"),
        logistics_no=_optional_text(params, "logistics_no"),
        is_part_sync=_integer(params, "is_part_sync", None),
    )
    # Flat, as the doc shows it: `total` beside `status`, `data` the list.
    return {"total": result.total_count, "data": [sync_to_wire(r) for r in result.items]}


def _sync_ack(
    service: OmsService, args: list[Any], pager: Pager | None, scope: OwnerScope
) -> dict[str, Any]:
    if not isinstance(args[0], list):
        raise WireError(ERR_PARAMS, MSG_ARG_TYPE)
    # Per-entry failures come back with status 0, as error strings in `data`.
    return {"data": service.acknowledge_syncs(args[0], scope)}


def _stock_sync(
    service: OmsService, args: list[Any], pager: Pager | None, scope: OwnerScope
) -> dict[str, Any]:
    """`[pdOrder, specList]`; data `{"pd_no": …, "<pd id>": "ok"}` as the doc's example, plus
    `skip_spec_no` (comma-separated) when specs were skipped."""
    if scope != OwnerScope.EVERYONE:
        # Stock is per warehouse and spec, shared by the owners: only the integrator's
        # all-owner credential may set it (QJB-DOCS: 仓库权限, warehouse permission).
        raise Forbidden("an owner-scoped credential may not count stock")
    if not isinstance(args[0], dict) or not isinstance(args[1], list):
        raise WireError(ERR_PARAMS, MSG_ARG_TYPE)
    count = service.count_stock(args[0], args[1])
    data: dict[str, Any] = {"pd_no": count.pd_no, str(count.pd_id): "ok"}
    if count.skipped:
        data["skip_spec_no"] = ",".join(count.skipped)
    return {"data": data}


def _goods_push(
    service: OmsService, args: list[Any], pager: Pager | None, scope: OwnerScope
) -> dict[str, Any]:
    """`[goodsInfo, specInfoList]`; data the goods id, as the doc's example."""
    if scope != OwnerScope.EVERYONE:
        # The goods archive is shared by the owners, as the stock is: the integrator's.
        raise Forbidden("an owner-scoped credential may not push goods")
    if not isinstance(args[0], dict) or not isinstance(args[1], list):
        raise WireError(ERR_PARAMS, MSG_ARG_TYPE)
    return {"data": service.push_goods(args[0], args[1])}


def _paged(items: list[dict[str, Any]], page: Pager) -> dict[str, Any]:
    start = page.page_size * page.page_no
    return {"data": {"total_count": len(items), "details": items[start : start + page.page_size]}}


def _shop_query(
    service: OmsService, args: list[Any], pager: Pager | None, scope: OwnerScope
) -> dict[str, Any]:
    params, page = _params(args), _pager(pager)
    wanted = _optional_text(params, "shop_no")
    shops = [
        {
            "shop_no": shop.shop_no,
            "shop_name": shop.name,
            "platform_id": platform_ids(shop.platform)[0],
            "sub_platform_id": platform_ids(shop.platform)[1],
            "owner_code": shop.owner_code,
        }
        for shop in service.shops(scope)
        if wanted is None or shop.shop_no == wanted
    ]
    return _paged(shops, page)


def _warehouse_query(
    service: OmsService, args: list[Any], pager: Pager | None, scope: OwnerScope
) -> dict[str, Any]:
    params, page = _params(args), _pager(pager)
    wanted = _optional_text(params, "warehouse_no")
    rows = [dict(row) for row in service.warehouses()]
    return _paged([row for row in rows if wanted is None or row["warehouse_no"] == wanted], page)


def settlement_to_wire(bill: SettlementBill) -> dict[str, Any]:
    """A bill as ecomock.Settlement.search answers it; the lines' names follow 旗舰版's
    per-trade account check (finance.AlipayAccountCheck.search: send_amount, refund_amount)."""
    return {
        "settlement_no": bill.settlement_no,
        "shop_no": bill.shop_no,
        "platform_id": platform_ids(bill.platform)[0],
        "period_end": bill.period_end,
        "status": bill.status,
        "send_amount": yuan(bill.paid_cents),
        "refund_amount": yuan(bill.refund_cents),
        "commission": yuan(bill.commission_cents),
        "adjust_amount": yuan(bill.adjustment_cents),
        "adjust_reason": bill.adjustment_reason,
        "settle_amount": yuan(bill.net_cents),
        "created": bill.created_sim,
        "pay_time": bill.paid_sim or "",
        "bank_entry_ref": bill.entry_ref or "",
        "detail_list": [
            {
                "trade_no": line.trade_no,
                "tid": line.src_tid,
                "send_amount": yuan(line.paid_cents),
                "refund_amount": yuan(line.refund_cents),
                "commission": yuan(line.commission_cents),
                "settle_amount": yuan(line.settled_cents),
                "confirm_time": line.completed_sim,
            }
            for line in bill.lines
        ],
    }


def _settlement_search(
    service: OmsService, args: list[Any], pager: Pager | None, scope: OwnerScope
) -> dict[str, Any]:
    """By `settlement_no`, or the bills created in [`start_time`, `end_time`)."""
    params, page = _params(args), _pager(pager)
    _check_page(page)
    number = _optional_text(params, "settlement_no")
    if number is not None:
        bills = [service.settlements.get(number, scope)]
        total = 1
    else:
        start, end = _text(params, "start_time"), _text(params, "end_time")
        for name, value in (("start_time", start), ("end_time", end)):
            try:
                parse_qimen_time(value)
            except ValueError:
                raise WireError(ERR_APP, f"{name} is not yyyy-MM-dd HH:mm:ss") from None
        total, bills = service.settlements.search(start, end, page.page_size, page.page_no, scope)
    return {"data": {"total_count": total, "order": [settlement_to_wire(b) for b in bills]}}


def _check_page(page: Pager) -> None:
    if not 1 <= page.page_size <= SETTLEMENT_PAGE_MAX or page.page_no < 0:
        raise WireError(ERR_APP, f"page_size must be 1 to {SETTLEMENT_PAGE_MAX}, page_no >= 0")


METHODS: dict[str, MethodSpec] = {
    METHOD_QUERY: MethodSpec(_query, paged=True, min_args=1, max_args=1),
    METHOD_SHIP: MethodSpec(_ship, paged=False, min_args=1, max_args=1),
    METHOD_SYNC_ACK: MethodSpec(_sync_ack, paged=False, min_args=1, max_args=1),
    METHOD_TRACE_UPLOAD: MethodSpec(_trace_upload, paged=False, min_args=1, max_args=1),
    METHOD_RAW_TRADE_PUSH: MethodSpec(_raw_trade_push, paged=False, min_args=3, max_args=4),
    METHOD_RAW_TRADE_PUSH_OLD: MethodSpec(_raw_trade_push_old, paged=False, min_args=3, max_args=4),
    METHOD_REFUND_SEARCH: MethodSpec(_refund_search, paged=True, min_args=1, max_args=1),
    METHOD_RETURN_CONFIRM: MethodSpec(_return_confirm, paged=False, min_args=1, max_args=1),
    METHOD_SYNC_LIST: MethodSpec(_sync_list, paged=True, min_args=0, max_args=1),
    METHOD_STOCK_SYNC: MethodSpec(_stock_sync, paged=False, min_args=2, max_args=2),
    METHOD_GOODS_PUSH: MethodSpec(_goods_push, paged=False, min_args=2, max_args=2),
    METHOD_SHOP_QUERY: MethodSpec(_shop_query, paged=True, min_args=0, max_args=1),
    METHOD_WAREHOUSE_QUERY: MethodSpec(_warehouse_query, paged=True, min_args=0, max_args=1),
    METHOD_SETTLEMENT_SEARCH: MethodSpec(_settlement_search, paged=True, min_args=1, max_args=1),
}


def read_pager(query: Mapping[str, str]) -> Pager | None:
    """The pager of the query string, or None when `page_size` or `page_no` is left out."""
    if query.get("page_size") in (None, "") or query.get("page_no") in (None, ""):
        return None
    try:
        return Pager(
            parse_int(query["page_size"], -MAX_INTEGER, MAX_INTEGER),
            parse_int(query["page_no"], -MAX_INTEGER, MAX_INTEGER),
            query.get("calc_total", "0") not in ("", "0"),
        )
    except WireValueError:
        raise WireError(ERR_PARAMS, MSG_ARG_TYPE) from None


# ---------------------------------------------------------------- the protocol


class WdtProtocol(Protocol):
    """`POST /openapi` of 旺店通旗舰版 for the pipeline: common parameters, pager and sign in
    the query string, the body a JSON array of the method's positional arguments.

    Several credentials may call: the connector's (every owner) and per-owner ones, told
    apart by `key`; each call acts within the scope of the credential that signed it.
    `rate_limit` is calls per minute per (key, method); None (the default) does not limit.
    """

    system = SYSTEM
    max_body_bytes = MAX_BODY_BYTES

    def __init__(
        self,
        service: OmsService,
        credentials: OmsCredentials,
        tenants: Sequence[OmsCredentials] = (),
        rate_limit: int | None = None,
    ) -> None:
        self.service = service
        self.clock = service.ctx.clock
        self.grants = {grant.app_key: grant for grant in (credentials, *tenants)}
        self.operations: dict[str, Handler] = {
            name: self._operation(name, spec) for name, spec in METHODS.items()
        }
        self.rate_limit = rate_limit
        # (key, method) -> (wall minute, calls in it): a fixed window per minute.
        self._calls: dict[tuple[str, str], tuple[int, int]] = {}
        # (key, nonce) -> last wall second at which a replay would still pass the timestamp
        # check; kept only that long (a heap finds the expired), so memory follows the rate.
        self._nonces: dict[tuple[str, str], int] = {}
        self._nonce_expiry: list[tuple[int, tuple[str, str]]] = []

    def _operation(self, name: str, spec: MethodSpec) -> Handler:
        """The pipeline's handler for one method: pager and argument count checked, the
        domain's refusals answered as status 100 with their reason."""

        def handle(call: Call) -> dict[str, Any]:
            pager = read_pager(call.inbound.query)
            if spec.paged and pager is None:
                raise WireError(ERR_APP, f"{MSG_PAGED_ONLY}{name}")
            args: list[Any] = call.data
            if not spec.min_args <= len(args) <= spec.max_args:
                raise WireError(ERR_PARAMS, MSG_ARG_COUNT)
            try:
                return spec.handler(self.service, args, pager, call.scope)
            except OmsError as exc:
                raise WireError(ERR_APP, _message(exc)) from exc

        return handle

    def parse(self, inbound: Inbound) -> Any:
        return read_body(inbound.body)

    def operation_of(self, call: Call) -> str:
        return call.inbound.query.get("method") or "unknown"

    def authenticate(self, call: Call) -> Caller:
        """The checks of the error table's order, up to the rate limit; WireError on the first."""
        params = call.inbound.query
        missing = [name for name in COMMON_PARAMS if not params.get(name)]
        if missing:
            raise WireError(ERR_PARAMS, f"{MSG_PARAMS}：missing {', '.join(missing)}")
        if "body" in params:
            # The sign covers the body under this name; a query parameter may not shadow it.
            raise WireError(ERR_PARAMS, f"{MSG_PARAMS}：'body' may not be a query parameter")
        if params["v"] != API_VERSION:
            raise WireError(ERR_VERSION, MSG_VERSION)
        try:
            timestamp = parse_int(params["timestamp"], -MAX_INTEGER, MAX_INTEGER)
        except WireValueError:
            # What the Java server says of a number too big for an int (e.g. milliseconds).
            raise WireError(ERR_PARAMS, f'For input string: "{params["timestamp"][:20]}"') from None
        nonce = params.get(NONCE_PARAM)
        if nonce is not None and not 1 <= len(nonce) <= MAX_NONCE_LENGTH:
            raise WireError(
                ERR_PARAMS, f"{MSG_PARAMS}：nonce must be 1 to {MAX_NONCE_LENGTH} characters"
            )
        grant = self.grants.get(params["key"])
        if grant is None:
            raise WireError(ERR_PARAMS, MSG_AUTH)
        if not constant_time_equal(params["sid"], grant.sid):
            raise WireError(ERR_PARAMS, MSG_SID)
        secret, salt = wdt_split_appsecret(grant.app_secret)
        if not constant_time_equal(params["salt"], salt):
            raise WireError(ERR_PARAMS, MSG_AUTH)
        try:
            text = call.inbound.body.decode("utf-8")
        except UnicodeDecodeError:
            raise WireError(ERR_PARAMS, f"{MSG_PARAMS}：body is not UTF-8") from None
        signed = {k: v for k, v in params.items() if k != "sign"}
        signed["body"] = text
        if not constant_time_equal(params["sign"].lower(), wdt_sign(secret, signed)):
            raise WireError(ERR_PARAMS, MSG_SIGN)
        # Replay guard on the wall clock (business time is simulated, this is not), as the
        # OMS's own clock reads it (skewed by a `clock_skew` fault).
        wall = self.clock.wall()
        sent = timestamp + WDT_EPOCH
        if self.service.ctx.stale_by(sent, TIMESTAMP_TOLERANCE_SECONDS, call.operation):
            raise WireError(ERR_TIMESTAMP, MSG_TIMESTAMP)
        if nonce is not None:
            self._use_nonce(grant.app_key, nonce, timestamp + WDT_EPOCH, wall)
        self._count_call(grant.app_key, call.operation, wall)
        return Caller(grant.app_key, OwnerScope.of(grant.owners), grant)

    def _count_call(self, key: str, method: str, wall: float) -> None:
        """Refuse a call past `rate_limit` calls of this method with this key in the minute."""
        if self.rate_limit is None:
            return
        minute = int(wall // 60)
        window, count = self._calls.get((key, method), (minute, 0))
        if window != minute:
            count = 0
        if count >= self.rate_limit:
            raise WireError(ERR_APP, MSG_RATE_LIMIT)
        self._calls[(key, method)] = (minute, count + 1)

    def _use_nonce(self, key: str, nonce: str, timestamp: int, wall: float) -> None:
        """Refuse a nonce seen before; remember it while its timestamp is still acceptable."""
        while self._nonce_expiry and self._nonce_expiry[0][0] < wall:
            _, expired = heapq.heappop(self._nonce_expiry)
            self._nonces.pop(expired, None)
        entry = (key, nonce)
        if entry in self._nonces:
            raise WireError(ERR_PARAMS, f"{MSG_PARAMS}：nonce already used (replayed request)")
        until = timestamp + TIMESTAMP_TOLERANCE_SECONDS
        self._nonces[entry] = until
        heapq.heappush(self._nonce_expiry, (until, entry))

    def decode(self, call: Call) -> list[Any]:
        args = call.parsed
        if not isinstance(args, list):
            raise WireError(ERR_PARAMS, f"{MSG_PARAMS}：body must be a JSON array of arguments")
        first = args[0] if args else None
        trade_no = first.get("trade_no") if isinstance(first, dict) else None
        call.entity = trade_no if isinstance(trade_no, str) else None
        return args

    def encode(self, call: Call, result: Any) -> Response:
        return _json({"status": OK, **result})

    def encode_error(self, call: Call, error: WireError) -> Response:
        return error_response(int(error.code), error.message)

    def transient_refusal(self, call: Call, rule: FaultRule) -> Response | WireError | None:
        """Status 100 with the concurrency limit's text (`busy`) or the rate limit's
        (`rate_limited`), status 1 `app auth fail` (`session_expired`: 旺店通 has no
        session; a key it no longer accepts is refused so)."""
        if rule.kind == "busy":
            return WireError(ERR_APP, MSG_CONCURRENCY_LIMIT)
        if rule.kind == "rate_limited":
            return WireError(ERR_APP, MSG_RATE_LIMIT)
        if rule.kind == "session_expired":
            return WireError(ERR_PARAMS, MSG_AUTH)
        return super().transient_refusal(call, rule)

    def too_large(self, call: Call) -> WireError:
        return WireError(ERR_PARAMS, f"{MSG_PARAMS}：body larger than {MAX_BODY_BYTES} bytes")

    def unknown_operation(self, call: Call) -> WireError:
        return WireError(ERR_PARAMS, f"{MSG_PARAMS}：invalid method {call.operation[:100]!r}")

    def internal_error(self, call: Call, error: Exception) -> WireError:
        return WireError(ERR_INTERNAL, MSG_OTHER)


def create_app(
    service: OmsService,
    credentials: OmsCredentials,
    tenants: Sequence[OmsCredentials] = (),
    rate_limit: int | None = None,
) -> ASGIApp:
    """The OMS's ASGI app: `POST /openapi` plus the shared `/_fake/` control routes.

    `credentials` are the connector's; `tenants` are further credentials, usually scoped to
    one owner each (`Credentials.grants("oms")[1:]`); `rate_limit` calls per minute per key
    and method (None: no limit).
    """
    pipeline = Pipeline(WdtProtocol(service, credentials, tenants, rate_limit), service.ctx)
    router = APIRouter()
    # A plain ASGI route: no framework work on the hot path (FastAPI keeps /_fake/).
    router.routes.append(Route("/openapi", endpoint=pipeline, methods=["POST"]))
    # The Qimen custom scenario, the one way to Taobao/Tmall trades. Imported here: that
    # module builds on this one's readers and wire shapes.
    from fake_systems.oms.api.wdt_qimen import QIMEN_PATH, WdtQimenProtocol

    qimen = Pipeline(WdtQimenProtocol(service, credentials, tenants), service.ctx)
    router.routes.append(Route(QIMEN_PATH, endpoint=qimen, methods=["POST"]))

    def on_error(request: Request, exc: Exception) -> Response:
        # Only what fails outside the pipeline gets here; the history itself may be what
        # failed, and the answer matters more than the record.
        with contextlib.suppress(Exception):
            service.ctx.history.record(
                "api_in", request.query_params.get("method") or "unknown", str(ERR_INTERNAL)
            )
        return error_response(ERR_INTERNAL, MSG_OTHER)

    def on_unrouted(request: Request, status: int) -> Response:
        where = f"{request.method} {request.url.path[:100]}"
        message = f"{MSG_PARAMS}：no such API: {where}; use POST /openapi"
        with contextlib.suppress(Exception):
            service.ctx.history.record("api_in", "unknown", str(ERR_PARAMS))
        return _json({"status": ERR_PARAMS, "message": message}, status)

    return make_app(
        SYSTEM, service.ctx.clock, service.ctx.conn, [router], on_error, on_unrouted=on_unrouted
    )
