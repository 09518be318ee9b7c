"""Qimen SDK conformance: requests built as the public Qimen SDKs build them, against the fake.

Field names come from the TOP SDK request classes generated for Qimen (the Python layout in
ScottLeeF/python-example `taobao-tianmao/Qimen/top/api/rest/*Request.py`, the .NET ones in
guangxb/LkApps `Top.Api/Qimen/Request/*.cs`); which fields are required, from the Qimen WMS
standard (奇门仓储接口标准) as quoted in docs/protocols/wms.md. The envelope is signed as the
public Qimen description says (tests/support/wms.py `sign`), never with the fake's helper.
Nothing here is taken from the fake's code.
"""

from __future__ import annotations

import copy
from typing import Any

import httpx
import pytest
from lxml import etree

from fake_systems.common.scope import OwnerScope
from fake_systems.wms.models import PERMISSION_DENIED, ItemRequest, WmsError
from fake_systems.wms.service import WmsService
from simulator.world import World
from tests.support.wms import PATH, envelope

pytestmark = pytest.mark.anyio

MISSING = "isv.missing-parameter"
INVALID = "isv.invalid-parameter"

Fields = dict[str, Any]


def sdk_body(fields: Fields) -> str:
    """The XML body of a Qimen request object: each set attribute an element, a nested
    object a nested element, a list the element repeated (`transferItem`, `orderLine`)."""

    def add(parent: etree._Element, name: str, value: Any) -> None:
        if isinstance(value, list):
            for item in value:
                add(parent, name, item)
        elif isinstance(value, dict):
            node = etree.SubElement(parent, name)
            for key, child in value.items():
                add(node, key, child)
        elif value is not None:
            etree.SubElement(parent, name).text = str(value)

    root = etree.Element("request")
    for key, value in fields.items():
        add(root, key, value)
    return '<?xml version="1.0" encoding="utf-8"?>' + etree.tostring(root, encoding="unicode")


async def execute(client: httpx.AsyncClient, method: str, fields: Fields) -> etree._Element:
    """What the SDK's `execute(request)` does: sign, POST the body, read the answer."""
    body = sdk_body(fields)
    response = await client.post(PATH, params=envelope(method, body), content=body.encode())
    assert response.status_code == 200
    return etree.fromstring(response.content)


def outcome(answer: etree._Element) -> tuple[str | None, str | None]:
    return answer.findtext("flag"), answer.findtext("code")


def without(fields: Fields, path: str) -> Fields:
    """A copy of `fields` without the field at `path` (`a/b/c`; in a list, every item's)."""

    def drop(node: Any, names: list[str]) -> None:
        if isinstance(node, list):
            for item in node:
                drop(item, names)
        elif len(names) == 1:
            del node[names[0]]
        else:
            drop(node[names[0]], names[1:])

    result = copy.deepcopy(fields)
    drop(result, path.split("/"))
    return result


def rows(wms: WmsService, sql: str) -> list[tuple[Any, ...]]:
    return [tuple(row) for row in wms.conn.execute(sql).fetchall()]


# ------------------------------------------------------------------ transferorder.create


def transfer_request(world: World, code: str = "ERP-TR-1", count: int = 4) -> Fields:
    """TransferorderCreateRequest: erpOrderCode, fromStoreCode, toStoreCode, ownerCode,
    transferItems (TransferItemsDomain: transferItem{scItemCode, inventoryType, count})."""
    return {
        "erpOrderCode": code,
        "fromStoreCode": world.warehouses[0].code,
        "toStoreCode": world.warehouses[1].code,
        "ownerCode": "OWNER-A",
        "expectStartTime": "2026-11-10 12:00:00",
        "transferItems": {
            "transferItem": [
                {"scItemCode": world.skus[2].item_code, "inventoryType": "1", "count": count},
                {"scItemCode": world.skus[3].item_code, "inventoryType": "1", "count": 1},
            ]
        },
    }


STOCK = "SELECT warehouse_code, item_code, on_hand, reserved FROM stock ORDER BY 1, 2"


