"""Qimen (奇门) adapter of the WMS fake: `POST /router/qimen/service`, signed XML in and out."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from lxml import etree
from starlette.types import ASGIApp

from fake_systems.common.app import make_app
from fake_systems.common.credentials import QimenCredentials
from fake_systems.common.signing import constant_time_equal, qimen_sign
from fake_systems.common.storage import transaction
from fake_systems.wms import qimen_xml
from fake_systems.wms.models import (
    INVALID_PARAMETER,
    ORDER_TYPES,
    DeliveryOrderRequest,
    DeliveryStatus,
    OrderLineRequest,
    WmsError,
)
from fake_systems.wms.qimen_xml import el, group
from fake_systems.wms.service import WmsService
from simulator.clock import parse_qimen_time

PATH = "/router/qimen/service"
METHOD_PREFIX = "taobao.qimen."

# Protocol-level failure codes (chosen, see docs/protocols/wms.md).
SIGN_CHECK_FAILURE = "sign-check-failure"
APPKEY_NOT_EXISTS = "isv.appkey-not-exists"
MISSING_PARAMETER = "isv.missing-parameter"
INVALID_METHOD = "isv.invalid-method"
INVALID_FORMAT = "isv.invalid-format"
HTTP_METHOD_NOT_ALLOWED = "isv.http-method-not-allowed"
UNKNOWN_ERROR = "isp.unknown-error"

REQUIRED_PARAMS = ("method", "timestamp", "format", "v", "sign_method", "customerId")


class QimenFailure(Exception):
    """Answer `<flag>failure</flag>` with this code and message."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@dataclass
class Call:
    """One incoming call as the handlers see it, and what to record about it."""

    operation: str
    params: dict[str, str]
    body: str
    customer_id: str
    entity: str | None = None


def _xml_response(text: str, status_code: int = 200) -> Response:
    return Response(
        content=text.encode(), status_code=status_code, media_type=qimen_xml.CONTENT_TYPE
    )


def _require(node: etree._Element, path: str) -> str:
    value = qimen_xml.text(node, path)
    if value is None:
        raise QimenFailure(MISSING_PARAMETER, f"Missing required arguments:{path}")
    return value


