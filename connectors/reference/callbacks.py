"""The connector's callback server: WMS confirms, carrier tracking pushes, and a readiness probe.

Each push is verified, stored in the inbox (deduplicated), and only then acknowledged; the
work it triggers runs afterwards, so a slow peer never makes the pusher wait or retry.
"""

from __future__ import annotations

import logging
import sqlite3
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from urllib.parse import parse_qsl, unquote
from xml.sax.saxutils import escape

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from connectors.reference.clients.oms import CHINA, TIME_FORMAT
from connectors.reference.clients.qimen import child_text, parse_xml
from connectors.reference.count_flow import METHODS as COUNT_METHODS
from connectors.reference.count_flow import CountFlow
from connectors.reference.purchase_return_flow import STOCKOUT_CONFIRM_METHOD, PurchaseReturnFlow
from connectors.reference.signing import kdniao_data_sign, qimen_sign, same_signature
from connectors.reference.stock_flow import METHODS as STOCK_METHODS
from connectors.reference.stock_flow import StockFlow
from connectors.reference.store import SIGNED_STATE, Package, Shipment, StateStore
from connectors.reference.transfer_flow import METHODS as TRANSFER_METHODS
from connectors.reference.transfer_flow import TransferFlow

log = logging.getLogger("connectors.reference")

CONFIRM_METHOD = "taobao.qimen.deliveryorder.confirm"
RETURN_CONFIRM_METHOD = "taobao.qimen.returnorder.confirm"
PARTIAL_CONFIRM = "1"
XML_TYPE = "text/xml; charset=utf-8"


# ---------------------------------------------------------------- verification (pure)


def qimen_signature_ok(params: Mapping[str, str], body: str, secret: str) -> bool:
    """True if the query's `sign` is the Qimen md5 of the other parameters and the body."""
    sent = params.get("sign")
    if not sent:
        return False
    return same_signature(sent.upper(), qimen_sign(secret, params, body))


def kdniao_signature_ok(request_data: str, data_sign: str, api_key: str) -> bool:
    """True if DataSign matches; it may arrive URL-encoded once more than the form requires."""
    expected = kdniao_data_sign(request_data, api_key)
    candidates = {data_sign, unquote(data_sign), data_sign.replace(" ", "+")}
    return any(same_signature(candidate, expected) for candidate in candidates)


def qimen_answer(flag: str, code: str, message: str) -> Response:
    body = (
        f'<?xml version="1.0" encoding="utf-8"?><response><flag>{flag}</flag>'
        f"<code>{escape(code)}</code><message>{escape(message)}</message></response>"
    )
    return Response(body.encode(), media_type=XML_TYPE)


@dataclass(frozen=True)
class Confirm:
    """The parts of a deliveryorder.confirm the connector acts on."""

    out_biz_code: str
    delivery_order_code: str
    delivery_order_id: str | None
    partial: bool
    shipment: Shipment
    owner_code: str | None = None  # whose order: one code may be used by several owners
    # This confirm's own parcel: its waybill (the package's, not the order's) and its lines.
    package: Package | None = None


def parse_confirm(body: bytes) -> Confirm:
    """Read a deliveryorder.confirm body; raises ValueError if a required part is missing."""
    root = parse_xml(body)
    order = root.find("deliveryOrder")
    if order is None:
        raise ValueError("no deliveryOrder")
    code = child_text(order, "deliveryOrderCode")
    if code is None:
        raise ValueError("no deliveryOrderCode")
    order_id = child_text(order, "deliveryOrderId")
    # outBizCode is the push's identity; without one, the order and its status stand in.
    out_biz_code = (
        child_text(order, "outBizCode") or f"{order_id or code}-{child_text(order, 'status')}"
    )
    package = root.find("packages/package")
    source = package if package is not None else order
    line = root.find("orderLines/orderLine")
    owner_code = child_text(order, "ownerCode") or (
        child_text(line, "ownerCode") if line is not None else None
    )
    package_waybill = child_text(source, "expressCode")
    package_lines = tuple(
        (
            child_text(ln, "orderLineNo") or "",
            child_text(ln, "itemCode") or "",
            int(child_text(ln, "actualQty") or 0),
        )
        for ln in root.findall("orderLines/orderLine")
    )
    return Confirm(
        out_biz_code=out_biz_code,
        delivery_order_code=code,
        delivery_order_id=order_id,
        partial=child_text(order, "confirmType") == PARTIAL_CONFIRM,
        owner_code=owner_code,
        shipment=Shipment(
            logistics_code=child_text(source, "logisticsCode")
            or child_text(order, "logisticsCode"),
            # The order's own waybill (the one the create gave) before a package's: the last
            # package of a split order has a number of its own, and the OMS keeps one
            # waybill per trade.
            express_code=child_text(order, "expressCode") or child_text(source, "expressCode"),
            confirm_time=child_text(order, "orderConfirmTime"),
        ),
        package=Package(
            child_text(source, "logisticsCode") or child_text(order, "logisticsCode"),
            package_waybill,
            package_lines,
        )
        if package_waybill and package_lines
        else None,
    )


