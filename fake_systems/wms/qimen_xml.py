"""Qimen XML on the wire: safe parsing, terse rendering, the push bodies, and the JSON mirror.

`format=json` carries the same documents as JSON: `{"request": {...}}` in, `{"response":
{...}}` out, element names as keys, lists as arrays under their plural element
(`"orderLines": [{...}]`; `{"orderLines": {"orderLine": [...]}}` is accepted too). JSON
bodies are turned into the same element tree XML bodies give, so both share one code path.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any
from xml.sax.saxutils import escape

import orjson
from lxml import etree

from fake_systems.common.wire import MAX_CODE_CHARS, WireValueError, check_text, xml_safe

XML_DECLARATION = '<?xml version="1.0" encoding="utf-8"?>'
CONTENT_TYPE = "text/xml;charset=utf-8"


class XmlError(ValueError):
    """The body is not the XML the method expects."""


class InvalidValue(XmlError):
    """A field's text the fake refuses: too long, or with control characters."""


def _parser() -> etree.XMLParser:
    # Untrusted bodies: no entity expansion, no network, no gigantic trees.
    return etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)


_PARSER = _parser()


def parse_request(body: bytes, root_tag: str = "request") -> etree._Element:
    """Parse a body and check its root element; raises XmlError with a short reason."""
    if not body.strip():
        raise XmlError("empty body")
    try:
        root = etree.fromstring(body, _PARSER)
    except etree.XMLSyntaxError as exc:
        raise XmlError(f"malformed XML: {exc.msg}") from exc
    if root.tag != root_tag:
        raise XmlError(f"root element must be <{root_tag}>, not <{root.tag}>")
    return root


# Plural elements whose children are list items, and the item element's name.
LIST_ITEMS = {
    "orderLines": "orderLine",
    "packages": "package",
    "items": "item",
    "orders": "order",
    "criteriaList": "criteria",
}
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,63}")
MAX_JSON_DEPTH = 16


