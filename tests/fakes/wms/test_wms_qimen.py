"""The WMS Qimen adapter: envelope, signatures, error format, methods, lost-response fault."""

from __future__ import annotations

import httpx
import pytest
from lxml import etree

from fake_systems.common.faults import NO_FAULTS, FaultInjector, FaultRule
from fake_systems.wms.service import WmsService
from simulator.clock import ManualClock
from simulator.world import World
from tests.support.wms import PATH, api_events, create_body, envelope

pytestmark = pytest.mark.anyio


async def call(
    client: httpx.AsyncClient, method: str, body: str, **overrides: str
) -> tuple[httpx.Response, etree._Element]:
    params = envelope(method, body, **overrides)
    response = await client.post(
        PATH, params=params, content=body.encode(), headers={"Content-Type": "text/xml"}
    )
    return response, etree.fromstring(response.content)


def orders(wms: WmsService) -> int:
    return int(wms.conn.execute("SELECT COUNT(*) FROM delivery_orders").fetchone()[0])


async def test_create_query_and_repeat(
    client: httpx.AsyncClient, wms: WmsService, world: World
) -> None:
    response, root = await call(client, "deliveryorder.create", create_body(world))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/xml")
    assert root.tag == "response"
    assert root.findtext("flag") == "success"
    assert root.findtext("code") == "0"
    order_id = root.findtext("deliveryOrderId")
    assert order_id and order_id.startswith("DO")
    assert root.findtext("warehouseCode") == world.warehouses[0].code
    assert root.findtext("logisticsCode") == "SF"
    assert root.findtext("createTime") == "2026-11-10 20:00:00"
    row = wms.conn.execute("SELECT * FROM delivery_orders").fetchone()
    assert (row["delivery_order_id"], row["source_order_code"], row["shop_nick"]) == (
        order_id,
        "P-T0001",
        "山海优选天猫旗舰店",
    )
    line = wms.conn.execute("SELECT * FROM delivery_order_lines").fetchone()
    assert (line["order_line_no"], line["plan_qty"], line["actual_price"]) == ("11", 2, "99.00")

    _, root2 = await call(client, "deliveryorder.create", create_body(world))
    assert root2.findtext("flag") == "success"
    assert root2.findtext("deliveryOrderId") == order_id
    assert orders(wms) == 1

    _, q = await call(
        client,
        "deliveryorder.query",
        "<request><deliveryOrderCode>T0001</deliveryOrderCode></request>",
    )
    assert q.findtext("flag") == "success"
    assert q.findtext("deliveryOrder/deliveryOrderId") == order_id
    assert q.findtext("deliveryOrder/status") == "NEW"
    assert q.findtext("orderLines/orderLine/itemCode") == world.skus[0].item_code
    assert q.find("packages") is None

    events = api_events(wms)
    assert [(op, outcome, entity) for op, outcome, entity, _ in events] == [
        ("deliveryorder.create", "ok", "T0001"),
        ("deliveryorder.create", "ok", "T0001"),
        ("deliveryorder.query", "ok", "T0001"),
    ]
    assert events[0][3]["params"]["sign"] == "***"  # the history never keeps signatures


async def test_query_after_delivery_shows_the_package(
    client: httpx.AsyncClient, wms: WmsService, world: World, clock: ManualClock
) -> None:
    await call(client, "deliveryorder.create", create_body(world))
    clock.advance(181)
    _, q = await call(
        client,
        "deliveryorder.query",
        "<request><deliveryOrderCode>T0001</deliveryOrderCode></request>",
    )
    assert q.findtext("deliveryOrder/status") == "DELIVERED"
    assert q.findtext("packages/package/expressCode") == "SF1234567890"
    assert q.findtext("orderLines/orderLine/actualQty") == "2"


