"""Qimen (奇门) adapter of the WMS fake: `POST /router/qimen/service`, signed XML or JSON.

A `Protocol` of the shared request pipeline (fake_systems/common/pipeline.py): the codec
(XML or JSON by `format`, answers in the request's format), the envelope (app key, md5 sign,
required parameters, customerId, timestamp freshness), the owner scope of the credential that
signed the call, and the table of operations. Body limit, refusals in the history, logged
bugs, the transaction and lost answers are the pipeline's. Pushes: `qimen_push.py`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from lxml import etree
from starlette.routing import Route
from starlette.types import ASGIApp

from fake_systems.common.app import make_app
from fake_systems.common.credentials import QimenCredentials
from fake_systems.common.faults import FaultRule
from fake_systems.common.pipeline import (
    Call,
    Caller,
    Handler,
    Inbound,
    Pipeline,
    Protocol,
    WireError,
    retry_after,
)
from fake_systems.common.scope import OwnerScope
from fake_systems.common.signing import constant_time_equal, qimen_sign
from fake_systems.common.wire import MAX_TEXT_CHARS
from fake_systems.wms import qimen_xml
from fake_systems.wms.api.qimen_body import (
    MAX_LINES_PER_CALL,
    MAX_LIST_ITEMS,
    MISSING_PARAMETER,
    element,
    one_of,
    parse_create,
    parse_inbound_lines,
    parse_transfer_items,
    require,
    text,
    weight,
)
from fake_systems.wms.api.qimen_push import METHOD_PREFIX, QimenPushes
from fake_systems.wms.models import (
    ENTRY_ORDER_TYPES,
    INVALID_PARAMETER,
    RETURN_ORDER_TYPES,
    CreateResult,
    DeliveryStatus,
    InboundKind,
    InboundOrderRequest,
    ItemRequest,
    TransferRequest,
    WmsError,
)
from fake_systems.wms.service import WmsService
from fake_systems.wms.stockouts import STOCKOUT_ORDER_TYPES, StockoutRequest
from simulator.clock import parse_qimen_time

__all__ = ["MAX_BODY_BYTES", "MAX_LINES_PER_CALL", "QimenProtocol", "create_app"]

PATH = "/router/qimen/service"
JSON_CONTENT_TYPE = "application/json;charset=utf-8"
# Methods answered with a Qimen failure (HTTP 200) rather than a 405: only POST is served.
WIRE_METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH")

# Bodies above this are refused unread (documented in docs/protocols/wms.md).
MAX_BODY_BYTES = 1024 * 1024
# TOP's rule: the caller's timestamp may differ from the server's by at most 10 minutes.
TIMESTAMP_TOLERANCE_SECONDS = 600.0

# Protocol-level failure codes (chosen, see docs/protocols/wms.md).
SIGN_CHECK_FAILURE = "sign-check-failure"
APPKEY_NOT_EXISTS = "isv.appkey-not-exists"
INVALID_METHOD = "isv.invalid-method"
INVALID_FORMAT = "isv.invalid-format"
INVALID_TIMESTAMP = "isv.invalid-timestamp"
BODY_TOO_LARGE = "isv.body-too-large"
HTTP_METHOD_NOT_ALLOWED = "isv.http-method-not-allowed"
PATH_NOT_FOUND = "isv.path-not-found"
PARTIAL_FAILURE = "PARTIAL_FAILURE"
UNKNOWN_ERROR = "isp.unknown-error"
# TOP's platform answers to a backend in trouble and to a flow limit (research notes §2.1:
# TOP-CONST, TOP-FAQ7): `isp.*` is retried by the SDK, the limit states its ban.
SERVICE_UNAVAILABLE = "isp.top-remote-service-unavailable"
REMOTE_SERVICE_ERROR = "Remote Service Error"
API_LIMITED = "accesscontrol.limited-by-api-access-count"

# Where each operation's body names its entity (the batch: every order's code).
ENTITY_PATHS: dict[str, tuple[str, ...]] = {
    "deliveryorder.create": ("deliveryOrder/deliveryOrderCode",),
    "deliveryorder.batchcreate": ("orders/order/deliveryOrder/deliveryOrderCode",),
    "deliveryorder.query": ("deliveryOrderCode", "orderCode"),
    "order.cancel": ("orderCode",),
    "singleitem.synchronize": ("item/itemCode",),
    "inventory.query": ("criteriaList/criteria/itemCode",),
    "entryorder.create": ("entryOrder/entryOrderCode",),
    "entryorder.query": ("entryOrderCode",),
    "returnorder.create": ("returnOrder/returnOrderCode",),
    "returnorder.query": ("returnOrderCode",),
    "transferorder.create": ("erpOrderCode",),
    "stockout.create": ("deliveryOrder/deliveryOrderCode",),
}
REQUIRED_PARAMS = ("method", "timestamp", "format", "v", "sign_method", "customerId")
FORMATS = ("xml", "json")

QimenHandler = Callable[[Call, etree._Element], str]


class QimenProtocol(Protocol):
    """The Qimen router: envelope checks, then one handler per method, answers as documents."""

    system = "wms"
    max_body_bytes = MAX_BODY_BYTES
    gateway = "tengine"  # Alibaba's nginx fork, in front of the Qimen router
    # TOP's flow limit names the ban's length ("This ban will last for N more seconds").
    waiting_refusals = frozenset({"http_429", "rate_limited"})

    def __init__(
        self,
        service: WmsService,
        credentials: QimenCredentials,
        tenants: Sequence[QimenCredentials] = (),
    ) -> None:
        self.service = service
        # Every issued credential, by app key: the connector's and each owner's.
        self.grants = {grant.app_key: grant for grant in (credentials, *tenants)}
        handlers: dict[str, QimenHandler] = {
            "deliveryorder.create": self.create,
            "deliveryorder.batchcreate": self.batch_create,
            "deliveryorder.query": self.query,
            "order.cancel": self.cancel,
            "singleitem.synchronize": self.synchronize_item,
            "inventory.query": self.inventory,
            "entryorder.create": self.create_entry,
            "entryorder.query": self.query_entry,
            "returnorder.create": self.create_return,
            "returnorder.query": self.query_return,
            "transferorder.create": self.create_transfer,
            "stockout.create": self.create_stockout,
        }
        self.operations: dict[str, Handler] = {
            name: _speaking_qimen(handler) for name, handler in handlers.items()
        }

    # ------------------------------------------------------------ the pipeline's stages

    def parse(self, inbound: Inbound) -> etree._Element:
        parsed = read_request(inbound.body, as_json=_json_out(inbound))
        if isinstance(parsed, qimen_xml.XmlError):
            raise WireError(INVALID_FORMAT, str(parsed))
        return parsed

    def operation_of(self, call: Call) -> str:
        method = call.inbound.query.get("method")
        if not method:
            return "unknown"
        return method.removeprefix(METHOD_PREFIX)[:80]

    def authenticate(self, call: Call) -> Caller:
        """The envelope, in the documented order; the credential's owners are the scope."""
        inbound = call.inbound
        if inbound.http_method != "POST":
            # HEAD (which Starlette routes with GET) carries no answer body: a plain 405.
            status = 200 if inbound.http_method in WIRE_METHODS else 405
            raise WireError(
                HTTP_METHOD_NOT_ALLOWED,
                f"HTTP method {inbound.http_method} not allowed",
                http_status=status,
            )
        try:
            body = inbound.body.decode("utf-8")
        except UnicodeDecodeError:
            raise WireError(INVALID_FORMAT, "body is not UTF-8") from None
        params = inbound.query
        grant = self.grants.get(params.get("app_key", ""))
        if grant is None:
            raise WireError(APPKEY_NOT_EXISTS, "Invalid app Key")
        if params.get("sign_method", "md5") != "md5":
            raise WireError(INVALID_PARAMETER, "Invalid arguments:sign_method (md5 only)")
        sign = params.get("sign")
        expected = qimen_sign(grant.secret, params, body)
        if not sign or not constant_time_equal(sign, expected):
            raise WireError(SIGN_CHECK_FAILURE, "Illegal request")
        for name in REQUIRED_PARAMS:
            if not params.get(name):
                raise WireError(MISSING_PARAMETER, f"Missing required arguments:{name}")
        if params["format"] not in FORMATS:
            raise WireError(INVALID_PARAMETER, "Invalid arguments:format (xml or json)")
        if params["customerId"] != grant.customer_id:
            raise WireError(
                INVALID_PARAMETER, f"Invalid arguments:customerId {params['customerId']}"
            )
        self._check_timestamp(params["timestamp"], call.operation)
        if not params["method"].startswith(METHOD_PREFIX):
            raise self.unknown_operation(call)
        return Caller(grant.app_key, OwnerScope.of(grant.owners), grant)

    def _check_timestamp(self, value: str, operation: str) -> None:
        """`yyyy-MM-dd HH:mm:ss` (China time) within the tolerance of the WMS's own wall clock
        (skewed by a `clock_skew` fault)."""
        try:
            sent = parse_qimen_time(value)
        except ValueError:
            raise WireError(INVALID_PARAMETER, "Invalid arguments:timestamp") from None
        skew = self.service.ctx.stale_by(sent.timestamp(), TIMESTAMP_TOLERANCE_SECONDS, operation)
        if skew is not None:
            raise WireError(
                INVALID_TIMESTAMP,
                f"Invalid timestamp: {value} is {skew:+.0f} s from server time"
                f" (tolerance {TIMESTAMP_TOLERANCE_SECONDS:.0f} s)",
            )

    def decode(self, call: Call) -> etree._Element:
        """The body's tree; the entity it names, known before the work (a fault's row needs
        it), as the handler will name it once the body is checked."""
        root: etree._Element = call.parsed
        paths = ENTITY_PATHS.get(call.operation, ())
        codes = [code for path in paths for code in root.xpath(f"{path}/text()")]
        if codes:
            call.entity = ",".join(str(code).strip() for code in codes)[:200]
            if call.operation != "deliveryorder.batchcreate":
                call.entity = str(codes[0]).strip()
        return root

    def encode(self, call: Call, result: Any) -> Response:
        return answer(result, _json_out(call.inbound))

    def encode_error(self, call: Call, error: WireError) -> Response:
        response = answer(qimen_xml.failure(error.code, error.message), _json_out(call.inbound))
        response.status_code = error.http_status
        return response

    def transient_refusal(self, call: Call, rule: FaultRule) -> Response | WireError | None:
        """TOP's `isp.top-remote-service-unavailable` (`busy`), its API flow limit with the
        ban's length (`rate_limited`), and the signature refusal (`session_expired`: Qimen
        has no session, a credential it no longer accepts is refused so)."""
        if rule.kind == "busy":
            return WireError(SERVICE_UNAVAILABLE, REMOTE_SERVICE_ERROR)
        if rule.kind == "rate_limited":
            ban = f"This ban will last for {retry_after(rule)} more seconds"
            return WireError(API_LIMITED, ban)
        if rule.kind == "session_expired":
            return WireError(SIGN_CHECK_FAILURE, "Illegal request")
        return super().transient_refusal(call, rule)

    def too_large(self, call: Call) -> WireError:
        return WireError(BODY_TOO_LARGE, f"body larger than {MAX_BODY_BYTES} bytes")

    def unknown_operation(self, call: Call) -> WireError:
        return WireError(INVALID_METHOD, f"Invalid method:{call.inbound.query.get('method')}")

    def internal_error(self, call: Call, error: Exception) -> WireError:
        return WireError(UNKNOWN_ERROR, "internal error")

    def history_payload(self, call: Call) -> Any:
        """The signed parameters (`sign` masked by History) and the body as sent."""
        inbound = call.inbound
        if inbound.too_large:
            body = f"<more than {MAX_BODY_BYTES} bytes, not kept>"
        else:
            body = inbound.body.decode("utf-8", "replace")
        return {"params": dict(inbound.query), "body": body}

    def lost_response(self, call: Call) -> Response:
        # The work is done; the caller only sees a gateway timeout and must retry.
        return Response(status_code=504)

    # ------------------------------------------------------------ delivery orders

    def create(self, call: Call, root: etree._Element) -> str:
        call.entity = text(root, "deliveryOrder/deliveryOrderCode")
        request = parse_create(root, _customer_id(call))
        result = self.service.create_delivery_order(request, call.scope)
        message = "ok" if result.created else "deliveryOrderCode already received; same order"
        return qimen_xml.response("success", "0", message, *_created(result))

    def batch_create(self, call: Call, root: etree._Element) -> str:
        nodes = root.findall("orders/order")
        if not nodes:
            raise WireError(MISSING_PARAMETER, "Missing required arguments:orders.order")
        if len(nodes) > MAX_LIST_ITEMS:
            raise WireError(INVALID_PARAMETER, f"Invalid arguments:at most {MAX_LIST_ITEMS}")
        lines = sum(len(node.findall("orderLines/orderLine")) for node in nodes)
        if lines > MAX_LINES_PER_CALL:
            raise WireError(
                INVALID_PARAMETER,
                f"Invalid arguments:{lines} lines, at most {MAX_LINES_PER_CALL} in one call",
            )
        requests = [parse_create(node, _customer_id(call)) for node in nodes]
        codes = [r.delivery_order_code for r in requests]
        if len(set(codes)) != len(codes):
            raise WireError(INVALID_PARAMETER, "Invalid arguments:deliveryOrderCode repeated")
        call.entity = ",".join(codes)[:200]
        results = self.service.create_delivery_orders(requests, call.scope)
        parts = []
        for code, result in zip(codes, results, strict=True):
            outcome: tuple[str, ...]
            if isinstance(result, WmsError):
                outcome = (
                    el("flag", "failure"),
                    el("code", result.code),
                    el("message", result.message),
                )
            else:
                outcome = (el("flag", "success"), el("code", "0"), *_created(result))
            parts.append(group("order", (el("deliveryOrderCode", code), *outcome)))
        failed = sum(isinstance(r, WmsError) for r in results)
        flag, code, message = ("success", "0", "ok")
        if failed:
            flag, code, message = ("failure", PARTIAL_FAILURE, f"{failed} of {len(results)} failed")
        return qimen_xml.response(flag, code, message, group("orders", parts))

    def query(self, call: Call, root: etree._Element) -> str:
        code = text(root, "deliveryOrderCode") or text(root, "orderCode")
        call.entity = code
        if code is None:
            raise WireError(MISSING_PARAMETER, "Missing required arguments:deliveryOrderCode")
        view = self.service.query_delivery_order(code, text(root, "ownerCode"), call.scope)
        order = group(
            "deliveryOrder",
            (
                el("deliveryOrderCode", view.delivery_order_code),
                el("deliveryOrderId", view.delivery_order_id),
                el("ownerCode", view.owner_code),
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
        if view.status is DeliveryStatus.DELIVERED:
            package = group(
                "package",
                (
                    el("logisticsCode", view.logistics_code),
                    el("expressCode", view.express_code),
                    el("weight", qimen_xml.format_weight(view.weight_kg or 0.0)),
                ),
            )
            packages = group("packages", (package,))
        lines = qimen_xml.order_lines(asdict(line) for line in view.lines)
        return qimen_xml.response("success", "0", "ok", order, packages, lines)

    def cancel(self, call: Call, root: etree._Element) -> str:
        call.entity = text(root, "orderCode")
        warehouse = require(root, "warehouseCode")
        code = require(root, "orderCode")
        self.service.cancel_order(
            code, text(root, "ownerCode"), call.scope, text(root, "orderType"), warehouse
        )
        return qimen_xml.response("success", "0", "canceled")

    # ------------------------------------------------------------ items and inventory

    def synchronize_item(self, call: Call, root: etree._Element) -> str:
        action = one_of(require(root, "actionType"), frozenset({"add", "update"}), "actionType")
        warehouse = require(root, "warehouseCode")
        item = element(root, "item")
        call.entity = require(item, "itemCode")
        request = ItemRequest(
            item_code=call.entity,
            owner_code=require(root, "ownerCode"),
            name=require(item, "itemName", MAX_TEXT_CHARS)
            if action == "add"
            else text(item, "itemName", MAX_TEXT_CHARS),
            bar_code=text(item, "barCode"),
            category=text(item, "categoryName", MAX_TEXT_CHARS),
            weight_kg=weight(item, "grossWeight"),
            warehouse_code=warehouse,
        )
        item_id = self.service.synchronize_item(action, request, call.scope)
        return qimen_xml.response("success", "0", "ok", el("itemId", item_id))

    def inventory(self, call: Call, root: etree._Element) -> str:
        nodes = root.findall("criteriaList/criteria")
        if not nodes:
            raise WireError(MISSING_PARAMETER, "Missing required arguments:criteriaList")
        if len(nodes) > MAX_LIST_ITEMS:
            raise WireError(INVALID_PARAMETER, f"Invalid arguments:at most {MAX_LIST_ITEMS}")
        criteria = [
            (text(node, "warehouseCode"), require(node, "itemCode"), text(node, "ownerCode"))
            for node in nodes
        ]
        call.entity = criteria[0][1]
        views = self.service.query_inventory(criteria, call.scope)
        items = group(
            "items",
            (
                group(
                    "item",
                    (
                        el("warehouseCode", view.warehouse_code),
                        el("itemCode", view.item_code),
                        el("inventoryType", "ZP"),
                        el("quantity", view.on_hand - view.reserved),
                        el("lockQuantity", view.reserved),
                    ),
                )
                for view in views
            ),
        )
        return qimen_xml.response("success", "0", "ok", items)

    # ------------------------------------------------------------ inbound and transfers

    def create_entry(self, call: Call, root: etree._Element) -> str:
        header = element(root, "entryOrder")
        call.entity = require(header, "entryOrderCode")
        # orderType is create's name (entryOrderType is confirm's; accepted too).
        order_type = text(header, "orderType") or text(header, "entryOrderType")
        if order_type is None:
            raise WireError(MISSING_PARAMETER, "Missing required arguments:orderType")
        lines, owner = parse_inbound_lines(root, header_owner=text(header, "ownerCode"))
        result = self.service.create_inbound_order(
            InboundOrderRequest(
                kind=InboundKind.ENTRY,
                order_code=call.entity,
                warehouse_code=require(header, "warehouseCode"),
                order_type=one_of(order_type, ENTRY_ORDER_TYPES, "orderType"),
                owner_code=owner,
                lines=lines,
                supplier_code=text(header, "supplierCode"),
                purchase_order_code=text(header, "purchaseOrderCode"),
                logistics_code=text(header, "logisticsCode"),
                express_code=text(header, "expressCode"),
            ),
            call.scope,
        )
        return _inbound_created("entryOrderId", result.order_id, result.created)

    def create_return(self, call: Call, root: etree._Element) -> str:
        header = element(root, "returnOrder")
        call.entity = require(header, "returnOrderCode")
        lines, owner = parse_inbound_lines(root, header_owner=text(header, "ownerCode"))
        result = self.service.create_inbound_order(
            InboundOrderRequest(
                kind=InboundKind.RETURN,
                order_code=call.entity,
                warehouse_code=require(header, "warehouseCode"),
                order_type=one_of(require(header, "orderType"), RETURN_ORDER_TYPES, "orderType"),
                owner_code=owner,
                lines=lines,
                pre_delivery_order_code=text(header, "preDeliveryOrderCode"),
                logistics_code=text(header, "logisticsCode"),
                express_code=text(header, "expressCode"),
                return_reason=text(header, "returnReason", MAX_TEXT_CHARS),
            ),
            call.scope,
        )
        return _inbound_created("returnOrderId", result.order_id, result.created)

    def query_entry(self, call: Call, root: etree._Element) -> str:
        return self._query_inbound(call, root, InboundKind.ENTRY, "entryOrder")

    def query_return(self, call: Call, root: etree._Element) -> str:
        return self._query_inbound(call, root, InboundKind.RETURN, "returnOrder")

    def _query_inbound(self, call: Call, root: etree._Element, kind: InboundKind, tag: str) -> str:
        call.entity = require(root, f"{tag}Code")
        view = self.service.query_inbound_order(
            kind, call.entity, text(root, "ownerCode"), call.scope
        )
        type_tag = "entryOrderType" if kind is InboundKind.ENTRY else "orderType"
        header = group(
            tag,
            (
                el(f"{tag}Code", view.order_code),
                el(f"{tag}Id", view.order_id),
                el("ownerCode", view.owner_code),
                el("warehouseCode", view.warehouse_code),
                el(type_tag, view.order_type),
                el("status", view.status.value),
                el("preDeliveryOrderCode", view.pre_delivery_order_code),
                el("createTime", view.created_sim),
                el("operateTime", view.confirmed_sim),
            ),
        )
        lines = qimen_xml.order_lines(asdict(line) for line in view.lines)
        return qimen_xml.response("success", "0", "ok", header, lines)

    def create_stockout(self, call: Call, root: etree._Element) -> str:
        """stockout.create (deliveryOrder{deliveryOrderCode, orderType, warehouseCode,
        supplierCode}, orderLines); answers the WMS's deliveryOrderId."""
        header = element(root, "deliveryOrder")
        call.entity = require(header, "deliveryOrderCode")
        lines, owner = parse_inbound_lines(root, header_owner=text(header, "ownerCode"))
        result = self.service.create_stockout(
            StockoutRequest(
                order_code=call.entity,
                warehouse_code=require(header, "warehouseCode"),
                order_type=one_of(require(header, "orderType"), STOCKOUT_ORDER_TYPES, "orderType"),
                owner_code=owner,
                lines=lines,
                supplier_code=text(header, "supplierCode"),
            ),
            call.scope,
        )
        return _inbound_created("deliveryOrderId", result.order_id, result.created)

    def create_transfer(self, call: Call, root: etree._Element) -> str:
        """The ERP's transfer (erpOrderCode, fromStoreCode, toStoreCode, transferItems);
        answers the WMS's transferOrderCode."""
        call.entity = require(root, "erpOrderCode")
        order_id, created = self.service.create_transfer(
            TransferRequest(
                transfer_order_code=call.entity,
                from_warehouse_code=require(root, "fromStoreCode"),
                to_warehouse_code=require(root, "toStoreCode"),
                owner_code=text(root, "ownerCode"),
                lines=parse_transfer_items(root),
            ),
            call.scope,
        )
        return _inbound_created("transferOrderCode", order_id, created)


el = qimen_xml.el
group = qimen_xml.group


def _speaking_qimen(handler: QimenHandler) -> Handler:
    """The handler for the pipeline: the body's tree in, the service's refusals (each with
    its Qimen code) out as WireErrors."""

    def run(call: Call) -> str:
        try:
            return handler(call, call.data)
        except WmsError as error:
            raise WireError(error.code, error.message) from None

    return run


def _customer_id(call: Call) -> str:
    return call.inbound.query["customerId"]  # present: authenticate checked it


def _json_out(inbound: Inbound) -> bool:
    return inbound.query.get("format") == "json"


def _created(result: CreateResult) -> tuple[str, ...]:
    return (
        el("createTime", result.created_sim),
        el("deliveryOrderId", result.delivery_order_id),
        el("warehouseCode", result.warehouse_code),
        el("logisticsCode", result.logistics_code),
    )


def _inbound_created(id_tag: str, order_id: str, created: bool) -> str:
    message = "ok" if created else "order code already received; same order"
    return qimen_xml.response("success", "0", message, el(id_tag, order_id))


def answer(document: str, json_out: bool) -> Response:
    """A Qimen document as the answer, in JSON when the request asked for it."""
    if json_out:
        return Response(content=qimen_xml.to_json(document), media_type=JSON_CONTENT_TYPE)
    return Response(content=document.encode(), media_type=qimen_xml.CONTENT_TYPE)


def read_request(raw: bytes, as_json: bool) -> etree._Element | qimen_xml.XmlError:
    """The body's `<request>` tree (from XML, or JSON when `as_json`), or the XmlError to
    answer once the envelope is checked. Pure, so big bodies are read off the event loop."""
    try:
        if as_json:
            return qimen_xml.parse_json_request(raw)
        return qimen_xml.parse_request(raw)
    except qimen_xml.XmlError as exc:
        return exc


def create_app(
    service: WmsService,
    credentials: QimenCredentials,
    tenants: Sequence[QimenCredentials] = (),
) -> ASGIApp:
    """The WMS fake on the wire: Qimen calls in through the pipeline, its events out as
    signed Qimen pushes (`QimenPushes`), plus the shared /_fake/ control routes.

    `credentials` are the connector's (every owner; the pushes are signed with them);
    `tenants` are further credentials, each scoped to its `owners`, accepted alongside.
    """
    QimenPushes.attach(service, credentials)
    pipeline = Pipeline(QimenProtocol(service, credentials, tenants), service.ctx)
    # A plain ASGI route: no FastAPI work on the hot path (and none in the OpenAPI).
    router = APIRouter(routes=[Route(PATH, pipeline, methods=list(WIRE_METHODS))])

    def on_error(request: Request, exc: Exception) -> Response:
        failure = qimen_xml.failure(UNKNOWN_ERROR, "internal error")
        return answer(failure, request.query_params.get("format") == "json")

    def on_unrouted(request: Request, status: int) -> Response:
        if status == 405:
            code, message = HTTP_METHOD_NOT_ALLOWED, f"HTTP method {request.method} not allowed"
        else:
            code, message = PATH_NOT_FOUND, f"No such path:{request.url.path[:100]}; use {PATH}"
        service.ctx.history.record("api_in", "unknown", code, None, {"path": request.url.path})
        refusal = answer(
            qimen_xml.failure(code, message), request.query_params.get("format") == "json"
        )
        refusal.status_code = status
        return refusal

    return make_app(
        "wms", service.ctx.clock, service.ctx.conn, [router], on_error, on_unrouted=on_unrouted
    )
