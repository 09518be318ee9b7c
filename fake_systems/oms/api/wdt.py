"""旺店通-style open API adapter: `POST /openapi`, signed query string, JSON body, status codes.

What this protocol is, for the shared pipeline (fake_systems/common/pipeline.py): the codec
(JSON body, common parameters in the query), the authentication (key, sid, sign, timestamp
window, nonce replay guard), the owner scope of each credential and the table of methods.
The pipeline does the rest: body limit, history, transaction, faults, error answers.
"""

from __future__ import annotations

import contextlib
import heapq
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp

from fake_systems.common.app import make_app
from fake_systems.common.credentials import OmsCredentials
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
from fake_systems.common.signing import constant_time_equal, wdt_sign
from fake_systems.common.wire import WireValueError, check_text, load_json, parse_int
from fake_systems.oms.models import (
    Forbidden,
    InvalidRequest,
    OmsError,
    Refund,
    StateConflict,
    Trade,
    UnknownTrade,
    WindowTooLong,
)
from fake_systems.oms.service import DEFAULT_PAGE_SIZE, OmsService

SYSTEM = "oms"
API_VERSION = "1.0"
TIMESTAMP_TOLERANCE_SECONDS = 120
COMMON_PARAMS = ("sid", "key", "method", "timestamp", "v", "sign")
NONCE_PARAM = "nonce"  # optional; when sent, a second use within the tolerance is refused
MAX_NONCE_LENGTH = 64
MAX_INTEGER = 2**31 - 1
MAX_BODY_BYTES = 1024 * 1024  # a full 50-trade push is well under 200 KiB

# Error codes on the wire (`status`); 0 is success. Documented in docs/protocols/oms.md.
OK = 0
ERR_COMMON_PARAM = 1001
ERR_UNKNOWN_KEY = 1100
ERR_UNKNOWN_SID = 1101
ERR_FORBIDDEN = 1102
ERR_BAD_SIGN = 1200
ERR_STALE_TIMESTAMP = 1300
ERR_REPLAYED_NONCE = 1301
ERR_UNKNOWN_METHOD = 1400
ERR_BAD_PARAMS = 1500
ERR_WINDOW_TOO_LONG = 1501
ERR_UNKNOWN_TRADE = 2001
ERR_STATE_CONFLICT = 2002
ERR_INTERNAL = 9999

METHOD_QUERY = "sales.TradeQuery.queryWithDetail"
METHOD_LOGISTICS_SYNC = "sales.LogisticsSync.update"
METHOD_TRACE_UPLOAD = "sales.LogisticsTrace.upload"
METHOD_RAW_TRADE_PUSH = "sales.RawTrade.pushSelf"
METHOD_REFUND_SEARCH = "aftersales.refund.Refund.search"
METHOD_SYNC_LIST = "sales.LogisticsSync.getSyncListExt"
METHOD_STOCK_PUSH = "wms.StockSpec.push"
METHOD_SHOP_QUERY = "setting.Shop.queryShop"
METHOD_WAREHOUSE_QUERY = "setting.Warehouse.queryWarehouse"

JSON_HEADERS = {"content-type": "application/json; charset=utf-8"}


def _error_code(exc: OmsError) -> int:
    # Most specific first: WindowTooLong is an InvalidRequest.
    if isinstance(exc, WindowTooLong):
        return ERR_WINDOW_TOO_LONG
    if isinstance(exc, InvalidRequest):
        return ERR_BAD_PARAMS
    if isinstance(exc, UnknownTrade):
        return ERR_UNKNOWN_TRADE
    if isinstance(exc, StateConflict):
        return ERR_STATE_CONFLICT
    if isinstance(exc, Forbidden):
        return ERR_FORBIDDEN
    return ERR_BAD_PARAMS


def _json(payload: dict[str, Any], status: int = 200) -> Response:
    return Response(content=orjson.dumps(payload), status_code=status, headers=JSON_HEADERS)


