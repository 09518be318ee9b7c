"""The WMS Qimen adapter beyond the order path: security, tenants, JSON, inbound, items, stock."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import httpx
import orjson
import pytest
from lxml import etree

from fake_systems.common.context import SystemContext
from fake_systems.common.credentials import QimenCredentials
from fake_systems.wms.api.qimen import create_app
from fake_systems.wms.inbound import ParcelLine
from fake_systems.wms.service import WmsConfig, WmsService
from simulator.clock import CHINA, ManualClock, format_qimen_time
from simulator.world import World
from tests.support.pushes import mock_sender
from tests.support.wms import (
    CREDS,
    PATH,
    WALL_NOW,
    api_events,
    as_json_request,
    create_body,
    sign,
)

pytestmark = pytest.mark.anyio

TENANT_A = QimenCredentials(
    app_key="qm_a", secret="sec-a", customer_id="CUST-A", owners=("OWNER-A",)
)
TENANT_B = QimenCredentials(
    app_key="qm_b", secret="sec-b", customer_id="CUST-B", owners=("OWNER-B",)
)
INBOUND = WmsConfig(
    accept_seconds=(30, 30),
    pick_seconds=(100, 100),
    pack_seconds=(50, 50),
    receive_seconds=(300, 300),
)


@pytest.fixture
def wms(make_context: Callable[[str], SystemContext], world: World) -> WmsService:
    service = WmsService(make_context("wms"), CREDS, INBOUND)
    service.setup(world)
    return service


@pytest.fixture
def client(
    wms: WmsService, asgi_client: Callable[[object], httpx.AsyncClient]
) -> httpx.AsyncClient:
    return asgi_client(create_app(wms, CREDS, [TENANT_A, TENANT_B]))


async def call(
    client: httpx.AsyncClient,
    method: str,
    body: str,
    creds: QimenCredentials = CREDS,
    fmt: str = "xml",
    **overrides: str,
) -> etree._Element:
    params = {
        "method": f"taobao.qimen.{method}",
        "timestamp": WALL_NOW,
        "format": fmt,
        "app_key": creds.app_key,
        "v": "2.0",
        "sign_method": "md5",
        "customerId": creds.customer_id,
        **overrides,
    }
    params["sign"] = sign(creds.secret, params, body)
    response = await client.post(PATH, params=params, content=body.encode())
    assert response.status_code == 200
    return etree.fromstring(response.content)


def outcome(root: etree._Element) -> tuple[str | None, str | None]:
    return root.findtext("flag"), root.findtext("code")


def count(wms: WmsService, table: str) -> int:
    return int(wms.conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])


def on_hand(wms: WmsService, warehouse: str, item: str) -> int | None:
    row = wms.conn.execute(
        "SELECT on_hand FROM stock WHERE warehouse_code = ? AND item_code = ?", (warehouse, item)
    ).fetchone()
    return None if row is None else int(row[0])


# ------------------------------------------------------------------ security


def shifted(seconds: float) -> str:
    base = datetime.fromtimestamp(ManualClock().wall(), CHINA)
    return format_qimen_time(base + timedelta(seconds=seconds))


@pytest.mark.parametrize(
    ("skew", "accepted"), [(-601, False), (-590, True), (590, True), (601, False)]
)
async def test_timestamp_freshness(
    client: httpx.AsyncClient, wms: WmsService, world: World, skew: float, accepted: bool
) -> None:
    root = await call(client, "deliveryorder.create", create_body(world), timestamp=shifted(skew))
    if accepted:
        assert outcome(root) == ("success", "0")
        assert count(wms, "delivery_orders") == 1
    else:
        assert outcome(root) == ("failure", "isv.invalid-timestamp")
        assert count(wms, "delivery_orders") == 0
        assert [e[1] for e in api_events(wms)] == ["isv.invalid-timestamp"]


async def test_unknown_key_and_wrong_sign_are_recorded(
    client: httpx.AsyncClient, wms: WmsService, world: World
) -> None:
    stranger = QimenCredentials(app_key="qm_x", secret="x", customer_id="ECOMOCK_CUST")
    assert outcome(await call(client, "deliveryorder.create", create_body(world), stranger)) == (
        "failure",
        "isv.appkey-not-exists",
    )
    # A tenant's key with the connector's secret: the signature is checked per credential.
    forged = QimenCredentials(app_key="qm_a", secret=CREDS.secret, customer_id="CUST-A")
    assert outcome(await call(client, "deliveryorder.create", create_body(world), forged)) == (
        "failure",
        "sign-check-failure",
    )
    assert [e[1] for e in api_events(wms)] == ["isv.appkey-not-exists", "sign-check-failure"]
    assert count(wms, "delivery_orders") == 0


# ------------------------------------------------------------------ tenants


def owner_body(world: World, code: str, owner: str) -> str:
    return create_body(world, code=code).replace("OWNER-A", owner)


async def test_tenant_creates_for_its_owner_only(
    client: httpx.AsyncClient, wms: WmsService, world: World
) -> None:
    assert outcome(
        await call(client, "deliveryorder.create", owner_body(world, "A1", "OWNER-A"), TENANT_A)
    ) == ("success", "0")
    refused = await call(
        client, "deliveryorder.create", owner_body(world, "A2", "OWNER-B"), TENANT_A
    )
    assert outcome(refused) == ("failure", "isv.permission-denied")
    # Every line names its owner (orderLine.ownerCode is 必填), a tenant's too.
    no_owner = (
        create_body(world, code="A3")
        .replace("<ownerCode>OWNER-A</ownerCode>", "")
        .replace("<expressCode>SF1234567890</expressCode>", "")
    )
    assert outcome(await call(client, "deliveryorder.create", no_owner, TENANT_B)) == (
        "failure",
        "isv.missing-parameter",
    )
    owners = dict(wms.conn.execute("SELECT delivery_order_code, owner_code FROM delivery_orders"))
    assert owners == {"A1": "OWNER-A"}
    # customerId must be the credential's own.
    wrong_cust = await call(
        client,
        "deliveryorder.create",
        owner_body(world, "A4", "OWNER-A"),
        TENANT_A,
        customerId="ECOMOCK_CUST",
    )
    assert outcome(wrong_cust) == ("failure", "isv.invalid-parameter")
    assert count(wms, "delivery_orders") == 1


async def test_tenant_cannot_read_or_cancel_another_owners_order(
    client: httpx.AsyncClient, wms: WmsService, world: World
) -> None:
    await call(client, "deliveryorder.create", owner_body(world, "B1", "OWNER-B"))
    query = "<request><deliveryOrderCode>B1</deliveryOrderCode></request>"
    assert outcome(await call(client, "deliveryorder.query", query, TENANT_A)) == (
        "failure",
        "ORDER_NOT_EXIST",
    )
    named = (
        "<request><deliveryOrderCode>B1</deliveryOrderCode><ownerCode>OWNER-B</ownerCode></request>"
    )
    assert outcome(await call(client, "deliveryorder.query", named, TENANT_A)) == (
        "failure",
        "ORDER_NOT_EXIST",
    )
    cancel = "<request><warehouseCode>WH-GZ01</warehouseCode><orderCode>B1</orderCode></request>"
    assert outcome(await call(client, "order.cancel", cancel, TENANT_A)) == (
        "failure",
        "ORDER_NOT_EXIST",
    )
    assert wms.conn.execute("SELECT status FROM delivery_orders").fetchone()[0] == "NEW"
    seen = await call(client, "deliveryorder.query", query, TENANT_B)
    assert seen.findtext("deliveryOrder/ownerCode") == "OWNER-B"
    assert outcome(await call(client, "order.cancel", cancel, TENANT_B)) == ("success", "0")


async def test_tenant_items_and_inventory_are_scoped(
    client: httpx.AsyncClient, wms: WmsService, world: World
) -> None:
    add = (
        "<request><actionType>add</actionType><warehouseCode>OTHER</warehouseCode><ownerCode>OWNER-A</ownerCode><item>"
        "<itemCode>A-ONLY-1</itemCode><itemName>A 的商品</itemName><grossWeight>0.5</grossWeight>"
        "</item></request>"
    )
    # Item codes are one namespace: only the integrator adds, for the owner it names.
    assert outcome(await call(client, "singleitem.synchronize", add, TENANT_A)) == (
        "failure",
        "isv.permission-denied",
    )
    assert outcome(await call(client, "singleitem.synchronize", add)) == ("success", "0")
    criteria = (
        "<request><criteriaList><criteria><warehouseCode>{wh}</warehouseCode>"
        "<ownerCode>{owner}</ownerCode><itemCode>A-ONLY-1</itemCode></criteria>"
        "</criteriaList></request>"
    )
    wh = world.warehouses[0].code
    ok = await call(client, "inventory.query", criteria.format(wh=wh, owner="OWNER-A"), TENANT_A)
    assert ok.findtext("items/item/quantity") == "0"
    other = await call(client, "inventory.query", criteria.format(wh=wh, owner="OWNER-A"), TENANT_B)
    assert outcome(other) == ("failure", "isv.permission-denied")
    hidden = await call(
        client, "inventory.query", criteria.format(wh=wh, owner="OWNER-B"), TENANT_B
    )
    assert outcome(hidden) == ("failure", "ITEM_NOT_EXIST")
    update = add.replace("add", "update").replace("OWNER-A", "OWNER-B")
    assert outcome(await call(client, "singleitem.synchronize", update, TENANT_B)) == (
        "failure",
        "ITEM_NOT_EXIST",
    )
    shared = (
        "<request><actionType>update</actionType><warehouseCode>OTHER</warehouseCode><ownerCode>OWNER-B</ownerCode><item>"
        f"<itemCode>{world.skus[0].item_code}</itemCode><itemName>x</itemName></item></request>"
    )
    assert outcome(await call(client, "singleitem.synchronize", shared, TENANT_B)) == (
        "failure",
        "isv.permission-denied",
    )
    name = wms.conn.execute(
        "SELECT name FROM items WHERE item_code = ?", (world.skus[0].item_code,)
    )
    assert name.fetchone()[0] == world.skus[0].name


# ------------------------------------------------------------------ JSON


async def test_json_format_has_the_same_semantics(
    client: httpx.AsyncClient, wms: WmsService, world: World
) -> None:
    request = as_json_request(create_body(world, "J1"))
    request["orderLines"][0].update(orderLineNo=1, planQty=3)  # JSON numbers are read too
    body = orjson.dumps({"request": request}).decode()
    params = {
        "method": "taobao.qimen.deliveryorder.create",
        "timestamp": WALL_NOW,
        "format": "json",
        "app_key": CREDS.app_key,
        "v": "2.0",
        "sign_method": "md5",
        "customerId": CREDS.customer_id,
    }
    params["sign"] = sign(CREDS.secret, params, body)
    response = await client.post(PATH, params=params, content=body.encode())
    assert response.headers["content-type"].startswith("application/json")
    answer = response.json()["response"]
    assert (answer["flag"], answer["code"]) == ("success", "0")
    assert answer["deliveryOrderId"].startswith("DO")
    line = wms.conn.execute("SELECT plan_qty, order_line_no FROM delivery_order_lines").fetchone()
    assert tuple(line) == (3, "1")

    # The nested list form is accepted too, and lists come back as arrays.
    query = orjson.dumps({"request": {"deliveryOrderCode": "J1"}}).decode()
    params.update(method="taobao.qimen.deliveryorder.query")
    params["sign"] = sign(CREDS.secret, params, query)
    answer = (await client.post(PATH, params=params, content=query.encode())).json()["response"]
    assert answer["deliveryOrder"]["status"] == "NEW"
    assert answer["orderLines"] == [
        {"orderLineNo": "1", "itemCode": world.skus[0].item_code, "planQty": "3", "actualQty": "0"}
    ]

    bad = '{"request": ['
    params["sign"] = sign(CREDS.secret, params, bad)
    answer = (await client.post(PATH, params=params, content=bad.encode())).json()["response"]
    assert (answer["flag"], answer["code"]) == ("failure", "isv.invalid-format")


# ------------------------------------------------------------------ inbound


def entry_body(
    world: World, code: str = "E1", qty: int = 7, item: str = "", owner: str = "OWNER-A"
) -> str:
    return (
        f"<request><entryOrder><entryOrderCode>{code}</entryOrderCode><ownerCode>{owner}</ownerCode>"
        f"<warehouseCode>{world.warehouses[0].code}</warehouseCode><orderType>CGRK</orderType>"
        "<purchaseOrderCode>PO-1</purchaseOrderCode><supplierCode>SUP-1</supplierCode></entryOrder>"
        "<orderLines><orderLine><orderLineNo>1</orderLineNo>"
        f"<itemCode>{item or world.skus[1].item_code}</itemCode>"
        f"<planQty>{qty}</planQty><inventoryType>ZP</inventoryType></orderLine></orderLines></request>"
    )


class Receiver:
    """The connector's Qimen callback: records pushes, answers success."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, etree._Element]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.calls.append((request.url.params["method"], etree.fromstring(request.content)))
        return httpx.Response(
            200, content=b"<response><flag>success</flag><code>0</code></response>"
        )