async def test_transferorder_create_takes_the_sdk_fields_and_answers_transfer_order_code(
    client: httpx.AsyncClient, wms: WmsService, world: World
) -> None:
    src, dst, item = world.warehouses[0].code, world.warehouses[1].code, world.skus[2].item_code
    before = dict(((w, i), on_hand) for w, i, on_hand, _ in rows(wms, STOCK) if i == item)
    answer = await execute(client, "transferorder.create", transfer_request(world))
    assert outcome(answer) == ("success", "0")
    number = answer.findtext("transferOrderCode")
    assert number  # the WMS's transfer number (调拨单号)
    after = dict(((w, i), on_hand) for w, i, on_hand, _ in rows(wms, STOCK) if i == item)
    assert after[(src, item)] == before[(src, item)] - 4
    assert after[(dst, item)] == before.get((dst, item), 0) + 4
    # erpOrderCode is the ERP's key: the same transfer sent again is the same transfer
    again = await execute(client, "transferorder.create", transfer_request(world))
    assert (outcome(again), again.findtext("transferOrderCode")) == (("success", "0"), number)
    assert rows(wms, "SELECT COUNT(*) FROM transfer_orders") == [(1,)]


@pytest.mark.parametrize(
    "field",
    [
        "erpOrderCode",
        "fromStoreCode",
        "toStoreCode",
        "transferItems",
        "transferItems/transferItem/scItemCode",
        "transferItems/transferItem/inventoryType",
        "transferItems/transferItem/count",
    ],
)
async def test_transferorder_create_without_a_required_field_is_refused(
    client: httpx.AsyncClient, wms: WmsService, world: World, field: str
) -> None:
    stock = rows(wms, STOCK)
    answer = await execute(client, "transferorder.create", without(transfer_request(world), field))
    assert outcome(answer) == ("failure", MISSING)
    assert field.rsplit("/", 1)[-1] in (answer.findtext("message") or "")
    assert rows(wms, "SELECT COUNT(*) FROM transfer_orders") == [(0,)]
    assert rows(wms, STOCK) == stock


@pytest.mark.parametrize("inventory_type", ["ZP", "CC", "2", ""])
async def test_transfer_inventory_types_are_qimens_1_and_101(
    client: httpx.AsyncClient, wms: WmsService, world: World, inventory_type: str
) -> None:
    request = transfer_request(world)
    request["transferItems"]["transferItem"][0]["inventoryType"] = inventory_type
    answer = await execute(client, "transferorder.create", request)
    assert outcome(answer) == ("failure", MISSING if inventory_type == "" else INVALID)
    assert rows(wms, "SELECT COUNT(*) FROM transfer_orders") == [(0,)]


async def test_a_defective_stock_transfer_101_is_accepted(
    client: httpx.AsyncClient, world: World
) -> None:
    request = transfer_request(world, "ERP-TR-CC")
    for item in request["transferItems"]["transferItem"]:
        item["inventoryType"] = "101"
    assert outcome(await execute(client, "transferorder.create", request)) == ("success", "0")


# ------------------------------------------------------------------ entryorder.create


@pytest.mark.parametrize("order_type", ["CCRK", "XNRK", "SCRK", "LYRK", "CGRK", "B2BRK"])
async def test_entry_order_types_of_the_spec_are_accepted(
    client: httpx.AsyncClient, wms: WmsService, world: World, order_type: str
) -> None:
    """EntryorderCreateRequest.entryOrder.orderType (业务类型), CCRK and XNRK included."""
    request = {
        "entryOrder": {
            "entryOrderCode": f"E-{order_type}",
            "ownerCode": "OWNER-A",
            "warehouseCode": world.warehouses[0].code,
            "orderType": order_type,
        },
        "orderLines": {
            "orderLine": [
                {"ownerCode": "OWNER-A", "itemCode": world.skus[0].item_code, "planQty": 5}
            ]
        },
    }
    answer = await execute(client, "entryorder.create", request)
    assert outcome(answer) == ("success", "0")
    assert rows(wms, "SELECT order_type FROM inbound_orders") == [(order_type,)]


# ------------------------------------------------------------------ deliveryorder.create


def contact(name: str, province: str, city: str, area: str, address: str) -> Fields:
    return {
        "name": name,
        "mobile": "13800000000",
        "province": province,
        "city": city,
        "area": area,
        "detailAddress": address,
    }


