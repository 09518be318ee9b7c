"""Qimen (奇门) adapter of the WMS fake: `POST /router/qimen/service`, signed XML or JSON.

The envelope (app key, signature, timestamp freshness, customerId) is checked here; the
credential that signed a call decides its owner scope, which every service call receives.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from decimal import Decimal
from functools import partial
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from lxml import etree
from starlette.types import ASGIApp

from fake_systems.common.app import make_app, parse_off_loop
from fake_systems.common.credentials import QimenCredentials
from fake_systems.common.signing import constant_time_equal, qimen_sign
from fake_systems.common.storage import transaction
from fake_systems.common.wire import (
    MAX_CODE_CHARS,
    MAX_TEXT_CHARS,
    WireValueError,
    parse_decimal,
    parse_int,
)
from fake_systems.wms import qimen_xml
from fake_systems.wms.models import (
    ENTRY_ORDER_TYPES,
    INVALID_PARAMETER,
    INVENTORY_TYPES,
    ORDER_TYPES,
    RETURN_ORDER_TYPES,
    CreateResult,
    DeliveryOrderRequest,
    DeliveryStatus,
    InboundKind,
    InboundLineRequest,
    InboundOrderRequest,
    ItemRequest,
    OrderLineRequest,
    Scope,
    TransferRequest,
    WmsError,
)
from fake_systems.wms.qimen_xml import el, group
from fake_systems.wms.service import WmsService
from simulator.clock import CHINA, parse_qimen_time

PATH = "/router/qimen/service"
METHOD_PREFIX = "taobao.qimen."
JSON_CONTENT_TYPE = "application/json;charset=utf-8"

# Bodies above this are refused unread (documented in docs/protocols/wms.md).
MAX_BODY_BYTES = 1024 * 1024
# TOP's rule: the caller's timestamp may differ from the server's by at most 10 minutes.
TIMESTAMP_TOLERANCE_SECONDS = 600.0
MAX_LIST_ITEMS = 100  # orders of a batchcreate, criteria of an inventory.query
# Order lines in one call (one order's, or a batch's together): each costs the service some
# 0.15 ms on the event loop all five fakes share, so their number bounds one call's hold.
MAX_LINES_PER_CALL = 1000
MAX_QUANTITY = 10**9  # planQty
MAX_WEIGHT_KG = Decimal(100_000)  # grossWeight, exclusive

# Protocol-level failure codes (chosen, see docs/protocols/wms.md).
SIGN_CHECK_FAILURE = "sign-check-failure"
APPKEY_NOT_EXISTS = "isv.appkey-not-exists"
MISSING_PARAMETER = "isv.missing-parameter"
INVALID_METHOD = "isv.invalid-method"
INVALID_FORMAT = "isv.invalid-format"
INVALID_TIMESTAMP = "isv.invalid-timestamp"
BODY_TOO_LARGE = "isv.body-too-large"
HTTP_METHOD_NOT_ALLOWED = "isv.http-method-not-allowed"
PATH_NOT_FOUND = "isv.path-not-found"
PARTIAL_FAILURE = "PARTIAL_FAILURE"
UNKNOWN_ERROR = "isp.unknown-error"

REQUIRED_PARAMS = ("method", "timestamp", "format", "v", "sign_method", "customerId")
FORMATS = ("xml", "json")


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
    scope: Scope = None  # the signing credential's owners; None: every owner


def _require(node: etree._Element, path: str, limit: int = MAX_CODE_CHARS) -> str:
    value = qimen_xml.text(node, path, limit)
    if value is None:
        raise QimenFailure(MISSING_PARAMETER, f"Missing required arguments:{path}")
    return value


def _positive_int(value: str, name: str) -> int:
    try:
        return parse_int(value, 1, MAX_QUANTITY)
    except WireValueError as exc:
        raise QimenFailure(INVALID_PARAMETER, f"Invalid arguments:{name} {exc}") from None


def _decimal_text(node: etree._Element, path: str) -> str | None:
    """An optional decimal kept as sent (`actualPrice`), once it reads as a plain numeral."""
    value = qimen_xml.text(node, path)
    if value is not None:
        try:
            parse_decimal(value)
        except WireValueError as exc:
            raise QimenFailure(INVALID_PARAMETER, f"Invalid arguments:{path} {exc}") from None
    return value


def _one_of(value: str, allowed: frozenset[str], name: str) -> str:
    if value not in allowed:
        raise QimenFailure(INVALID_PARAMETER, f"Invalid arguments:{name} {value}")
    return value


def _lines(root: etree._Element, path: str = "orderLines/orderLine") -> list[etree._Element]:
    nodes = root.findall(path)
    if not nodes:
        raise QimenFailure(MISSING_PARAMETER, f"Missing required arguments:{path}")
    if len(nodes) > MAX_LINES_PER_CALL:
        raise QimenFailure(INVALID_PARAMETER, f"Invalid arguments:too many lines ({len(nodes)})")
    return nodes


def _line_no(node: etree._Element, index: int, seen: set[str]) -> str:
    line_no = qimen_xml.text(node, "orderLineNo") or str(index)
    if line_no in seen:
        raise QimenFailure(INVALID_PARAMETER, f"Invalid arguments:orderLineNo {line_no} repeated")
    seen.add(line_no)
    return line_no


def parse_create(root: etree._Element, customer_id: str) -> DeliveryOrderRequest:
    """deliveryorder.create body (or one batchcreate `<order>`) -> request; QimenFailure."""
    order = root.find("deliveryOrder")
    if order is None:
        raise QimenFailure(MISSING_PARAMETER, "Missing required arguments:deliveryOrder")
    code = _require(order, "deliveryOrderCode")
    order_type = _one_of(_require(order, "orderType"), ORDER_TYPES, "orderType")
    lines: list[OrderLineRequest] = []
    seen: set[str] = set()
    for index, node in enumerate(_lines(root), start=1):
        lines.append(
            OrderLineRequest(
                order_line_no=_line_no(node, index, seen),
                item_code=_require(node, "itemCode"),
                plan_qty=_positive_int(_require(node, "planQty"), "planQty"),
                owner_code=qimen_xml.text(node, "ownerCode"),
                source_order_code=qimen_xml.text(node, "sourceOrderCode"),
                inventory_type=qimen_xml.text(node, "inventoryType") or "ZP",
                actual_price=_decimal_text(node, "actualPrice"),
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
        shop_nick=qimen_xml.text(order, "shopNick", MAX_TEXT_CHARS),
    )


def parse_inbound_lines(
    root: etree._Element, path: str = "orderLines/orderLine", header_owner: str | None = None
) -> tuple[tuple[InboundLineRequest, ...], str | None]:
    """Lines of an entry, return or transfer order, and the one owner they name (if any)."""
    lines: list[InboundLineRequest] = []
    seen: set[str] = set()
    owners = {header_owner} if header_owner else set()
    for index, node in enumerate(_lines(root, path), start=1):
        owner = qimen_xml.text(node, "ownerCode")
        if owner:
            owners.add(owner)
        lines.append(
            InboundLineRequest(
                order_line_no=_line_no(node, index, seen),
                item_code=_require(node, "itemCode"),
                plan_qty=_positive_int(_require(node, "planQty"), "planQty"),
                owner_code=owner,
                inventory_type=_one_of(
                    qimen_xml.text(node, "inventoryType") or "ZP", INVENTORY_TYPES, "inventoryType"
                ),
            )
        )
    if len(owners) > 1:
        raise QimenFailure(INVALID_PARAMETER, f"one order, one ownerCode: {sorted(owners)}")
    return tuple(lines), (owners.pop() if owners else None)


def _weight(node: etree._Element, path: str) -> float | None:
    value = qimen_xml.text(node, path)
    if value is None:
        return None
    try:
        weight = parse_decimal(value, MAX_WEIGHT_KG)
    except WireValueError as exc:
        raise QimenFailure(INVALID_PARAMETER, f"Invalid arguments:{path} {exc}") from None
    if weight < 0:
        raise QimenFailure(INVALID_PARAMETER, f"Invalid arguments:{path} out of range")
    return float(weight)


class QimenGateway:
    """Checks the envelope (app key, signature, timestamp, scope), then calls the service."""

    def __init__(
        self,
        service: WmsService,
        credentials: QimenCredentials,
        tenants: Sequence[QimenCredentials] = (),
    ) -> None:
        self.service = service
        self.credentials = credentials
        # Every issued credential, by app key: the connector's and each owner's.
        self.grants = {grant.app_key: grant for grant in (credentials, *tenants)}
        self.handlers: dict[str, Callable[[Call, etree._Element], str]] = {
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
        }

    def handle(
        self,
        http_method: str,
        params: dict[str, str],
        raw: bytes,
        parsed: etree._Element | qimen_xml.XmlError | None,
    ) -> Response:
        """Answer one call (`parsed`: `read_request(raw)`, None when not read); every outcome
        is an `api_in` line in the history."""
        call = Call(
            operation=_operation(params.get("method")), params=params, body="", customer_id=""
        )
        json_out = params.get("format") == "json"
        try:
            return self._handle(call, http_method, raw, parsed, json_out)
        except QimenFailure as failure:
            return self._fail(call, failure.code, failure.message, json_out)
        except WmsError as error:
            return self._fail(call, error.code, error.message, json_out)
        except qimen_xml.InvalidValue as exc:
            return self._fail(call, INVALID_PARAMETER, str(exc), json_out)
        except Exception as exc:  # never a 500, never a stack trace
            return self._fail(
                call, UNKNOWN_ERROR, f"internal error: {type(exc).__name__}", json_out
            )

    def _handle(
        self,
        call: Call,
        http_method: str,
        raw: bytes,
        parsed: etree._Element | qimen_xml.XmlError | None,
        json_out: bool,
    ) -> Response:
        if http_method != "POST":
            raise QimenFailure(HTTP_METHOD_NOT_ALLOWED, f"HTTP method {http_method} not allowed")
        if len(raw) > MAX_BODY_BYTES:
            call.body = f"<{len(raw)}+ bytes, not kept>"
            raise QimenFailure(BODY_TOO_LARGE, f"body larger than {MAX_BODY_BYTES} bytes")
        params = call.params
        try:
            call.body = raw.decode("utf-8")
        except UnicodeDecodeError:
            call.body = raw.decode("utf-8", "replace")
            raise QimenFailure(INVALID_FORMAT, "body is not UTF-8") from None
        grant = self.grants.get(params.get("app_key", ""))
        if grant is None:
            raise QimenFailure(APPKEY_NOT_EXISTS, "Invalid app Key")
        if params.get("sign_method", "md5") != "md5":
            raise QimenFailure(INVALID_PARAMETER, "Invalid arguments:sign_method (md5 only)")
        sign = params.get("sign")
        expected = qimen_sign(grant.secret, params, call.body)
        if not sign or not constant_time_equal(sign, expected):
            raise QimenFailure(SIGN_CHECK_FAILURE, "Illegal request")
        for name in REQUIRED_PARAMS:
            if not params.get(name):
                raise QimenFailure(MISSING_PARAMETER, f"Missing required arguments:{name}")
        if params["format"] not in FORMATS:
            raise QimenFailure(INVALID_PARAMETER, "Invalid arguments:format (xml or json)")
        if params["customerId"] != grant.customer_id:
            raise QimenFailure(
                INVALID_PARAMETER, f"Invalid arguments:customerId {params['customerId']}"
            )
        call.customer_id = params["customerId"]
        call.scope = frozenset(grant.owners) if grant.owners else None
        self._check_timestamp(params["timestamp"])
        handler = self.handlers.get(call.operation)
        if handler is None or not params["method"].startswith(METHOD_PREFIX):
            raise QimenFailure(INVALID_METHOD, f"Invalid method:{params['method']}")
        if not isinstance(parsed, etree._Element):
            raise QimenFailure(INVALID_FORMAT, str(parsed or "body not read"))
        root = parsed
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
        return _answer(text, json_out)

    def _check_timestamp(self, value: str) -> None:
        """`yyyy-MM-dd HH:mm:ss` (China time) within the tolerance of the wall clock."""
        try:
            sent = parse_qimen_time(value)
        except ValueError:
            raise QimenFailure(INVALID_PARAMETER, "Invalid arguments:timestamp") from None
        now = datetime.fromtimestamp(self.service.ctx.clock.wall(), CHINA)
        skew = (sent - now).total_seconds()
        if abs(skew) > TIMESTAMP_TOLERANCE_SECONDS:
            raise QimenFailure(
                INVALID_TIMESTAMP,
                f"Invalid timestamp: {value} is {skew:+.0f} s from server time"
                f" (tolerance {TIMESTAMP_TOLERANCE_SECONDS:.0f} s)",
            )

    def _fail(self, call: Call, code: str, message: str, json_out: bool) -> Response:
        self._record(call, code, message)
        return _answer(qimen_xml.failure(code, message), json_out)

    def _record(self, call: Call, outcome: str, message: str | None = None) -> None:
        payload: dict[str, Any] = {"params": call.params, "body": call.body}
        if message is not None:
            payload["message"] = message
        self.service.ctx.history.record("api_in", call.operation, outcome, call.entity, payload)

    # ------------------------------------------------------------ delivery orders

    def create(self, call: Call, root: etree._Element) -> str:
        call.entity = qimen_xml.text(root, "deliveryOrder/deliveryOrderCode")
        request = parse_create(root, call.customer_id)
        result = self.service.create_delivery_order(request, call.scope)
        message = "ok" if result.created else "deliveryOrderCode already received; same order"
        return qimen_xml.response("success", "0", message, *_created(result))

    def batch_create(self, call: Call, root: etree._Element) -> str:
        nodes = root.findall("orders/order")
        if not nodes:
            raise QimenFailure(MISSING_PARAMETER, "Missing required arguments:orders.order")
        if len(nodes) > MAX_LIST_ITEMS:
            raise QimenFailure(INVALID_PARAMETER, f"Invalid arguments:at most {MAX_LIST_ITEMS}")
        lines = sum(len(node.findall("orderLines/orderLine")) for node in nodes)
        if lines > MAX_LINES_PER_CALL:
            raise QimenFailure(
                INVALID_PARAMETER,
                f"Invalid arguments:{lines} lines, at most {MAX_LINES_PER_CALL} in one call",
            )
        requests = [parse_create(node, call.customer_id) for node in nodes]
        codes = [r.delivery_order_code for r in requests]
        if len(set(codes)) != len(codes):
            raise QimenFailure(INVALID_PARAMETER, "Invalid arguments:deliveryOrderCode repeated")
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
        code = qimen_xml.text(root, "deliveryOrderCode") or qimen_xml.text(root, "orderCode")
        call.entity = code
        if code is None:
            raise QimenFailure(MISSING_PARAMETER, "Missing required arguments:deliveryOrderCode")
        view = self.service.query_delivery_order(
            code, qimen_xml.text(root, "ownerCode"), call.scope
        )
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
            weight = qimen_xml.format_weight(view.weight_kg or 0.0)
            package = group(
                "package",
                (
                    el("logisticsCode", view.logistics_code),
                    el("expressCode", view.express_code),
                    el("weight", weight),
                ),
            )
            packages = group("packages", (package,))
        lines = qimen_xml.order_lines(asdict(line) for line in view.lines)
        return qimen_xml.response("success", "0", "ok", order, packages, lines)

    def cancel(self, call: Call, root: etree._Element) -> str:
        code = qimen_xml.text(root, "orderCode")
        call.entity = code
        if code is None:
            raise QimenFailure(MISSING_PARAMETER, "Missing required arguments:orderCode")
        self.service.cancel_order(
            code,
            qimen_xml.text(root, "ownerCode"),
            call.scope,
            qimen_xml.text(root, "orderType"),
        )
        return qimen_xml.response("success", "0", "canceled")

    # ------------------------------------------------------------ items and inventory

    def synchronize_item(self, call: Call, root: etree._Element) -> str:
        action = _one_of(_require(root, "actionType"), frozenset({"add", "update"}), "actionType")
        item = root.find("item")
        if item is None:
            raise QimenFailure(MISSING_PARAMETER, "Missing required arguments:item")
        call.entity = _require(item, "itemCode")
        request = ItemRequest(
            item_code=call.entity,
            owner_code=_require(root, "ownerCode"),
            name=_require(item, "itemName", MAX_TEXT_CHARS)
            if action == "add"
            else qimen_xml.text(item, "itemName", MAX_TEXT_CHARS),
            bar_code=qimen_xml.text(item, "barCode"),
            category=qimen_xml.text(item, "categoryName", MAX_TEXT_CHARS),
            weight_kg=_weight(item, "grossWeight"),
        )
        item_id = self.service.synchronize_item(action, request, call.scope)
        return qimen_xml.response("success", "0", "ok", el("itemId", item_id))

    def inventory(self, call: Call, root: etree._Element) -> str:
        nodes = root.findall("criteriaList/criteria")
        if not nodes:
            raise QimenFailure(MISSING_PARAMETER, "Missing required arguments:criteriaList")
        if len(nodes) > MAX_LIST_ITEMS:
            raise QimenFailure(INVALID_PARAMETER, f"Invalid arguments:at most {MAX_LIST_ITEMS}")
        criteria = [
            (
                qimen_xml.text(node, "warehouseCode"),
                _require(node, "itemCode"),
                qimen_xml.text(node, "ownerCode"),
            )
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
        header = _header(root, "entryOrder")
        call.entity = _require(header, "entryOrderCode")
        order_type = qimen_xml.text(header, "entryOrderType") or qimen_xml.text(header, "orderType")
        if order_type is None:
            raise QimenFailure(MISSING_PARAMETER, "Missing required arguments:entryOrderType")
        lines, owner = parse_inbound_lines(root, header_owner=qimen_xml.text(header, "ownerCode"))
        result = self.service.create_inbound_order(
            InboundOrderRequest(
                kind=InboundKind.ENTRY,
                order_code=call.entity,
                warehouse_code=_require(header, "warehouseCode"),
                order_type=_one_of(order_type, ENTRY_ORDER_TYPES, "entryOrderType"),
                owner_code=owner,
                lines=lines,
                supplier_code=qimen_xml.text(header, "supplierCode"),
                purchase_order_code=qimen_xml.text(header, "purchaseOrderCode"),
                logistics_code=qimen_xml.text(header, "logisticsCode"),
                express_code=qimen_xml.text(header, "expressCode"),
            ),
            call.scope,
        )
        return _inbound_created("entryOrderId", result.order_id, result.created)

    def create_return(self, call: Call, root: etree._Element) -> str:
        header = _header(root, "returnOrder")
        call.entity = _require(header, "returnOrderCode")
        lines, owner = parse_inbound_lines(root, header_owner=qimen_xml.text(header, "ownerCode"))
        result = self.service.create_inbound_order(
            InboundOrderRequest(
                kind=InboundKind.RETURN,
                order_code=call.entity,
                warehouse_code=_require(header, "warehouseCode"),
                order_type=_one_of(_require(header, "orderType"), RETURN_ORDER_TYPES, "orderType"),
                owner_code=owner,
                lines=lines,
                pre_delivery_order_code=qimen_xml.text(header, "preDeliveryOrderCode"),
                logistics_code=qimen_xml.text(header, "logisticsCode"),
                express_code=qimen_xml.text(header, "expressCode"),
                return_reason=qimen_xml.text(header, "returnReason", MAX_TEXT_CHARS),
            ),
            call.scope,
        )
        return _inbound_created("returnOrderId", result.order_id, result.created)

    def query_entry(self, call: Call, root: etree._Element) -> str:
        return self._query_inbound(call, root, InboundKind.ENTRY, "entryOrder")

    def query_return(self, call: Call, root: etree._Element) -> str:
        return self._query_inbound(call, root, InboundKind.RETURN, "returnOrder")

    def _query_inbound(self, call: Call, root: etree._Element, kind: InboundKind, tag: str) -> str:
        call.entity = _require(root, f"{tag}Code")
        view = self.service.query_inbound_order(
            kind, call.entity, qimen_xml.text(root, "ownerCode"), call.scope
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

    def create_transfer(self, call: Call, root: etree._Element) -> str:
        call.entity = _require(root, "transferOrderCode")
        lines, owner = parse_inbound_lines(root, "items/item", qimen_xml.text(root, "ownerCode"))
        order_id, created = self.service.create_transfer(
            TransferRequest(
                transfer_order_code=call.entity,
                from_warehouse_code=_require(root, "fromWarehouseCode"),
                to_warehouse_code=_require(root, "toWarehouseCode"),
                owner_code=owner,
                lines=lines,
            ),
            call.scope,
        )
        return _inbound_created("transferOrderId", order_id, created)


def _header(root: etree._Element, tag: str) -> etree._Element:
    node = root.find(tag)
    if node is None:
        raise QimenFailure(MISSING_PARAMETER, f"Missing required arguments:{tag}")
    return node


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


def _answer(document: str, json_out: bool) -> Response:
    if json_out:
        return Response(content=qimen_xml.to_json(document), media_type=JSON_CONTENT_TYPE)
    return Response(content=document.encode(), media_type=qimen_xml.CONTENT_TYPE)


def _operation(method: str | None) -> str:
    if not method:
        return "unknown"
    return method.removeprefix(METHOD_PREFIX)[:80]


def read_request(raw: bytes, as_json: bool) -> etree._Element | qimen_xml.XmlError:
    """The body's `<request>` tree (from XML, or JSON when `as_json`), or the XmlError to
    answer once the envelope is checked. Pure, so big bodies are read off the event loop."""
    try:
        if as_json:
            return qimen_xml.parse_json_request(raw)
        return qimen_xml.parse_request(raw)
    except qimen_xml.XmlError as exc:
        return exc


async def _read_capped(request: Request) -> bytes:
    """The body, but never more than MAX_BODY_BYTES + 1 bytes of it in memory."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        chunks.append(chunk)
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            break
    return b"".join(chunks)