async def test_entry_order_raises_stock_on_confirm(
    client: httpx.AsyncClient, wms: WmsService, world: World, clock: ManualClock
) -> None:
    receiver = Receiver()
    wms.ctx.dispatcher.sender = mock_sender(receiver)
    wms.confirm_callback_url = "http://connector/qimen"
    wh, item = world.warehouses[0].code, world.skus[1].item_code
    before = on_hand(wms, wh, item)
    created = await call(client, "entryorder.create", entry_body(world))
    assert outcome(created) == ("success", "0")
    order_id = created.findtext("entryOrderId")
    assert order_id and order_id.startswith("EO")
    again = await call(client, "entryorder.create", entry_body(world))
    assert again.findtext("entryOrderId") == order_id
    query = "<request><entryOrderCode>E1</entryOrderCode></request>"

    statuses = []
    for step in (1, 30, 300):
        clock.advance(step)
        statuses.append(
            (await call(client, "entryorder.query", query)).findtext("entryOrder/status")
        )
    assert statuses == ["NEW", "ACCEPT", "FULFILLED"]
    assert on_hand(wms, wh, item) == (before or 0) + 7
    await wms.ctx.dispatcher.drain(5)
    # The receipt is confirmed, and (on by default) reported as a stock change before it.
    [(report_method, report), (method, push)] = receiver.calls
    assert report_method == "taobao.qimen.stockchange.report"
    assert (report.findtext("items/item/itemCode"), report.findtext("items/item/quantity")) == (
        item,
        "7",
    )
    assert method == "taobao.qimen.entryorder.confirm"
    assert push.findtext("entryOrder/outBizCode") == f"{order_id}-FULFILLED"
    assert push.findtext("entryOrder/status") == "FULFILLED"
    assert push.findtext("orderLines/orderLine/actualQty") == "7"
    cancel = (
        "<request><warehouseCode>WH-GZ01</warehouseCode><orderCode>E1</orderCode>"
        "<orderType>CGRK</orderType></request>"
    )
    assert outcome(await call(client, "order.cancel", cancel)) == ("failure", "CANCELEDFAIL")