def error_response(code: int, message: str) -> Response:
    """`{"status": code, "message": …}` with HTTP 200, as 旺店通 answers refusals."""
    return _json({"status": code, "message": message})


# ---------------------------------------------------------------- body fields


def _text(body: Mapping[str, Any], name: str) -> str:
    """A code or time field: non-empty, without control characters, at most MAX_CODE_CHARS."""
    value = body.get(name)
    if not isinstance(value, str) or not value.strip():
        raise WireError(ERR_BAD_PARAMS, f"{name} is required (a non-empty string)")
    try:
        return check_text(value).strip()
    except WireValueError as exc:
        raise WireError(ERR_BAD_PARAMS, f"{name} {exc}") from None


def _integer(body: Mapping[str, Any], name: str, default: int | None) -> int | None:
    """An integer field within ±MAX_INTEGER; plain digit strings count, as PHP clients send them."""
    value = body.get(name)
    if value is None:
        return default
    try:
        return parse_int(value, -MAX_INTEGER, MAX_INTEGER)
    except WireValueError as exc:
        raise WireError(ERR_BAD_PARAMS, f"{name} {exc}") from None


def _required_integer(body: Mapping[str, Any], name: str) -> int:
    value = _integer(body, name, None)
    if value is None:
        raise WireError(ERR_BAD_PARAMS, f"{name} is required (an integer)")
    return value


def read_body(raw: bytes) -> Any:
    """The body's JSON value; WireError(1500) if it is not JSON or too deep or big to walk.
    Pure, so the pipeline reads big bodies off the event loop (and answers after the sign)."""
    try:
        return load_json(raw)
    except orjson.JSONDecodeError:
        raise WireError(ERR_BAD_PARAMS, "body is not valid JSON") from None
    except WireValueError as exc:
        raise WireError(ERR_BAD_PARAMS, f"body {exc}") from None


# ---------------------------------------------------------------- wire shapes


def trade_to_wire(trade: Trade) -> dict[str, Any]:
    """A stored trade as the query's `order` entry; amounts as yuan text."""
    return {
        "trade_no": trade.trade_no,
        "src_tid": trade.src_tid,
        "platform_id": trade.platform,
        "shop_no": trade.shop_no,
        "owner_code": trade.owner_code,
        "warehouse_no": trade.warehouse_no,
        "logistics_code": trade.logistics_code,
        "logistics_no": trade.logistics_no or "",
        "trade_status": trade.trade_status,
        "trade_time": trade.trade_time,
        "pay_time": trade.pay_time,
        "modified": trade.modified,
        "receiver_name": trade.receiver_name,
        "receiver_mobile": trade.receiver_mobile,
        "receiver_province": trade.receiver_province,
        "receiver_city": trade.receiver_city,
        "receiver_district": trade.receiver_district,
        "receiver_address": trade.receiver_address,
        "goods_amount": cents_to_text(trade.goods_cents),
        "discount": cents_to_text(trade.discount_cents),
        "post_amount": cents_to_text(trade.post_cents),
        "paid": cents_to_text(trade.paid_cents),
        "detail_list": [
            {
                "rec_id": line.rec_id,
                "src_oid": line.src_oid,
                "src_tid": line.src_tid,
                "spec_no": line.spec_no,
                "goods_name": line.goods_name,
                "num": line.num,
                "price": cents_to_text(line.price_cents),
                "share_amount": cents_to_text(line.share_cents),
                "refund_status": line.refund_status,
            }
            for line in trade.lines
        ],
    }


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


def _pager(body: Mapping[str, Any]) -> tuple[int, int]:
    return (
        _integer(body, "page_size", DEFAULT_PAGE_SIZE) or 0,
        _integer(body, "page_no", 0) or 0,
    )


def _optional_text(body: Mapping[str, Any], name: str) -> str | None:
    if body.get(name) is None:
        return None
    return _text(body, name)


# ---------------------------------------------------------------- methods