def create_app(
    service: WmsService,
    credentials: QimenCredentials,
    tenants: Sequence[QimenCredentials] = (),
) -> ASGIApp:
    """The WMS fake's ASGI app: the Qimen router plus the shared /_fake/ control routes.

    `credentials` are the connector's (every owner); `tenants` are further credentials,
    each scoped to its `owners`, accepted alongside.
    """
    gateway = QimenGateway(service, credentials, tenants)
    router = APIRouter(tags=["qimen"])

    @router.api_route(
        PATH,
        methods=["GET", "POST", "PUT", "DELETE", "PATCH"],
        summary="Qimen router: taobao.qimen.<method>, signed, XML or JSON",
    )
    async def qimen_service(request: Request) -> Response:
        # Runs on the event loop on purpose: the service, SQLite and SimPy are single-threaded;
        # only a big body is read (parsed, nothing else) in a worker thread.
        raw = await _read_capped(request)
        params = dict(request.query_params)
        parsed = None
        if request.method == "POST" and len(raw) <= MAX_BODY_BYTES:
            as_json = params.get("format") == "json"
            parsed = await parse_off_loop(partial(read_request, as_json=as_json), raw)
        return gateway.handle(request.method, params, raw, parsed)

    def on_error(request: Request, exc: Exception) -> Response:
        failure = qimen_xml.failure(UNKNOWN_ERROR, f"internal error: {type(exc).__name__}")
        return _answer(failure, request.query_params.get("format") == "json")

    def on_unrouted(request: Request, status: int) -> Response:
        if status == 405:
            code, message = HTTP_METHOD_NOT_ALLOWED, f"HTTP method {request.method} not allowed"
        else:
            code, message = PATH_NOT_FOUND, f"No such path:{request.url.path[:100]}; use {PATH}"
        service.ctx.history.record("api_in", "unknown", code, None, {"path": request.url.path})
        answer = _answer(
            qimen_xml.failure(code, message), request.query_params.get("format") == "json"
        )
        answer.status_code = status
        return answer

    return make_app(
        "wms", service.ctx.clock, service.ctx.conn, [router], on_error, on_unrouted=on_unrouted
    )