@pytest.mark.parametrize(
    ("body_args", "code"),
    [
        ({"qty": 0}, "isv.invalid-parameter"),
        ({"item": "NOPE"}, "ITEM_NOT_EXIST"),
        ({"owner": "OWNER-Z"}, "OWNER_NOT_EXIST"),
    ],
)
async def test_entry_order_refusals_change_nothing(
    client: httpx.AsyncClient,
    wms: WmsService,
    world: World,
    body_args: dict[str, object],
    code: str,
) -> None:
    root = await call(client, "entryorder.create", entry_body(world, **body_args))  # type: ignore[arg-type]
    assert outcome(root) == ("failure", code)
    assert count(wms, "inbound_orders") == 0
    missing = "<request><entryOrderCode>E9</entryOrderCode></request>"
    assert outcome(await call(client, "entryorder.query", missing)) == (
        "failure",
        "ORDER_NOT_EXIST",
    )


async def test_entry_order_cancelled_before_receipt_adds_no_stock(
    client: httpx.AsyncClient, wms: WmsService, world: World, clock: ManualClock
) -> None:
    wh, item = world.warehouses[0].code, world.skus[1].item_code
    before = on_hand(wms, wh, item)
    await call(client, "entryorder.create", entry_body(world))
    cancel = (
        "<request><warehouseCode>WH-GZ01</warehouseCode><orderCode>E1</orderCode>"
        "<orderType>CGRK</orderType></request>"
    )
    assert outcome(await call(client, "order.cancel", cancel)) == ("success", "0")
    clock.advance(1000)
    assert wms.conn.execute("SELECT status FROM inbound_orders").fetchone()[0] == "CANCELED"
    assert on_hand(wms, wh, item) == before


