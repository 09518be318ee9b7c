"""Kdniao SDK conformance: the public Python SDK (PyPI `kdniao` 0.1.3, menduo/kdniao_python)
drives the fake unchanged over HTTP, pointed at it by its own host setting.

The SDK builds every request itself (`json.dumps(data, sort_keys=True)`, DataSign
`base64(md5_hex(RequestData + AppKey))`, the form, the path per RequestType); the tests only
hand it the RequestData fields Kdniao documents (misu99/kdniao `request/order_request.go`,
sources in docs/protocols/carrier.md) and read what it returns (`data` is Kdniao's answer).
It is synchronous (requests), so each call runs in a worker thread while the fake serves.
"""

from __future__ import annotations

import copy
import json
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import parse_qsl

import anyio
import httpx
import pytest
from kdniao.client import KdNiaoClient
from kdniao.conf import APIPathBuilder

from fake_systems.carrier.api.kdniao import create_app
from fake_systems.carrier.service import CarrierService
from fake_systems.common.server import ServerGroup
from simulator.clock import ManualClock
from tests.support.carrier import CREDENTIALS, EBID, KEY
from tests.support.pushes import mock_sender

pytestmark = pytest.mark.anyio

HOUR = 3600
# A 1007 as Kdniao's documentation writes it: every required field, and the print template.
EORDER: dict[str, Any] = {
    "OrderCode": "SDK-0001",
    "ShipperCode": "YD",
    "PayType": 1,
    "ExpType": "1",
    "Quantity": 1,
    "IsReturnPrintTemplate": "1",
    "Sender": {
        "Name": "广州主仓",
        "Mobile": "13900000000",
        "ProvinceName": "广东省",
        "CityName": "广州市",
        "ExpAreaName": "白云区",
        "Address": "太和镇物流园1号",
    },
    "Receiver": {
        "Name": "李四",
        "Tel": "0571-88888888",
        "ProvinceName": "浙江省",
        "CityName": "杭州市",
        "ExpAreaName": "西湖区",
        "Address": "文三路 1 号",
    },
    "Commodity": [{"GoodsName": "杯子", "Goodsquantity": 2}],
}