async def test_wrong_signature_is_refused_and_changes_nothing(
    client: httpx.AsyncClient, wms: WmsService, world: World
) -> None:
    body = create_body(world)
    params = envelope("deliveryorder.create", body, secret="not-the-secret")
    response = await client.post(PATH, params=params, content=body.encode())
    assert response.status_code == 200
    root = etree.fromstring(response.content)
    assert (root.findtext("flag"), root.findtext("code"), root.findtext("message")) == (
        "failure",
        "sign-check-failure",
        "Illegal request",
    )
    assert orders(wms) == 0
    assert wms.conn.execute("SELECT COUNT(*) FROM stock_ledger").fetchone()[0] == 0
    events = api_events(wms)
    assert [(op, outcome) for op, outcome, _, _ in events] == [
        ("deliveryorder.create", "sign-check-failure")
    ]
    assert events[0][3]["params"]["sign"] == "***"


async def test_missing_sign_and_tampered_body_are_refused(
    client: httpx.AsyncClient, wms: WmsService, world: World
) -> None:
    body = create_body(world)
    params = envelope("deliveryorder.create", body)
    unsigned = {k: v for k, v in params.items() if k != "sign"}
    r1 = await client.post(PATH, params=unsigned, content=body.encode())
    tampered = create_body(world, qty="3")
    r2 = await client.post(PATH, params=params, content=tampered.encode())
    lowercase = dict(params, sign=params["sign"].lower())
    r3 = await client.post(PATH, params=lowercase, content=body.encode())
    for response in (r1, r2, r3):
        assert etree.fromstring(response.content).findtext("code") == "sign-check-failure"
    assert orders(wms) == 0


@pytest.mark.parametrize(
    ("method", "overrides", "body", "code"),
    [
        ("deliveryorder.create", {"app_key": "qm_stranger"}, None, "isv.appkey-not-exists"),
        ("deliveryorder.create", {"sign_method": "hmac"}, None, "isv.invalid-parameter"),
        ("deliveryorder.create", {"customerId": "SOMEONE_ELSE"}, None, "isv.invalid-parameter"),
        ("deliveryorder.create", {"customerId": ""}, None, "isv.missing-parameter"),
        ("deliveryorder.create", {"format": "yaml"}, None, "isv.invalid-parameter"),
        ("deliveryorder.create", {"timestamp": "yesterday"}, None, "isv.invalid-parameter"),
        ("stockout.query", {}, None, "isv.invalid-method"),
        ("deliveryorder.create", {}, "<request><deliveryOrder>", "isv.invalid-format"),
        ("deliveryorder.create", {}, "", "isv.invalid-format"),
        ("deliveryorder.create", {}, "<order/>", "isv.invalid-format"),
        ("deliveryorder.create", {}, "<request/>", "isv.missing-parameter"),
        (
            "deliveryorder.create",
            {},
            "<request><deliveryOrder><deliveryOrderCode>X</deliveryOrderCode></deliveryOrder></request>",
            "isv.missing-parameter",
        ),
        ("deliveryorder.query", {}, "<request/>", "isv.missing-parameter"),
        ("order.cancel", {}, "<request/>", "isv.missing-parameter"),
        (
            "order.cancel",
            {},
            "<request><warehouseCode>WH-GZ01</warehouseCode><orderCode>NOPE</orderCode></request>",
            "ORDER_NOT_EXIST",
        ),
    ],
)
async def test_envelope_and_body_failures(
    client: httpx.AsyncClient,
    wms: WmsService,
    world: World,
    method: str,
    overrides: dict[str, str],
    body: str | None,
    code: str,
) -> None:
    response, root = await call(
        client, method, create_body(world) if body is None else body, **overrides
    )
    assert response.status_code == 200
    assert root.findtext("flag") == "failure"
    assert root.findtext("code") == code
    assert root.findtext("message")
    assert orders(wms) == 0
    assert [outcome for _, outcome, _, _ in api_events(wms)] == [code]


