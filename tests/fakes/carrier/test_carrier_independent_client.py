"""A Kdniao client written from the public description only, run against the fake over ASGI.

Nothing here comes from the fake's signing or envelope code (fake_systems.common.signing): the
DataSign, the form and the push check are re-derived from Kdniao's published description and
its demos, so the fake and the reference client cannot agree on a mistake unnoticed.

Published scheme: the request is a form POST (application/x-www-form-urlencoded, UTF-8) with
RequestData (the JSON text), EBusinessID, RequestType, DataSign and DataType=2, where
DataSign = urlencode(base64(md5(RequestData + ApiKey))) and md5 gives 32 lower-case hex
characters, which are what is base64-encoded. The official PHP demo URL-encodes DataSign
itself and then builds the form (encoding it a second time); typical SDKs leave the one
encoding to the form. Both must work.
"""

from __future__ import annotations

import base64
import hashlib
import json
import urllib.parse

import httpx
import pytest

from fake_systems.carrier.api.kdniao import create_app
from fake_systems.carrier.service import CarrierService
from fake_systems.common.credentials import KdniaoCredentials
from tests.support.pushes import mock_sender

pytestmark = pytest.mark.anyio

EBUSINESS_ID = "1300001"
API_KEY = "56da2cf8-c8a2-44b2-b6fa-476cd7d1ba17"


def data_sign(request_data: str, api_key: str) -> str:
    digest = hashlib.md5((request_data + api_key).encode("utf-8")).hexdigest()
    return base64.b64encode(digest.encode("ascii")).decode("ascii")


class PublicKdniaoClient:
    """What an integrator writes from Kdniao's documentation."""

    def __init__(self, http: httpx.AsyncClient, php_demo_style: bool = False) -> None:
        self.http = http
        self.php_demo_style = php_demo_style

    async def call(self, path: str, request_type: str, data: dict) -> dict:
        request_data = json.dumps(data, ensure_ascii=False)
        sign = data_sign(request_data, API_KEY)
        if self.php_demo_style:
            sign = urllib.parse.quote(sign, safe="")  # urlencode(base64(...)) as the demo does
        body = urllib.parse.urlencode(
            {
                "RequestData": request_data,
                "EBusinessID": EBUSINESS_ID,
                "RequestType": request_type,
                "DataSign": sign,
                "DataType": "2",
            }
        )
        response = await self.http.post(
            path,
            content=body.encode("utf-8"),
            headers={"Content-Type": "application/x-www-form-urlencoded;charset=utf-8"},
        )
        assert response.status_code == 200
        return response.json()


@pytest.fixture
def carrier(make_context, world) -> CarrierService:
    service = CarrierService(
        make_context("carrier"), KdniaoCredentials(ebusiness_id=EBUSINESS_ID, api_key=API_KEY)
    )
    service.setup(world)
    return service


@pytest.mark.parametrize("php_demo_style", [False, True])
async def test_the_whole_interface_from_the_public_description(
    carrier, asgi_client, clock, php_demo_style
):
    http = asgi_client(create_app(carrier, carrier.credentials))
    kdniao = PublicKdniaoClient(http, php_demo_style)
    pushes: list[httpx.Request] = []

    def subscriber(request: httpx.Request) -> httpx.Response:
        pushes.append(request)
        return httpx.Response(200, json={"EBusinessID": EBUSINESS_ID, "Success": True})

    carrier.ctx.dispatcher.sender = mock_sender(subscriber)
    carrier.push_callback_url = "http://integrator.test/kdniao/push"

    order = {
        "OrderCode": "PUB-0001",
        "ShipperCode": "ZTO",
        "PayType": 1,
        "ExpType": 1,
        "Sender": {
            "Name": "仓库",
            "Mobile": "13700000000",
            "ProvinceName": "浙江省",
            "CityName": "杭州市",
            "ExpAreaName": "余杭区",
            "Address": "x",
        },
        "Receiver": {
            "Name": "李四",
            "Tel": "010-66666666",
            "ProvinceName": "北京",
            "CityName": "北京市",
            "ExpAreaName": "朝阳区",
            "Address": "y",
        },
        "Commodity": [{"GoodsName": "书"}],
        "Quantity": 1,
    }
    created = await kdniao.call("/api/EOrderService", "1007", order)
    assert (created["Success"], created["ResultCode"]) == (True, "100")
    number = created["Order"]["LogisticCode"]

    recognised = await kdniao.call(
        "/Ebusiness/EbusinessOrderHandle.aspx", "2002", {"LogisticCode": number}
    )
    assert recognised["Success"] is True
    assert "ZTO" in [s["ShipperCode"] for s in recognised["Shippers"]]

    subscribed = await kdniao.call(
        "/api/dist", "1008", {"ShipperCode": "ZTO", "LogisticCode": number, "OrderCode": "PUB-0001"}
    )
    assert subscribed["Success"] is True

    carrier.hand_over(number, "ZTO", 0.8)  # the warehouse gives the parcel to the courier
    clock.advance(80 * 3600)
    await carrier.ctx.dispatcher.drain(5)

    tracked = await kdniao.call(
        "/Ebusiness/EbusinessOrderHandle.aspx",
        "1002",
        {"ShipperCode": "ZTO", "LogisticCode": number},
    )
    assert (tracked["Success"], tracked["State"]) == (True, "3")
    assert tracked["Traces"][0]["AcceptStation"]

    # Every 101 push verifies with the same published scheme.
    assert len(pushes) == 5
    for push in pushes:
        form = dict(urllib.parse.parse_qsl(push.content.decode("utf-8")))
        assert form["RequestType"] == "101"
        assert form["DataSign"] == data_sign(form["RequestData"], API_KEY)
        assert json.loads(form["RequestData"])["Data"][0]["LogisticCode"] == number

    # A second order, cancelled before the courier collects it.
    second = await kdniao.call("/api/EOrderService", "1007", {**order, "OrderCode": "PUB-0002"})
    cancel = {
        "ShipperCode": "ZTO",
        "OrderCode": "PUB-0002",
        "ExpNo": second["Order"]["LogisticCode"],
    }
    cancelled = await kdniao.call("/api/EOrderService", "1147", cancel)
    assert (cancelled["Success"], cancelled["ResultCode"]) == (True, "100")
