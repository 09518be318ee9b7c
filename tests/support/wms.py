"""WMS test helpers: credentials, a fixed work plan, a reference Qimen signer, envelopes,
request bodies, a stand-in carrier and readers of the WMS database."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

import httpx
import orjson
from lxml import etree

from fake_systems.common.credentials import QimenCredentials
from fake_systems.wms.models import DeliveryOrderRequest, OrderLineRequest
from fake_systems.wms.service import WmsConfig, WmsService
from simulator.clock import CHINA, ManualClock, format_qimen_time
from simulator.world import World
from tests.support.site import Site

# Fixed work times make every transition land on a known simulated second.
FIXED = WmsConfig(accept_seconds=(30, 30), pick_seconds=(100, 100), pack_seconds=(50, 50))
PATH = "/router/qimen/service"
CREDS = QimenCredentials(app_key="qm_test", secret="s3cr3t", customer_id="ECOMOCK_CUST")
# The ManualClock's wall clock (Unix 1.8e9) as a Qimen timestamp: fresh for these tests.
WALL_NOW = format_qimen_time(datetime.fromtimestamp(ManualClock().wall(), CHINA))


def sign(secret: str, params: dict[str, str], body: str) -> str:
    """Qimen md5 sign re-derived from the public description (not the fake's helper)."""
    joined = "".join(k + params[k] for k in sorted(params) if k != "sign")
    return hashlib.md5((secret + joined + body + secret).encode("utf-8")).hexdigest().upper()


def envelope(
    method: str, body: str, secret: str = CREDS.secret, **overrides: str
) -> dict[str, str]:
    """The signed Qimen query parameters of `method`; `overrides` replace them before signing."""
    params = {
        "method": f"taobao.qimen.{method}",
        "timestamp": WALL_NOW,
        "format": "xml",
        "app_key": CREDS.app_key,
        "v": "2.0",
        "sign_method": "md5",
        "customerId": CREDS.customer_id,
    }
    params.update(overrides)
    params["sign"] = sign(secret, params, body)
    return params


# What a deliveryorder.create must carry besides its code, type, warehouse, logisticsCode
# and lines (the fields the Qimen WMS standard marks 必填): platform, times, shop, sender
# (the warehouse that ships) and receiver.
SENDER_INFO = (
    "<senderInfo><name>广州主仓</name><mobile>13900000000</mobile><province>广东省</province>"
    "<city>广州市</city><area>白云区</area><detailAddress>太和镇物流园1号</detailAddress>"
    "</senderInfo>"
)
RECEIVER_INFO = (
    "<receiverInfo><name>张三</name><mobile>13800000000</mobile><province>广东省</province>"
    "<city>广州市</city><area>天河区</area><detailAddress>体育西路1号 &amp; 2号</detailAddress>"
    "</receiverInfo>"
)
ORDER_EXTRAS = (
    "<sourcePlatformCode>TM</sourcePlatformCode><createTime>2026-11-10 09:00:00</createTime>"
    "<placeOrderTime>2026-11-10 09:00:00</placeOrderTime>"
    "<operateTime>2026-11-10 09:05:00</operateTime><shopNick>山海优选天猫旗舰店</shopNick>"
    + SENDER_INFO
    + RECEIVER_INFO
)
# A line's required actualPrice (成交价).
LINE_PRICE = "<actualPrice>99.00</actualPrice>"


def request(
    client: httpx.AsyncClient, method: str, body: str, creds: QimenCredentials = CREDS
) -> httpx.Request:
    """A Qimen call of `method` signed with `creds`, not sent."""
    params = envelope(
        method, body, secret=creds.secret, app_key=creds.app_key, customerId=creds.customer_id
    )
    return client.build_request("POST", PATH, params=params, content=body.encode())


def create_body(
    world: World,
    code: str = "T0001",
    qty: str = "2",
    item: str | None = None,
    express: str | None = "SF1234567890",
) -> str:
    """A deliveryorder.create XML body of one line for OWNER-A; without `express` the WMS
    asks the carrier for a waybill."""
    inner = order_xml(world, code, qty, item, express)
    return f'<?xml version="1.0" encoding="utf-8"?><request>{inner}</request>'


def order_xml(
    world: World,
    code: str = "T0001",
    qty: str = "2",
    item: str | None = None,
    express: str | None = "SF1234567890",
) -> str:
    """The deliveryOrder and orderLines of one order, as create and batchcreate send them."""
    item = item or world.skus[0].item_code
    waybill = f"<expressCode>{express}</expressCode>" if express else ""
    return (
        "<deliveryOrder>"
        f"<deliveryOrderCode>{code}</deliveryOrderCode><orderType>JYCK</orderType>"
        f"<warehouseCode>{world.warehouses[0].code}</warehouseCode>{ORDER_EXTRAS}"
        f"<logisticsCode>SF</logisticsCode>{waybill}"
        "</deliveryOrder><orderLines><orderLine><orderLineNo>11</orderLineNo>"
        f"<sourceOrderCode>P-{code}</sourceOrderCode><ownerCode>OWNER-A</ownerCode>"
        f"<itemCode>{item}</itemCode><planQty>{qty}</planQty>{LINE_PRICE}"
        "</orderLine></orderLines>"
    )


def as_json_request(xml_body: str) -> dict[str, Any]:
    """The `request` object of the JSON form of a Qimen XML body (`format=json`): elements
    as objects, `orderLines` as a list of its lines."""

    def node(element: Any) -> Any:
        if element.tag == "orderLines":
            return [node(line) for line in element]
        if len(element):
            return {child.tag: node(child) for child in element}
        return element.text

    root = etree.fromstring(xml_body.encode())
    return {child.tag: node(child) for child in root}


def api_events(wms: WmsService) -> list[tuple[str, str, str | None, dict[str, Any]]]:
    """(operation, outcome, entity, payload) of every api_in history row, in order."""
    rows = wms.conn.execute(
        "SELECT operation, outcome, entity, payload FROM events WHERE kind = 'api_in' ORDER BY seq"
    ).fetchall()
    return [(r[0], r[1], r[2], orjson.loads(r[3])) for r in rows]


class RecordingCarrier:
    """Stands in for the carrier fake: remembers what the WMS asked of it."""

    def __init__(self) -> None:
        self.waybills: list[tuple[str, str]] = []
        self.handed_over: list[tuple[str, str, float]] = []
        self.routes: list[tuple[str, str]] = []  # (sender, receiver) province per hand-over

    def issue_waybill(self, order_code: str, shipper_code: str, owner_code: str) -> str:
        self.waybills.append((order_code, shipper_code))
        return f"{shipper_code}9{len(self.waybills):011d}"

    def waybill_usable(self, logistic_code: str, owner_code: str) -> bool:
        return True  # a stand-in: every number given with an order is the owner's

    def hand_over(
        self,
        logistic_code: str,
        shipper_code: str,
        weight_kg: float,
        route: tuple[str, str] = ("", ""),
    ) -> None:
        self.handed_over.append((logistic_code, shipper_code, weight_kg))
        self.routes.append(route)


def order(
    world: World,
    code: str = "T0001",
    lines: list[tuple[str, int]] | None = None,
    warehouse: str | None = None,
    express: str | None = "SF1234567890",
    owner: str | None = "OWNER-A",
) -> DeliveryOrderRequest:
    """A delivery order request; `lines` are (item, quantity) pairs."""
    lines = lines if lines is not None else [(world.skus[0].item_code, 2)]
    return DeliveryOrderRequest(
        delivery_order_code=code,
        warehouse_code=warehouse or world.warehouses[0].code,
        order_type="JYCK",
        logistics_code="SF",
        express_code=express,
        customer_id="ECOMOCK_CUST",
        lines=tuple(
            OrderLineRequest(
                order_line_no=str(n),
                item_code=item,
                plan_qty=qty,
                owner_code=owner,
                source_order_code=f"P-{code}",
            )
            for n, (item, qty) in enumerate(lines, start=1)
        ),
    )


def stock(wms: WmsService, warehouse: str, item: str) -> tuple[int, int]:
    """(on hand, reserved) of `item` in `warehouse`."""
    row = wms.conn.execute(
        "SELECT on_hand, reserved FROM stock WHERE warehouse_code = ? AND item_code = ?",
        (warehouse, item),
    ).fetchone()
    return int(row[0]), int(row[1])


def states(wms: WmsService, code: str) -> list[str]:
    """The states the order `code` went through, from its history."""
    rows = wms.conn.execute(
        "SELECT outcome FROM events WHERE kind = 'state' AND entity = ? ORDER BY seq", (code,)
    ).fetchall()
    return [r[0] for r in rows]


# ---------------------------------------------------------------- one valid request per method
# Each builds what its method needs on `site`, then the request the connector's credential
# signs; tests/support/operations.py holds the table of them.


def _signed(site: Site, method: str, body: str) -> httpx.Request:
    return request(site.clients["wms"], method, body, site.credentials.wms)


def _owned(tag: str, code: str) -> str:
    """A query body naming one order of OWNER-A by its `tag` code."""
    return f"<request><{tag}>{code}</{tag}><ownerCode>OWNER-A</ownerCode></request>"


def _placed(site: Site, code: str) -> None:
    """A delivery order of OWNER-A in the WMS, the waybill left to the WMS."""
    site.ecosystem.wms.create_delivery_order(order(site.world, code, express=None))


def entry_body(world: World, code: str) -> str:
    """An entryorder.create of one purchase line for OWNER-A into the first warehouse."""
    return (
        f"<request><entryOrder><entryOrderCode>{code}</entryOrderCode>"
        f"<ownerCode>OWNER-A</ownerCode><warehouseCode>{world.warehouses[0].code}</warehouseCode>"
        "<entryOrderType>CGRK</entryOrderType><purchaseOrderCode>PO-1</purchaseOrderCode>"
        "<supplierCode>SUP-1</supplierCode></entryOrder><orderLines><orderLine>"
        f"<orderLineNo>1</orderLineNo><itemCode>{world.skus[1].item_code}</itemCode>"
        "<planQty>7</planQty><inventoryType>ZP</inventoryType></orderLine></orderLines></request>"
    )


def stockout_body(world: World, code: str, qty: int = 3, owner: str = "OWNER-A") -> str:
    """A stockout.create of a purchase return (CGTH) of one line from the first warehouse."""
    return (
        f"<request><deliveryOrder><deliveryOrderCode>{code}</deliveryOrderCode>"
        f"<orderType>CGTH</orderType><warehouseCode>{world.warehouses[0].code}</warehouseCode>"
        f"<ownerCode>{owner}</ownerCode><supplierCode>SUP-1</supplierCode></deliveryOrder>"
        f"<orderLines><orderLine><orderLineNo>1</orderLineNo><ownerCode>{owner}</ownerCode>"
        f"<itemCode>{world.skus[0].item_code}</itemCode><planQty>{qty}</planQty>"
        "<inventoryType>ZP</inventoryType></orderLine></orderLines></request>"
    )


def return_body(world: World, code: str) -> str:
    """A returnorder.create of one line for OWNER-A into the first warehouse."""
    return (
        f"<request><returnOrder><returnOrderCode>{code}</returnOrderCode>"
        f"<warehouseCode>{world.warehouses[0].code}</warehouseCode><orderType>THRK</orderType>"
        "<logisticsCode>SF</logisticsCode><returnReason>不想要了</returnReason></returnOrder>"
        "<orderLines><orderLine><ownerCode>OWNER-A</ownerCode>"
        f"<itemCode>{world.skus[0].item_code}</itemCode><planQty>1</planQty>"
        "</orderLine></orderLines></request>"
    )


async def valid_create(site: Site) -> httpx.Request:
    """deliveryorder.create: one line, the waybill asked of the carrier."""
    return _signed(site, "deliveryorder.create", create_body(site.world, "LOST-D1", express=None))


async def valid_batch(site: Site) -> httpx.Request:
    """deliveryorder.batchcreate: two orders."""
    orders = "".join(
        f"<order>{order_xml(site.world, code, express=None)}</order>"
        for code in ("LOST-B1", "LOST-B2")
    )
    return _signed(
        site, "deliveryorder.batchcreate", f"<request><orders>{orders}</orders></request>"
    )


async def valid_query(site: Site) -> httpx.Request:
    """deliveryorder.query of an order the WMS holds."""
    _placed(site, "LOST-Q1")
    return _signed(site, "deliveryorder.query", _owned("deliveryOrderCode", "LOST-Q1"))


async def valid_cancel(site: Site) -> httpx.Request:
    """order.cancel of a new delivery order."""
    _placed(site, "LOST-C1")
    body = (
        f"<request><warehouseCode>{site.world.warehouses[0].code}</warehouseCode>"
        "<ownerCode>OWNER-A</ownerCode><orderCode>LOST-C1</orderCode><orderType>JYCK</orderType>"
        "</request>"
    )
    return _signed(site, "order.cancel", body)


async def valid_item(site: Site) -> httpx.Request:
    """singleitem.synchronize: the integrator adds a new item for OWNER-A."""
    body = (
        f"<request><actionType>add</actionType><warehouseCode>{site.world.warehouses[0].code}"
        "</warehouseCode><ownerCode>OWNER-A</ownerCode><item><itemCode>LOST-ITEM-1</itemCode>"
        "<itemName>新品</itemName><grossWeight>0.5</grossWeight></item></request>"
    )
    return _signed(site, "singleitem.synchronize", body)


async def valid_inventory(site: Site) -> httpx.Request:
    """inventory.query of one item in one warehouse."""
    body = (
        f"<request><criteriaList><criteria><warehouseCode>{site.world.warehouses[0].code}"
        f"</warehouseCode><ownerCode>OWNER-A</ownerCode><itemCode>{site.world.skus[0].item_code}"
        "</itemCode></criteria></criteriaList></request>"
    )
    return _signed(site, "inventory.query", body)


async def valid_entry(site: Site) -> httpx.Request:
    """entryorder.create: a purchase arriving."""
    return _signed(site, "entryorder.create", entry_body(site.world, "LOST-E1"))


async def valid_entry_query(site: Site) -> httpx.Request:
    """entryorder.query of an entry order the WMS took."""
    await site.clients["wms"].send(await valid_entry(site))
    return _signed(site, "entryorder.query", _owned("entryOrderCode", "LOST-E1"))


async def valid_stockout(site: Site) -> httpx.Request:
    """stockout.create: goods back to their supplier (CGTH)."""
    return _signed(site, "stockout.create", stockout_body(site.world, "LOST-SO1"))


async def valid_return(site: Site) -> httpx.Request:
    """returnorder.create: a customer's return."""
    return _signed(site, "returnorder.create", return_body(site.world, "LOST-R1"))


async def valid_return_query(site: Site) -> httpx.Request:
    """returnorder.query of a return order the WMS took."""
    await site.clients["wms"].send(await valid_return(site))
    return _signed(site, "returnorder.query", _owned("returnOrderCode", "LOST-R1"))


async def valid_transfer(site: Site) -> httpx.Request:
    """transferorder.create: goods of OWNER-A from the first warehouse to the second."""
    first, second = site.world.warehouses[0].code, site.world.warehouses[1].code
    body = (
        "<request><erpOrderCode>LOST-TR1</erpOrderCode><ownerCode>OWNER-A</ownerCode>"
        f"<fromStoreCode>{first}</fromStoreCode><toStoreCode>{second}</toStoreCode>"
        f"<transferItems><transferItem><scItemCode>{site.world.skus[2].item_code}</scItemCode>"
        "<inventoryType>1</inventoryType><count>3</count></transferItem></transferItems>"
        "</request>"
    )
    return _signed(site, "transferorder.create", body)
