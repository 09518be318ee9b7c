"""A Qimen client written from the public description only, against the WMS fake over ASGI.

Signing and envelope are re-derived here (Taobao TOP / Qimen md5: sorted `key+value` pairs
between the secret twice, the body before the closing secret, upper-case hex) and answers
are read with the standard library, so the fake and its own helpers cannot agree on a
mistake unnoticed.
"""

from __future__ import annotations

import hashlib
import json
import xml.etree.ElementTree as ET
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

import httpx
import pytest

from fake_systems.common.context import SystemContext
from fake_systems.common.credentials import QimenCredentials
from fake_systems.wms.api.qimen import create_app
from fake_systems.wms.service import WmsService
from simulator.world import World

pytestmark = pytest.mark.anyio

APP_KEY, SECRET, CUSTOMER = "qm_public", "public-secret", "ECOMOCK_CUST"
BEIJING = timezone(timedelta(hours=8))


class PublicQimenClient:
    """`POST /router/qimen/service?method&timestamp&…&customerId&sign`, XML or JSON body."""

    def __init__(self, http: httpx.AsyncClient, now: Callable[[], float]) -> None:
        self.http = http
        self.now = now

    def params(self, method: str, body: str, fmt: str) -> dict[str, str]:
        params = {
            "method": "taobao.qimen." + method,
            "timestamp": datetime.fromtimestamp(self.now(), BEIJING).strftime("%Y-%m-%d %H:%M:%S"),
            "format": fmt,
            "app_key": APP_KEY,
            "v": "2.0",
            "sign_method": "md5",
            "customerId": CUSTOMER,
        }
        plain = SECRET
        for key in sorted(params):
            plain += key + params[key]
        plain += body + SECRET
        params["sign"] = hashlib.md5(plain.encode("utf-8")).hexdigest().upper()
        return params

    async def xml(self, method: str, body: str) -> ET.Element:
        response = await self.http.post(
            "/router/qimen/service",
            params=self.params(method, body, "xml"),
            content=body.encode("utf-8"),
            headers={"Content-Type": "text/xml;charset=utf-8"},
        )
        assert response.status_code == 200
        return ET.fromstring(response.text)

    async def json(self, method: str, request: dict[str, object]) -> dict[str, object]:
        body = json.dumps({"request": request}, ensure_ascii=False)
        response = await self.http.post(
            "/router/qimen/service",
            params=self.params(method, body, "json"),
            content=body.encode("utf-8"),
            headers={"Content-Type": "application/json;charset=utf-8"},
        )
        assert response.status_code == 200
        answer = json.loads(response.text)["response"]
        assert isinstance(answer, dict)
        return answer


@pytest.fixture
def client(
    make_context: Callable[[str], SystemContext],
    world: World,
    asgi_client: Callable[[object], httpx.AsyncClient],
) -> PublicQimenClient:
    creds = QimenCredentials(app_key=APP_KEY, secret=SECRET, customer_id=CUSTOMER)
    service = WmsService(make_context("wms"), creds)
    service.setup(world)
    return PublicQimenClient(asgi_client(create_app(service, creds)), service.ctx.clock.wall)


async def test_public_client_creates_queries_and_cancels(
    client: PublicQimenClient, world: World
) -> None:
    item, warehouse = world.skus[3].item_code, world.warehouses[0].code
    create = (
        '<?xml version="1.0" encoding="utf-8"?><request><deliveryOrder>'
        "<deliveryOrderCode>PUB-1</deliveryOrderCode><orderType>JYCK</orderType>"
        f"<warehouseCode>{warehouse}</warehouseCode><sourcePlatformCode>JD</sourcePlatformCode>"
        "<createTime>2026-11-10 10:00:00</createTime>"
        "<placeOrderTime>2026-11-10 10:00:00</placeOrderTime>"
        "<operateTime>2026-11-10 10:01:00</operateTime><shopNick>云杉生活京东店</shopNick>"
        "<logisticsCode>YTO</logisticsCode>"
        "<senderInfo><name>武汉仓</name><mobile>13700000000</mobile><province>湖北省</province>"
        "<city>武汉市</city><detailAddress>走马岭物流大道8号</detailAddress></senderInfo>"
        "<receiverInfo><name>李四</name><mobile>13900000000</mobile><province>北京</province>"
        "<city>北京市</city><detailAddress>朝阳路1号</detailAddress></receiverInfo>"
        "</deliveryOrder><orderLines><orderLine><orderLineNo>1</orderLineNo>"
        f"<ownerCode>OWNER-B</ownerCode><itemCode>{item}</itemCode><planQty>1</planQty>"
        "<actualPrice>25.00</actualPrice></orderLine></orderLines></request>"
    )
    created = await client.xml("deliveryorder.create", create)
    assert (created.findtext("flag"), created.findtext("code")) == ("success", "0")
    order_id = created.findtext("deliveryOrderId")
    assert order_id

    queried = await client.xml(
        "deliveryorder.query", "<request><deliveryOrderCode>PUB-1</deliveryOrderCode></request>"
    )
    assert queried.findtext("deliveryOrder/deliveryOrderId") == order_id
    assert queried.findtext("deliveryOrder/status") == "NEW"

    stock = await client.json(
        "inventory.query",
        {"criteriaList": [{"warehouseCode": warehouse, "ownerCode": "OWNER-B", "itemCode": item}]},
    )
    assert stock["flag"] == "success"
    items = stock["items"]
    assert isinstance(items, list)
    assert items[0]["lockQuantity"] == "1"

    canceled = await client.xml(
        "order.cancel",
        "<request><warehouseCode>WH-GZ01</warehouseCode><ownerCode>OWNER-B</ownerCode><orderCode>PUB-1</orderCode>"
        "<orderType>JYCK</orderType></request>",
    )
    assert (canceled.findtext("flag"), canceled.findtext("code")) == ("success", "0")


async def test_public_client_json_entry_order(client: PublicQimenClient, world: World) -> None:
    answer = await client.json(
        "entryorder.create",
        {
            "entryOrder": {
                "entryOrderCode": "PUB-E1",
                "ownerCode": "OWNER-A",
                "warehouseCode": world.warehouses[1].code,
                "entryOrderType": "CGRK",
            },
            "orderLines": {"orderLine": [{"itemCode": world.skus[0].item_code, "planQty": 12}]},
        },
    )
    assert (answer["flag"], answer["code"]) == ("success", "0")
    assert str(answer["entryOrderId"]).startswith("EO")
    query = await client.json("entryorder.query", {"entryOrderCode": "PUB-E1"})
    entry = query["entryOrder"]
    assert isinstance(entry, dict)
    assert (entry["status"], entry["entryOrderType"]) == ("NEW", "CGRK")


async def test_public_client_with_a_skewed_clock_is_refused(client: PublicQimenClient) -> None:
    # An hour behind the server: Qimen (TOP) allows 10 minutes.
    server_now = client.now
    client.now = lambda: server_now() - 3600
    refused = await client.xml(
        "deliveryorder.query", "<request><deliveryOrderCode>X</deliveryOrderCode></request>"
    )
    assert (refused.findtext("flag"), refused.findtext("code")) == (
        "failure",
        "isv.invalid-timestamp",
    )
