"""The WMS fake's vocabulary: delivery order states, requests, views, errors, the carrier seam."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol


class DeliveryStatus(StrEnum):
    """Qimen delivery order states the fake walks through (a subset of the real list)."""

    NEW = "NEW"
    ACCEPT = "ACCEPT"
    PICK = "PICK"
    PACKAGE = "PACKAGE"
    PARTDELIVERED = "PARTDELIVERED"  # the first package of a split order has left
    DELIVERED = "DELIVERED"
    CANCELED = "CANCELED"
    EXCEPTION = "EXCEPTION"  # 异常: nothing on the shelf to pick (a stock_out fault), waiting


@dataclass(frozen=True)
class WmsConfig:
    """Work times in simulated seconds, each drawn uniformly from (low, high) per order."""

    accept_seconds: tuple[float, float] = (30.0, 120.0)
    pick_seconds: tuple[float, float] = (60.0, 240.0)
    pack_seconds: tuple[float, float] = (60.0, 180.0)
    # Inbound (entry and return orders): from ACCEPT until the goods are counted in.
    receive_seconds: tuple[float, float] = (300.0, 900.0)
    # Push taobao.qimen.stockchange.report for every stock movement (issue 13: on by default).
    # The confirms tell the connector of shipments and receipts, but not of counts, transfers
    # or returns to the sender; the push's cost is measured in docs/PERFORMANCE.md.
    stock_change_reports: bool = True
    # Purchase entry orders (CGRK) wait for their supplier's delivery (the simulator's
    # procurement says what arrived: more, fewer, damaged) and receive what it brought. Off:
    # an entry order receives its planned quantities, as before (no procurement is played).
    supplier_deliveries: bool = False
    # Share (0..1) of orders of two units or more shipped in two packages: a partial
    # deliveryorder.confirm (confirmType 1, PARTDELIVERED) for the first, a final one
    # (confirmType 0) for the rest one more pack time later. 0 keeps runs as they were: no
    # random draw is made at all, so the same seed gives the same run.
    partial_delivery_share: float = 0.0
    # Push taobao.qimen.orderprocess.report on every delivery order state change. Off by
    # default: four more pushes per order (ACCEPT, PICK, PACKAGE, DELIVERED) would double
    # the connector's inbound load, and the confirm already carries what it must act on.
    process_reports: bool = False


# Qimen orderType values for outbound sales orders the fake accepts.
ORDER_TYPES = frozenset({"JYCK", "HHCK", "BFCK", "QTCK"})
# EXCEPTION too: an order waiting for stock has had nothing picked yet.
CANCELABLE = frozenset({DeliveryStatus.NEW, DeliveryStatus.ACCEPT, DeliveryStatus.EXCEPTION})
# orderType values of entryorder.create (entryOrderType in its confirm), TOP-CS
# EntryorderCreateRequest.cs: production, internal use, defective, purchase, transfer, other,
# B2B and virtual receipts.
ENTRY_ORDER_TYPES = frozenset({"CGRK", "DBRK", "QTRK", "SCRK", "LYRK", "B2BRK", "CCRK", "XNRK"})
# orderType values of returnorder.create (sales return, exchange return).
RETURN_ORDER_TYPES = frozenset({"THRK", "HHRK"})
# The warehouseCode an ERP sends when it does not choose one (统仓统配, "填OTHER").
ANY_WAREHOUSE = "OTHER"
# The ownerCode of an item every owner sells from (the integrator's add only; ecomock's).
SHARED_OWNER = "OTHER"
INVENTORY_TYPES = frozenset({"ZP", "CC", "JS", "XS", "XZ", "ZT"})


class InboundStatus(StrEnum):
    """Entry and return order states (Qimen's, without PARTFULFILLED)."""

    NEW = "NEW"
    ACCEPT = "ACCEPT"
    FULFILLED = "FULFILLED"
    CANCELED = "CANCELED"


class InboundKind(StrEnum):
    """Entry orders (入库单) and return orders (退货入库单) share one table and one life."""

    ENTRY = "entryorder"
    RETURN = "returnorder"


# Qimen `logisticsCode` -> Kdniao `ShipperCode` where the two lists spell a company
# differently (docs/protocols/carrier.md, "Qimen and Kdniao codes"); the rest are the same.
KDNIAO_SHIPPER_CODES = {
    "YUNDA": "YD",
    "EYB": "EMS",
    "POSTB": "YZPY",
    "BSKY": "BTWL",
    "TTKDEX": "HHTT",
    "DBKD": "DBL",
    "DBWL": "DBLKY",
    "DBKY": "DBLKY",
}


def kdniao_shipper_code(logistics_code: str) -> str:
    """The Kdniao ShipperCode of a Qimen logisticsCode (`YUNDA` -> `YD`)."""
    return KDNIAO_SHIPPER_CODES.get(logistics_code, logistics_code)


class CarrierDesk(Protocol):
    """What the WMS needs of the carrier: waybill numbers, whether a number given with an
    order may carry its owner's goods, and the physical hand-over."""

    def issue_waybill(self, order_code: str, shipper_code: str, owner_code: str) -> str:
        """A LogisticCode (waybill number) for the owner's order; the same for a repeat."""
        ...

    def waybill_usable(self, logistic_code: str, owner_code: str) -> bool:
        """True if a shipment of `owner_code` may leave under this waybill number."""
        ...

    def hand_over(
        self,
        logistic_code: str,
        shipper_code: str,
        weight_kg: float,
        route: tuple[str, str] = ("", ""),
    ) -> None:
        """The parcel leaves the warehouse; the carrier starts tracking it. `route` is the
        (sender, receiver) province, which the carrier's fees go by."""
        ...


class WmsError(Exception):
    """A business refusal, answered on the wire as `<flag>failure</flag><code>…</code>`."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


# Business failure codes (chosen; see docs/protocols/wms.md).
WAREHOUSE_NOT_EXIST = "WAREHOUSE_NOT_EXIST"
OWNER_NOT_EXIST = "OWNER_NOT_EXIST"
ITEM_NOT_EXIST = "ITEM_NOT_EXIST"
STOCK_NOT_ENOUGH = "STOCK_NOT_ENOUGH"
ORDER_NOT_EXIST = "ORDER_NOT_EXIST"
CANCELEDFAIL = "CANCELEDFAIL"
INVALID_PARAMETER = "isv.invalid-parameter"
ITEM_EXIST = "ITEM_EXIST"
PERMISSION_DENIED = "isv.permission-denied"


@dataclass(frozen=True)
class OrderLineRequest:
    order_line_no: str
    item_code: str
    plan_qty: int
    owner_code: str | None = None
    source_order_code: str | None = None
    inventory_type: str = "ZP"
    actual_price: str | None = None  # decimal yuan text, kept as sent


@dataclass(frozen=True)
class DeliveryOrderRequest:
    """A deliveryorder.create, already parsed and shape-checked by the adapter."""

    delivery_order_code: str
    warehouse_code: str
    order_type: str
    logistics_code: str
    lines: tuple[OrderLineRequest, ...]
    customer_id: str = ""
    express_code: str | None = None
    source_platform_code: str | None = None
    shop_nick: str | None = None
    receiver_province: str = ""  # receiverInfo.province: the carrier bills by it


@dataclass(frozen=True)
class ItemRequest:
    """singleitem.synchronize: an item to add or update."""

    item_code: str
    owner_code: str | None
    name: str | None = None
    bar_code: str | None = None
    category: str | None = None
    weight_kg: float | None = None
    warehouse_code: str | None = None  # one catalogue for all: only checked to exist


@dataclass(frozen=True)
class InboundLineRequest:
    order_line_no: str
    item_code: str
    plan_qty: int
    owner_code: str | None = None
    inventory_type: str = "ZP"


@dataclass(frozen=True)
class InboundOrderRequest:
    """entryorder.create or returnorder.create, parsed by the adapter."""

    kind: InboundKind
    order_code: str
    warehouse_code: str
    order_type: str
    owner_code: str | None
    lines: tuple[InboundLineRequest, ...]
    supplier_code: str | None = None
    purchase_order_code: str | None = None
    pre_delivery_order_code: str | None = None
    logistics_code: str | None = None
    express_code: str | None = None
    return_reason: str | None = None


@dataclass(frozen=True)
class InboundResult:
    order_id: str
    created: bool  # False for an idempotent repeat


@dataclass(frozen=True)
class InboundOrderView:
    kind: InboundKind
    order_id: str
    order_code: str
    owner_code: str
    warehouse_code: str
    order_type: str
    status: InboundStatus
    created_sim: str
    confirmed_sim: str | None
    pre_delivery_order_code: str | None
    lines: tuple[LineView, ...]


@dataclass(frozen=True)
class StockView:
    warehouse_code: str
    item_code: str
    on_hand: int
    reserved: int


@dataclass(frozen=True)
class TransferRequest:
    """transferorder.create: move stock between two warehouses of one owner."""

    transfer_order_code: str
    from_warehouse_code: str
    to_warehouse_code: str
    owner_code: str | None
    lines: tuple[InboundLineRequest, ...]


@dataclass(frozen=True)
class CreateResult:
    delivery_order_id: str
    warehouse_code: str
    logistics_code: str
    created_sim: str
    created: bool  # False when an earlier identical code answered (idempotent repeat)


@dataclass(frozen=True)
class LineView:
    order_line_no: str
    item_code: str
    plan_qty: int
    actual_qty: int


@dataclass(frozen=True)
class DeliveryOrderView:
    delivery_order_id: str
    delivery_order_code: str
    owner_code: str
    warehouse_code: str
    order_type: str
    status: DeliveryStatus
    logistics_code: str
    express_code: str | None
    created_sim: str
    delivered_sim: str | None
    weight_kg: float | None
    lines: tuple[LineView, ...] = field(default_factory=tuple)
