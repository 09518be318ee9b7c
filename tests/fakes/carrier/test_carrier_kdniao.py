"""Kdniao adapter: envelopes, DataSign, 1007 / 1008 / 1002 answers and every failure code."""

from __future__ import annotations

import json
from urllib.parse import parse_qsl, quote, urlencode

import httpx
import pytest

from fake_systems.carrier.api.kdniao import create_app
from fake_systems.carrier.models import CarrierConfig
from fake_systems.carrier.service import CarrierService
from fake_systems.common.credentials import KdniaoCredentials
from fake_systems.common.faults import FaultInjector, FaultRule
from tests.support.carrier import (
    CREDENTIALS,
    DIST,
    EBID,
    EORDER,
    KEY,
    ORDER,
    OTHER,
    QUERY,
    envelope,
    post,
    sign,
)
from tests.support.pushes import mock_sender

pytestmark = pytest.mark.anyio


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
    # Success is recorded as "ok", as every fake does (issue 9); 106 is a success too.
    assert [tuple(r) for r in outcomes] == [
        ("1007", "ok", "T20261110000001"),
        ("1007", "ok", "T20261110000001"),
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
    assert after["State"] == "3"
    assert after["OrderCode"] == ORDER["OrderCode"]
    # StateEx, Location and a trace's Location/Action are the value-added product's (8001)
    assert "StateEx" not in after and "Location" not in after
    assert [set(t) for t in after["Traces"]] == [{"AcceptTime", "AcceptStation"}] * 5
    added = await post(client, QUERY, envelope("8001", request))
    assert (added["State"], added["StateEx"], added["Location"]) == ("3", "301", "杭州市")
    assert [t["Action"] for t in added["Traces"]] == ["1", "2", "201", "202", "301"]
    assert added["Traces"][0]["Location"] == "广州市"  # the sender's city from 1007
    assert added["Traces"][-1]["Location"] == "杭州市"


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


# -- 1147 cancel -------------------------------------------------------------------------


def cancel_request(order: dict, code: str) -> dict[str, str]:
    return {"ShipperCode": order["ShipperCode"], "OrderCode": order["OrderCode"], "ExpNo": code}


def waybill_state(carrier: CarrierService) -> list[tuple]:
    rows = carrier.ctx.conn.execute(
        "SELECT logistic_code, order_code, ebusiness_id, cancelled_sim FROM waybills"
        " ORDER BY logistic_code"
    ).fetchall()
    return [tuple(r) for r in rows]


async def test_1147_cancels_before_collection_and_frees_the_order_code(client, carrier):
    created = await post(client, EORDER, envelope("1007", ORDER))
    code = created["Order"]["LogisticCode"]
    answer = await post(client, EORDER, envelope("1147", cancel_request(ORDER, code)))
    assert answer == {"EBusinessID": EBID, "Success": True, "ResultCode": "100", "Reason": ""}
    assert waybill_state(carrier) == [(code, ORDER["OrderCode"], EBID, "2026-11-10 20:00:00")]

    again = await post(client, EORDER, envelope("1147", cancel_request(ORDER, code)))
    assert (again["Success"], again["ResultCode"], again["Reason"]) == (
        False,
        "105",
        "该运单已取消",
    )
    subscribe = {"ShipperCode": "SF", "LogisticCode": code}
    refused = await post(client, DIST, envelope("1008", subscribe))
    assert (refused["Success"], refused["ResultCode"]) == (False, "105")

    # A cancelled waybill frees its OrderCode: the next 1007 issues a new number.
    renewed = await post(client, EORDER, envelope("1007", ORDER))
    assert renewed["ResultCode"] == "100"
    assert renewed["Order"]["LogisticCode"] != code
    outcomes = carrier.ctx.conn.execute(
        "SELECT operation, outcome FROM events WHERE kind = 'api_in' ORDER BY seq"
    ).fetchall()
    assert [tuple(r) for r in outcomes] == [
        ("1007", "ok"),
        ("1147", "ok"),
        ("1147", "105"),
        ("1008", "105"),
        ("1007", "ok"),
    ]


async def test_1147_after_hand_over_stops_the_parcel_before_collection(client, carrier, clock):
    created = await post(client, EORDER, envelope("1007", ORDER))
    code = created["Order"]["LogisticCode"]
    carrier.hand_over(code, "SF", 1.0)
    answer = await post(client, EORDER, envelope("1147", cancel_request(ORDER, code)))
    assert answer["Success"] is True
    clock.advance(100 * 3600)
    tracking = carrier.tracking(code)
    assert tracking is not None
    assert (tracking.state, tracking.traces) == (0, ())


async def test_1147_after_collection_is_refused_and_changes_nothing(client, carrier, clock):
    created = await post(client, EORDER, envelope("1007", ORDER))
    code = created["Order"]["LogisticCode"]
    carrier.hand_over(code, "SF", 1.0)
    clock.advance(3 * 3600)  # collected after at most 2 h
    before = waybill_state(carrier)
    answer = await post(client, EORDER, envelope("1147", cancel_request(ORDER, code)))
    assert (answer["Success"], answer["ResultCode"]) == (False, "105")
    assert answer["Reason"] == "快件已揽收，不能取消"
    assert waybill_state(carrier) == before
    clock.advance(60 * 3600)
    tracking = carrier.tracking(code)
    assert tracking is not None and tracking.state == 3


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"OrderCode": "T-OTHER"}, "105"),
        ({"ShipperCode": "YTO"}, "105"),
        ({"ExpNo": "SF000000000000"}, "105"),
        ({"ExpNo": ""}, "101"),
        ({"ExpNo": {"a": 1}}, "103"),
    ],
)
async def test_1147_refusals(client, carrier, change, code):
    created = await post(client, EORDER, envelope("1007", ORDER))
    request = {**cancel_request(ORDER, created["Order"]["LogisticCode"]), **change}
    before = waybill_state(carrier)
    answer = await post(client, EORDER, envelope("1147", request))
    assert (answer["Success"], answer["ResultCode"]) == (False, code)
    assert waybill_state(carrier) == before