@pytest.fixture
async def sdk(
    carrier: CarrierService, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[KdNiaoClient]:
    """The SDK's blocking client with its production host set to the fake on a free port."""
    servers = ServerGroup()
    await servers.start({"carrier": create_app(carrier, CREDENTIALS)})
    monkeypatch.setattr(APIPathBuilder, "PROD", servers.urls["carrier"].removeprefix("http://"))
    try:
        yield KdNiaoClient(EBID, KEY)
    finally:
        await servers.stop()


async def run(call: Callable[..., dict[str, Any]], *args: Any) -> dict[str, Any]:
    """One SDK call, off the event loop the fake answers on; Kdniao's answer."""
    result = await anyio.to_thread.run_sync(lambda: call(*args))
    assert result["code_http"] == 200
    answer: dict[str, Any] = result["data"]
    return answer


def waybills(carrier: CarrierService) -> int:
    return int(carrier.ctx.conn.execute("SELECT COUNT(*) FROM waybills").fetchone()[0])


async def test_1007_returns_the_print_template_when_asked(
    sdk: KdNiaoClient, carrier: CarrierService
) -> None:
    answer = await run(sdk.create_eorder, EORDER)
    assert (answer["Success"], answer["ResultCode"]) == (True, "100")
    number = answer["Order"]["LogisticCode"]
    assert answer["Order"]["ShipperCode"] == "YD"
    template = answer["PrintTemplate"]
    assert template.startswith("<!DOCTYPE html>") and number in template
    # Clients send the switch as the string "1" or the number 1; without it, no template.
    numeric = await run(
        sdk.create_eorder, {**EORDER, "OrderCode": "SDK-2", "IsReturnPrintTemplate": 1}
    )
    assert numeric["Order"]["LogisticCode"] in numeric["PrintTemplate"]
    unasked = drop({**EORDER, "OrderCode": "SDK-3"}, "IsReturnPrintTemplate")
    assert "PrintTemplate" not in await run(sdk.create_eorder, unasked)
    declined = {**EORDER, "OrderCode": "SDK-4", "IsReturnPrintTemplate": "0"}
    assert "PrintTemplate" not in await run(sdk.create_eorder, declined)
    assert waybills(carrier) == 4


def drop(order: dict[str, Any], path: str) -> dict[str, Any]:
    """A copy of `order` without the field at `path` (`Sender.Name`, `Commodity.0.GoodsName`)."""
    result = copy.deepcopy(order)
    *parents, last = path.split(".")
    node: Any = result
    for name in parents:
        node = node[int(name)] if isinstance(node, list) else node[name]
    del node[last]
    return result


@pytest.mark.parametrize(
    "path",
    [
        "PayType",
        "ExpType",
        "Quantity",
        "Sender",
        "Receiver",
        "Commodity",
        "Sender.Name",
        "Sender.Mobile",  # the sender's only phone
        "Receiver.Tel",  # the receiver's only phone
        "Receiver.ProvinceName",
        "Receiver.CityName",
        "Receiver.ExpAreaName",
        "Receiver.Address",
        "Commodity.0.GoodsName",
    ],
)
async def test_1007_without_a_required_field_is_101(
    sdk: KdNiaoClient, carrier: CarrierService, path: str
) -> None:
    answer = await run(sdk.create_eorder, drop(EORDER, path))
    assert (answer["Success"], answer["ResultCode"]) == (False, "101")
    named = path.rsplit(".", 1)[-1] if not path.endswith(("Tel", "Mobile")) else "Mobile"
    assert named in answer["Reason"]
    assert waybills(carrier) == 0


@pytest.mark.parametrize("quantity", [0, -1, "x", 1.5])
async def test_1007_quantity_is_a_parcel_count(
    sdk: KdNiaoClient, carrier: CarrierService, quantity: object
) -> None:
    answer = await run(sdk.create_eorder, {**EORDER, "Quantity": quantity})
    assert (answer["Success"], answer["ResultCode"]) == (False, "103")
    assert waybills(carrier) == 0


async def test_2002_failure_carries_code(sdk: KdNiaoClient) -> None:
    answer = await run(sdk.recognise, "XX0000")
    assert answer["Success"] is False
    assert answer["Code"] == "105" and answer["Reason"]
    assert "ResultCode" not in answer
    assert (answer["LogisticCode"], answer["Shippers"]) == ("XX0000", [])


async def test_standard_and_value_added_tracking(
    sdk: KdNiaoClient, carrier: CarrierService, clock: ManualClock
) -> None:
    pushed: list[httpx.Request] = []

    def subscriber(request: httpx.Request) -> httpx.Response:
        pushed.append(request)
        return httpx.Response(200, json={"EBusinessID": EBID, "Success": True})

    carrier.ctx.dispatcher.sender = mock_sender(subscriber)
    carrier.push_callback_url = "http://merchant.test/kdniao"
    standard = (await run(sdk.create_eorder, EORDER))["Order"]["LogisticCode"]
    added_order = {**EORDER, "OrderCode": "SDK-0009"}
    added = (await run(sdk.create_eorder, added_order))["Order"]["LogisticCode"]
    assert (await run(sdk.follow, standard, "YD"))["Success"] is True  # 1008
    subscription = {"ShipperCode": "YD", "LogisticCode": added, "OrderCode": "SDK-0009"}
    assert (await run(sdk.api_monitor.subscribe, subscription))["Success"] is True  # 8008
    for number in (standard, added):
        carrier.hand_over(number, "YD", 1.0)
    clock.advance(80 * HOUR)
    await carrier.ctx.dispatcher.drain(5)

    by_type: dict[str, list[dict[str, Any]]] = {}
    for request in pushed:
        form = dict(parse_qsl(request.content.decode()))
        body = json.loads(form["RequestData"])
        assert body["Count"] == str(len(body["Data"]))  # a string
        by_type.setdefault(form["RequestType"], []).extend(body["Data"])
    assert {d["LogisticCode"] for d in by_type["101"]} == {standard}
    assert {d["LogisticCode"] for d in by_type["102"]} == {added}
    assert not any("StateEx" in d or "Location" in d for d in by_type["101"])
    assert all(set(t) == {"AcceptTime", "AcceptStation"} for t in by_type["101"][-1]["Traces"])
    assert by_type["102"][-1]["StateEx"] == "301" and by_type["102"][-1]["Location"]
    assert {"Location", "Action"} <= set(by_type["102"][-1]["Traces"][-1])

    tracked = await run(sdk.track, standard, "YD")  # 1002
    assert tracked["State"] == "3" and "StateEx" not in tracked
    monitored = await run(sdk.api_monitor.track, added, "YD", "SDK-0009")  # 8001
    assert (monitored["State"], monitored["StateEx"]) == ("3", "301")
