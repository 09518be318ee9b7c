"""旺店通-style open API adapter: `POST /openapi`, signed query string, JSON body, status codes."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Mapping
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.types import ASGIApp

from fake_systems.common.app import make_app
from fake_systems.common.credentials import OmsCredentials
from fake_systems.common.money import cents_to_text
from fake_systems.common.signing import constant_time_equal, wdt_sign
from fake_systems.common.storage import transaction
from fake_systems.oms.models import (
    InvalidRequest,
    OmsError,
    StateConflict,
    Trade,
    UnknownTrade,
    WindowTooLong,
)
from fake_systems.oms.service import DEFAULT_PAGE_SIZE, OmsService

SYSTEM = "oms"
logger = logging.getLogger(__name__)
API_VERSION = "1.0"
TIMESTAMP_TOLERANCE_SECONDS = 120
COMMON_PARAMS = ("sid", "key", "method", "timestamp", "v", "sign")

# Error codes on the wire (`status`); 0 is success. Documented in docs/protocols/oms.md.
OK = 0
ERR_COMMON_PARAM = 1001
ERR_UNKNOWN_KEY = 1100
ERR_UNKNOWN_SID = 1101
ERR_BAD_SIGN = 1200
ERR_STALE_TIMESTAMP = 1300
ERR_UNKNOWN_METHOD = 1400
ERR_BAD_PARAMS = 1500
ERR_WINDOW_TOO_LONG = 1501
ERR_UNKNOWN_TRADE = 2001
ERR_STATE_CONFLICT = 2002
ERR_INTERNAL = 9999

METHOD_QUERY = "sales.TradeQuery.queryWithDetail"
METHOD_LOGISTICS_SYNC = "sales.LogisticsSync.update"
METHOD_TRACE_UPLOAD = "sales.LogisticsTrace.upload"

JSON_HEADERS = {"content-type": "application/json; charset=utf-8"}


class WireError(Exception):
    """A refusal with its wire code and message."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


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
    return ERR_BAD_PARAMS


def _json(payload: dict[str, Any]) -> Response:
    return Response(content=orjson.dumps(payload), status_code=200, headers=JSON_HEADERS)


def error_response(code: int, message: str) -> Response:
    """`{"status": code, "message": …}` with HTTP 200, as 旺店通 answers refusals."""
    return _json({"status": code, "message": message})


# ---------------------------------------------------------------- body fields