# -- 2002 number recognition ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "shippers"),
    [
        ("SF123456789012", [("SF", "顺丰速运")]),
        ("YT1234567890123", [("YTO", "圆通速递")]),
        ("JDV123456789012", [("JD", "京东快递")]),
        ("4312345678901", [("YD", "韵达速递")]),
        # 13 digits starting 77 is STO's shape and also ZTO's (7 + 12 digits): both named.
        ("7712345678901", [("ZTO", "中通快递"), ("STO", "申通快递")]),
    ],
)
async def test_2002_recognises_by_number_shape(client, carrier, number, shippers):
    answer = await post(client, QUERY, envelope("2002", {"LogisticCode": number}))
    assert answer == {
        "EBusinessID": EBID,
        "Success": True,
        "LogisticCode": number,
        "Shippers": [{"ShipperCode": c, "ShipperName": n} for c, n in shippers],
    }


@pytest.mark.parametrize(
    "number", ["SF12345", "SF1234567890123", "XX123456789012", "sf123456789012"]
)
async def test_2002_unrecognised_number(client, number):
    # 2002 failures carry Code, not ResultCode (misu99/kdniao RecogniseResponse).
    answer = await post(client, QUERY, envelope("2002", {"LogisticCode": number}))
    assert (answer["Success"], answer["Code"], answer["Shippers"]) == (False, "105", [])
    assert answer["LogisticCode"] == number
    assert answer["Reason"] and "ResultCode" not in answer


async def test_2002_without_number_is_101(client):
    answer = await post(client, QUERY, envelope("2002", {"ShipperCode": "SF"}))
    assert (answer["Success"], answer["ResultCode"]) == (False, "101")


# -- 1002 query limits ---------------------------------------------------------------------