# A method gets the service, the JSON body and the caller's owner scope, and answers `data`
# (or raises WireError, or an OmsError the protocol translates).
Method = Callable[[OmsService, dict[str, Any], OwnerScope], dict[str, Any]]


def _query(service: OmsService, body: dict[str, Any], scope: OwnerScope) -> dict[str, Any]:
    page_size, page_no = _pager(body)
    page = service.query_trades(
        start_time=_text(body, "start_time"),
        end_time=_text(body, "end_time"),
        status=_integer(body, "status", None),
        page_size=page_size,
        page_no=page_no,
        scope=scope,
    )
    return {"total_count": page.total_count, "order": [trade_to_wire(t) for t in page.trades]}


def _logistics_sync(service: OmsService, body: dict[str, Any], scope: OwnerScope) -> dict[str, Any]:
    trade_no = _text(body, "trade_no")
    changed = service.sync_logistics(
        trade_no, _text(body, "logistics_code"), _text(body, "logistics_no"), scope
    )
    return {"trade_no": trade_no, "changed": changed}


def _trace_upload(service: OmsService, body: dict[str, Any], scope: OwnerScope) -> dict[str, Any]:
    trade_no = _text(body, "trade_no")
    changed = service.upload_trace(
        trade_no, _text(body, "logistics_no"), _required_integer(body, "state"), scope
    )
    return {"trade_no": trade_no, "changed": changed}


def _raw_trade_push(service: OmsService, body: dict[str, Any], scope: OwnerScope) -> dict[str, Any]:
    new_count, chg_count = service.push_raw_trades(
        _text(body, "shop_no"), body.get("trade_list"), scope
    )
    return {"new_count": new_count, "chg_count": chg_count}


def _refund_search(service: OmsService, body: dict[str, Any], scope: OwnerScope) -> dict[str, Any]:
    page_size, page_no = _pager(body)
    page = service.search_refunds(
        _text(body, "modified_from"),
        _text(body, "modified_to"),
        status=_integer(body, "status", None),
        refund_type=_integer(body, "type", None),
        page_size=page_size,
        page_no=page_no,
        scope=scope,
    )
    return {"total_count": page.total_count, "order": [refund_to_wire(r) for r in page.items]}


def _sync_list(service: OmsService, body: dict[str, Any], scope: OwnerScope) -> dict[str, Any]:
    page_size, page_no = _pager(body)
    page = service.logistics_sync_list(_optional_text(body, "shop_no"), page_size, page_no, scope)
    return {
        "total_count": page.total_count,
        "trades": [
            {
                "trade_no": t.trade_no,
                "tid": t.src_tid,
                "shop_no": t.shop_no,
                "platform_id": t.platform,
                "warehouse_no": t.warehouse_no,
                "logistics_code": t.logistics_code,
                "pay_time": t.pay_time,
                "oids": [line.src_oid for line in t.lines],
            }
            for t in page.items
        ],
    }


def _stock_push(service: OmsService, body: dict[str, Any], scope: OwnerScope) -> dict[str, Any]:
    if scope != OwnerScope.EVERYONE:
        # Stock is per warehouse and spec, shared by the owners: only the integrator's
        # all-owner credential may set it.
        raise Forbidden("an owner-scoped credential may not push stock")
    return {"count": service.push_stock(body.get("stock_list"))}


def _shop_query(service: OmsService, body: dict[str, Any], scope: OwnerScope) -> dict[str, Any]:
    wanted = _optional_text(body, "shop_no")
    shops = [
        {
            "shop_no": shop.shop_no,
            "shop_name": shop.name,
            "platform_id": shop.platform,
            "owner_code": shop.owner_code,
        }
        for shop in service.shops(scope)
        if wanted is None or shop.shop_no == wanted
    ]
    return {"total_count": len(shops), "details": shops}


def _warehouse_query(
    service: OmsService, body: dict[str, Any], scope: OwnerScope
) -> dict[str, Any]:
    wanted = _optional_text(body, "warehouse_no")
    rows = [dict(row) for row in service.warehouses()]
    found = [row for row in rows if wanted is None or row["warehouse_no"] == wanted]
    return {"total_count": len(found), "details": found}