def delivery_request(world: World, code: str = "SDK-1") -> Fields:
    """DeliveryorderCreateRequest: deliveryOrder (with senderInfo, receiverInfo), orderLines."""
    return {
        "deliveryOrder": {
            "deliveryOrderCode": code,
            "orderType": "JYCK",
            "warehouseCode": world.warehouses[0].code,
            "sourcePlatformCode": "TM",
            "createTime": "2026-11-10 19:58:00",
            "placeOrderTime": "2026-11-10 19:58:00",
            "payTime": "2026-11-10 20:00:05",
            "operateTime": "2026-11-10 20:01:00",
            "shopNick": "山海优选天猫旗舰店",
            "logisticsCode": "SF",
            "senderInfo": contact("广州主仓", "广东省", "广州市", "白云区", "太和镇物流园1号"),
            "receiverInfo": contact("张三", "浙江省", "杭州市", "西湖区", "文三路 1 号"),
        },
        "orderLines": {
            "orderLine": [
                {
                    "orderLineNo": "1",
                    "ownerCode": "OWNER-A",
                    "itemCode": world.skus[0].item_code,
                    "planQty": 2,
                    "actualPrice": "59.90",
                }
            ]
        },
    }


async def test_deliveryorder_create_as_the_sdk_sends_it_is_accepted(
    client: httpx.AsyncClient, world: World
) -> None:
    answer = await execute(client, "deliveryorder.create", delivery_request(world))
    assert outcome(answer) == ("success", "0")
    assert answer.findtext("deliveryOrderId")


REQUIRED_ON_CREATE = [
    "deliveryOrder/createTime",
    "deliveryOrder/placeOrderTime",
    "deliveryOrder/operateTime",
    "deliveryOrder/shopNick",
    "deliveryOrder/sourcePlatformCode",
    "deliveryOrder/senderInfo",
    "deliveryOrder/receiverInfo",
    *(
        f"deliveryOrder/{block}/{name}"
        for block in ("senderInfo", "receiverInfo")
        for name in ("name", "mobile", "province", "city", "detailAddress")
    ),
    "orderLines/orderLine/ownerCode",
    "orderLines/orderLine/actualPrice",
]


@pytest.mark.parametrize("field", REQUIRED_ON_CREATE)
async def test_deliveryorder_create_without_a_required_field_is_refused(
    client: httpx.AsyncClient, wms: WmsService, world: World, field: str
) -> None:
    stock = rows(wms, STOCK)
    request = without(delivery_request(world), field)
    for method, fields in (
        ("deliveryorder.create", request),
        ("deliveryorder.batchcreate", {"orders": {"order": [request]}}),
    ):
        answer = await execute(client, method, fields)
        assert outcome(answer) == ("failure", MISSING), method
        named = field.split("/", 1)[1].replace("/", ".")
        assert (answer.findtext("message") or "").endswith(named.split("orderLine.")[-1])
    assert rows(wms, "SELECT COUNT(*) FROM delivery_orders") == [(0,)]
    assert rows(wms, STOCK) == stock


@pytest.mark.parametrize("value", ["2026-11-10", "2026/11/10 19:58:00", "1794657600000"])
async def test_deliveryorder_create_times_are_qimen_times(
    client: httpx.AsyncClient, wms: WmsService, world: World, value: str
) -> None:
    request = delivery_request(world)
    request["deliveryOrder"]["createTime"] = value
    answer = await execute(client, "deliveryorder.create", request)
    assert outcome(answer) == ("failure", INVALID)
    assert rows(wms, "SELECT COUNT(*) FROM delivery_orders") == [(0,)]


# ------------------------------------------------------------------ order.cancel


