"""Kdniao adapter: envelopes, DataSign, 1007 / 1008 / 1002 answers and every failure code."""

from __future__ import annotations

import base64
import hashlib
import json
from urllib.parse import quote, urlencode

import pytest

from fake_systems.carrier.api.kdniao import create_app
from fake_systems.carrier.models import CarrierConfig
from fake_systems.carrier.service import CarrierService
from fake_systems.common.credentials import KdniaoCredentials
from fake_systems.common.faults import FaultInjector, FaultRule

EBID = "1234567"
KEY = "test-api-key"
CREDENTIALS = KdniaoCredentials(ebusiness_id=EBID, api_key=KEY)
EORDER = "/api/EOrderService"
DIST = "/api/dist"
QUERY = "/Ebusiness/EbusinessOrderHandle.aspx"

pytestmark = pytest.mark.anyio


def sign(request_data: str, key: str = KEY) -> str:
    """Re-derived from the public description, not imported from the code under test."""
    return base64.b64encode(
        hashlib.md5((request_data + key).encode()).hexdigest().encode()
    ).decode()


def envelope(request_type: str, data: object, **override: str) -> dict[str, str]:
    request_data = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
    form = {
        "RequestData": request_data,
        "EBusinessID": EBID,
        "RequestType": request_type,
        "DataSign": sign(request_data),
        "DataType": "2",
    }
    form.update(override)
    return form


@pytest.fixture
def carrier(make_context, world) -> CarrierService:
    service = CarrierService(make_context("carrier"), CREDENTIALS, CarrierConfig())
    service.setup(world)
    return service


@pytest.fixture
def client(carrier, asgi_client):
    return asgi_client(create_app(carrier, CREDENTIALS))


async def post(client, path: str, form: dict[str, str]) -> dict:
    response = await client.post(
        path,
        content=urlencode(form).encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded;charset=utf-8"},
    )
    assert response.status_code == 200
    return response.json()


ORDER = {
    "OrderCode": "T20261110000001",
    "ShipperCode": "SF",
    "PayType": 3,
    "ExpType": 1,
    "Sender": {
        "Name": "仓库",
        "ProvinceName": "广东省",
        "CityName": "广州市",
        "ExpAreaName": "白云区",
    },
    "Receiver": {
        "Name": "张三",
        "ProvinceName": "浙江省",
        "CityName": "杭州市",
        "ExpAreaName": "西湖区",
    },
    "Weight": 1.2,
    "Quantity": 1,
}


def waybill_count(carrier: CarrierService) -> int:
    return carrier.ctx.conn.execute("SELECT COUNT(*) FROM waybills").fetchone()[0]


async def test_1007_creates_then_repeats_the_same_waybill(client, carrier):
    first = await post(client, EORDER, envelope("1007", ORDER))
    assert first["Success"] is True
    assert first["ResultCode"] == "100"
    assert first["EBusinessID"] == EBID
    assert first["UniquerRequestNumber"]
    order = first["Order"]
    assert order["OrderCode"] == "T20261110000001"
    assert order["ShipperCode"] == "SF"
    assert order["LogisticCode"].startswith("SF") and len(order["LogisticCode"]) == 14
    assert order["MarkDestination"] == "杭州市 西湖区"
    assert order["SortingCode"]

    again = await post(client, EORDER, envelope("1007", ORDER))
    assert again["Success"] is True
    assert again["ResultCode"] == "106"
    assert again["Reason"] == "该订单号已下单成功"
    assert again["Order"]["LogisticCode"] == order["LogisticCode"]
    assert waybill_count(carrier) == 1
    outcomes = carrier.ctx.conn.execute(
        "SELECT operation, outcome, entity FROM events WHERE kind = 'api_in' ORDER BY seq"
    ).fetchall()
    assert [tuple(r) for r in outcomes] == [
        ("1007", "100", "T20261110000001"),
        ("1007", "106", "T20261110000001"),
    ]


async def test_wrong_data_sign_is_102_and_changes_nothing(client, carrier):
    form = envelope("1007", ORDER, DataSign=sign(json.dumps(ORDER), key="wrong-key"))
    answer = await post(client, EORDER, form)
    assert answer == {
        "EBusinessID": EBID,
        "Success": False,
        "ResultCode": "102",
        "Reason": answer["Reason"],
    }
    assert answer["Reason"]
    assert waybill_count(carrier) == 0
    (event,) = carrier.ctx.conn.execute("SELECT outcome, payload FROM events").fetchall()
    assert event["outcome"] == "102"
    assert sign(json.dumps(ORDER)) not in event["payload"]


async def test_sign_over_tampered_data_is_102(client, carrier):
    form = envelope("1007", ORDER)
    form["RequestData"] = form["RequestData"].replace("T20261110000001", "T20261110000002")
    answer = await post(client, EORDER, form)
    assert answer["ResultCode"] == "102"
    assert waybill_count(carrier) == 0


async def test_sign_url_encoded_by_the_client_is_accepted(client):
    # Clients following Kdniao's demo URL-encode DataSign themselves before building the form.
    form = envelope("1007", ORDER)
    form["DataSign"] = quote(form["DataSign"], safe="")
    answer = await post(client, EORDER, form)
    assert answer["ResultCode"] == "100"