async def test_return_order_of_a_shipped_order(
    client: httpx.AsyncClient, wms: WmsService, world: World, clock: ManualClock
) -> None:
    receiver = Receiver()
    wms.ctx.dispatcher.sender = mock_sender(receiver)
    wms.confirm_callback_url = "http://connector/qimen"
    wms.config = WmsConfig(**{**INBOUND.__dict__, "stock_change_reports": True})
    await call(client, "deliveryorder.create", create_body(world, code="T9"))
    clock.advance(181)
    wh, item = world.warehouses[0].code, world.skus[0].item_code
    shipped = on_hand(wms, wh, item)
    body = (
        "<request><returnOrder><returnOrderCode>R1</returnOrderCode>"
        f"<warehouseCode>{wh}</warehouseCode><orderType>THRK</orderType>"
        "<preDeliveryOrderCode>{pre}</preDeliveryOrderCode><logisticsCode>SF</logisticsCode>"
        "<returnReason>不想要了</returnReason></returnOrder><orderLines><orderLine>"
        f"<ownerCode>OWNER-A</ownerCode><itemCode>{item}</itemCode><planQty>2</planQty>"
        "</orderLine></orderLines></request>"
    )
    assert outcome(await call(client, "returnorder.create", body.replace("{pre}", "NOPE"))) == (
        "failure",
        "ORDER_NOT_EXIST",
    )
    assert outcome(
        await call(client, "returnorder.create", body.replace("{pre}", "T9"), TENANT_B)
    ) == ("failure", "isv.permission-denied")
    created = await call(client, "returnorder.create", body.replace("{pre}", "T9"))
    assert created.findtext("returnOrderId", "").startswith("RO")
    query = "<request><returnOrderCode>R1</returnOrderCode></request>"
    clock.advance(331)
    # Accepted, but nothing to count before the buyer's parcel is in.
    q = await call(client, "returnorder.query", query)
    assert q.findtext("returnOrder/status") == "ACCEPT"
    # Without an expressCode the parcel is matched by the delivery order it returns; the
    # quality check finds one of its two units defective.
    wms.parcel_arrives("OWNER-A", wh, "RT1", "T9", [ParcelLine(item, 2, 1)])
    clock.advance(400)
    q = await call(client, "returnorder.query", query)
    assert q.findtext("returnOrder/status") == "FULFILLED"
    assert q.findtext("returnOrder/preDeliveryOrderCode") == "T9"
    assert on_hand(wms, wh, item) == (shipped or 0) + 1
    defective = wms.conn.execute(
        "SELECT inventory_type, qty FROM unsaleable_stock WHERE warehouse_code = ?"
        " AND item_code = ?",
        (wh, item),
    ).fetchall()
    assert [tuple(row) for row in defective] == [("CC", 1)]
    await wms.ctx.dispatcher.drain(5)
    methods = [m for m, _ in receiver.calls]
    assert methods == [
        "taobao.qimen.stockchange.report",
        "taobao.qimen.deliveryorder.confirm",
        "taobao.qimen.stockchange.report",
        "taobao.qimen.returnorder.confirm",
    ]
    changes = [
        int(p.findtext("items/item/quantity") or 0)
        for m, p in receiver.calls
        if m.endswith("report")
    ]
    assert changes == [-2, 1]  # saleable stock: the defective unit is not on sale
    [confirm] = [p for m, p in receiver.calls if "returnorder" in m]
    assert confirm.findtext("returnOrder/outBizCode") == (
        created.findtext("returnOrderId") + "-FULFILLED"
    )
    lines = [
        (line.findtext("itemCode"), line.findtext("inventoryType"), line.findtext("actualQty"))
        for line in confirm.iter("orderLine")
    ]
    assert lines == [(item, "ZP", "1"), (item, "CC", "1")]


