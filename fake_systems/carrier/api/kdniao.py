"""Kdniao (快递鸟) adapter: form-posted, DataSign-checked requests over the carrier.

1007 / 1147 (create / cancel waybill) at /api/EOrderService, 1008 subscribe at /api/dist,
1002 instant tracking and 2002 number recognition at /Ebusiness/EbusinessOrderHandle.aspx.
Every EBusinessID the carrier issued is its own merchant account, checked against its own
api key; a request only sees the waybills of its account.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import parse_qsl, unquote

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.types import ASGIApp

from fake_systems.carrier.models import (
    RESULT_ALREADY_ORDERED,
    RESULT_BAD_SIGN,
    RESULT_FORMAT,
    RESULT_MISSING_PARAMETER,
    RESULT_OTHER,
    RESULT_SUCCESS,
    RESULT_USER,
    STATE_NO_TRACE,
    Address,
    CarrierError,
)
from fake_systems.carrier.service import CarrierService, tracking_to_wire
from fake_systems.common.app import make_app, read_body_limited
from fake_systems.common.credentials import KdniaoCredentials
from fake_systems.common.signing import constant_time_equal, kdniao_data_sign
from fake_systems.common.wire import (
    MAX_CODE_CHARS,
    MAX_TEXT_CHARS,
    WireValueError,
    check_text,
    load_json,
)
from simulator.clock import format_qimen_time

ENVELOPE_FIELDS = ("RequestData", "EBusinessID", "RequestType", "DataSign")
NO_TRACE_REASON = "暂无轨迹信息"
# Largest form body read (bytes). A 1007 with a long Commodity list is a few KB; Kdniao's own
# limit is not published (see docs/protocols/carrier.md).
MAX_BODY_BYTES = 256 * 1024

# A handler gets the decoded RequestData and the caller's account, and answers the success
# body (or raises CarrierError).
Handler = Callable[[dict[str, Any], KdniaoCredentials], dict[str, Any]]


def _json(body: dict[str, Any], status: int = 200) -> Response:
    # Kdniao answers every outcome, failures included, with HTTP 200 and a JSON body (only a
    # path or method it does not have gets 404 or 405, still with its JSON).
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


def failure(ebusiness_id: str, result_code: str, reason: str) -> dict[str, Any]:
    return {
        "EBusinessID": ebusiness_id,
        "Success": False,
        "ResultCode": result_code,
        "Reason": reason,
    }


def _required(data: dict[str, Any], *names: str) -> list[str]:
    """The values of required RequestData fields, as text; CarrierError(101) if one is missing."""
    values = []
    for name in names:
        value = data.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            raise CarrierError(RESULT_MISSING_PARAMETER, f"缺少必要参数: {name}")
        values.append(_as_text(value, name))
    return values


def _optional_text(data: dict[str, Any], name: str, limit: int = MAX_CODE_CHARS) -> str:
    value = data.get(name)
    if value is None:
        return ""
    return _as_text(value, name, limit)


def _as_text(value: Any, name: str, limit: int = MAX_CODE_CHARS) -> str:
    """A field as stripped text: a string without control characters and at most `limit`
    characters, or a whole number written without quotes (never a JSON true/false);
    CarrierError(103) otherwise."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str):
        raise CarrierError(RESULT_FORMAT, f"{name} 格式有误")
    try:
        return check_text(value, limit).strip()
    except WireValueError:
        raise CarrierError(
            RESULT_FORMAT, f"{name} 格式有误：不得含控制字符，长度不超过 {limit}"
        ) from None


def _address(data: dict[str, Any], name: str) -> Address | None:
    value = data.get(name)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise CarrierError(RESULT_FORMAT, f"{name} 格式有误")
    return Address(
        province=_optional_text(value, "ProvinceName", MAX_TEXT_CHARS),
        city=_optional_text(value, "CityName", MAX_TEXT_CHARS),
        area=_optional_text(value, "ExpAreaName", MAX_TEXT_CHARS),
    )


def _sign_matches(sent: str, expected: str) -> bool:
    """Accept the plain base64 and the two ways clients garble it on its way through a form."""
    candidates = {sent, sent.replace(" ", "+"), unquote(sent)}
    return any(constant_time_equal(candidate, expected) for candidate in candidates)