@pytest.mark.parametrize(
    ("path", "form", "code"),
    [
        (EORDER, {k: v for k, v in envelope("1007", ORDER).items() if k != "DataSign"}, "101"),
        (EORDER, {k: v for k, v in envelope("1007", ORDER).items() if k != "RequestData"}, "101"),
        (EORDER, envelope("1007", ORDER, EBusinessID="7654321"), "104"),
        (EORDER, envelope("1007", "{not json"), "103"),
        (EORDER, envelope("1007", "[1, 2]"), "103"),
        (EORDER, envelope("1007", ORDER, DataType="1"), "103"),
        (EORDER, envelope("1008", ORDER), "105"),
        (DIST, envelope("1007", ORDER), "105"),
        (EORDER, envelope("1007", {**ORDER, "ShipperCode": "NOPE"}), "105"),
        (EORDER, envelope("1007", {"ShipperCode": "SF"}), "101"),
        (EORDER, envelope("1007", {**ORDER, "OrderCode": "  "}), "101"),
        (EORDER, envelope("1007", {**ORDER, "OrderCode": ["x"]}), "103"),
        (EORDER, envelope("1007", {**ORDER, "Receiver": "杭州"}), "103"),
        (DIST, envelope("1008", {"ShipperCode": "SF"}), "101"),
        (QUERY, envelope("1002", {"LogisticCode": "SF1"}), "101"),
    ],
)
async def test_failures_answer_kdniao_style_and_change_nothing(client, carrier, path, form, code):
    answer = await post(client, path, form)
    assert answer["Success"] is False
    assert answer["ResultCode"] == code
    assert answer["Reason"]
    assert waybill_count(carrier) == 0
    assert carrier.ctx.conn.execute("SELECT COUNT(*) FROM subscriptions").fetchone()[0] == 0
    (outcome,) = carrier.ctx.conn.execute(
        "SELECT outcome FROM events WHERE kind = 'api_in'"
    ).fetchone()
    assert outcome == code


async def test_body_that_is_not_utf8_is_103(client, carrier):
    response = await client.post(
        EORDER,
        content=b"RequestData=\xff\xfe",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 200
    assert response.json()["ResultCode"] == "103"


async def test_empty_body_is_101(client):
    answer = await post(client, EORDER, {})
    assert (answer["Success"], answer["ResultCode"], answer["EBusinessID"]) == (False, "101", "")


async def test_1008_subscribes(client, carrier):
    created = await post(client, EORDER, envelope("1007", ORDER))
    code = created["Order"]["LogisticCode"]
    request = {"ShipperCode": "SF", "LogisticCode": code, "OrderCode": ORDER["OrderCode"]}
    answer = await post(client, DIST, envelope("1008", request))
    assert answer == {
        "EBusinessID": EBID,
        "UpdateTime": "2026-11-10 20:00:00",
        "Success": True,
        "Reason": "",
    }
    rows = carrier.ctx.conn.execute(
        "SELECT logistic_code, shipper_code, order_code FROM subscriptions"
    ).fetchall()
    assert [tuple(r) for r in rows] == [(code, "SF", ORDER["OrderCode"])]
    again = await post(client, DIST, envelope("1008", request))
    assert again["Success"] is True
    assert carrier.ctx.conn.execute("SELECT COUNT(*) FROM subscriptions").fetchone()[0] == 1


async def test_1002_query_before_and_after_the_journey(client, carrier, clock):
    created = await post(client, EORDER, envelope("1007", ORDER))
    code = created["Order"]["LogisticCode"]
    request = {"ShipperCode": "SF", "LogisticCode": code}
    before = await post(client, QUERY, envelope("1002", request))
    assert (before["Success"], before["State"], before["Traces"]) == (False, "0", [])
    assert before["Reason"] == "暂无轨迹信息"

    carrier.hand_over(code, "SF", 1.2)
    clock.advance(60 * 3600)
    after = await post(client, QUERY, envelope("1002", request))
    assert after["Success"] is True
    assert (after["State"], after["StateEx"]) == ("3", "301")
    assert after["OrderCode"] == ORDER["OrderCode"]
    assert [t["Action"] for t in after["Traces"]] == ["1", "2", "201", "202", "301"]
    assert after["Traces"][0]["Location"] == "广州市"  # the sender's city from 1007
    assert after["Traces"][-1]["Location"] == "杭州市"


async def test_lost_response_fault_does_the_work_and_a_retry_gets_it(client, carrier):
    carrier.ctx.faults = FaultInjector([FaultRule("carrier", "1007", "lost_response", 1.0)], seed=1)
    response = await client.post(
        EORDER,
        content=urlencode(envelope("1007", ORDER)).encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 504
    assert waybill_count(carrier) == 1
    carrier.ctx.faults = FaultInjector([], seed=1)
    retry = await post(client, EORDER, envelope("1007", ORDER))
    assert retry["ResultCode"] == "106"


async def test_control_surface_is_there(client):
    response = await client.get("/_fake/health")
    assert response.json() == {"system": "carrier", "status": "ok"}