# ------------------------------------------------------------------ batch, items, transfers


async def test_batchcreate_is_all_or_nothing_per_order(
    client: httpx.AsyncClient, wms: WmsService, world: World
) -> None:
    def order(code: str, qty: int) -> str:
        inner = create_body(world, code=code, qty=str(qty))
        return "<order>" + inner.split("<request>", 1)[1].rsplit("</request>", 1)[0] + "</order>"

    body = (
        f"<request><orders>{order('B1', 1)}{order('B2', 99999)}{order('B3', 2)}</orders></request>"
    )
    root = await call(client, "deliveryorder.batchcreate", body)
    assert outcome(root) == ("failure", "PARTIAL_FAILURE")
    per_order = [
        (o.findtext("deliveryOrderCode"), o.findtext("code")) for o in root.findall("orders/order")
    ]
    assert per_order == [("B1", "0"), ("B2", "STOCK_NOT_ENOUGH"), ("B3", "0")]
    codes = [
        r[0] for r in wms.conn.execute("SELECT delivery_order_code FROM delivery_orders ORDER BY 1")
    ]
    assert codes == ["B1", "B3"]
    assert wms.conn.execute("SELECT SUM(reserved) FROM stock").fetchone()[0] == 3
    dup = f"<request><orders>{order('B4', 1)}{order('B4', 1)}</orders></request>"
    assert outcome(await call(client, "deliveryorder.batchcreate", dup)) == (
        "failure",
        "isv.invalid-parameter",
    )


