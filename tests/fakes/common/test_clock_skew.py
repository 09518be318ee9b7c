"""`clock_skew`: a fake's own clock runs ahead or behind while the simulation's does not.

Requests stamped by a correct clock pass inside each system's tolerance and are refused with
the real system's error beyond it; what the fake stamps on its pushes carries the skew; the
first application and each refusal the skew causes are `fault` rows."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from fake_systems.bank.api.notices import SIGNATURE_HEADER, CreditNotices
from fake_systems.bank.models import CreditNotice, Entry
from fake_systems.carrier.api.kdniao_push import TrackingPushes
from fake_systems.carrier.models import Tracking, TrackingChanged
from fake_systems.common.context import SystemContext
from fake_systems.common.faults import FaultInjector, FaultRule, Stage
from fake_systems.common.webhooks import HttpxSender
from fake_systems.oms.api.wdt import WDT_EPOCH
from fake_systems.wms.api.qimen_push import QimenPushes
from simulator.clock import CHINA, ManualClock, format_qimen_time, parse_qimen_time
from tests.support import oms
from tests.support.operations import CODE_OF, VALID
from tests.support.site import Site

HOUR = 3600.0


def skew(system: str, seconds: float, **window: float) -> FaultRule:
    return FaultRule(system, "*", "clock_skew", rate=1.0, params={"seconds": seconds}, **window)


def fault_rows(ctx: SystemContext) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (r[0], r[1], json.loads(r[2]))
        for r in ctx.conn.execute(
            "SELECT operation, outcome, payload FROM events WHERE kind = 'fault' ORDER BY seq"
        )
    ]


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[Site]:
    opened = Site.open(tmp_path / "site")
    yield opened
    await opened.close()


# (system, operation, the fake's tolerance in s, the refusal code of a stale request)
CHECKS = [
    ("oms", oms.QUERY, 120, "7"),  # 旺店通: status 7 时间戳错误 beyond ±120 s
    ("oms", oms.TAOBAO_QUERY, 600, "31"),  # Qimen/TOP gateway: code 31 Invalid timestamp
    ("wms", "deliveryorder.query", 600, "isv.invalid-timestamp"),  # Qimen: ±10 min
    ("erp", "LoginBySign", 300, "第三方系统登录授权验证失败：时间戳已过期"),  # K3: ±300 s
]


@pytest.mark.anyio
@pytest.mark.parametrize(("system", "operation", "tolerance", "stale"), CHECKS)
@pytest.mark.parametrize("ahead", [True, False])
async def test_a_skew_inside_the_tolerance_passes_and_beyond_it_is_refused(
    tmp_path: Path, system: str, operation: str, tolerance: int, stale: str, ahead: bool
) -> None:
    sign = 1 if ahead else -1
    codes = {}
    for case, seconds in (("inside", tolerance - 30), ("beyond", tolerance + 30)):
        site = Site.open(tmp_path / case)
        try:
            ctx: SystemContext = getattr(site.ecosystem, system).ctx
            ctx.faults.add(skew(system, sign * seconds))
            valid = VALID[system][operation]
            response = await site.clients[system].send(await valid.build(site))
            codes[case] = CODE_OF[system](response)
            rows = fault_rows(ctx)
        finally:
            await site.close()
        assert rows[0][1:] == ("clock_skew", {"stage": "world", "seconds": sign * seconds})
        if case == "inside":
            assert len(rows) == 1  # applied, refused nothing
        else:
            # The request's stamp is the true time: it lies the skew's seconds off the fake's.
            assert rows[1][1] == "clock_skew"
            assert rows[1][2]["refused_offset"] == pytest.approx(-sign * seconds, abs=1)
    assert codes == {"inside": codes["inside"], "beyond": stale}
    assert codes["inside"] != stale


@pytest.mark.anyio
async def test_a_refusal_the_skew_did_not_cause_is_no_fault(site: Site) -> None:
    """A request stale by itself is refused with or without the skew: no refusal row."""
    ctx = site.ecosystem.oms.ctx
    ctx.faults.add(skew("oms", 60))
    stale = int(site.clock.wall()) - WDT_EPOCH - 1000  # 旺店通 counts seconds from 2012
    request = oms.request(
        site.clients["oms"],
        site.clock,
        oms.QUERY,
        oms.WINDOW,
        creds=site.credentials.oms,
        timestamp=stale,
    )
    response = await site.clients["oms"].send(request)
    assert response.json()["status"] == 7
    assert fault_rows(ctx) == [(oms.QUERY, "clock_skew", {"stage": "world", "seconds": 60})]


def context(tmp_path: Path, clock: ManualClock, name: str, *rules: FaultRule) -> SystemContext:
    sender = HttpxSender(httpx.AsyncClient())
    tmp_path.mkdir(parents=True, exist_ok=True)
    injector = FaultInjector(rules, seed=7, run_start=clock.now())
    return SystemContext.create(name, tmp_path, clock, sender, seed=7, faults=injector)


def test_the_fakes_clock_is_off_in_the_window_only(tmp_path: Path, clock: ManualClock) -> None:
    ctx = context(tmp_path, clock, "wms", skew("wms", -250, start=HOUR, until=2 * HOUR))
    before = (clock.wall(), clock.now())
    assert (ctx.wall("x"), ctx.now("x")) == before  # the window has not opened
    clock.advance(1.5 * HOUR)
    assert ctx.wall("deliveryorder.confirm") == clock.wall() - 250
    assert ctx.now("deliveryorder.confirm") == clock.now() - timedelta(seconds=250)
    assert ctx.skew() == -250
    clock.advance(HOUR)
    assert ctx.wall("x") == clock.wall()
    # One row, when the skew first applied, naming what first read the clock; the
    # simulation's clock itself never moved (the row's time is the true one).
    rows = ctx.conn.execute(
        "SELECT operation, outcome, sim_time FROM events WHERE kind = 'fault'"
    ).fetchall()
    assert [tuple(r[:2]) for r in rows] == [("deliveryorder.confirm", "clock_skew")]
    assert rows[0][2].startswith("2026-11-10 21:30:00")


def test_the_skew_is_the_same_for_the_same_plan(tmp_path: Path, clock: ManualClock) -> None:
    """No dice: two fakes under the same rule read the same clock and record the same row."""
    rule = skew("oms", 42)
    first = context(tmp_path / "a", clock, "oms", rule)
    second = context(tmp_path / "b", clock, "oms", rule)
    assert [first.wall("m") for _ in range(3)] == [second.wall("m") for _ in range(3)]
    assert (
        fault_rows(first)
        == fault_rows(second)
        == [("m", "clock_skew", {"stage": "world", "seconds": 42})]
    )


@pytest.mark.anyio
async def test_pushes_carry_the_skewed_timestamps(site: Site) -> None:
    """The WMS's Qimen `timestamp`, the bank's `t=` and CreDtTm, the carrier's PushTime: each
    fake stamps with its own (skewed) clock (a confirm's orderConfirmTime: test_wms_service)."""
    eco = site.ecosystem
    for system, seconds in (("wms", 300), ("bank", -200), ("carrier", 900)):
        getattr(eco, system).ctx.faults.add(skew(system, seconds))
    true_wall, true_now = site.clock.wall(), site.clock.now()

    wms = QimenPushes(eco.wms, site.credentials.wms)
    params = wms.signed_params("taobao.qimen.deliveryorder.confirm", "<request/>")
    assert params["timestamp"] == format_qimen_time(datetime.fromtimestamp(true_wall + 300, CHINA))

    notices: list[Any] = []
    eco.bank.ctx.dispatcher.send = notices.append  # type: ignore[method-assign]
    entry = Entry("E1", "6222", date(2026, 11, 11), 1000, "CRDT", "E2E1", "T0001")
    CreditNotices(eco.bank.ctx, "whsec_test")(CreditNotice(entry, "CNY", "http://connector/b"))
    (notice,) = notices
    assert notice.headers[SIGNATURE_HEADER].startswith(f"t={int(true_wall - 200)},")
    created = (true_now - timedelta(seconds=200)).isoformat(timespec="seconds")
    assert f"<CreDtTm>{created}</CreDtTm>" in notice.content.decode()

    sent: list[Any] = []
    eco.carrier.ctx.dispatcher.send = sent.append  # type: ignore[method-assign]
    pushes = TrackingPushes(eco.carrier.ctx, eco.carrier.accounts)
    account = site.credentials.carrier.ebusiness_id
    tracking = Tracking("SF1", "SF", "T1", 1, "1", "广州市")
    pushes(TrackingChanged(account, "http://connector/kdniao", tracking))
    form = parse_qs(sent[0].content.decode())
    push_time = json.loads(form["RequestData"][0])["PushTime"]
    assert parse_qimen_time(push_time) == true_now + timedelta(seconds=900)
    for system, operation in (("wms", "deliveryorder.confirm"), ("bank", "camt.054"),
                              ("carrier", "101")):  # fmt: skip
        assert [row[:2] for row in fault_rows(getattr(eco, system).ctx)] == [
            (operation, "clock_skew")
        ]


def test_a_skew_never_takes_the_place_of_a_world_fault(tmp_path: Path, clock: ManualClock) -> None:
    """A skew at rate 1 on `*` is a state of the clock: the WORLD kinds' draws pass it by."""
    parcel = FaultRule("carrier", "1007", "problem_parcel", every_nth=1)
    ctx = context(tmp_path, clock, "carrier", skew("carrier", 60), parcel)
    assert ctx.faults.pick("carrier", "1007", Stage.WORLD, clock.now()) is parcel
    assert ctx.faults.hits("carrier", "1007", "problem_parcel", clock.now())
    assert ctx.skew("101") == 60