METHODS: dict[str, Method] = {
    METHOD_QUERY: _query,
    METHOD_LOGISTICS_SYNC: _logistics_sync,
    METHOD_TRACE_UPLOAD: _trace_upload,
    METHOD_RAW_TRADE_PUSH: _raw_trade_push,
    METHOD_REFUND_SEARCH: _refund_search,
    METHOD_SYNC_LIST: _sync_list,
    METHOD_STOCK_PUSH: _stock_push,
    METHOD_SHOP_QUERY: _shop_query,
    METHOD_WAREHOUSE_QUERY: _warehouse_query,
}


# ---------------------------------------------------------------- the protocol


class WdtProtocol(Protocol):
    """`POST /openapi` for the pipeline: common parameters and sign in the query, JSON body.

    Several credentials may call: the connector's (every owner) and per-owner ones, told
    apart by `key`; each call acts within the scope of the credential that signed it.
    """

    system = SYSTEM
    max_body_bytes = MAX_BODY_BYTES

    def __init__(
        self,
        service: OmsService,
        credentials: OmsCredentials,
        tenants: Sequence[OmsCredentials] = (),
    ) -> None:
        self.service = service
        self.clock = service.ctx.clock
        self.grants = {grant.app_key: grant for grant in (credentials, *tenants)}
        self.operations: dict[str, Handler] = {
            name: self._operation(method) for name, method in METHODS.items()
        }
        # (key, nonce) -> last wall second at which a replay would still pass the timestamp
        # check; kept only that long (a heap finds the expired), so memory follows the rate.
        self._nonces: dict[tuple[str, str], int] = {}
        self._nonce_expiry: list[tuple[int, tuple[str, str]]] = []

    def _operation(self, method: Method) -> Handler:
        """The pipeline's handler for one method: the domain's refusals get their wire code."""

        def handle(call: Call) -> dict[str, Any]:
            try:
                return method(self.service, call.data, call.scope)
            except OmsError as exc:
                raise WireError(_error_code(exc), str(exc)) from exc

        return handle

    def parse(self, inbound: Inbound) -> Any:
        return read_body(inbound.body)

    def operation_of(self, call: Call) -> str:
        return call.inbound.query.get("method") or "unknown"

    def authenticate(self, call: Call) -> Caller:
        """The checks of the error table's order, up to the nonce; WireError on the first miss."""
        params = call.inbound.query
        missing = [name for name in COMMON_PARAMS if not params.get(name)]
        if missing:
            raise WireError(ERR_COMMON_PARAM, f"missing common parameter(s): {', '.join(missing)}")
        if "body" in params:
            # The sign covers the body under this name; a query parameter may not shadow it.
            raise WireError(ERR_COMMON_PARAM, "'body' is reserved and may not be a query parameter")
        if params["v"] != API_VERSION:
            raise WireError(ERR_COMMON_PARAM, f"unsupported v {params['v']!r}, expected 1.0")
        try:
            timestamp = parse_int(params["timestamp"])
        except WireValueError:
            raise WireError(ERR_COMMON_PARAM, "timestamp must be Unix seconds") from None
        nonce = params.get(NONCE_PARAM)
        if nonce is not None and not 1 <= len(nonce) <= MAX_NONCE_LENGTH:
            raise WireError(ERR_COMMON_PARAM, f"nonce must be 1 to {MAX_NONCE_LENGTH} characters")
        grant = self.grants.get(params["key"])
        if grant is None:
            raise WireError(ERR_UNKNOWN_KEY, "unknown key")
        if not constant_time_equal(params["sid"], grant.sid):
            raise WireError(ERR_UNKNOWN_SID, "unknown sid")
        try:
            text = call.inbound.body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise WireError(ERR_BAD_PARAMS, "body is not UTF-8") from exc
        signed = {k: v for k, v in params.items() if k != "sign"}
        signed["body"] = text
        expected = wdt_sign(grant.app_secret, signed)
        if not constant_time_equal(params["sign"].lower(), expected):
            raise WireError(ERR_BAD_SIGN, "sign mismatch")
        # Replay guard on the wall clock: business time is simulated, this is not.
        wall = self.clock.wall()
        if abs(timestamp - wall) > TIMESTAMP_TOLERANCE_SECONDS:
            raise WireError(ERR_STALE_TIMESTAMP, "timestamp outside ±120 s of server time")
        if nonce is not None:
            self._use_nonce(grant.app_key, nonce, timestamp, wall)
        return Caller(grant.app_key, OwnerScope.of(grant.owners), grant)

    def _use_nonce(self, key: str, nonce: str, timestamp: int, wall: float) -> None:
        """Refuse a nonce seen before; remember it while its timestamp is still acceptable."""
        while self._nonce_expiry and self._nonce_expiry[0][0] < wall:
            _, expired = heapq.heappop(self._nonce_expiry)
            self._nonces.pop(expired, None)
        entry = (key, nonce)
        if entry in self._nonces:
            raise WireError(ERR_REPLAYED_NONCE, "nonce already used (replayed request)")
        until = timestamp + TIMESTAMP_TOLERANCE_SECONDS
        self._nonces[entry] = until
        heapq.heappush(self._nonce_expiry, (until, entry))

    def decode(self, call: Call) -> dict[str, Any]:
        body = call.parsed
        if not isinstance(body, dict):
            raise WireError(ERR_BAD_PARAMS, "body must be a JSON object")
        trade_no = body.get("trade_no")
        call.entity = trade_no if isinstance(trade_no, str) else None
        return body

    def encode(self, call: Call, result: Any) -> Response:
        return _json({"status": OK, "message": "ok", "data": result})

    def encode_error(self, call: Call, error: WireError) -> Response:
        return error_response(int(error.code), error.message)

    def too_large(self, call: Call) -> WireError:
        return WireError(ERR_BAD_PARAMS, f"body larger than {MAX_BODY_BYTES} bytes")

    def unknown_operation(self, call: Call) -> WireError:
        return WireError(ERR_UNKNOWN_METHOD, f"unknown method {call.operation!r}")

    def internal_error(self, call: Call, error: Exception) -> WireError:
        return WireError(ERR_INTERNAL, "internal error")


