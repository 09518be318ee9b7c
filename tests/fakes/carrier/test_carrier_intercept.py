"""Interception (ecomock's RequestType 1816) and buyers who refuse a parcel: the parcel comes
back to the sender (413, 406) or, once signed for, cannot be stopped; tenancy."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from fake_systems.carrier.api.kdniao import create_app
from fake_systems.carrier.models import CarrierError
from fake_systems.carrier.service import CarrierService
from tests.support.carrier import CREDENTIALS, EORDER, FIXED, ORDER, OTHER, envelope, post

HOUR = 3600.0
# FIXED: collected 1 h after hand-over, leaves the origin 1.5 h later, arrives 11 h, out for
# delivery 12 h, signed 14 h.


@pytest.fixture
def carrier(make_context, world) -> CarrierService:
    service = CarrierService(make_context("carrier"), CREDENTIALS, FIXED)
    service.setup(world)
    return service


@pytest.fixture
def tenanted(
    carrier: CarrierService, asgi_client: Callable[[object], httpx.AsyncClient]
) -> httpx.AsyncClient:
    return asgi_client(create_app(carrier, CREDENTIALS, [OTHER]))


def journey(service: CarrierService, code: str) -> list[str]:
    rows = service.ctx.conn.execute(
        "SELECT action FROM traces WHERE logistic_code = ? ORDER BY seq", (code,)
    ).fetchall()
    return [row[0] for row in rows]


def intercept_row(service: CarrierService, code: str):
    return service.ctx.conn.execute(
        "SELECT status, requested_sim, outcome_sim FROM intercepts WHERE logistic_code = ?",
        (code,),
    ).fetchone()


def test_intercepted_in_transit_comes_back_and_is_never_signed(carrier, clock):
    code = carrier.issue_waybill("T-1", "SF")
    carrier.hand_over(code, "SF", 1.0)
    clock.advance(5 * HOUR)  # collected (1 h), left the origin (2.5 h)
    assert carrier.intercept("SF", code, "T-1", "买家取消订单") == "requested"
    assert journey(carrier, code) == ["1", "2"]
    clock.advance(7 * HOUR)  # the next scan (arrived in the city, 11 h) is where it stops
    assert journey(carrier, code) == ["1", "2", "413"]
    assert carrier.intercept_status(code) == "intercepted"
    clock.advance(11 * HOUR)  # as long back as it travelled: 11 h
    assert journey(carrier, code) == ["1", "2", "413", "406"]
    assert carrier.parcel_state(code) == (4, "406")
    assert carrier.intercept_status(code) == "returned"
    clock.advance(100 * HOUR)
    row = carrier.ctx.conn.execute(
        "SELECT signed_sim FROM parcels WHERE logistic_code = ?", (code,)
    ).fetchone()
    assert row["signed_sim"] is None
    assert journey(carrier, code)[-1] == "406"


def test_intercepted_before_hand_over_stops_at_collection(carrier, clock):
    code = carrier.issue_waybill("T-2", "SF")
    assert carrier.intercept("SF", code) == "requested"
    carrier.hand_over(code, "SF", 1.0)
    clock.advance(1.5 * HOUR)  # collected at 1 h: stopped there
    assert journey(carrier, code) == ["413"]
    clock.advance(1 * HOUR)  # as long back as it travelled: 1 h
    assert journey(carrier, code) == ["413", "406"]
    row = intercept_row(carrier, code)
    assert row["status"] == "returned" and row["outcome_sim"] is not None


def test_too_late_once_signed_and_nothing_recorded(carrier, clock):
    code = carrier.issue_waybill("T-3", "SF")
    carrier.hand_over(code, "SF", 1.0)
    clock.advance(15 * HOUR)
    assert carrier.parcel_state(code) == (3, "301")
    with pytest.raises(CarrierError) as caught:
        carrier.intercept("SF", code)
    assert (caught.value.result_code, caught.value.reason) == ("105", "快件已签收，无法拦截")
    assert intercept_row(carrier, code) is None


def test_request_while_out_for_delivery_still_stops_it(carrier, clock):
    code = carrier.issue_waybill("T-4", "SF")
    carrier.hand_over(code, "SF", 1.0)
    clock.advance(13 * HOUR)  # out for delivery at 12 h, signed at 14 h
    carrier.intercept("SF", code)
    clock.advance(30 * HOUR)
    assert journey(carrier, code)[-2:] == ["413", "406"]
    assert "301" not in journey(carrier, code)


def test_request_refused_for_cancelled_or_mismatched_waybill(carrier):
    code = carrier.issue_waybill("T-5", "SF")
    for args in (("YTO", code), ("SF", "SF000000000000")):
        with pytest.raises(CarrierError) as caught:
            carrier.intercept(*args)
        assert caught.value.result_code == "105"
    with pytest.raises(CarrierError):
        carrier.intercept("SF", code, order_code="T-OTHER")
    carrier.cancel_waybill("SF", "T-5", code)
    with pytest.raises(CarrierError) as caught:
        carrier.intercept("SF", code)
    assert caught.value.reason == "该运单已取消"
    assert carrier.ctx.conn.execute("SELECT COUNT(*) FROM intercepts").fetchone()[0] == 0


def test_buyer_refuses_at_the_door_and_it_goes_back(carrier, clock):
    code = carrier.issue_waybill("T-6", "SF")
    carrier.hand_over(code, "SF", 1.0)
    carrier.refuse_on_delivery(code)
    clock.advance(14.5 * HOUR)  # refused at 14 h
    assert carrier.parcel_state(code) == (4, "404")
    clock.advance(10 * HOUR)  # back after the transit time (10 h)
    assert journey(carrier, code) == ["1", "2", "201", "202", "404", "406"]


def test_intercept_of_a_refused_parcel_follows_it_back(carrier, clock):
    code = carrier.issue_waybill("T-7", "SF")
    carrier.hand_over(code, "SF", 1.0)
    carrier.refuse_on_delivery(code)
    clock.advance(15 * HOUR)  # refused (404) at 14 h
    assert carrier.intercept("SF", code) == "intercepted"
    clock.advance(10 * HOUR)
    assert journey(carrier, code)[-2:] == ["404", "406"]
    assert carrier.intercept_status(code) == "returned"


@pytest.mark.anyio
async def test_1816_over_kdniao_answers_and_repeats(tenanted, carrier, clock):
    created = await post(tenanted, EORDER, envelope("1007", ORDER))
    code = created["Order"]["LogisticCode"]
    request = {"ShipperCode": "SF", "LogisticCode": code, "OrderCode": ORDER["OrderCode"]}
    answer = await post(tenanted, EORDER, envelope("1816", {**request, "InterceptType": "2"}))
    assert answer == {
        "EBusinessID": CREDENTIALS.ebusiness_id,
        "Success": True,
        "ResultCode": "100",
        "Reason": "",
        "LogisticCode": code,
        "InterceptStatus": "requested",
    }
    again = await post(tenanted, EORDER, envelope("1816", request))
    assert again == answer
    forward = await post(tenanted, EORDER, envelope("1816", {**request, "InterceptType": "1"}))
    assert (forward["Success"], forward["ResultCode"]) == (False, "103")
    missing = await post(tenanted, EORDER, envelope("1816", {"ShipperCode": "SF"}))
    assert (missing["Success"], missing["ResultCode"]) == (False, "101")
    outcomes = carrier.ctx.conn.execute(
        "SELECT outcome FROM events WHERE kind = 'api_in' AND operation = '1816' ORDER BY seq"
    ).fetchall()
    assert [row[0] for row in outcomes] == ["ok", "ok", "103", "101"]


@pytest.mark.anyio
async def test_another_account_cannot_intercept_my_parcel(tenanted, carrier, clock):
    created = await post(tenanted, EORDER, envelope("1007", ORDER))
    code = created["Order"]["LogisticCode"]
    carrier.hand_over(code, "SF", 1.0)
    request = {"ShipperCode": "SF", "LogisticCode": code}
    theirs = await post(tenanted, EORDER, envelope("1816", request, OTHER))
    never = await post(
        tenanted, EORDER, envelope("1816", {**request, "LogisticCode": "SF999999999999"}, OTHER)
    )
    # Exactly as a number that does not exist: no leak of my waybill.
    assert theirs == never
    assert (theirs["Success"], theirs["ResultCode"]) == (False, "105")
    assert intercept_row(carrier, code) is None
    clock.advance(15 * HOUR)
    assert carrier.parcel_state(code) == (3, "301")