def _text(body: Mapping[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value.strip():
        raise WireError(ERR_BAD_PARAMS, f"{name} is required (a non-empty string)")
    return value.strip()


def _integer(body: Mapping[str, Any], name: str, default: int | None) -> int | None:
    """An integer field; digit strings are accepted, as PHP clients send them."""
    value = body.get(name)
    if value is None:
        return default
    if isinstance(value, bool):
        raise WireError(ERR_BAD_PARAMS, f"{name} must be an integer")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    raise WireError(ERR_BAD_PARAMS, f"{name} must be an integer")


def _required_integer(body: Mapping[str, Any], name: str) -> int:
    value = _integer(body, name, None)
    if value is None:
        raise WireError(ERR_BAD_PARAMS, f"{name} is required (an integer)")
    return value


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


# ---------------------------------------------------------------- methods

Handler = Callable[[OmsService, dict[str, Any]], dict[str, Any]]


def _query(service: OmsService, body: dict[str, Any]) -> dict[str, Any]:
    page = service.query_trades(
        start_time=_text(body, "start_time"),
        end_time=_text(body, "end_time"),
        status=_integer(body, "status", None),
        page_size=_integer(body, "page_size", DEFAULT_PAGE_SIZE) or 0,
        page_no=_integer(body, "page_no", 0) or 0,
    )
    return {"total_count": page.total_count, "order": [trade_to_wire(t) for t in page.trades]}


def _logistics_sync(service: OmsService, body: dict[str, Any]) -> dict[str, Any]:
    trade_no = _text(body, "trade_no")
    changed = service.sync_logistics(
        trade_no, _text(body, "logistics_code"), _text(body, "logistics_no")
    )
    return {"trade_no": trade_no, "changed": changed}


def _trace_upload(service: OmsService, body: dict[str, Any]) -> dict[str, Any]:
    trade_no = _text(body, "trade_no")
    changed = service.upload_trace(
        trade_no, _text(body, "logistics_no"), _required_integer(body, "state")
    )
    return {"trade_no": trade_no, "changed": changed}


METHODS: dict[str, Handler] = {
    METHOD_QUERY: _query,
    METHOD_LOGISTICS_SYNC: _logistics_sync,
    METHOD_TRACE_UPLOAD: _trace_upload,
}


# ---------------------------------------------------------------- the endpoint


class WdtEndpoint:
    """Checks the common parameters and the sign, dispatches, records every request."""

    def __init__(self, service: OmsService, credentials: OmsCredentials) -> None:
        self.service = service
        self.credentials = credentials
        self.ctx = service.ctx

    def _authenticate(self, params: Mapping[str, str], raw: bytes) -> str:
        """The body text once the caller is proven; raises WireError otherwise."""
        missing = [name for name in COMMON_PARAMS if not params.get(name)]
        if missing:
            raise WireError(ERR_COMMON_PARAM, f"missing common parameter(s): {', '.join(missing)}")
        if "body" in params:
            # The sign covers the body under this name; a query parameter may not shadow it.
            raise WireError(ERR_COMMON_PARAM, "'body' is reserved and may not be a query parameter")
        if params["v"] != API_VERSION:
            raise WireError(ERR_COMMON_PARAM, f"unsupported v {params['v']!r}, expected 1.0")
        try:
            timestamp = int(params["timestamp"])
        except ValueError as exc:
            raise WireError(ERR_COMMON_PARAM, "timestamp must be Unix seconds") from exc
        if not constant_time_equal(params["key"], self.credentials.app_key):
            raise WireError(ERR_UNKNOWN_KEY, "unknown key")
        if not constant_time_equal(params["sid"], self.credentials.sid):
            raise WireError(ERR_UNKNOWN_SID, "unknown sid")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise WireError(ERR_BAD_PARAMS, "body is not UTF-8") from exc
        signed = {k: v for k, v in params.items() if k != "sign"}
        signed["body"] = text
        expected = wdt_sign(self.credentials.app_secret, signed)
        if not constant_time_equal(params["sign"].lower(), expected):
            raise WireError(ERR_BAD_SIGN, "sign mismatch")
        # Replay guard on the wall clock: business time is simulated, this is not.
        if abs(timestamp - self.ctx.clock.wall()) > TIMESTAMP_TOLERANCE_SECONDS:
            raise WireError(ERR_STALE_TIMESTAMP, "timestamp outside ±120 s of server time")
        return text

    def handle(self, params: Mapping[str, str], raw: bytes) -> Response:
        """Answer one `/openapi` call; never raises for anything the caller sent."""
        method = params.get("method") or "unknown"
        body: Any = None
        entity: str | None = None
        history = self.ctx.history
        try:
            text = self._authenticate(params, raw)
            handler = METHODS.get(method)
            if handler is None:
                raise WireError(ERR_UNKNOWN_METHOD, f"unknown method {method!r}")
            try:
                body = orjson.loads(text)
            except orjson.JSONDecodeError as exc:
                raise WireError(ERR_BAD_PARAMS, "body is not valid JSON") from exc
            if not isinstance(body, dict):
                raise WireError(ERR_BAD_PARAMS, "body must be a JSON object")
            trade_no = body.get("trade_no")
            entity = trade_no if isinstance(trade_no, str) else None
            # The request's record commits with its effects: one write, all or nothing.
            with transaction(self.ctx.conn):
                data = handler(self.service, body)
                history.record(
                    "api_in", method, "ok", entity, {"query": dict(params), "body": body}
                )
        except WireError as exc:
            self._record_refusal(method, exc.code, entity, params, body, raw)
            return error_response(exc.code, exc.message)
        except OmsError as exc:
            code = _error_code(exc)
            self._record_refusal(method, code, entity, params, body, raw)
            return error_response(code, str(exc))
        except Exception:
            # A bug of the fake: log it for us, answer the caller in the protocol's format.
            logger.exception("oms %s failed", method)
            with contextlib.suppress(Exception):
                self._record_refusal(method, ERR_INTERNAL, entity, params, body, raw)
            return error_response(ERR_INTERNAL, "internal error")
        if self.ctx.faults.hits(SYSTEM, method, "lost_response"):
            history.record("fault", method, "lost_response", entity)
            return Response(content=b"504 Gateway Time-out", status_code=504)
        return _json({"status": OK, "message": "ok", "data": data})

    def _record_refusal(
        self,
        method: str,
        code: int,
        entity: str | None,
        params: Mapping[str, str],
        body: Any,
        raw: bytes,
    ) -> None:
        if body is None:
            # Unparsed: keep a readable prefix, enough to diagnose without bloating the history.
            body = raw[:2000].decode("utf-8", errors="replace")
        self.ctx.history.record(
            "api_in", method, str(code), entity, {"query": dict(params), "body": body}
        )


def create_app(service: OmsService, credentials: OmsCredentials) -> ASGIApp:
    """The OMS's ASGI app: `POST /openapi` plus the shared `/_fake/` control routes."""
    endpoint = WdtEndpoint(service, credentials)
    router = APIRouter(tags=["wdt"])

    @router.post("/openapi", summary="旺店通-style open API entry point (method in the query)")
    async def openapi(request: Request) -> Response:
        raw = await request.body()
        return endpoint.handle(request.query_params, raw)

    def on_error(request: Request, exc: Exception) -> Response:
        if isinstance(exc, RequestValidationError):
            return error_response(ERR_BAD_PARAMS, "invalid request")
        # The history itself may be what failed; the answer matters more than the record.
        with contextlib.suppress(Exception):
            service.ctx.history.record(
                "api_in", request.query_params.get("method") or "unknown", str(ERR_INTERNAL)
            )
        return error_response(ERR_INTERNAL, "internal error")

    return make_app(SYSTEM, service.ctx.clock, service.ctx.conn, [router], on_error)