async def test_item_add_update_and_receipt_of_a_new_item(
    client: httpx.AsyncClient, wms: WmsService, world: World, clock: ManualClock
) -> None:
    add = (
        "<request><actionType>{a}</actionType><warehouseCode>OTHER</warehouseCode><ownerCode>OWNER-A</ownerCode><item>"
        "<itemCode>NEW-1</itemCode><itemName>{n}</itemName><barCode>690</barCode>"
        "<grossWeight>1.25</grossWeight></item></request>"
    )
    assert (await call(client, "singleitem.synchronize", add.format(a="add", n="新品"))).findtext(
        "itemId"
    ) == "NEW-1"
    assert outcome(await call(client, "singleitem.synchronize", add.format(a="add", n="x"))) == (
        "failure",
        "ITEM_EXIST",
    )
    assert outcome(
        await call(client, "singleitem.synchronize", add.format(a="update", n="新名"))
    ) == ("success", "0")
    missing = add.format(a="update", n="x").replace("NEW-1", "NEW-2")
    assert outcome(await call(client, "singleitem.synchronize", missing)) == (
        "failure",
        "ITEM_NOT_EXIST",
    )
    bad = add.format(a="remove", n="x")
    assert outcome(await call(client, "singleitem.synchronize", bad)) == (
        "failure",
        "isv.invalid-parameter",
    )
    row = wms.conn.execute(
        "SELECT name, bar_code, weight_kg, owner_code FROM items WHERE item_code = 'NEW-1'"
    )
    assert tuple(row.fetchone()) == ("新名", "690", 1.25, "OWNER-A")
    await call(client, "entryorder.create", entry_body(world, item="NEW-1", qty=4))
    clock.advance(331)
    wh = world.warehouses[0].code
    assert tuple(
        wms.conn.execute(
            "SELECT initial_qty, on_hand, reserved FROM stock WHERE item_code = 'NEW-1'"
        ).fetchone()
    ) == (0, 4, 0)
    inv = await call(
        client,
        "inventory.query",
        f"<request><criteriaList><criteria><warehouseCode>{wh}</warehouseCode><itemCode>NEW-1</itemCode></criteria></criteriaList></request>",
    )
    assert (inv.findtext("items/item/quantity"), inv.findtext("items/item/lockQuantity")) == (
        "4",
        "0",
    )


