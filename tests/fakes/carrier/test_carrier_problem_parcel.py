"""`problem_parcel` faults at the carrier: each forced fate's 101/102 pushes on the wire, the
fault row naming the waybill, determinism by seed, and the parcels the rule leaves alone."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from fake_systems.carrier.api.kdniao_push import attach
from fake_systems.carrier.models import CarrierConfig
from fake_systems.carrier.service import CarrierService
from fake_systems.common.context import SystemContext
from fake_systems.common.faults import FaultInjector, FaultRule
from simulator.clock import ManualClock, parse_qimen_time
from simulator.world import World
from tests.support.carrier import CREDENTIALS, FIXED
from tests.support.pushes import mock_sender

HOUR = 3600.0
CALLBACK = "http://connector.test/kdniao"


class Receiver:
    """Captures pushes and answers as a Kdniao subscriber does."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(200, json={"EBusinessID": "1234567", "Success": True})

    def data(self) -> list[dict[str, Any]]:
        """The Data[0] of every push, in the order they came."""
        out = []
        for request in self.requests:
            form = parse_qs(request.content.decode())
            out.append(json.loads(form["RequestData"][0])["Data"][0])
        return out


def service(
    tmp_path: Path,
    clock: ManualClock,
    world: World,
    *rules: FaultRule,
    config: CarrierConfig = FIXED,
    seed: int = 7,
    name: str = "run",
) -> tuple[CarrierService, Receiver]:
    folder = tmp_path / name
    folder.mkdir()
    receiver = Receiver()
    ctx = SystemContext.create(
        "carrier", folder, clock, mock_sender(receiver), seed, FaultInjector(rules, seed)
    )
    carrier = CarrierService(ctx, CREDENTIALS, config)
    carrier.setup(world)
    attach(carrier)
    carrier.push_callback_url = CALLBACK
    return carrier, receiver


def problem(fate: str | None = None, **how: Any) -> FaultRule:
    params = {} if fate is None else {"fate": fate}
    return FaultRule("carrier", "1007", "problem_parcel", params=params, **(how or {"rate": 1.0}))


def ship(carrier: CarrierService, order: str) -> str:
    """Issue, subscribe (value-added: StateEx on the wire) and hand over one parcel."""
    code = carrier.issue_waybill(order, "SF")
    carrier.subscribe("SF", code, order, value_added=True)
    carrier.hand_over(code, "SF", 1.0)
    return code


def fault_rows(carrier: CarrierService) -> list[tuple[str, str, str, dict[str, Any]]]:
    return [
        (r[0], r[1], r[2], json.loads(r[3]))
        for r in carrier.ctx.conn.execute(
            "SELECT operation, outcome, entity, payload FROM events WHERE kind = 'fault'"
            " ORDER BY seq"
        )
    ]


def parcel(carrier: CarrierService, code: str) -> Any:
    return carrier.ctx.conn.execute(
        "SELECT state, state_ex, signed_sim FROM parcels WHERE logistic_code = ?", (code,)
    ).fetchone()


# Each fate as the subscriber sees it: (State, StateEx) of every push, FIXED's durations.
JOURNEY = [("1", "1"), ("2", "2"), ("2", "201"), ("2", "202")]
FATES = {
    "refused": [*JOURNEY, ("4", "404"), ("4", "406")],
    "lost": [("1", "1"), ("2", "2"), ("4", "403")],
    "exception_then_signed": [*JOURNEY, ("4", "405"), ("3", "302")],
    "locker_overdue": [*JOURNEY, ("2", "211"), ("4", "412")],
}


@pytest.mark.anyio
@pytest.mark.parametrize("fate", sorted(FATES))
async def test_each_forced_fate_is_pushed_and_recorded(tmp_path, clock, world, fate):
    carrier, receiver = service(tmp_path, clock, world, problem(fate))
    code = ship(carrier, "T9000")
    clock.advance(500 * HOUR)
    await carrier.ctx.dispatcher.drain(5)

    data = receiver.data()
    assert [(d["State"], d["StateEx"]) for d in data] == FATES[fate]
    assert all(d["LogisticCode"] == code for d in data)
    # The whole trace list each time, the last trace's Action the StateEx.
    assert [len(d["Traces"]) for d in data] == list(range(1, len(data) + 1))
    assert data[-1]["Traces"][-1]["Action"] == FATES[fate][-1][1]
    assert fault_rows(carrier) == [
        ("1007", "problem_parcel", code, {"stage": "world", "fate": fate, "script": _script(fate)})
    ]
    state, state_ex, signed = parcel(carrier, code)
    assert (str(state), state_ex) == FATES[fate][-1]
    assert (signed is not None) == (fate == "exception_then_signed")


def _script(fate: str) -> str:
    return {"refused": "refused_returned"}.get(fate, fate)