class KdniaoAdapter:
    """Translates Kdniao envelopes to service calls; every outcome is recorded as `api_in`."""

    def __init__(
        self,
        service: CarrierService,
        credentials: KdniaoCredentials,
        tenants: Sequence[KdniaoCredentials] = (),
    ) -> None:
        self.service = service
        self.credentials = credentials
        self.ctx = service.ctx
        self.accounts = [credentials, *tenants]
        for account in self.accounts:
            service.add_account(account)

    def router(self) -> APIRouter:
        router = APIRouter(tags=["kdniao"])

        @router.post("/api/EOrderService", summary="1007 create / 1147 cancel electronic waybill")
        async def eorder(request: Request) -> Response:
            return self.serve(
                await read_body_limited(request, MAX_BODY_BYTES),
                {"1007": self.create_waybill, "1147": self.cancel},
            )

        @router.post("/api/dist", summary="1008 subscribe to tracking pushes")
        async def dist(request: Request) -> Response:
            return self.serve(
                await read_body_limited(request, MAX_BODY_BYTES),
                {"1008": self.subscribe, "8008": self.subscribe},
            )

        @router.post(
            "/Ebusiness/EbusinessOrderHandle.aspx",
            summary="1002 instant tracking query, 2002 number recognition",
        )
        async def query(request: Request) -> Response:
            return self.serve(
                await read_body_limited(request, MAX_BODY_BYTES),
                {"1002": self.query, "8001": self.query, "2002": self.recognise},
            )

        return router

    def _account(self, ebusiness_id: str) -> KdniaoCredentials | None:
        found = None
        for account in self.accounts:  # every one compared: no early exit to time
            if constant_time_equal(ebusiness_id, account.ebusiness_id):
                found = account
        return found

    def serve(self, body: bytes | None, handlers: dict[str, Handler]) -> Response:
        """Check the envelope, run the handler for its RequestType, answer and record the call.

        `body` None means the body was larger than MAX_BODY_BYTES and was not read.
        """
        ebusiness_id = ""
        operation = "/".join(handlers)
        data: Any = None
        raw = ""
        try:
            if body is None:
                raise CarrierError(RESULT_FORMAT, f"请求报文超过 {MAX_BODY_BYTES} 字节")
            try:
                fields = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
            except (UnicodeDecodeError, ValueError) as exc:
                raise CarrierError(RESULT_FORMAT, "请求不是 UTF-8 表单") from exc
            ebusiness_id = fields.get("EBusinessID", "")
            missing = [name for name in ENVELOPE_FIELDS if not fields.get(name)]
            if missing:
                raise CarrierError(RESULT_MISSING_PARAMETER, f"缺少必要参数: {', '.join(missing)}")
            operation = fields["RequestType"]
            request_data = raw = fields["RequestData"]
            account = self._account(ebusiness_id)
            if account is None:
                raise CarrierError(RESULT_USER, "EBusinessID 不存在或未开通接口")
            expected = kdniao_data_sign(request_data, account.api_key)
            if not _sign_matches(fields["DataSign"], expected):
                raise CarrierError(RESULT_BAD_SIGN, "DataSign 验证失败")
            if fields.get("DataType", "2") != "2":
                raise CarrierError(RESULT_FORMAT, "DataType 只支持 2 (JSON)")
            handler = handlers.get(operation)
            if handler is None:
                raise CarrierError(RESULT_OTHER, f"该地址不支持 RequestType {operation}")
            try:
                data = load_json(request_data)
            except ValueError as exc:  # malformed, too deep or too large
                raise CarrierError(RESULT_FORMAT, "RequestData 格式有误") from exc
            if not isinstance(data, dict):
                raise CarrierError(RESULT_FORMAT, "RequestData 格式有误")
            answer = handler(data, account)
        except CarrierError as error:
            self.ctx.history.record(
                "api_in",
                operation,
                error.result_code,
                _entity(data),
                # Undecodable data is kept as sent (cut short) so the history shows what came.
                {"RequestData": data if data is not None else raw[:2000], "Reason": error.reason},
            )
            return _json(failure(ebusiness_id, error.result_code, error.reason))
        outcome = answer.get("ResultCode", RESULT_SUCCESS)
        self.ctx.history.record("api_in", operation, outcome, _entity(data), {"RequestData": data})
        if self.ctx.faults.hits(self.ctx.name, operation, "lost_response"):
            self.ctx.history.record("fault", operation, "lost_response", _entity(data))
            return Response(b"Gateway Timeout", status_code=504, media_type="text/plain")
        return _json(answer)

    def create_waybill(self, data: dict[str, Any], account: KdniaoCredentials) -> dict[str, Any]:
        order_code, shipper_code = _required(data, "OrderCode", "ShipperCode")
        waybill = self.service.create_waybill(
            order_code,
            shipper_code,
            sender=_address(data, "Sender"),
            receiver=_address(data, "Receiver"),
            account=account.ebusiness_id,
        )
        return {
            "EBusinessID": account.ebusiness_id,
            "Success": True,
            "ResultCode": RESULT_SUCCESS if waybill.created else RESULT_ALREADY_ORDERED,
            "Reason": "" if waybill.created else "该订单号已下单成功",
            "UniquerRequestNumber": str(uuid.uuid4()),
            "Order": {
                "OrderCode": waybill.order_code,
                "ShipperCode": waybill.shipper_code,
                "LogisticCode": waybill.logistic_code,
                "MarkDestination": waybill.mark_destination,
                "SortingCode": waybill.sorting_code,
            },
        }

    def cancel(self, data: dict[str, Any], account: KdniaoCredentials) -> dict[str, Any]:
        shipper_code, order_code, exp_no = _required(data, "ShipperCode", "OrderCode", "ExpNo")
        self.service.cancel_waybill(shipper_code, order_code, exp_no, account.ebusiness_id)
        return {
            "EBusinessID": account.ebusiness_id,
            "Success": True,
            "ResultCode": RESULT_SUCCESS,
            "Reason": "",
        }

    def subscribe(self, data: dict[str, Any], account: KdniaoCredentials) -> dict[str, Any]:
        shipper_code, logistic_code = _required(data, "ShipperCode", "LogisticCode")
        self.service.subscribe(
            shipper_code, logistic_code, _optional_text(data, "OrderCode"), account.ebusiness_id
        )
        return {
            "EBusinessID": account.ebusiness_id,
            "UpdateTime": format_qimen_time(self.ctx.clock.now()),
            "Success": True,
            "Reason": "",
        }

    def query(self, data: dict[str, Any], account: KdniaoCredentials) -> dict[str, Any]:
        shipper_code, logistic_code = _required(data, "ShipperCode", "LogisticCode")
        order_code = _optional_text(data, "OrderCode")
        ebusiness_id = account.ebusiness_id
        self.service.count_query(ebusiness_id)
        # Another account's waybill answers exactly like a number never seen: no leak.
        tracking = self.service.tracking(logistic_code, ebusiness_id)
        if tracking is None:
            return {
                "EBusinessID": ebusiness_id,
                "OrderCode": order_code,
                "ShipperCode": shipper_code,
                "LogisticCode": logistic_code,
                "Success": False,
                "State": str(STATE_NO_TRACE),
                "Reason": NO_TRACE_REASON,
                "Traces": [],
            }
        answer = tracking_to_wire(tracking, ebusiness_id)
        answer["Reason"] = "" if tracking.traces else NO_TRACE_REASON
        return answer

    def recognise(self, data: dict[str, Any], account: KdniaoCredentials) -> dict[str, Any]:
        (logistic_code,) = _required(data, "LogisticCode")
        shippers = self.service.recognise(logistic_code)
        answer: dict[str, Any] = {
            "EBusinessID": account.ebusiness_id,
            "Success": bool(shippers),
            "LogisticCode": logistic_code,
            "Shippers": [{"ShipperCode": code, "ShipperName": name} for code, name in shippers],
        }
        if not shippers:
            answer.update(ResultCode=RESULT_OTHER, Reason="未能识别该单号所属的快递公司")
        return answer


