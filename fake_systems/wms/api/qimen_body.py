"""Qimen request bodies read into the WMS service's requests, with strict values.

Everything here reads an element tree (from XML, or JSON turned into the same tree) and
raises a `WireError` in Qimen's terms when a field is missing or not acceptable.
"""

from __future__ import annotations

from decimal import Decimal

from lxml import etree

from fake_systems.common.pipeline import WireError
from fake_systems.common.wire import (
    MAX_CODE_CHARS,
    MAX_TEXT_CHARS,
    WireValueError,
    parse_decimal,
    parse_int,
)
from fake_systems.wms import qimen_xml
from fake_systems.wms.models import (
    INVALID_PARAMETER,
    INVENTORY_TYPES,
    ORDER_TYPES,
    DeliveryOrderRequest,
    InboundLineRequest,
    OrderLineRequest,
)
from simulator.clock import parse_qimen_time

MISSING_PARAMETER = "isv.missing-parameter"
MAX_LIST_ITEMS = 100  # orders of a batchcreate, criteria of an inventory.query
# Order lines in one call (one order's, or a batch's together): each costs the service some
# 0.15 ms on the event loop all five fakes share, so their number bounds one call's hold.
MAX_LINES_PER_CALL = 1000
MAX_QUANTITY = 10**9  # planQty
MAX_WEIGHT_KG = Decimal(100_000)  # grossWeight, exclusive
# deliveryorder.create's required times and contact fields (奇门仓储接口标准, marked 必填;
# sources in docs/protocols/wms.md).
ORDER_TIMES = ("createTime", "placeOrderTime", "operateTime")
CONTACTS = ("senderInfo", "receiverInfo")
CONTACT_FIELDS = ("name", "mobile", "province", "city", "detailAddress")
# transferorder.create's inventoryType: 1 sellable (可销售), 101 defective (残次), in the
# WMS vocabulary of the other methods.
TRANSFER_INVENTORY_TYPES = {"1": "ZP", "101": "CC"}


def text(node: etree._Element | None, path: str, limit: int = MAX_CODE_CHARS) -> str | None:
    """An optional field (`qimen_xml.text`), its refusal in Qimen's terms."""
    try:
        return qimen_xml.text(node, path, limit)
    except qimen_xml.InvalidValue as exc:
        raise WireError(INVALID_PARAMETER, str(exc)) from None


def require(node: etree._Element, path: str, limit: int = MAX_CODE_CHARS) -> str:
    value = text(node, path, limit)
    if value is None:
        raise WireError(MISSING_PARAMETER, f"Missing required arguments:{path}")
    return value


def element(root: etree._Element, tag: str) -> etree._Element:
    """A required child element (an order header, an item)."""
    node = root.find(tag)
    if node is None:
        raise WireError(MISSING_PARAMETER, f"Missing required arguments:{tag}")
    return node


def one_of(value: str, allowed: frozenset[str], name: str) -> str:
    if value not in allowed:
        raise WireError(INVALID_PARAMETER, f"Invalid arguments:{name} {value}")
    return value


def weight(node: etree._Element, path: str) -> float | None:
    """An optional weight in kg: a plain decimal from 0 up to MAX_WEIGHT_KG (exclusive)."""
    value = text(node, path)
    if value is None:
        return None
    try:
        kg = parse_decimal(value, MAX_WEIGHT_KG)
    except WireValueError as exc:
        raise WireError(INVALID_PARAMETER, f"Invalid arguments:{path} {exc}") from None
    if kg < 0:
        raise WireError(INVALID_PARAMETER, f"Invalid arguments:{path} out of range")
    return float(kg)


def _positive_int(value: str, name: str) -> int:
    try:
        return parse_int(value, 1, MAX_QUANTITY)
    except WireValueError as exc:
        raise WireError(INVALID_PARAMETER, f"Invalid arguments:{name} {exc}") from None


def _decimal_text(node: etree._Element, path: str, required: bool = False) -> str | None:
    """A decimal kept as sent (`actualPrice`), once it reads as a plain numeral."""
    value = require(node, path) if required else text(node, path)
    if value is not None:
        try:
            parse_decimal(value)
        except WireValueError as exc:
            raise WireError(INVALID_PARAMETER, f"Invalid arguments:{path} {exc}") from None
    return value


def _lines(root: etree._Element, path: str = "orderLines/orderLine") -> list[etree._Element]:
    nodes = root.findall(path)
    if not nodes:
        raise WireError(MISSING_PARAMETER, f"Missing required arguments:{path}")
    if len(nodes) > MAX_LINES_PER_CALL:
        raise WireError(INVALID_PARAMETER, f"Invalid arguments:too many lines ({len(nodes)})")
    return nodes