@pytest.mark.anyio
async def test_an_exception_is_signed_at_the_next_attempt_after_the_405(tmp_path, clock, world):
    carrier, _ = service(tmp_path, clock, world, problem("exception_then_signed"))
    code = ship(carrier, "T9001")
    clock.advance(14.01 * HOUR)  # FIXED delivers at 14 h: the attempt fails instead
    assert tuple(parcel(carrier, code)) == (4, "405", None)
    clock.advance(FIXED.dispatch_hours[1] * HOUR + FIXED.delivery_hours[1] * HOUR)
    state, state_ex, signed = parcel(carrier, code)
    assert (state, state_ex) == (3, "302")
    assert signed == "2026-11-11 13:00:00"  # 14 h + 1 h dispatch + 2 h delivery


@pytest.mark.anyio
async def test_address_problems_are_420_or_421_then_signed(tmp_path, clock, world):
    carrier, receiver = service(tmp_path, clock, world, problem("address_problem"))
    codes = [ship(carrier, f"T91{n:02d}") for n in range(12)]
    clock.advance(500 * HOUR)
    await carrier.ctx.dispatcher.drain(5)
    by_code: dict[str, list[tuple[str, str]]] = {}
    for d in receiver.data():
        by_code.setdefault(d["LogisticCode"], []).append((d["State"], d["StateEx"]))
    problems = {pushes[-2] for pushes in by_code.values()}
    assert problems == {("4", "420"), ("4", "421")}  # the rule's dice pick both over 12
    assert all(pushes[:4] == JOURNEY and pushes[-1] == ("3", "302") for pushes in by_code.values())
    assert sorted(by_code) == sorted(codes)


@pytest.mark.anyio
async def test_stuck_is_401_before_collection_or_402_out_for_delivery(tmp_path, clock, world):
    carrier, receiver = service(tmp_path, clock, world, problem("stuck"))
    for n in range(12):
        ship(carrier, f"T92{n:02d}")
    clock.advance(500 * HOUR)
    await carrier.ctx.dispatcher.drain(5)
    last: dict[str, tuple[str, str]] = {}
    for d in receiver.data():
        last[d["LogisticCode"]] = (d["State"], d["StateEx"])
    assert set(last.values()) == {("4", "401"), ("4", "402")}


@pytest.mark.anyio
async def test_no_fate_draws_a_seeded_mix(tmp_path, clock, world):
    def fates(name: str, seed: int) -> list[str]:
        carrier, _ = service(tmp_path, clock, world, problem(), seed=seed, name=name)
        for n in range(30):
            ship(carrier, f"T93{n:02d}")
        return [row[3]["fate"] for row in fault_rows(carrier)]

    first, again, other = fates("a", 7), fates("b", 7), fates("c", 8)
    assert first == again  # the same seed, the same fates
    assert first != other
    assert set(first) == {
        "refused",
        "lost",
        "stuck",
        "exception_then_signed",
        "address_problem",
        "locker_overdue",
    }


@pytest.mark.anyio
async def test_parcels_the_rule_skips_keep_their_journey(tmp_path, clock, world):
    """every_nth 2 hits the 2nd, 4th and 6th parcels; the others travel as they do without
    the rule (the fault draws from its own dice, never the world's)."""
    config = CarrierConfig()  # random durations, from the world's dice

    def journeys(name: str, *rules: FaultRule) -> tuple[list[str], list[Any], CarrierService]:
        carrier, _ = service(tmp_path, clock, world, *rules, config=config, name=name)
        codes = [ship(carrier, f"T94{n:02d}") for n in range(6)]
        start = clock.now()
        clock.advance(200 * HOUR)
        steps = []
        for code in codes:
            tracking = carrier.tracking(code)
            assert tracking is not None
            # Both runs share the manual clock: each trace as (hours after hand-over, action).
            steps.append(
                [
                    ((parse_qimen_time(t.accept_time) - start).total_seconds() // 60, t.action)
                    for t in tracking.traces
                ]
            )
        return codes, steps, carrier

    plain_codes, plain, _ = journeys("plain")
    codes, hit, carrier = journeys("hit", problem("lost", every_nth=2))
    assert codes == plain_codes
    assert [row[2] for row in fault_rows(carrier)] == codes[1::2]
    assert hit[0::2] == plain[0::2]
    assert all(steps[-1][1] == "301" for steps in hit[0::2])
    assert all(steps[-1][1] == "403" for steps in hit[1::2])


@pytest.mark.anyio
async def test_the_window_bounds_the_hits(tmp_path, clock, world):
    rule = problem("refused", rate=1.0, start=2 * HOUR, until=4 * HOUR)
    folder = tmp_path / "w"
    folder.mkdir()
    ctx = SystemContext.create(
        "carrier", folder, clock, mock_sender(Receiver()), 7, FaultInjector([rule], 7, clock.now())
    )
    carrier = CarrierService(ctx, CREDENTIALS, FIXED)
    carrier.setup(world)
    before = ship(carrier, "T9500")
    clock.advance(3 * HOUR)
    inside = ship(carrier, "T9501")
    clock.advance(2 * HOUR)
    after = ship(carrier, "T9502")
    assert [row[2] for row in fault_rows(carrier)] == [inside]
    assert before != after