@pytest.fixture
def limited(make_context, world, asgi_client):
    config = CarrierConfig(query_per_second=2, query_per_day=5)
    service = CarrierService(make_context("carrier"), CREDENTIALS, config)
    service.setup(world)
    return service, asgi_client(create_app(service, CREDENTIALS, [OTHER]))


async def test_1002_per_second_and_per_day_limits_answer_405(limited, clock):
    service, client = limited
    request = {"ShipperCode": "SF", "LogisticCode": "SF123456789012"}

    async def codes(n: int, account: KdniaoCredentials = CREDENTIALS) -> list[str]:
        answers = [await post(client, QUERY, envelope("1002", request, account)) for _ in range(n)]
        return [a.get("ResultCode", "ok") for a in answers]

    assert await codes(3) == ["ok", "ok", "405"]  # two per wall second
    assert await codes(1, OTHER) == ["ok"]  # another account has its own counters
    clock.advance(clock.scale)  # one wall second later
    assert await codes(3) == ["ok", "ok", "405"]
    clock.advance(clock.scale)
    # Five per simulated day: the refused ones were not counted, so this is the fifth.
    assert await codes(2) == ["ok", "405"]
    refusal = (await post(client, QUERY, envelope("1002", request)))["Reason"]
    assert refusal == "超出查询次数限制（每日）"
    clock.advance(24 * 3600)  # the next simulated day
    assert await codes(1) == ["ok"]
    outcomes = service.ctx.conn.execute(
        "SELECT COUNT(*) FROM events WHERE kind = 'api_in' AND outcome = '405'"
    ).fetchone()[0]
    assert outcomes == 4


async def test_default_limits_are_generous(client):
    request = {"ShipperCode": "SF", "LogisticCode": "SF123456789012"}
    for _ in range(50):
        answer = await post(client, QUERY, envelope("1002", request))
        assert "ResultCode" not in answer


# -- accounts (tenants) --------------------------------------------------------------------


@pytest.fixture
def tenanted(carrier, asgi_client):
    return asgi_client(create_app(carrier, CREDENTIALS, [OTHER]))


async def test_each_account_signs_with_its_own_key(tenanted, carrier):
    answer = await post(tenanted, EORDER, envelope("1007", ORDER, OTHER))
    assert (answer["ResultCode"], answer["EBusinessID"]) == ("100", OTHER.ebusiness_id)
    crossed = envelope("1007", {**ORDER, "OrderCode": "T-X"}, OTHER)
    crossed["DataSign"] = sign(crossed["RequestData"], KEY)  # the connector's key
    refused = await post(tenanted, EORDER, crossed)
    assert (refused["Success"], refused["ResultCode"]) == (False, "102")
    assert waybill_count(carrier) == 1


async def test_accounts_cannot_see_or_touch_each_others_waybills(tenanted, carrier, clock):
    theirs = await post(tenanted, EORDER, envelope("1007", ORDER, OTHER))
    code = theirs["Order"]["LogisticCode"]
    carrier.hand_over(code, "SF", 1.0)
    clock.advance(60 * 3600)
    before = (
        waybill_state(carrier),
        carrier.ctx.conn.execute("SELECT COUNT(*) FROM subscriptions").fetchone()[0],
    )

    # The connector's account queries, subscribes and cancels the tenant's number.
    query = await post(
        tenanted, QUERY, envelope("1002", {"ShipperCode": "SF", "LogisticCode": code})
    )
    assert (query["Success"], query["State"], query["Traces"]) == (False, "0", [])
    assert query["Reason"] == "暂无轨迹信息"  # the same answer as for a number never seen
    assert "OrderCode" not in query or query["OrderCode"] == ""
    subscribe = await post(
        tenanted, DIST, envelope("1008", {"ShipperCode": "SF", "LogisticCode": code})
    )
    assert (subscribe["Success"], subscribe["ResultCode"]) == (False, "105")
    cancel = await post(tenanted, EORDER, envelope("1147", cancel_request(ORDER, code)))
    assert (cancel["Success"], cancel["ResultCode"]) == (False, "105")
    after = (
        waybill_state(carrier),
        carrier.ctx.conn.execute("SELECT COUNT(*) FROM subscriptions").fetchone()[0],
    )
    assert after == before

    # The same OrderCode on the connector's account is a waybill of its own, not theirs.
    mine = await post(tenanted, EORDER, envelope("1007", ORDER))
    assert mine["ResultCode"] == "100"
    assert mine["Order"]["LogisticCode"] != code

    # The owner sees its parcel.
    own = await post(
        tenanted, QUERY, envelope("1002", {"ShipperCode": "SF", "LogisticCode": code}, OTHER)
    )
    assert (own["Success"], own["State"], own["OrderCode"]) == (True, "3", ORDER["OrderCode"])