def create_app(
    service: OmsService, credentials: OmsCredentials, tenants: Sequence[OmsCredentials] = ()
) -> ASGIApp:
    """The OMS's ASGI app: `POST /openapi` plus the shared `/_fake/` control routes.

    `credentials` are the connector's; `tenants` are further credentials, usually scoped to
    one owner each (`Credentials.grants("oms")[1:]`).
    """
    pipeline = Pipeline(WdtProtocol(service, credentials, tenants), service.ctx)
    router = APIRouter()
    # A plain ASGI route: no framework work on the hot path (FastAPI keeps /_fake/).
    router.routes.append(Route("/openapi", endpoint=pipeline, methods=["POST"]))

    def on_error(request: Request, exc: Exception) -> Response:
        # Only what fails outside the pipeline gets here; the history itself may be what
        # failed, and the answer matters more than the record.
        with contextlib.suppress(Exception):
            service.ctx.history.record(
                "api_in", request.query_params.get("method") or "unknown", str(ERR_INTERNAL)
            )
        return error_response(ERR_INTERNAL, "internal error")

    def on_unrouted(request: Request, status: int) -> Response:
        message = f"no such API: {request.method} {request.url.path[:100]}; use POST /openapi"
        with contextlib.suppress(Exception):
            service.ctx.history.record("api_in", "unknown", str(ERR_UNKNOWN_METHOD))
        return _json({"status": ERR_UNKNOWN_METHOD, "message": message}, status)

    return make_app(
        SYSTEM, service.ctx.clock, service.ctx.conn, [router], on_error, on_unrouted=on_unrouted
    )
