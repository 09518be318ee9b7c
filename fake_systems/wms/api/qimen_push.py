"""The WMS's events as Qimen calls to the connector: rendered, signed, handed to the dispatcher.

deliveryorder.confirm, orderprocess.report, stockchange.report, entryorder.confirm,
returnorder.confirm, stockout.confirm and inventory.report go to the connector's callback,
signed with its credentials like any Qimen call, and count as delivered on HTTP 200 with
`<flag>success</flag>`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from datetime import datetime
from typing import Any

from fake_systems.common.context import SystemContext
from fake_systems.common.credentials import QimenCredentials
from fake_systems.common.signing import qimen_sign
from fake_systems.common.webhooks import Push, PushReply
from fake_systems.wms import qimen_xml
from fake_systems.wms.events import (
    InboundReceived,
    InventoryCounted,
    OrderProgressed,
    PackageShipped,
    ReportLine,
    StockChanged,
    StockoutConfirmed,
    WmsEvent,
)
from fake_systems.wms.models import InboundKind
from fake_systems.wms.service import WmsService
from simulator.clock import CHINA, format_qimen_time

METHOD_PREFIX = "taobao.qimen."
CONFIRM_METHOD = "taobao.qimen.deliveryorder.confirm"
STOCK_CHANGE_METHOD = "taobao.qimen.stockchange.report"
PROCESS_METHOD = "taobao.qimen.orderprocess.report"
STOCKOUT_CONFIRM_METHOD = "taobao.qimen.stockout.confirm"
INVENTORY_REPORT_METHOD = "taobao.qimen.inventory.report"
INBOUND_CONFIRM_METHODS = {
    InboundKind.ENTRY: "taobao.qimen.entryorder.confirm",
    InboundKind.RETURN: "taobao.qimen.returnorder.confirm",
}
# What a forger signs with instead of the secret: anything but the secret.
FORGED = "-forged"
# The pushes as the history names them (operation without the prefix), for the coverage.
PUSHES = tuple(
    method.removeprefix(METHOD_PREFIX)
    for method in (
        CONFIRM_METHOD,
        PROCESS_METHOD,
        STOCK_CHANGE_METHOD,
        *INBOUND_CONFIRM_METHODS.values(),
        STOCKOUT_CONFIRM_METHOD,
        INVENTORY_REPORT_METHOD,
    )
)


class QimenPushes:
    """Listens to a WmsService and tells its connector, at `confirm_callback_url`, what
    happened (no URL: nothing is rendered nor sent)."""

    def __init__(self, service: WmsService, credentials: QimenCredentials) -> None:
        self.service = service
        self.ctx: SystemContext = service.ctx
        self.credentials = credentials

    @classmethod
    def attach(cls, service: WmsService, credentials: QimenCredentials) -> QimenPushes:
        """Render `service`'s events from now on (replacing any earlier listener)."""
        pushes = cls(service, credentials)
        service.listen(pushes)
        return pushes

    def __call__(self, event: WmsEvent) -> None:
        url = self.service.confirm_callback_url
        if not url:
            return
        method, entity, body, summary = render(event)
        self.ctx.dispatcher.send(
            self.push(
                url,
                method,
                entity,
                body,
                summary,
                self.credentials.secret,
                forge=lambda: self.forge(url, method, entity, body, summary),
            )
        )

    def push(
        self,
        url: str,
        method: str,
        entity: str,
        body: str,
        summary: dict[str, Any],
        secret: str,
        forge: Callable[[], Push | None] | None = None,
    ) -> Push:
        """One Qimen call to the connector, signed with `secret`."""
        return Push(
            operation=method.removeprefix(METHOD_PREFIX),
            entity=entity,
            url=url,
            content=body.encode(),
            headers={"Content-Type": qimen_xml.CONTENT_TYPE},
            params=self.signed_params(method, body, secret),
            accepted=accepted,
            payload_for_history=summary,
            forge=forge,
        )

    def forge(self, url: str, method: str, entity: str, body: str, summary: dict[str, Any]) -> Push:
        """`push_forged`: a push whose sign is not the WMS's. A confirm is rendered for the
        newest order not yet shipped, so acting on it (an OMS ship, ERP documents) shows in
        the judge; any other push, and a confirm when every order has left, is this one."""
        if method == CONFIRM_METHOD:
            shipment = self.service.unmade_shipment()
            if shipment is not None:
                method, entity, body, summary = render(shipment)
        return self.push(url, method, entity, body, summary, self.credentials.secret + FORGED)

    def signed_params(self, method: str, body: str, secret: str | None = None) -> dict[str, str]:
        """Query parameters of a Qimen call from this WMS, signed with the issued secret
        (or, for a forgery, with `secret`)."""
        params = {
            "method": method,
            "timestamp": format_qimen_time(
                datetime.fromtimestamp(self.ctx.wall(method.removeprefix(METHOD_PREFIX)), CHINA)
            ),
            "format": "xml",
            "app_key": self.credentials.app_key,
            "v": "2.0",
            "sign_method": "md5",
            "customerId": self.credentials.customer_id,
        }
        params["sign"] = qimen_sign(secret or self.credentials.secret, params, body)
        return params