def _line_no(node: etree._Element, index: int, seen: set[str]) -> str:
    line_no = text(node, "orderLineNo") or str(index)
    if line_no in seen:
        raise WireError(INVALID_PARAMETER, f"Invalid arguments:orderLineNo {line_no} repeated")
    seen.add(line_no)
    return line_no


def _time(node: etree._Element, path: str) -> str:
    """A required `yyyy-MM-dd HH:mm:ss` time, kept as sent."""
    value = require(node, path)
    try:
        parse_qimen_time(value)
    except ValueError:
        raise WireError(
            INVALID_PARAMETER, f"Invalid arguments:{path} (yyyy-MM-dd HH:mm:ss)"
        ) from None
    return value


def _contact(order: etree._Element, tag: str) -> None:
    """A required senderInfo/receiverInfo block with its required fields (not kept)."""
    node = element(order, tag)
    for name in CONTACT_FIELDS:
        value = text(node, name, MAX_TEXT_CHARS)
        if value is None:
            raise WireError(MISSING_PARAMETER, f"Missing required arguments:{tag}.{name}")


def parse_create(root: etree._Element, customer_id: str) -> DeliveryOrderRequest:
    """deliveryorder.create body (or one batchcreate `<order>`) -> request.

    Every field the Qimen WMS standard marks 必填 must be there (the times, shop, platform,
    sender and receiver, and per line ownerCode, planQty and actualPrice), even where the
    fake keeps none of it: a connector that leaves one out fails in production.
    """
    order = element(root, "deliveryOrder")
    code = require(order, "deliveryOrderCode")
    order_type = one_of(require(order, "orderType"), ORDER_TYPES, "orderType")
    warehouse_code = require(order, "warehouseCode")
    source_platform_code = require(order, "sourcePlatformCode")
    for name in ORDER_TIMES:
        _time(order, name)
    shop_nick = require(order, "shopNick", MAX_TEXT_CHARS)
    logistics_code = require(order, "logisticsCode")
    for tag in CONTACTS:
        _contact(order, tag)
    lines: list[OrderLineRequest] = []
    seen: set[str] = set()
    for index, node in enumerate(_lines(root), start=1):
        lines.append(
            OrderLineRequest(
                order_line_no=_line_no(node, index, seen),
                item_code=require(node, "itemCode"),
                plan_qty=_positive_int(require(node, "planQty"), "planQty"),
                owner_code=require(node, "ownerCode"),
                source_order_code=text(node, "sourceOrderCode"),
                inventory_type=text(node, "inventoryType") or "ZP",
                actual_price=_decimal_text(node, "actualPrice", required=True),
            )
        )
    return DeliveryOrderRequest(
        delivery_order_code=code,
        warehouse_code=warehouse_code,
        order_type=order_type,
        logistics_code=logistics_code,
        lines=tuple(lines),
        customer_id=customer_id,
        express_code=text(order, "expressCode"),
        source_platform_code=source_platform_code,
        shop_nick=shop_nick,
        receiver_province=text(element(order, "receiverInfo"), "province") or "",
    )


def parse_inbound_lines(
    root: etree._Element, path: str = "orderLines/orderLine", header_owner: str | None = None
) -> tuple[tuple[InboundLineRequest, ...], str | None]:
    """Lines of an entry, return or transfer order, and the one owner they name (if any)."""
    lines: list[InboundLineRequest] = []
    seen: set[str] = set()
    owners = {header_owner} if header_owner else set()
    for index, node in enumerate(_lines(root, path), start=1):
        owner = text(node, "ownerCode")
        if owner:
            owners.add(owner)
        lines.append(
            InboundLineRequest(
                order_line_no=_line_no(node, index, seen),
                item_code=require(node, "itemCode"),
                plan_qty=_positive_int(require(node, "planQty"), "planQty"),
                owner_code=owner,
                inventory_type=one_of(
                    text(node, "inventoryType") or "ZP", INVENTORY_TYPES, "inventoryType"
                ),
            )
        )
    if len(owners) > 1:
        raise WireError(INVALID_PARAMETER, f"one order, one ownerCode: {sorted(owners)}")
    return tuple(lines), (owners.pop() if owners else None)


def parse_transfer_items(root: etree._Element) -> tuple[InboundLineRequest, ...]:
    """transferorder.create's `transferItems/transferItem{scItemCode, inventoryType, count}`
    as lines numbered in order."""
    return tuple(
        InboundLineRequest(
            order_line_no=str(index),
            item_code=require(node, "scItemCode"),
            plan_qty=_positive_int(require(node, "count"), "count"),
            inventory_type=TRANSFER_INVENTORY_TYPES[
                one_of(
                    require(node, "inventoryType"),
                    frozenset(TRANSFER_INVENTORY_TYPES),
                    "inventoryType",
                )
            ],
        )
        for index, node in enumerate(_lines(root, "transferItems/transferItem"), start=1)
    )