async def test_order_cancel_requires_the_warehouse(
    client: httpx.AsyncClient, wms: WmsService, world: World
) -> None:
    """OrderCancelRequest: warehouseCode and orderCode are 必填."""
    await execute(client, "deliveryorder.create", delivery_request(world))
    cancel = {
        "warehouseCode": world.warehouses[0].code,
        "ownerCode": "OWNER-A",
        "orderCode": "SDK-1",
        "orderType": "JYCK",
        "cancelReason": "买家取消",
    }
    refused = await execute(client, "order.cancel", without(cancel, "warehouseCode"))
    assert outcome(refused) == ("failure", MISSING)
    assert "warehouseCode" in (refused.findtext("message") or "")
    elsewhere = await execute(
        client, "order.cancel", {**cancel, "warehouseCode": world.warehouses[1].code}
    )
    assert outcome(elsewhere) == ("failure", "ORDER_NOT_EXIST")
    assert rows(wms, "SELECT status FROM delivery_orders") == [("NEW",)]
    assert outcome(await execute(client, "order.cancel", cancel)) == ("success", "0")
    assert rows(wms, "SELECT status FROM delivery_orders") == [("CANCELED",)]


# ------------------------------------------------------------------ singleitem.synchronize


def item_request(warehouse: str | None) -> Fields:
    """SingleitemSynchronizeRequest: actionType, warehouseCode, ownerCode, item{…}."""
    return {
        "actionType": "add",
        "warehouseCode": warehouse,
        "ownerCode": "OWNER-A",
        "item": {
            "itemCode": "SDK-ITEM-1",
            "itemName": "新品",
            "barCode": "6900000000017",
            "itemType": "ZC",
        },
    }


async def test_singleitem_synchronize_requires_the_warehouse(
    client: httpx.AsyncClient, wms: WmsService, world: World
) -> None:
    added = "SELECT COUNT(*) FROM items WHERE item_code = 'SDK-ITEM-1'"
    refused = await execute(client, "singleitem.synchronize", item_request(None))
    assert outcome(refused) == ("failure", MISSING)
    assert "warehouseCode" in (refused.findtext("message") or "")
    unknown = await execute(client, "singleitem.synchronize", item_request("NO-SUCH-WH"))
    assert outcome(unknown) == ("failure", "WAREHOUSE_NOT_EXIST")
    assert rows(wms, added) == [(0,)]
    # OTHER: "统仓统配等无需ERP指定仓储编码的情况填OTHER"
    ok = await execute(client, "singleitem.synchronize", item_request("OTHER"))
    assert outcome(ok) == ("success", "0")
    assert rows(wms, added) == [(1,)]
    named = item_request(world.warehouses[0].code)
    named["actionType"] = "update"
    assert outcome(await execute(client, "singleitem.synchronize", named)) == ("success", "0")


async def test_an_item_added_for_owner_other_is_shared_and_every_state_is_recorded(
    client: httpx.AsyncClient, wms: WmsService, world: World
) -> None:
    """ecomock's convention: the integrator's add with ownerCode OTHER is a shared catalogue
    item (an ERP material belongs to no owner), as the world's items are; an owner-scoped
    caller may not add one. item_changes keeps each state (the world's seeded ones too)."""
    shared = {**item_request("OTHER"), "ownerCode": "OTHER"}
    assert outcome(await execute(client, "singleitem.synchronize", shared)) == ("success", "0")
    assert rows(wms, "SELECT owner_code FROM items WHERE item_code = 'SDK-ITEM-1'") == [(None,)]
    assert wms.catalog.is_shared("SDK-ITEM-1")
    renamed = {
        **shared,
        "actionType": "update",
        "item": {"itemCode": "SDK-ITEM-1", "itemName": "改名", "barCode": "6900000000024"},
    }
    assert outcome(await execute(client, "singleitem.synchronize", renamed)) == ("success", "0")
    assert rows(
        wms,
        "SELECT action, name, bar_code FROM item_changes WHERE item_code = 'SDK-ITEM-1'"
        " ORDER BY seq",
    ) == [("add", "新品", "6900000000017"), ("update", "改名", "6900000000024")]
    sku = world.skus[0]
    assert rows(
        wms, f"SELECT action, name FROM item_changes WHERE item_code = '{sku.item_code}'"
    ) == [("seed", sku.name)]
    request = ItemRequest("SDK-ITEM-2", "OTHER", name="x")
    with pytest.raises(WmsError) as refused:
        wms.catalog.synchronize_item("add", request, OwnerScope(frozenset({"OWNER-A"})))
    assert refused.value.code == PERMISSION_DENIED