async def test_pushes_go_to_the_subscribers_account_callback(tenanted, carrier, clock):
    pushed: list[httpx.Request] = []

    def receive(request: httpx.Request) -> httpx.Response:
        pushed.append(request)
        return httpx.Response(200, json={"Success": True})

    carrier.ctx.dispatcher.sender = mock_sender(receive)
    carrier.push_callback_url = "http://connector.test/kdniao"
    mine = (await post(tenanted, EORDER, envelope("1007", ORDER)))["Order"]["LogisticCode"]
    theirs = (await post(tenanted, EORDER, envelope("1007", ORDER, OTHER)))["Order"]["LogisticCode"]
    for code, account in ((mine, CREDENTIALS), (theirs, OTHER)):
        wanted = {"ShipperCode": "SF", "LogisticCode": code}
        assert (await post(tenanted, DIST, envelope("1008", wanted, account)))["Success"] is True
        carrier.hand_over(code, "SF", 1.0)
    clock.advance(3 * 3600)
    await carrier.ctx.dispatcher.drain(5)
    # The tenant has no callback yet: only the connector's parcel was pushed.
    assert {str(r.url) for r in pushed} == {"http://connector.test/kdniao"}
    forms = [dict(parse_qsl(r.content.decode())) for r in pushed]
    assert {json.loads(f["RequestData"])["Data"][0]["LogisticCode"] for f in forms} == {mine}

    pushed.clear()
    carrier.callback_urls[OTHER.ebusiness_id] = "http://tenant.test/kdniao"
    clock.advance(60 * 3600)
    await carrier.ctx.dispatcher.drain(5)
    by_url: dict[str, set[str]] = {}
    for request in pushed:
        form = dict(parse_qsl(request.content.decode()))
        body = json.loads(form["RequestData"])
        key = OTHER.api_key if str(request.url).startswith("http://tenant") else KEY
        assert form["DataSign"] == sign(form["RequestData"], key)
        assert body["EBusinessID"] == (OTHER.ebusiness_id if key != KEY else EBID)
        by_url.setdefault(str(request.url), set()).add(body["Data"][0]["LogisticCode"])
    assert by_url == {"http://connector.test/kdniao": {mine}, "http://tenant.test/kdniao": {theirs}}


# -- body limit ----------------------------------------------------------------------------


async def test_oversized_body_is_103_and_not_stored(client, carrier):
    big = {**ORDER, "Remark": "x" * (300 * 1024)}
    answer = await post(client, EORDER, envelope("1007", big))
    assert (answer["Success"], answer["ResultCode"]) == (False, "103")
    assert waybill_count(carrier) == 0
    (payload,) = carrier.ctx.conn.execute("SELECT payload FROM events").fetchone()
    assert len(payload) < 1000


async def test_oversized_chunked_body_without_length_is_103(client, carrier):
    async def chunks():
        for _ in range(300):
            yield b"x" * 1024

    response = await client.post(
        EORDER, content=chunks(), headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert "content-length" not in response.request.headers
    assert (response.status_code, response.json()["ResultCode"]) == (200, "103")
    assert waybill_count(carrier) == 0