def _entity(data: Any) -> str | None:
    if not isinstance(data, dict):
        return None
    for key in ("LogisticCode", "ExpNo", "OrderCode"):
        value = data.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def create_app(
    service: CarrierService,
    credentials: KdniaoCredentials,
    tenants: Sequence[KdniaoCredentials] = (),
) -> ASGIApp:
    """The carrier's ASGI app: the Kdniao endpoints plus the shared /_fake/ control routes.

    `credentials` is the connector's account; each of `tenants` is a further merchant account
    (one per cargo owner) that sees only the waybills it created itself.
    """
    adapter = KdniaoAdapter(service, credentials, tenants)

    def on_error(request: Request, exc: Exception) -> Response:
        # Anything unforeseen still answers as Kdniao does, without internals.
        service.ctx.history.record(
            "api_in", request.url.path, RESULT_OTHER, None, {"error": type(exc).__name__}
        )
        return _json(failure(credentials.ebusiness_id, RESULT_OTHER, "系统错误，请稍后重试"))

    def on_unrouted(request: Request, status: int) -> Response:
        path = request.url.path[:100]
        reason = f"接口地址不存在: {path}" if status == 404 else f"{path} 只支持 POST"
        service.ctx.history.record("api_in", "unknown", RESULT_OTHER, None, {"path": path})
        return _json(failure("", RESULT_OTHER, reason), status)

    return make_app(
        "carrier",
        service.ctx.clock,
        service.ctx.conn,
        [adapter.router()],
        on_error,
        on_unrouted=on_unrouted,
    )