@dataclass(frozen=True)
class ReturnConfirm:
    """The parts of a returnorder.confirm the connector acts on: per line and inventoryType,
    the units the warehouse received."""

    out_biz_code: str
    return_order_code: str
    owner_code: str | None
    confirm_time: str | None
    lines: list[dict[str, Any]]


def parse_return_confirm(body: bytes) -> ReturnConfirm:
    """Read a returnorder.confirm body; raises ValueError if a required part is missing."""
    root = parse_xml(body)
    order = root.find("returnOrder")
    if order is None:
        raise ValueError("no returnOrder")
    code = child_text(order, "returnOrderCode")
    if code is None:
        raise ValueError("no returnOrderCode")
    out_biz_code = child_text(order, "outBizCode") or (
        f"{child_text(order, 'returnOrderId') or code}-{child_text(order, 'status')}"
    )
    lines = []
    for line in root.findall("orderLines/orderLine"):
        item, qty = child_text(line, "itemCode"), child_text(line, "actualQty")
        if item is None or qty is None:
            raise ValueError("an orderLine without itemCode or actualQty")
        lines.append(
            {
                "orderLineNo": child_text(line, "orderLineNo"),
                "itemCode": item,
                "inventoryType": child_text(line, "inventoryType") or "ZP",
                "actualQty": int(qty),
            }
        )
    first = root.find("orderLines/orderLine")
    owner_code = child_text(order, "ownerCode") or (
        child_text(first, "ownerCode") if first is not None else None
    )
    return ReturnConfirm(
        out_biz_code, code, owner_code, child_text(order, "orderConfirmTime"), lines
    )


# ---------------------------------------------------------------- the app


class FlowStarter(Protocol):
    """What a received push starts (the Workflow; a recorder in tests)."""

    def start_shipment(self, trade_no: str) -> None: ...

    def start_completion(self, trade_no: str) -> None: ...

    def start_package(self, out_biz_code: str) -> None: ...

    def start_return_booking(self, refund_no: str) -> None: ...


