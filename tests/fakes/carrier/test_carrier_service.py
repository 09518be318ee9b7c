"""Carrier service: idempotent waybills, the tracking journey in simulated time, 101 pushes."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from urllib.parse import parse_qs

import httpx
import pytest
from pydantic import ValidationError

from fake_systems.carrier.api.kdniao_push import attach, push_accepted
from fake_systems.carrier.models import CarrierConfig, CarrierError
from fake_systems.carrier.service import CarrierService
from fake_systems.common.context import SystemContext
from fake_systems.common.credentials import KdniaoCredentials
from fake_systems.common.webhooks import PushReply
from simulator.clock import ManualClock
from simulator.scenario import CarrierSettings
from tests.support.carrier import CREDENTIALS, FIXED
from tests.support.pushes import mock_sender

HOUR = 3600.0


@pytest.fixture
def carrier(make_context, world) -> CarrierService:
    service = CarrierService(make_context("carrier"), CREDENTIALS, FIXED)
    service.setup(world)
    attach(service)  # its tracking changes go out as Kdniao 101 pushes
    return service


def parcel(service: CarrierService, code: str):
    return service.ctx.conn.execute(
        "SELECT * FROM parcels WHERE logistic_code = ?", (code,)
    ).fetchone()


def test_waybill_is_idempotent_per_order_code(carrier):
    first = carrier.issue_waybill("T0001", "SF")
    again = carrier.issue_waybill("T0001", "SF")
    other = carrier.issue_waybill("T0002", "SF")
    assert first == again
    assert other != first
    rows = carrier.ctx.conn.execute(
        "SELECT order_code FROM waybills ORDER BY order_code"
    ).fetchall()
    assert [r["order_code"] for r in rows] == ["T0001", "T0002"]
    repeat = carrier.create_waybill("T0001", "SF")
    assert repeat.created is False and repeat.logistic_code == first


@pytest.mark.parametrize(
    ("shipper", "pattern"),
    [
        ("SF", r"SF\d{12}"),
        ("YTO", r"YT\d{13}"),
        ("ZTO", r"7\d{11,13}"),
        ("JD", r"JDV\d{12}"),
    ],
)
def test_logistic_code_shape_per_shipper(carrier, shipper, pattern):
    for n in range(20):
        code = carrier.issue_waybill(f"{shipper}-{n}", shipper)
        assert re.fullmatch(pattern, code), code


def test_unknown_shipper_is_refused_and_leaves_nothing(carrier):
    with pytest.raises(CarrierError) as caught:
        carrier.issue_waybill("T0003", "NOPE")
    assert caught.value.result_code == "105"
    assert carrier.ctx.conn.execute("SELECT COUNT(*) FROM waybills").fetchone()[0] == 0


def test_parcel_travels_to_signed(carrier, clock):
    code = carrier.issue_waybill("T0100", "YTO")
    carrier.hand_over(code, "YTO", 1.25)
    row = parcel(carrier, code)
    assert (row["state"], row["state_ex"], row["weight_kg"]) == (0, "0", 1.25)

    steps = [  # (hours since hand-over to look at, expected state, expected state_ex)
        (0.99, 0, "0"),
        (1.01, 1, "1"),
        (2.51, 2, "2"),
        (11.01, 2, "201"),
        (12.01, 2, "202"),
        (13.99, 2, "202"),
        (14.01, 3, "301"),
    ]
    elapsed = 0.0
    for hours, state, state_ex in steps:
        clock.advance((hours - elapsed) * HOUR)
        elapsed = hours
        row = parcel(carrier, code)
        assert (row["state"], row["state_ex"]) == (state, state_ex), hours
    assert row["signed_sim"] == "2026-11-11 10:00:00"  # epoch 20:00 + 14 h
    assert row["signed_wall"] == pytest.approx(1_800_000_000.0 + 14 * HOUR / clock.scale)

    tracking = carrier.tracking(code)
    assert tracking is not None
    assert [t.action for t in tracking.traces] == ["1", "2", "201", "202", "301"]
    assert tracking.traces[0].location == "武汉市"  # the YTO warehouse of the world
    assert tracking.order_code == "T0100"
    states = carrier.ctx.conn.execute(
        "SELECT outcome FROM events WHERE kind = 'state' AND operation = 'parcel' AND entity = ?"
        " ORDER BY seq",
        (code,),
    ).fetchall()
    assert [r[0] for r in states] == ["handed_over", "1", "2", "201", "202", "301"]


def test_repeated_hand_over_starts_no_second_journey(carrier, clock):
    code = carrier.issue_waybill("T0101", "SF")
    carrier.hand_over(code, "SF", 1.0)
    clock.advance(5 * HOUR)
    carrier.hand_over(code, "SF", 1.0)
    clock.advance(20 * HOUR)
    tracking = carrier.tracking(code)
    assert tracking is not None
    assert len(tracking.traces) == 5


def test_durations_follow_the_default_ranges(make_context, world, clock):
    service = CarrierService(make_context("carrier"), CREDENTIALS)
    service.setup(world)
    codes = [service.issue_waybill(f"D{n}", "ZTO") for n in range(30)]
    for code in codes:
        service.hand_over(code, "ZTO", 0.5)
    clock.advance(0.49 * HOUR)
    assert all(parcel(service, c)["state"] == 0 for c in codes)
    clock.advance((2.0 + 48.0 + 3.0 + 4.0) * HOUR)
    assert all(parcel(service, c)["state"] == 3 for c in codes)


def independent_sign(request_data: str, api_key: str) -> str:
    return base64.b64encode(
        hashlib.md5((request_data + api_key).encode()).hexdigest().encode()
    ).decode()


class Receiver:
    """Captures pushes; answers as a Kdniao subscriber does."""

    def __init__(self, success: bool = True) -> None:
        self.requests: list[httpx.Request] = []
        self.success = success

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(200, json={"EBusinessID": "1234567", "Success": self.success})

    def forms(self) -> list[dict[str, str]]:
        return [
            {k: v[0] for k, v in parse_qs(r.content.decode(), keep_blank_values=True).items()}
            for r in self.requests
        ]


@pytest.mark.anyio
async def test_only_subscribed_parcels_are_pushed_with_growing_traces(carrier, clock):
    receiver = Receiver()
    carrier.ctx.dispatcher.sender = mock_sender(receiver)
    carrier.push_callback_url = "http://connector.test/kdniao"
    watched = carrier.issue_waybill("T0200", "SF")
    ignored = carrier.issue_waybill("T0201", "SF")
    assert carrier.subscribe("SF", watched, "T0200") is True
    assert carrier.subscribe("SF", watched, "T0200") is False
    carrier.hand_over(watched, "SF", 2.0)
    carrier.hand_over(ignored, "SF", 2.0)
    clock.advance(15 * HOUR)
    await carrier.ctx.dispatcher.drain(5)

    forms = receiver.forms()
    assert len(forms) == 5
    assert all(str(r.url) == "http://connector.test/kdniao" for r in receiver.requests)
    datas = []
    for form in forms:
        assert form["RequestType"] == "101"
        assert form["DataType"] == "2"
        assert form["DataSign"] == independent_sign(form["RequestData"], "test-api-key")
        body = json.loads(form["RequestData"])
        assert body["EBusinessID"] == "1234567"
        assert body["Count"] == "1"  # a string (bububa/kdniao model/push.go)
        datas.append(body["Data"][0])
    assert {d["LogisticCode"] for d in datas} == {watched}
    # A standard (1008) subscription: State and plain traces, no value-added fields.
    assert [d["State"] for d in datas] == ["1", "2", "2", "2", "3"]
    assert not any("StateEx" in d or "Location" in d for d in datas)
    assert [len(d["Traces"]) for d in datas] == [1, 2, 3, 4, 5]
    assert all(d["OrderCode"] == "T0200" and d["Success"] is True for d in datas)
    assert datas[-1]["Traces"][-1]["AcceptTime"] == "2026-11-11 10:00:00"
    assert set(datas[-1]["Traces"][0]) == {"AcceptTime", "AcceptStation"}
    outcomes = carrier.ctx.conn.execute(
        "SELECT entity, outcome FROM events WHERE kind = 'push_out'"
    ).fetchall()
    assert [tuple(r) for r in outcomes] == [(watched, "ok")] * 5
    assert carrier.ctx.dispatcher.delivered == 5


@pytest.mark.anyio
async def test_value_added_subscriptions_are_pushed_as_102_with_state_ex(carrier, clock):
    receiver = Receiver()
    carrier.ctx.dispatcher.sender = mock_sender(receiver)
    carrier.push_callback_url = "http://connector.test/kdniao"
    code = carrier.issue_waybill("T0210", "SF")
    assert carrier.subscribe("SF", code, "T0210", value_added=True) is True
    carrier.hand_over(code, "SF", 2.0)
    clock.advance(15 * HOUR)
    await carrier.ctx.dispatcher.drain(5)
    forms = receiver.forms()
    assert {form["RequestType"] for form in forms} == {"102"}
    datas = [json.loads(form["RequestData"])["Data"][0] for form in forms]
    assert [(d["State"], d["StateEx"]) for d in datas] == [
        ("1", "1"),
        ("2", "2"),
        ("2", "201"),
        ("2", "202"),
        ("3", "301"),
    ]
    assert all(d["Location"] for d in datas)
    assert set(datas[-1]["Traces"][0]) == {"AcceptTime", "AcceptStation", "Location", "Action"}
    assert [t["Action"] for t in datas[-1]["Traces"]] == ["1", "2", "201", "202", "301"]


@pytest.mark.anyio
async def test_a_standard_subscription_upgraded_to_value_added_gets_102(carrier, clock):
    receiver = Receiver()
    carrier.ctx.dispatcher.sender = mock_sender(receiver)
    carrier.push_callback_url = "http://connector.test/kdniao"
    code = carrier.issue_waybill("T0220", "SF")
    assert carrier.subscribe("SF", code, "T0220") is True
    assert carrier.subscribe("SF", code, "T0220", value_added=True) is False
    carrier.hand_over(code, "SF", 2.0)
    clock.advance(2 * HOUR)
    await carrier.ctx.dispatcher.drain(5)
    assert {form["RequestType"] for form in receiver.forms()} == {"102"}


@pytest.mark.anyio
async def test_late_subscription_gets_the_traces_so_far(carrier, clock):
    receiver = Receiver()
    carrier.ctx.dispatcher.sender = mock_sender(receiver)
    carrier.push_callback_url = "http://connector.test/kdniao"
    code = carrier.issue_waybill("T0300", "JD")
    carrier.hand_over(code, "JD", 1.0)
    clock.advance(3 * HOUR)
    await carrier.ctx.dispatcher.drain(5)
    assert receiver.requests == []  # not subscribed yet
    carrier.subscribe("JD", code, "T0300")
    await carrier.ctx.dispatcher.drain(5)
    (form,) = receiver.forms()
    data = json.loads(form["RequestData"])["Data"][0]
    assert (data["State"], len(data["Traces"])) == ("2", 2)


@pytest.mark.anyio
async def test_no_callback_url_means_no_push(carrier, clock):
    receiver = Receiver()
    carrier.ctx.dispatcher.sender = mock_sender(receiver)
    code = carrier.issue_waybill("T0400", "SF")
    carrier.subscribe("SF", code, "T0400")
    carrier.hand_over(code, "SF", 1.0)
    clock.advance(15 * HOUR)
    await carrier.ctx.dispatcher.drain(5)
    assert receiver.requests == []
    assert parcel(carrier, code)["state"] == 3


def test_push_accepted_only_on_success_true():
    assert push_accepted(PushReply(200, b'{"Success": true}'))
    assert not push_accepted(PushReply(200, b'{"Success": false}'))
    assert not push_accepted(PushReply(200, b'{"Success": "true"}'))
    assert not push_accepted(PushReply(200, b"ok"))
    assert not push_accepted(PushReply(500, b'{"Success": true}'))


def test_subscribe_unknown_shipper_is_refused(carrier):
    with pytest.raises(CarrierError) as caught:
        carrier.subscribe("NOPE", "X1", "T1")
    assert caught.value.result_code == "105"
    assert not carrier.is_subscribed("X1")


# -- problem parcels -------------------------------------------------------------------------


def journey(service: CarrierService, code: str) -> list[tuple[str, str, str]]:
    """(AcceptTime, Action, Location) of every trace of the parcel."""
    tracking = service.tracking(code)
    assert tracking is not None
    return [(t.accept_time, t.action, t.location) for t in tracking.traces]


def problem_service(make_context, world, **rates: float) -> CarrierService:
    config = CarrierConfig(**{**FIXED.__dict__, "stuck_hours": 30.0, **rates})
    service = CarrierService(make_context("carrier"), CREDENTIALS, config)
    service.setup(world)
    attach(service)
    return service


def test_refused_parcel_ends_problem_404_at_the_door(make_context, world, clock):
    service = problem_service(make_context, world, refused_rate=1.0)
    code = service.issue_waybill("T0500", "SF")
    service.hand_over(code, "SF", 1.0)
    clock.advance(13.99 * HOUR)
    assert parcel(service, code)["state_ex"] == "202"
    clock.advance(200 * HOUR)
    row = parcel(service, code)
    assert (row["state"], row["state_ex"], row["signed_sim"]) == (4, "404", None)
    steps = journey(service, code)
    assert [s[1] for s in steps] == ["1", "2", "201", "202", "404"]
    assert steps[-1][0] == "2026-11-11 10:00:00"  # 14 h after hand-over, when it would be signed


def test_stuck_parcels_are_flagged_401_or_402_after_the_stuck_time(make_context, world, clock):
    service = problem_service(make_context, world, stuck_rate=1.0)
    codes = [service.issue_waybill(f"T06{n:02d}", "SF") for n in range(20)]
    for code in codes:
        service.hand_over(code, "SF", 1.0)
    clock.advance(29.99 * HOUR)
    assert all(parcel(service, c)["state"] != 4 for c in codes)
    clock.advance(500 * HOUR)
    uncollected = [c for c in codes if parcel(service, c)["state_ex"] == "401"]
    unsigned = [c for c in codes if parcel(service, c)["state_ex"] == "402"]
    assert uncollected and unsigned and len(uncollected) + len(unsigned) == 20
    assert all(parcel(service, c)["state"] == 4 for c in codes)
    # Never collected: the only trace is the problem, 30 h after hand-over.
    assert journey(service, uncollected[0]) == [("2026-11-12 02:00:00", "401", "广州市")]
    # Out for delivery at 12 h, then 30 h without a signature.
    steps = journey(service, unsigned[0])
    assert [s[1] for s in steps] == ["1", "2", "201", "202", "402"]
    assert steps[-1][0] == "2026-11-12 14:00:00"


def test_locker_parcel_is_picked_up_and_signed_311(make_context, world, clock):
    service = problem_service(make_context, world, locker_rate=1.0)
    code = service.issue_waybill("T0700", "SF")
    service.hand_over(code, "SF", 1.0)
    clock.advance(14.01 * HOUR)
    assert (parcel(service, code)["state"], parcel(service, code)["state_ex"]) == (2, "211")
    clock.advance(24 * HOUR)  # picked up within locker_pickup_hours (1-24 h)
    row = parcel(service, code)
    assert (row["state"], row["state_ex"]) == (3, "311")
    assert row["signed_sim"] is not None and row["signed_sim"] > "2026-11-11 10:00:00"
    assert [s[1] for s in journey(service, code)] == ["1", "2", "201", "202", "211", "311"]


def test_locker_overdue_parcel_ends_412(make_context, world, clock):
    service = problem_service(make_context, world, locker_rate=1.0, locker_overdue_rate=1.0)
    code = service.issue_waybill("T0701", "SF")
    service.hand_over(code, "SF", 1.0)
    clock.advance((14 + 47.99) * HOUR)
    assert parcel(service, code)["state_ex"] == "211"
    clock.advance(0.02 * HOUR)
    row = parcel(service, code)
    assert (row["state"], row["state_ex"], row["signed_sim"]) == (4, "412", None)


def test_problem_shares_follow_the_rates(make_context, world, clock):
    service = problem_service(
        make_context, world, refused_rate=0.1, stuck_rate=0.2, locker_rate=0.3
    )
    codes = [service.issue_waybill(f"S{n:04d}", "ZTO") for n in range(1000)]
    for code in codes:
        service.hand_over(code, "ZTO", 1.0)
    clock.advance(1000 * HOUR)
    rows = service.ctx.conn.execute(
        "SELECT state_ex, COUNT(*) FROM parcels GROUP BY state_ex"
    ).fetchall()
    counts = {r[0]: r[1] for r in rows}
    assert sum(counts.values()) == 1000
    assert 70 <= counts["404"] <= 130
    assert 160 <= counts.get("401", 0) + counts.get("402", 0) <= 240
    assert 250 <= counts["311"] <= 350  # no locker_overdue_rate: every one picked up
    assert 330 <= counts["301"] <= 470


def test_a_parcels_number_legs_and_fate_do_not_depend_on_the_parcels_before_it(tmp_path, world):
    """The same orders handed over in two orders (as the WMS ships them when a connector's
    timing differs) get the same waybill numbers, journeys and fates, each parcel with its
    own dice; a different seed draws them otherwise."""
    config = CarrierConfig(
        **{**FIXED.__dict__, "collect_hours": (0.5, 3.0), "transit_hours": (5.0, 30.0),
           "refused_rate": 0.2, "stuck_rate": 0.2, "locker_rate": 0.3}
    )  # fmt: skip
    orders = [f"T{n:04d}" for n in range(1, 13)]

    def journeys(folder: str, sent: list[str], seed: int = 7) -> dict[str, list[tuple[str, ...]]]:
        clock = ManualClock()
        (tmp_path / folder).mkdir()
        sender = mock_sender(lambda request: httpx.Response(200))
        service = CarrierService(
            SystemContext.create("carrier", tmp_path / folder, clock, sender, seed),
            CREDENTIALS,
            config,
        )
        service.setup(world)
        codes = {order: service.issue_waybill(order, "ZTO") for order in sent}
        for order in sent:
            service.hand_over(codes[order], "ZTO", 1.0)
        clock.advance(200 * HOUR)
        return {order: [(codes[order],), *journey(service, codes[order])] for order in orders}

    forward = journeys("forward", orders)
    assert forward == journeys("backward", orders[::-1])
    assert len({tuple(j[-1][1:2]) for j in forward.values()}) > 1  # fates differ
    assert journeys("other-seed", orders, seed=8) != forward


@pytest.mark.parametrize(
    "rates",
    [
        {"refused_rate": -0.1},
        {"locker_overdue_rate": 1.5},
        {"refused_rate": 0.6, "stuck_rate": 0.5},
        {"query_per_second": -1},
    ],
)
def test_config_rejects_impossible_rates(rates):
    with pytest.raises(ValueError):
        CarrierConfig(**rates)


@pytest.mark.anyio
async def test_problem_states_are_pushed(make_context, world, clock):
    service = problem_service(make_context, world, refused_rate=1.0)
    receiver = Receiver()
    service.ctx.dispatcher.sender = mock_sender(receiver)
    service.push_callback_url = "http://connector.test/kdniao"
    code = service.issue_waybill("T0800", "SF")
    service.subscribe("SF", code, "T0800", value_added=True)  # StateEx is value-added
    service.hand_over(code, "SF", 1.0)
    clock.advance(20 * HOUR)
    await service.ctx.dispatcher.drain(5)
    last = json.loads(receiver.forms()[-1]["RequestData"])["Data"][0]
    assert (last["State"], last["StateEx"], last["Traces"][-1]["Action"]) == ("4", "404", "404")


# -- accounts, cancellation, recognition (in process) ---------------------------------------

TENANT = KdniaoCredentials(ebusiness_id="7654321", api_key="tenant-key", owners=("OWNER-B",))


def test_waybills_belong_to_their_account(carrier):
    carrier.add_account(TENANT)
    mine = carrier.create_waybill("T0900", "SF")
    theirs = carrier.create_waybill("T0900", "SF", account=TENANT.ebusiness_id)
    assert mine.logistic_code != theirs.logistic_code and theirs.created
    carrier.hand_over(theirs.logistic_code, "SF", 1.0)
    assert carrier.tracking(theirs.logistic_code) is None
    assert carrier.tracking(theirs.logistic_code, TENANT.ebusiness_id) is not None
    with pytest.raises(CarrierError) as caught:
        carrier.subscribe("SF", theirs.logistic_code)
    assert caught.value.result_code == "105"
    with pytest.raises(CarrierError):
        carrier.cancel_waybill("SF", "T0900", theirs.logistic_code)
    # A number no account issued is open to all.
    carrier.hand_over("SF999999999999", "SF", 1.0)
    assert carrier.subscribe("SF", "SF999999999999", account=TENANT.ebusiness_id) is True
    assert carrier.subscribe("SF", "SF999999999999") is True
    assert carrier.is_subscribed("SF999999999999", TENANT.ebusiness_id)


def test_recognise_names_every_matching_company(carrier):
    code = carrier.issue_waybill("T1000", "EMS")
    assert ("EMS", "EMS") in carrier.recognise(code)
    assert carrier.recognise("not a number") == []
    assert (
        carrier.recognise("SF１２３４５６７８９０１２") == []
    )  # full-width digits are not digits here


def test_scenario_carrier_settings_take_the_problem_rates():
    settings = CarrierSettings(refused_rate=0.1, stuck_rate=0.2, locker_rate=0.3)
    assert (settings.refused_rate, settings.locker_overdue_rate) == (0.1, 0.0)
    assert CarrierSettings().refused_rate == 0.0  # off unless a scenario asks
    with pytest.raises(ValidationError):
        CarrierSettings(refused_rate=0.5, stuck_rate=0.3, locker_rate=0.3)
    with pytest.raises(ValidationError):
        CarrierSettings(locker_overdue_rate=2)