async def test_inventory_counts_reservations(
    client: httpx.AsyncClient, wms: WmsService, world: World
) -> None:
    await call(client, "deliveryorder.create", create_body(world, qty="5"))
    item = world.skus[0].item_code
    inv = await call(
        client,
        "inventory.query",
        f"<request><criteriaList><criteria><itemCode>{item}</itemCode></criteria></criteriaList></request>",
    )
    rows = [
        (i.findtext("warehouseCode"), i.findtext("quantity"), i.findtext("lockQuantity"))
        for i in inv.findall("items/item")
    ]
    stock = world.initial_stock[(world.warehouses[0].code, item)]
    assert rows[0] == (world.warehouses[0].code, str(stock - 5), "5")
    assert len(rows) == len(world.warehouses)
    # Each answer is kept, as the three-ledger check reads what a connector read.
    kept = wms.ctx.conn.execute(
        "SELECT warehouse_code, on_hand, reserved FROM inventory_reads WHERE item_code = ?"
        " ORDER BY seq",
        (item,),
    ).fetchall()
    assert tuple(kept[0]) == (world.warehouses[0].code, stock, 5)
    assert len(kept) == len(world.warehouses)
    unknown = (
        "<request><criteriaList><criteria><warehouseCode>WH-NONE</warehouseCode>"
        f"<itemCode>{item}</itemCode></criteria></criteriaList></request>"
    )
    assert outcome(await call(client, "inventory.query", unknown)) == (
        "failure",
        "WAREHOUSE_NOT_EXIST",
    )
    assert outcome(await call(client, "inventory.query", "<request/>")) == (
        "failure",
        "isv.missing-parameter",
    )
    # A refused query answered nothing: nothing is kept.
    assert wms.ctx.conn.execute("SELECT COUNT(*) FROM inventory_reads").fetchone()[0] == len(kept)


async def test_transfer_moves_available_stock(
    client: httpx.AsyncClient, wms: WmsService, world: World
) -> None:
    src, dst = world.warehouses[0].code, world.warehouses[1].code
    item = world.skus[2].item_code
    before = (on_hand(wms, src, item) or 0, on_hand(wms, dst, item) or 0)
    body = (
        "<request><erpOrderCode>TR1</erpOrderCode><ownerCode>OWNER-A</ownerCode>"
        f"<fromStoreCode>{src}</fromStoreCode><toStoreCode>{dst}</toStoreCode>"
        "<transferItems><transferItem>"
        f"<scItemCode>{item}</scItemCode><inventoryType>1</inventoryType><count>{{qty}}</count>"
        "</transferItem></transferItems></request>"
    )
    ok = await call(client, "transferorder.create", body.format(qty=10))
    assert ok.findtext("transferOrderCode", "").startswith("TO")
    again = await call(client, "transferorder.create", body.format(qty=10))
    assert again.findtext("transferOrderCode") == ok.findtext("transferOrderCode")
    assert (on_hand(wms, src, item), on_hand(wms, dst, item)) == (before[0] - 10, before[1] + 10)
    short = body.format(qty=10**6).replace("TR1", "TR2")
    assert outcome(await call(client, "transferorder.create", short)) == (
        "failure",
        "STOCK_NOT_ENOUGH",
    )
    same = body.format(qty=1).replace("TR1", "TR3").replace(dst, src)
    assert outcome(await call(client, "transferorder.create", same)) == (
        "failure",
        "isv.invalid-parameter",
    )
    assert (on_hand(wms, src, item), on_hand(wms, dst, item)) == (before[0] - 10, before[1] + 10)
    assert count(wms, "transfer_orders") == 1