@pytest.mark.parametrize(
    ("body_args", "code"),
    [
        ({"qty": "abc"}, "isv.invalid-parameter"),
        ({"qty": "0"}, "isv.invalid-parameter"),
        ({"qty": "5001"}, "STOCK_NOT_ENOUGH"),
        ({"item": "9999999999999999"}, "ITEM_NOT_EXIST"),
    ],
)
async def test_business_refusals_on_the_wire(
    client: httpx.AsyncClient, wms: WmsService, world: World, body_args: dict[str, str], code: str
) -> None:
    _, root = await call(client, "deliveryorder.create", create_body(world, **body_args))
    assert (root.findtext("flag"), root.findtext("code")) == ("failure", code)
    assert orders(wms) == 0
    assert api_events(wms)[0][2] == "T0001"


async def test_xml_entities_are_not_expanded(client: httpx.AsyncClient, wms: WmsService) -> None:
    body = (
        '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        "<request><deliveryOrderCode>&x;</deliveryOrderCode></request>"
    )
    _, root = await call(client, "deliveryorder.query", body)
    assert root.findtext("flag") == "failure"
    assert "root:" not in (root.findtext("message") or "")


async def test_other_http_methods_get_a_qimen_failure(client: httpx.AsyncClient) -> None:
    response = await client.get(PATH, params={"method": "taobao.qimen.deliveryorder.query"})
    assert response.status_code == 200
    root = etree.fromstring(response.content)
    assert (root.findtext("flag"), root.findtext("code")) == (
        "failure",
        "isv.http-method-not-allowed",
    )


async def test_cancel_before_and_after_picking(
    client: httpx.AsyncClient, wms: WmsService, world: World, clock: ManualClock
) -> None:
    await call(client, "deliveryorder.create", create_body(world, code="T1"))
    await call(client, "deliveryorder.create", create_body(world, code="T2"))
    cancel = (
        "<request><warehouseCode>WH-GZ01</warehouseCode><ownerCode>OWNER-A</ownerCode><orderCode>{}</orderCode>"
        "<orderType>JYCK</orderType><cancelReason>buyer</cancelReason></request>"
    )
    _, ok = await call(client, "order.cancel", cancel.format("T1"))
    assert (ok.findtext("flag"), ok.findtext("code")) == ("success", "0")
    clock.advance(31)
    _, refused = await call(client, "order.cancel", cancel.format("T2"))
    assert (refused.findtext("flag"), refused.findtext("code")) == ("failure", "CANCELEDFAIL")
    statuses = dict(
        wms.conn.execute("SELECT delivery_order_code, status FROM delivery_orders").fetchall()
    )
    assert statuses == {"T1": "CANCELED", "T2": "PICK"}


async def test_lost_response_fault_does_the_work_then_times_out(
    client: httpx.AsyncClient, wms: WmsService, world: World
) -> None:
    wms.ctx.faults = FaultInjector(
        [FaultRule("wms", "deliveryorder.create", "lost_response", 1.0)], seed=1
    )
    body = create_body(world)
    lost = await client.post(
        PATH, params=envelope("deliveryorder.create", body), content=body.encode()
    )
    assert lost.status_code == 504
    assert lost.content == b""
    assert orders(wms) == 1
    order_id = wms.conn.execute("SELECT delivery_order_id FROM delivery_orders").fetchone()[0]
    faults = wms.conn.execute(
        "SELECT operation, outcome, entity FROM events WHERE kind = 'fault'"
    ).fetchall()
    assert [tuple(r) for r in faults] == [("deliveryorder.create", "lost_response", "T0001")]

    wms.ctx.faults = NO_FAULTS  # the caller retries and this time hears back
    _, root = await call(client, "deliveryorder.create", body)
    assert root.findtext("flag") == "success"
    assert root.findtext("deliveryOrderId") == order_id
    assert orders(wms) == 1
    reserved = wms.conn.execute("SELECT SUM(reserved) FROM stock").fetchone()[0]
    assert reserved == 2


async def test_control_surface_is_mounted(client: httpx.AsyncClient) -> None:
    response = await client.get("/_fake/health")
    assert response.json() == {"system": "wms", "status": "ok"}
