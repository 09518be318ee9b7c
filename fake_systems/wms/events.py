"""What the WMS reports to its connector, as domain events; `api/qimen_push.py` renders them.

The service says what happened (a package left, stock moved, goods were received); how the
connector hears it — Qimen XML, signed, retried — is the protocol side's business.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fake_systems.wms.models import InboundKind


@dataclass(frozen=True)
class OrderRef:
    """The delivery order a report is about, as every report names it (two owners may use
    one code: the owner tells them apart)."""

    code: str
    order_id: str
    owner_code: str
    warehouse_code: str
    order_type: str


@dataclass(frozen=True)
class ReportLine:
    """An order line with what was planned and what actually moved."""

    order_line_no: str
    owner_code: str
    item_code: str
    inventory_type: str
    plan_qty: int
    actual_qty: int


@dataclass(frozen=True)
class PackageShipped:
    """A package of a delivery order left the warehouse (deliveryorder.confirm).

    `final`: the order is DELIVERED with it, else PARTDELIVERED. `lines` carry this
    package's quantities; `express_code` is its waybill, `order_express_code` the order's own.
    """

    order: OrderRef
    logistics_code: str
    order_express_code: str
    express_code: str
    weight_kg: float
    lines: tuple[ReportLine, ...]
    confirm_time: str
    final: bool
    out_biz_code: str


@dataclass(frozen=True)
class OrderProgressed:
    """A delivery order changed state (orderprocess.report, when the config asks for it)."""

    order: OrderRef
    status: str
    operate_time: str
    remark: str | None
    out_biz_code: str


@dataclass(frozen=True)
class StockMove:
    warehouse_code: str
    item_code: str
    quantity: int  # signed: negative leaves the warehouse


@dataclass(frozen=True)
class StockChanged:
    """Stock of an owner's order moved (stockchange.report, when the config asks for it)."""

    owner_code: str
    order_code: str
    order_type: str
    out_biz_code: str
    change_time: str
    moves: tuple[StockMove, ...]


@dataclass(frozen=True)
class InboundReceived:
    """An entry or return order was received in full (entryorder / returnorder.confirm)."""

    kind: InboundKind
    order_code: str
    order_id: str
    owner_code: str
    warehouse_code: str
    order_type: str
    purchase_order_code: str | None
    supplier_code: str | None
    pre_delivery_order_code: str | None
    logistics_code: str | None
    express_code: str | None
    return_reason: str | None
    confirm_time: str
    lines: tuple[ReportLine, ...]
    out_biz_code: str


@dataclass(frozen=True)
class StockoutConfirmed:
    """An outbound order other than a sale (a transfer's DBCK leg) left (stockout.confirm)."""

    order: OrderRef
    lines: tuple[ReportLine, ...]
    confirm_time: str
    out_biz_code: str


@dataclass(frozen=True)
class CountLine:
    """An item a count found off the books: units on the books, counted, and the signed
    difference the WMS adjusted on_hand by."""

    item_code: str
    book_qty: int
    counted_qty: int
    difference: int


@dataclass(frozen=True)
class InventoryCounted:
    """A cycle count of one ABC class found differences (inventory.report, adjustType CHECK)."""

    owner_code: str
    check_order_code: str
    check_order_id: str
    warehouse_code: str
    abc_class: str
    check_time: str
    book_total: int  # units on the books of every item counted, with or without a difference
    lines: tuple[CountLine, ...]
    out_biz_code: str


WmsEvent = (
    PackageShipped
    | OrderProgressed
    | StockChanged
    | InboundReceived
    | StockoutConfirmed
    | InventoryCounted
)
Listener = Callable[[WmsEvent], None]