class CallbackHandlers:
    """Request handlers bound to the connector's store, workflow and secrets."""

    def __init__(
        self,
        store: StateStore,
        workflow: FlowStarter,
        wms_secret: str,
        carrier_api_key: str,
        carrier_ebusiness_id: str,
        ready: Callable[[], bool],
    ) -> None:
        self.store = store
        self.workflow = workflow
        self.wms_secret = wms_secret
        self.carrier_api_key = carrier_api_key
        self.carrier_ebusiness_id = carrier_ebusiness_id
        self.ready = ready
        self.stats: Counter[str] = Counter()
        # The stock flows' pushes (entryorder.confirm, stockchange.report) go there when set.
        self.stock: StockFlow | None = None
        # A transfer's confirms (stockout.confirm, a DBRK entryorder.confirm) go there when set.
        self.transfers: TransferFlow | None = None
        # A cycle count's inventory.report goes there when set.
        self.counts: CountFlow | None = None
        # A purchase return's stockout.confirm (CGTH) goes there when set.
        self.purchase_returns: PurchaseReturnFlow | None = None

    def wms_signature_ok(self, params: Mapping[str, str], body: str) -> bool:
        """Whether a WMS push carries the WMS's sign; nothing unsigned is ever acted on."""
        return qimen_signature_ok(params, body, self.wms_secret)

    def completes_order(self, state: int) -> bool:
        """Whether a tracking State completes the order: only 3, signed for. A 4 (问题件) is
        not an end: a 405 or 420 is often followed by a 302 (signed after the problem)."""
        return state == SIGNED_STATE

    def carrier_signature_ok(self, request_data: str, data_sign: str) -> bool:
        """Whether a carrier push carries Kdniao's DataSign for our api key."""
        return kdniao_signature_ok(request_data, data_sign, self.carrier_api_key)

    def duplicate_confirm(self, trade_no: str | None) -> None:
        """A confirm already in the inbox came again (the WMS resent it): it was acted on the
        first time, so nothing is done."""

    async def health(self, request: Request) -> Response:
        if self.ready():
            return JSONResponse({"status": "ok"})
        return JSONResponse({"status": "starting"}, status_code=503)

    async def qimen_callback(self, request: Request) -> Response:
        raw = await request.body()
        params = dict(request.query_params)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            return qimen_answer("failure", "isv.invalid-format", "body is not UTF-8")
        if not self.wms_signature_ok(params, text):
            self.stats["bad_signature"] += 1
            log.error("refused a WMS push with a bad sign (method %s)", params.get("method"))
            return qimen_answer("failure", "sign-check-failure", "sign check failed")
        if params.get("method") == RETURN_CONFIRM_METHOD:
            return self._return_confirm(raw, text)
        if self.purchase_returns is not None and params.get("method") == STOCKOUT_CONFIRM_METHOD:
            answer = self.purchase_returns.receive(raw)
            if answer is not None:
                return answer
        if self.transfers is not None and params.get("method") in TRANSFER_METHODS:
            answer = self.transfers.receive(params["method"], raw)
            if answer is not None:
                return answer
        if self.counts is not None and params.get("method") in COUNT_METHODS:
            return self.counts.receive(raw)
        if self.stock is not None and params.get("method") in STOCK_METHODS:
            return self.stock.receive(params["method"], raw)
        if params.get("method") != CONFIRM_METHOD:
            return qimen_answer("success", "0", "ignored")
        try:
            confirm = parse_confirm(raw)
        except ValueError as error:
            log.error("refused a malformed deliveryorder.confirm: %s", error)
            return qimen_answer("failure", "isv.invalid-parameter", str(error))
        package = self.package_of(confirm)
        if confirm.partial and package is None:
            return qimen_answer("success", "0", "ok")  # nothing to act on (no waybill)
        try:
            new, trade_no = self.store.receive_confirm(
                confirm.out_biz_code,
                confirm.delivery_order_code,
                confirm.delivery_order_id,
                confirm.shipment,
                {"outBizCode": confirm.out_biz_code, "body": text},
                confirm.owner_code,
                package,
                confirm.partial,
            )
        except sqlite3.Error as error:
            # Not stored, so not acknowledged: the WMS will push it again.
            log.error("could not store confirm %s: %s", confirm.out_biz_code, error)
            return qimen_answer("failure", "isp.storage-error", "try again later")
        if not new:
            self.stats["confirm_duplicates"] += 1
            self.duplicate_confirm(trade_no)
        elif trade_no is None:
            log.error(
                "confirm for unknown deliveryOrderCode %s (owner %s)",
                confirm.delivery_order_code,
                confirm.owner_code,
            )
            self.stats["confirm_unknown"] += 1
        elif confirm.partial:
            self.stats["partial_confirms"] += 1
            self.workflow.start_package(confirm.out_biz_code)
        else:
            self.stats["confirms"] += 1
            self.workflow.start_shipment(trade_no)
            if package is not None:
                self.workflow.start_package(confirm.out_biz_code)  # stopped if cancelled
        return qimen_answer("success", "0", "ok")

    def package_of(self, confirm: Confirm) -> Package | None:
        """The package a confirm reports when its order ships in several, else None (a whole
        shipment). A partial confirm (confirmType 1) is always one; so is a final one that
        ships fewer units than the trade has: its earlier packages' confirms may come later
        (a lost push is redelivered minutes on), and it must not be taken for the whole."""
        if confirm.package is None:
            return None
        if confirm.partial:
            return confirm.package
        trade_no = self.store.trade_for_delivery_code(confirm.delivery_order_code)
        if trade_no is None:
            return None
        ordered = sum(int(d["num"]) for d in self.store.trade(trade_no).get("detail_list") or [])
        return confirm.package if confirm.package.units < ordered else None

    def _return_confirm(self, raw: bytes, text: str) -> Response:
        try:
            confirm = parse_return_confirm(raw)
        except ValueError as error:
            log.error("refused a malformed returnorder.confirm: %s", error)
            return qimen_answer("failure", "isv.invalid-parameter", str(error))
        try:
            new, refund_no = self.store.receive_return_confirm(
                confirm.out_biz_code,
                confirm.return_order_code,
                confirm.owner_code,
                confirm.lines,
                confirm.confirm_time,
                {"outBizCode": confirm.out_biz_code, "body": text},
            )
        except sqlite3.Error as error:
            log.error("could not store return confirm %s: %s", confirm.out_biz_code, error)
            return qimen_answer("failure", "isp.storage-error", "try again later")
        if not new:
            self.stats["return_confirm_duplicates"] += 1
        elif refund_no is None:
            log.error("return confirm for unknown returnOrderCode %s", confirm.return_order_code)
            self.stats["return_confirm_unknown"] += 1
        else:
            self.stats["return_confirms"] += 1
            self.workflow.start_return_booking(refund_no)
        return qimen_answer("success", "0", "ok")

    def _kdniao_answer(self, success: bool, reason: str = "") -> Response:
        return JSONResponse(
            {
                "EBusinessID": self.carrier_ebusiness_id,
                "UpdateTime": datetime.now(CHINA).strftime(TIME_FORMAT),
                "Success": success,
                "Reason": reason,
            }
        )

    async def kdniao_push(self, request: Request) -> Response:
        try:
            # parse_qsl, not request.form(): a plain urlencoded form needs no multipart parser.
            form = dict(parse_qsl((await request.body()).decode("utf-8"), keep_blank_values=True))
        except (UnicodeDecodeError, ValueError):
            return self._kdniao_answer(False, "not a UTF-8 form")
        request_data = form.get("RequestData")
        data_sign = form.get("DataSign")
        if not request_data or not data_sign:
            return self._kdniao_answer(False, "RequestData and DataSign are required")
        if not self.carrier_signature_ok(request_data, data_sign):
            self.stats["bad_signature"] += 1
            log.error("refused a carrier push with a bad DataSign")
            return self._kdniao_answer(False, "DataSign verification failed")
        try:
            payload = orjson.loads(request_data)
            items = payload["Data"] if isinstance(payload, dict) else None
            if not isinstance(items, list):
                raise ValueError("Data must be a list")
            traces = [_trace(item) for item in items]
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as error:
            log.error("refused a malformed carrier push: %s", error)
            return self._kdniao_answer(False, f"malformed RequestData: {error}")
        for (logistic_code, state, order_code), item in zip(traces, items, strict=True):
            try:
                completes = self.completes_order(state)
                new, trade_no = self.store.receive_trace(
                    logistic_code, state, order_code, item, completes
                )
            except sqlite3.Error as error:
                log.error("could not store trace %s:%s: %s", logistic_code, state, error)
                return self._kdniao_answer(False, "storage error, push again later")
            if not new:
                self.stats["trace_repeats"] += 1  # same waybill and State (e.g. a new StateEx)
                continue
            self.stats["traces"] += 1
            if trade_no is not None and completes:
                self.workflow.start_completion(trade_no)
        return self._kdniao_answer(True)


def _trace(item: Any) -> tuple[str, int, str | None]:
    """(LogisticCode, State, OrderCode) of one Data[] item of a 101 push."""
    if not isinstance(item, dict) or not item.get("LogisticCode"):
        raise ValueError("a Data item without LogisticCode")
    order_code = item.get("OrderCode")
    return (
        str(item["LogisticCode"]),
        int(item.get("State", 0)),
        str(order_code) if order_code else None,
    )


def create_callback_app(handlers: CallbackHandlers, extra: Sequence[Route] = ()) -> Starlette:
    """`GET /health`, `POST /qimen/callback`, `POST /kdniao/push`, and `extra` routes."""
    return Starlette(
        routes=[
            Route("/health", handlers.health, methods=["GET"]),
            Route("/qimen/callback", handlers.qimen_callback, methods=["POST"]),
            Route("/kdniao/push", handlers.kdniao_push, methods=["POST"]),
            *extra,
        ]
    )
