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
    DELIVERED = "DELIVERED"
    CANCELED = "CANCELED"


@dataclass(frozen=True)
class WmsConfig:
    """Work times in simulated seconds, each drawn uniformly from (low, high) per order."""

    accept_seconds: tuple[float, float] = (30.0, 120.0)
    pick_seconds: tuple[float, float] = (60.0, 240.0)
    pack_seconds: tuple[float, float] = (60.0, 180.0)


# Qimen orderType values for outbound sales orders the fake accepts.
ORDER_TYPES = frozenset({"JYCK", "HHCK", "BFCK", "QTCK"})
CANCELABLE = frozenset({DeliveryStatus.NEW, DeliveryStatus.ACCEPT})


class CarrierDesk(Protocol):
    """What the WMS needs of the carrier: a waybill number and the physical hand-over."""

    def issue_waybill(self, order_code: str, shipper_code: str) -> str:
        """A LogisticCode (waybill number) for the order; the same code for the same order."""
        ...

    def hand_over(self, logistic_code: str, shipper_code: str, weight_kg: float) -> None:
        """The parcel leaves the warehouse; the carrier starts tracking it."""
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
