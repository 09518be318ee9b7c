"""Qimen XML on the wire: safe parsing, terse rendering, and the deliveryorder.confirm push body."""

from __future__ import annotations

from collections.abc import Iterable
from xml.sax.saxutils import escape

from lxml import etree

XML_DECLARATION = '<?xml version="1.0" encoding="utf-8"?>'
CONTENT_TYPE = "text/xml;charset=utf-8"


class XmlError(ValueError):
    """The body is not the XML the method expects."""


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


def text(node: etree._Element | None, path: str) -> str | None:
    """Stripped text of a child element, None when absent or blank."""
    if node is None:
        return None
    value = node.findtext(path)
    if value is None:
        return None
    value = value.strip()
    return value or None


def el(tag: str, value: object | None) -> str:
    """`<tag>value</tag>`, escaped; `<tag/>` for None."""
    if value is None:
        return f"<{tag}/>"
    return f"<{tag}>{escape(str(value))}</{tag}>"


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
        root = parse_request(body, "response")
    except XmlError:
        return None
    return text(root, "flag")


def format_weight(kg: float) -> str:
    return f"{kg:.3f}"


def confirm_body(
    order: dict[str, object],
    lines: list[dict[str, object]],
    express_code: str,
    weight_kg: float,
    out_biz_code: str,
) -> str:
    """The deliveryorder.confirm request (final, confirmType 0) for one delivered order."""
    delivery = group(
        "deliveryOrder",
        (
            el("deliveryOrderCode", order["delivery_order_code"]),
            el("deliveryOrderId", order["delivery_order_id"]),
            el("warehouseCode", order["warehouse_code"]),
            el("orderType", order["order_type"]),
            el("status", "DELIVERED"),
            el("outBizCode", out_biz_code),
            el("confirmType", 0),
            el("logisticsCode", order["logistics_code"]),
            el("expressCode", express_code),
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
    order_lines = group(
        "orderLines",
        (
            group(
                "orderLine",
                (
                    el("orderLineNo", line["order_line_no"]),
                    el("itemCode", line["item_code"]),
                    el("planQty", line["plan_qty"]),
                    el("actualQty", line["actual_qty"]),
                ),
            )
            for line in lines
        ),
    )
    return f"{XML_DECLARATION}<request>{delivery}{package}{order_lines}</request>"