def _positive_int(value: str, name: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise QimenFailure(
            INVALID_PARAMETER, f"Invalid arguments:{name} must be an integer"
        ) from None
    if number <= 0:
        raise QimenFailure(INVALID_PARAMETER, f"Invalid arguments:{name} must be positive")
    return number


def parse_create(root: etree._Element, customer_id: str) -> DeliveryOrderRequest:
    """deliveryorder.create body -> request; raises QimenFailure on a missing or bad field."""
    order = root.find("deliveryOrder")
    if order is None:
        raise QimenFailure(MISSING_PARAMETER, "Missing required arguments:deliveryOrder")
    code = _require(order, "deliveryOrderCode")
    order_type = _require(order, "orderType")
    if order_type not in ORDER_TYPES:
        raise QimenFailure(INVALID_PARAMETER, f"Invalid arguments:orderType {order_type}")
    line_nodes = root.findall("orderLines/orderLine")
    if not line_nodes:
        raise QimenFailure(MISSING_PARAMETER, "Missing required arguments:orderLines.orderLine")
    lines: list[OrderLineRequest] = []
    seen: set[str] = set()
    for index, node in enumerate(line_nodes, start=1):
        line_no = qimen_xml.text(node, "orderLineNo") or str(index)
        if line_no in seen:
            raise QimenFailure(
                INVALID_PARAMETER, f"Invalid arguments:orderLineNo {line_no} repeated"
            )
        seen.add(line_no)
        lines.append(
            OrderLineRequest(
                order_line_no=line_no,
                item_code=_require(node, "itemCode"),
                plan_qty=_positive_int(_require(node, "planQty"), "planQty"),
                owner_code=qimen_xml.text(node, "ownerCode"),
                source_order_code=qimen_xml.text(node, "sourceOrderCode"),
                inventory_type=qimen_xml.text(node, "inventoryType") or "ZP",
                actual_price=qimen_xml.text(node, "actualPrice"),
            )
        )
    return DeliveryOrderRequest(
        delivery_order_code=code,
        warehouse_code=_require(order, "warehouseCode"),
        order_type=order_type,
        logistics_code=_require(order, "logisticsCode"),
        lines=tuple(lines),
        customer_id=customer_id,
        express_code=qimen_xml.text(order, "expressCode"),
        source_platform_code=qimen_xml.text(order, "sourcePlatformCode"),
        shop_nick=qimen_xml.text(order, "shopNick"),
    )


class QimenGateway:
    """Checks the envelope (app key, signature, parameters), then dispatches to the service."""

    def __init__(self, service: WmsService, credentials: QimenCredentials) -> None:
        self.service = service
        self.credentials = credentials
        self.handlers: dict[str, Callable[[Call, etree._Element], str]] = {
            "deliveryorder.create": self.create,
            "deliveryorder.query": self.query,
            "order.cancel": self.cancel,
        }

    def handle(self, http_method: str, params: dict[str, str], raw: bytes) -> Response:
        call = Call(
            operation=_operation(params.get("method")), params=params, body="", customer_id=""
        )
        try:
            return self._handle(call, http_method, raw)
        except QimenFailure as failure:
            return self._fail(call, failure.code, failure.message)
        except WmsError as error:
            return self._fail(call, error.code, error.message)
        except Exception as exc:  # never a 500, never a stack trace
            return self._fail(call, UNKNOWN_ERROR, f"internal error: {type(exc).__name__}")

    def _handle(self, call: Call, http_method: str, raw: bytes) -> Response:
        if http_method != "POST":
            raise QimenFailure(HTTP_METHOD_NOT_ALLOWED, f"HTTP method {http_method} not allowed")
        params = call.params
        try:
            call.body = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise QimenFailure(INVALID_FORMAT, "body is not UTF-8") from None
        if params.get("app_key") != self.credentials.app_key:
            raise QimenFailure(APPKEY_NOT_EXISTS, "Invalid app Key")
        if params.get("sign_method", "md5") != "md5":
            raise QimenFailure(INVALID_PARAMETER, "Invalid arguments:sign_method (md5 only)")
        sign = params.get("sign")
        expected = qimen_sign(self.credentials.secret, params, call.body)
        if not sign or not constant_time_equal(sign, expected):
            raise QimenFailure(SIGN_CHECK_FAILURE, "Illegal request")
        for name in REQUIRED_PARAMS:
            if not params.get(name):
                raise QimenFailure(MISSING_PARAMETER, f"Missing required arguments:{name}")
        if params["format"] != "xml":
            raise QimenFailure(INVALID_PARAMETER, "Invalid arguments:format (xml only)")
        if params["customerId"] != self.credentials.customer_id:
            raise QimenFailure(
                INVALID_PARAMETER, f"Invalid arguments:customerId {params['customerId']}"
            )
        call.customer_id = params["customerId"]
        try:
            parse_qimen_time(params["timestamp"])
        except ValueError:
            raise QimenFailure(INVALID_PARAMETER, "Invalid arguments:timestamp") from None
        handler = self.handlers.get(call.operation)
        if handler is None or not params["method"].startswith(METHOD_PREFIX):
            raise QimenFailure(INVALID_METHOD, f"Invalid method:{params['method']}")
        try:
            root = qimen_xml.parse_request(raw)
        except qimen_xml.XmlError as exc:
            raise QimenFailure(INVALID_FORMAT, str(exc)) from None
        # One commit for the work and its api_in line: half the fsyncs of two.
        with transaction(self.service.conn):
            text = handler(call, root)
            self._record(call, "ok")
        if call.operation == "deliveryorder.create" and self.service.ctx.faults.hits(
            "wms", "deliveryorder.create", "lost_response"
        ):
            # The order exists now; the caller only sees a gateway timeout and must retry.
            self.service.ctx.history.record(
                "fault", call.operation, "lost_response", call.entity, {"http_status": 504}
            )
            return Response(status_code=504)
        return _xml_response(text)

    def _fail(self, call: Call, code: str, message: str) -> Response:
        self._record(call, code, message)
        return _xml_response(qimen_xml.failure(code, message))

    def _record(self, call: Call, outcome: str, message: str | None = None) -> None:
        payload: dict[str, Any] = {"params": call.params, "body": call.body}
        if message is not None:
            payload["message"] = message
        self.service.ctx.history.record("api_in", call.operation, outcome, call.entity, payload)

    # ------------------------------------------------------------ methods

    def create(self, call: Call, root: etree._Element) -> str:
        call.entity = qimen_xml.text(root, "deliveryOrder/deliveryOrderCode")
        request = parse_create(root, call.customer_id)
        result = self.service.create_delivery_order(request)
        message = "ok" if result.created else "deliveryOrderCode already received; same order"
        return qimen_xml.response(
            "success",
            "0",
            message,
            el("createTime", result.created_sim),
            el("deliveryOrderId", result.delivery_order_id),
            el("warehouseCode", result.warehouse_code),
            el("logisticsCode", result.logistics_code),
        )

    def query(self, call: Call, root: etree._Element) -> str:
        code = qimen_xml.text(root, "deliveryOrderCode") or qimen_xml.text(root, "orderCode")
        call.entity = code
        if code is None:
            raise QimenFailure(MISSING_PARAMETER, "Missing required arguments:deliveryOrderCode")
        view = self.service.query_delivery_order(code, qimen_xml.text(root, "ownerCode"))
        delivered = view.status is DeliveryStatus.DELIVERED
        order = group(
            "deliveryOrder",
            (
                el("deliveryOrderCode", view.delivery_order_code),
                el("deliveryOrderId", view.delivery_order_id),
                el("warehouseCode", view.warehouse_code),
                el("orderType", view.order_type),
                el("status", view.status.value),
                el("logisticsCode", view.logistics_code),
                el("expressCode", view.express_code),
                el("createTime", view.created_sim),
                el("orderConfirmTime", view.delivered_sim),
            ),
        )
        packages = ""
        if delivered:
            weight = qimen_xml.format_weight(view.weight_kg or 0.0)
            packages = group(
                "packages",
                (
                    group(
                        "package",
                        (
                            el("logisticsCode", view.logistics_code),
                            el("expressCode", view.express_code),
                            el("weight", weight),
                        ),
                    ),
                ),
            )
        lines = group(
            "orderLines",
            (
                group(
                    "orderLine",
                    (
                        el("orderLineNo", line.order_line_no),
                        el("itemCode", line.item_code),
                        el("planQty", line.plan_qty),
                        el("actualQty", line.actual_qty),
                    ),
                )
                for line in view.lines
            ),
        )
        return qimen_xml.response("success", "0", "ok", order, packages, lines)

    def cancel(self, call: Call, root: etree._Element) -> str:
        code = qimen_xml.text(root, "orderCode")
        call.entity = code
        if code is None:
            raise QimenFailure(MISSING_PARAMETER, "Missing required arguments:orderCode")
        self.service.cancel_order(code, qimen_xml.text(root, "ownerCode"))
        return qimen_xml.response("success", "0", "canceled")


def _operation(method: str | None) -> str:
    if not method:
        return "unknown"
    return method.removeprefix(METHOD_PREFIX)


def create_app(service: WmsService, credentials: QimenCredentials) -> ASGIApp:
    """The WMS fake's ASGI app: the Qimen router plus the shared /_fake/ control routes."""
    gateway = QimenGateway(service, credentials)
    router = APIRouter(tags=["qimen"])

    @router.api_route(
        PATH,
        methods=["GET", "POST", "PUT", "DELETE", "PATCH"],
        summary="Qimen router: deliveryorder.create | deliveryorder.query | order.cancel",
    )
    async def qimen_service(request: Request) -> Response:
        # Runs on the event loop on purpose: the service, SQLite and SimPy are single-threaded.
        raw = await request.body()
        return gateway.handle(request.method, dict(request.query_params), raw)

    def on_error(request: Request, exc: Exception) -> Response:
        return _xml_response(
            qimen_xml.failure(UNKNOWN_ERROR, f"internal error: {type(exc).__name__}")
        )

    return make_app("wms", service.ctx.clock, service.ctx.conn, [router], on_error)