def parse_json_request(body: bytes) -> etree._Element:
    """A `{"request": {...}}` JSON body as the `<request>` element tree; raises XmlError."""
    if not body.strip():
        raise XmlError("empty body")
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise XmlError(f"malformed JSON: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("request"), dict):
        raise XmlError('JSON body must be {"request": {...}}')
    root = etree.Element("request")
    _fill(root, data["request"], 1)
    return root


def _fill(node: etree._Element, data: dict[str, Any], depth: int) -> None:
    if depth > MAX_JSON_DEPTH:
        raise XmlError(f"JSON nested deeper than {MAX_JSON_DEPTH}")
    for key, value in data.items():
        if not _NAME.fullmatch(key):
            raise XmlError(f"invalid element name: {key[:40]!r}")
        if isinstance(value, list):
            if key in LIST_ITEMS:  # "orderLines": [...] -> <orderLines><orderLine>…
                holder = etree.SubElement(node, key)
                for item in value:
                    _append(holder, LIST_ITEMS[key], item, depth + 1)
            else:  # "orderLine": [...] -> repeated <orderLine>
                for item in value:
                    _append(node, key, item, depth)
        else:
            _append(node, key, value, depth)


def _append(parent: etree._Element, tag: str, value: Any, depth: int) -> None:
    if value is None:
        return
    if isinstance(value, list):
        raise XmlError(f"nested list under {tag}")
    child = etree.SubElement(parent, tag)
    if isinstance(value, dict):
        _fill(child, value, depth + 1)
        return
    if isinstance(value, bool):
        value = "true" if value else "false"
    try:
        child.text = str(value)
    except ValueError as exc:  # control characters XML cannot carry
        raise XmlError(f"invalid characters in {tag}") from exc


def to_json(document: str) -> bytes:
    """One of our own XML documents (`<response>` or `<request>`) as Qimen JSON."""
    root = etree.fromstring(document.encode(), _PARSER)
    return orjson.dumps({root.tag: _as_json(root)})


def _as_json(node: etree._Element) -> Any:
    children = list(node)
    if not children:
        return node.text or ""
    if node.tag in LIST_ITEMS:
        return [_as_json(child) for child in children]
    return {child.tag: _as_json(child) for child in children}


def text(node: etree._Element | None, path: str, limit: int = MAX_CODE_CHARS) -> str | None:
    """Stripped text of a child element, None when absent or blank; InvalidValue when longer
    than `limit` or with control characters (free text, `limit` above MAX_CODE_CHARS, may
    hold tabs and line breaks)."""
    if node is None:
        return None
    value = node.findtext(path)
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        return check_text(value, limit, multiline=limit > MAX_CODE_CHARS)
    except WireValueError as exc:
        raise InvalidValue(f"Invalid arguments:{path} {exc}") from None


def el(tag: str, value: object | None) -> str:
    """`<tag>value</tag>`, escaped, without what XML cannot carry; `<tag/>` for None."""
    if value is None:
        return f"<{tag}/>"
    return f"<{tag}>{escape(xml_safe(str(value)))}</{tag}>"


def group(tag: str, parts: Iterable[str]) -> str:
    return f"<{tag}>{''.join(parts)}</{tag}>"


def response(flag: str, code: str, message: str, *parts: str) -> str:
    """A whole Qimen response document."""
    return (
        f"{XML_DECLARATION}<response>{el('flag', flag)}{el('code', code)}"
        f"{el('message', message)}{''.join(parts)}</response>"
    )


def failure(code: str, message: str) -> str:
    return response("failure", code, message)


def response_flag(body: bytes) -> str | None:
    """The `<flag>` of a receiver's answer, None if it is not a Qimen response."""
    try:
        return text(parse_request(body, "response"), "flag")
    except XmlError:
        return None


def format_weight(kg: float) -> str:
    return f"{kg:.3f}"


def confirm_body(
    order: dict[str, object],
    lines: list[dict[str, object]],
    express_code: str,
    weight_kg: float,
    out_biz_code: str,
    final: bool = True,
) -> str:
    """The deliveryorder.confirm request for one package of an order.

    `final`: confirmType 0 and status DELIVERED, else confirmType 1 and PARTDELIVERED.
    `lines` carry the quantities of this package (`actual_qty`); `express_code` is the
    package's waybill, the header's is the order's (`order["express_code"]`, if given).
    `ownerCode` (header and lines) says whose order it is: two owners may use one code.
    """
    delivery = group(
        "deliveryOrder",
        (
            el("deliveryOrderCode", order["delivery_order_code"]),
            el("deliveryOrderId", order["delivery_order_id"]),
            el("ownerCode", order["owner_code"]),
            el("warehouseCode", order["warehouse_code"]),
            el("orderType", order["order_type"]),
            el("status", "DELIVERED" if final else "PARTDELIVERED"),
            el("outBizCode", out_biz_code),
            el("confirmType", 0 if final else 1),
            el("logisticsCode", order["logistics_code"]),
            el("expressCode", order.get("express_code") or express_code),
            el("orderConfirmTime", order["delivered_sim"]),
        ),
    )
    package = group(
        "packages",
        (
            group(
                "package",
                (
                    el("logisticsCode", order["logistics_code"]),
                    el("expressCode", express_code),
                    el("weight", format_weight(weight_kg)),
                    group(
                        "items",
                        (
                            group(
                                "item",
                                (
                                    el("itemCode", line["item_code"]),
                                    el("quantity", line["actual_qty"]),
                                ),
                            )
                            for line in lines
                        ),
                    ),
                ),
            ),
        ),
    )
    return f"{XML_DECLARATION}<request>{delivery}{package}{order_lines(lines)}</request>"


def order_lines(lines: Iterable[dict[str, Any]]) -> str:
    """`<orderLines>` of planned and actual quantities, as every confirm carries them."""
    return group(
        "orderLines",
        (
            group(
                "orderLine",
                (
                    el("orderLineNo", line["order_line_no"]),
                    *([el("ownerCode", line["owner_code"])] if "owner_code" in line else []),
                    el("itemCode", line["item_code"]),
                    *(
                        [el("inventoryType", line["inventory_type"])]
                        if "inventory_type" in line
                        else []
                    ),
                    el("planQty", line["plan_qty"]),
                    el("actualQty", line["actual_qty"]),
                ),
            )
            for line in lines
        ),
    )


def inbound_confirm_body(
    kind: str, order: dict[str, Any], lines: list[dict[str, Any]], out_biz_code: str
) -> str:
    """entryorder.confirm or returnorder.confirm (final, confirmType 0) for a FULFILLED order."""
    if kind == "entryorder":
        header = group(
            "entryOrder",
            (
                el("entryOrderCode", order["order_code"]),
                el("entryOrderId", order["inbound_order_id"]),
                el("ownerCode", order["owner_code"]),
                el("warehouseCode", order["warehouse_code"]),
                el("entryOrderType", order["order_type"]),
                el("purchaseOrderCode", order["purchase_order_code"]),
                el("supplierCode", order["supplier_code"]),
                el("status", "FULFILLED"),
                el("outBizCode", out_biz_code),
                el("confirmType", 0),
                el("operateTime", order["confirmed_sim"]),
            ),
        )
    else:
        header = group(
            "returnOrder",
            (
                el("returnOrderCode", order["order_code"]),
                el("returnOrderId", order["inbound_order_id"]),
                el("ownerCode", order["owner_code"]),
                el("warehouseCode", order["warehouse_code"]),
                el("orderType", order["order_type"]),
                el("preDeliveryOrderCode", order["pre_delivery_order_code"]),
                el("logisticsCode", order["logistics_code"]),
                el("expressCode", order["express_code"]),
                el("returnReason", order["return_reason"]),
                el("status", "FULFILLED"),
                el("outBizCode", out_biz_code),
                el("orderConfirmTime", order["confirmed_sim"]),
            ),
        )
    return f"{XML_DECLARATION}<request>{header}{order_lines(lines)}</request>"


def stockout_confirm_body(
    header: dict[str, Any], lines: list[dict[str, Any]], out_biz_code: str
) -> str:
    """stockout.confirm (final, confirmType 0) of an outbound order other than a sale."""
    order = group(
        "deliveryOrder",
        (
            el("totalOrderLines", len(lines)),
            el("deliveryOrderCode", header["order_code"]),
            el("deliveryOrderId", header["order_id"]),
            el("ownerCode", header["owner_code"]),
            el("warehouseCode", header["warehouse_code"]),
            el("orderType", header["order_type"]),
            el("status", "DELIVERED"),
            el("outBizCode", out_biz_code),
            el("confirmType", 0),
            el("orderConfirmTime", header["confirmed_sim"]),
        ),
    )
    return f"{XML_DECLARATION}<request>{order}{order_lines(lines)}</request>"


def inventory_report_body(
    header: dict[str, Any], lines: list[dict[str, Any]], out_biz_code: str
) -> str:
    """inventory.report (库存盘点通知, adjustType CHECK): one `<item>` per item the count
    found off the books, `quantity` the signed difference. The class counted and each item's
    units on the books and counted are not in the standard request: they travel in
    `extendProps` (a choice, see wms.md), the header's with `bookQty`, the units on the books
    of every item counted (those without a difference too): what a tolerance is a share of."""
    extend = (el("abcClass", header["abc_class"]), el("bookQty", header["book_total"]))
    items = group(
        "items",
        (
            group(
                "item",
                (
                    el("itemCode", line["item_code"]),
                    el("inventoryType", "ZP"),
                    el("quantity", line["difference"]),
                    group(
                        "extendProps",
                        (el("bookQty", line["book_qty"]), el("countQty", line["counted_qty"])),
                    ),
                ),
            )
            for line in lines
        ),
    )
    return (
        f"{XML_DECLARATION}<request>"
        f"{el('totalPage', 1)}{el('currentPage', 1)}{el('pageSize', len(lines))}"
        f"{el('warehouseCode', header['warehouse_code'])}"
        f"{el('checkOrderCode', header['check_order_code'])}"
        f"{el('checkOrderId', header['check_order_id'])}"
        f"{el('ownerCode', header['owner_code'])}{el('checkTime', header['check_time'])}"
        f"{el('outBizCode', out_biz_code)}{el('adjustType', 'CHECK')}"
        f"{el('remark', 'cycle count class ' + header['abc_class'])}"
        f"{items}{group('extendProps', extend)}</request>"
    )


def stock_change_body(
    owner_code: str,
    order_code: str,
    order_type: str,
    out_biz_code: str,
    change_time: str,
    moves: list[tuple[str, str, int]],
) -> str:
    """stockchange.report: one `<item>` per (warehouse, item, signed quantity)."""
    items = group(
        "items",
        (
            group(
                "item",
                (
                    el("ownerCode", owner_code),
                    el("warehouseCode", warehouse),
                    el("orderCode", order_code),
                    el("orderType", order_type),
                    el("outBizCode", f"{out_biz_code}-{index}"),
                    el("itemCode", item),
                    el("inventoryType", "ZP"),
                    el("quantity", qty),
                    el("changeTime", change_time),
                ),
            )
            for index, (warehouse, item, qty) in enumerate(moves, start=1)
        ),
    )
    return f"{XML_DECLARATION}<request>{items}</request>"


def process_report_body(
    order: dict[str, Any], status: str, operate_time: str, out_biz_code: str, remark: str | None
) -> str:
    """orderprocess.report: one state change of one order.

    The standard request has no outBizCode; it travels in the request's free-form
    `extendProps`, so that every push of this fake carries one (a choice, see wms.md).
    """
    header = group(
        "order",
        (
            el("orderCode", order["delivery_order_code"]),
            el("orderId", order["delivery_order_id"]),
            el("ownerCode", order["owner_code"]),
            el("orderType", order["order_type"]),
            el("warehouseCode", order["warehouse_code"]),
        ),
    )
    process = group(
        "process",
        (
            el("processStatus", status),
            el("operatorCode", "WMS"),
            el("operatorName", "系统"),
            el("operateTime", operate_time),
            *([el("remark", remark)] if remark else []),
        ),
    )
    extend = group("extendProps", (el("outBizCode", out_biz_code),))
    return f"{XML_DECLARATION}<request>{header}{process}{extend}</request>"