def render(event: WmsEvent) -> tuple[str, str, str, dict[str, Any]]:
    """(method, entity, XML body, what the history keeps) of one event."""
    if isinstance(event, PackageShipped):
        order = event.order
        header: dict[str, Any] = {
            "delivery_order_code": order.code,
            "delivery_order_id": order.order_id,
            "owner_code": order.owner_code,
            "warehouse_code": order.warehouse_code,
            "order_type": order.order_type,
            "logistics_code": event.logistics_code,
            "express_code": event.order_express_code,
            "delivered_sim": event.confirm_time,
        }
        body = qimen_xml.confirm_body(
            header,
            _lines(event.lines),
            event.express_code,
            event.weight_kg,
            event.out_biz_code,
            event.final,
        )
        summary: dict[str, Any] = {
            "deliveryOrderId": order.order_id,
            "outBizCode": event.out_biz_code,
            "expressCode": event.express_code,
        }
        return CONFIRM_METHOD, order.code, body, summary
    if isinstance(event, OrderProgressed):
        order = event.order
        header = {
            "delivery_order_code": order.code,
            "delivery_order_id": order.order_id,
            "owner_code": order.owner_code,
            "order_type": order.order_type,
            "warehouse_code": order.warehouse_code,
        }
        body = qimen_xml.process_report_body(
            header, event.status, event.operate_time, event.out_biz_code, event.remark
        )
        summary = {"outBizCode": event.out_biz_code, "processStatus": event.status}
        return PROCESS_METHOD, order.code, body, summary
    if isinstance(event, StockChanged):
        moves = [(m.warehouse_code, m.item_code, m.quantity) for m in event.moves]
        body = qimen_xml.stock_change_body(
            event.owner_code,
            event.order_code,
            event.order_type,
            event.out_biz_code,
            event.change_time,
            moves,
        )
        summary = {"outBizCode": event.out_biz_code, "lines": len(moves)}
        return STOCK_CHANGE_METHOD, event.order_code, body, summary
    if isinstance(event, StockoutConfirmed):
        order = event.order
        header = {
            "order_code": order.code,
            "order_id": order.order_id,
            "owner_code": order.owner_code,
            "warehouse_code": order.warehouse_code,
            "order_type": order.order_type,
            "confirmed_sim": event.confirm_time,
        }
        body = qimen_xml.stockout_confirm_body(header, _lines(event.lines), event.out_biz_code)
        summary = {"orderId": order.order_id, "outBizCode": event.out_biz_code}
        return STOCKOUT_CONFIRM_METHOD, order.code, body, summary
    if isinstance(event, InventoryCounted):
        header = {
            "warehouse_code": event.warehouse_code,
            "check_order_code": event.check_order_code,
            "check_order_id": event.check_order_id,
            "owner_code": event.owner_code,
            "check_time": event.check_time,
            "abc_class": event.abc_class,
            "book_total": event.book_total,
        }
        body = qimen_xml.inventory_report_body(
            header, [asdict(line) for line in event.lines], event.out_biz_code
        )
        summary = {"checkOrderId": event.check_order_id, "outBizCode": event.out_biz_code}
        return INVENTORY_REPORT_METHOD, event.check_order_code, body, summary
    return _render_inbound(event)


def _render_inbound(event: InboundReceived) -> tuple[str, str, str, dict[str, Any]]:
    order = {
        "order_code": event.order_code,
        "inbound_order_id": event.order_id,
        "owner_code": event.owner_code,
        "warehouse_code": event.warehouse_code,
        "order_type": event.order_type,
        "purchase_order_code": event.purchase_order_code,
        "supplier_code": event.supplier_code,
        "pre_delivery_order_code": event.pre_delivery_order_code,
        "logistics_code": event.logistics_code,
        "express_code": event.express_code,
        "return_reason": event.return_reason,
        "confirmed_sim": event.confirm_time,
    }
    body = qimen_xml.inbound_confirm_body(
        event.kind.value, order, _lines(event.lines), event.out_biz_code
    )
    summary = {"orderId": event.order_id, "outBizCode": event.out_biz_code}
    return INBOUND_CONFIRM_METHODS[event.kind], event.order_code, body, summary


def _lines(lines: tuple[ReportLine, ...]) -> list[dict[str, Any]]:
    return [asdict(line) for line in lines]


def accepted(reply: PushReply) -> bool:
    """The connector took a push: HTTP 200 and `<flag>success</flag>`."""
    return reply.status_code == 200 and qimen_xml.response_flag(reply.content) == "success"
