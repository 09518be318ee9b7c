"""Faults on the pushes the fakes send (stage PUSH): each one's effect on the wire, as a small
receiver sees it, and its rows in the history; the per-system redelivery schedules."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
from lxml import etree
from starlette.types import Receive, Scope, Send

from fake_systems.bank.api.notices import SIGNATURE_HEADER, CreditNotices
from fake_systems.bank.models import CreditNotice, Entry
from fake_systems.carrier.api.kdniao_push import tracking_push
from fake_systems.carrier.models import Trace, Tracking, TrackingChanged
from fake_systems.common.context import SystemContext
from fake_systems.common.credentials import QimenCredentials
from fake_systems.common.faults import FaultInjector, FaultRule
from fake_systems.common.webhooks import (
    RETRY_SCHEDULES,
    HttpxSender,
    Push,
    PushSender,
    WebhookDispatcher,
)
from fake_systems.wms.api.qimen_push import CONFIRM_METHOD, QimenPushes
from fake_systems.wms.service import WmsService
from simulator.clock import ManualClock
from simulator.world import World
from tests.support.carrier import KEY
from tests.support.carrier import sign as independent_kdniao_sign
from tests.support.wms import FIXED, RecordingCarrier, order, states
from tests.support.wms import sign as independent_qimen_sign

# Simulated seconds between attempts in these tests: 0.01 wall s at the manual clock's 60x.
FAST = (0.6, 0.6, 0.6)
GOOD_SIGN = "good"
OK_XML = b"<response><flag>success</flag><code>0</code></response>"


@dataclass
class Arrival:
    """One push as the receiver saw it."""

    body: bytes
    query: dict[str, str]


@dataclass
class Receiver:
    """A connector's push endpoint in miniature (ASGI): records each push in arrival order,
    refuses one whose `sign` is not `GOOD_SIGN` (403), accepts the rest."""

    got: list[Arrival] = field(default_factory=list)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        body, more = b"", True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        query = dict(parse_qsl(scope["query_string"].decode()))
        self.got.append(Arrival(body, query))
        status = 200 if query.get("sign") == GOOD_SIGN else 403
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": OK_XML})

    @property
    def bodies(self) -> list[bytes]:
        return [arrival.body for arrival in self.got]


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[Receiver, PushSender]]:
    app = Receiver()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app)) as client:
        yield app, HttpxSender(client)


def push(entity: str, body: bytes, operation: str = "deliveryorder.confirm", **kw: Any) -> Push:
    return Push(operation, entity, "http://connector/cb", body, params={"sign": GOOD_SIGN}, **kw)


def dispatcher(
    ctx: SystemContext,
    sender: PushSender,
    *rules: FaultRule,
    retry: tuple[float, ...] = FAST,
) -> WebhookDispatcher:
    return WebhookDispatcher(
        ctx.history,
        ctx.clock,
        sender,
        retry,
        system=ctx.name,
        faults=FaultInjector(rules, seed=3),
    )


def rows(ctx: SystemContext, kind: str) -> list[tuple[str, str, str, dict[str, Any]]]:
    """(operation, outcome, entity, payload) of the history's rows of `kind`, in order."""
    return [
        (r[0], r[1], r[2], json.loads(r[3]) if r[3] else {})
        for r in ctx.conn.execute(
            "SELECT operation, outcome, entity, payload FROM events WHERE kind = ? ORDER BY seq",
            (kind,),
        )
    ]


def rule(kind: str, operation: str = "deliveryorder.confirm", **params: float) -> FaultRule:
    return FaultRule("wms", operation, kind, every_nth=1, params=params)  # type: ignore[arg-type]


# ------------------------------------------------------------------ the kinds on the wire


@pytest.mark.anyio
async def test_push_duplicate_delivers_the_same_push_copies_times(
    make_context: Callable[[str], SystemContext], receiver: tuple[Receiver, PushSender]
) -> None:
    app, sender = receiver
    ctx = make_context("wms")
    out = dispatcher(ctx, sender, rule("push_duplicate", copies=3))
    out.send(push("DO1", b"<confirm DO1/>"))
    await out.drain(5)
    assert app.bodies == [b"<confirm DO1/>"] * 3
    assert [(op, kind, entity) for op, kind, entity, _ in rows(ctx, "fault")] == [
        ("deliveryorder.confirm", "push_duplicate", "DO1")
    ]
    delivered = rows(ctx, "push_out")
    assert [(r[1], r[3].get("copy", 1)) for r in delivered] == [("ok", 1), ("ok", 2), ("ok", 3)]


@pytest.mark.anyio
async def test_push_delay_lets_a_later_push_arrive_first(
    make_context: Callable[[str], SystemContext], receiver: tuple[Receiver, PushSender]
) -> None:
    app, sender = receiver
    ctx = make_context("wms")
    out = dispatcher(ctx, sender, rule("push_delay", seconds=6))  # 0.1 wall s at 60x
    out.send(push("DO1", b"<confirm DO1/>"))
    out.send(push("DO2", b"<report DO2/>", operation="orderprocess.report"))
    await out.drain(5)
    assert app.bodies == [b"<report DO2/>", b"<confirm DO1/>"]
    assert rows(ctx, "fault") == [
        ("deliveryorder.confirm", "push_delay", "DO1", {"stage": "push", "rule": 1, "seconds": 6.0})
    ]


@pytest.mark.anyio
async def test_push_reorder_holds_a_push_until_the_next_one_of_its_entity_is_out(
    make_context: Callable[[str], SystemContext], receiver: tuple[Receiver, PushSender]
) -> None:
    app, sender = receiver
    ctx = make_context("wms")
    # A long bound (1 h simulated = 60 wall s): only the later push can release it in time.
    out = dispatcher(ctx, sender, rule("push_reorder", "orderprocess.report", seconds=3600))
    out.send(push("DO1", b"<report DO1 PACKAGE/>", operation="orderprocess.report"))
    out.send(push("DO2", b"<confirm DO2/>"))  # another entity: does not release it
    out.send(push("DO1", b"<confirm DO1/>"))
    await out.drain(5)
    assert app.bodies == [b"<confirm DO2/>", b"<confirm DO1/>", b"<report DO1 PACKAGE/>"]
    assert [(r[0], r[1], r[2]) for r in rows(ctx, "fault")] == [
        ("orderprocess.report", "push_reorder", "DO1")
    ]
    assert out.in_flight == 0


@pytest.mark.anyio
async def test_push_reorder_is_bounded_when_no_later_push_comes(
    make_context: Callable[[str], SystemContext], receiver: tuple[Receiver, PushSender]
) -> None:
    app, sender = receiver
    ctx = make_context("wms")
    out = dispatcher(ctx, sender, rule("push_reorder", seconds=3))  # 0.05 wall s
    out.send(push("DO1", b"<confirm DO1/>"))
    await out.drain(5)
    assert app.bodies == [b"<confirm DO1/>"]
    assert [r[1] for r in rows(ctx, "push_out")] == ["ok"]


@pytest.mark.anyio
async def test_push_loss_drops_attempts_then_redelivers_on_the_schedule(
    make_context: Callable[[str], SystemContext], receiver: tuple[Receiver, PushSender]
) -> None:
    app, sender = receiver
    ctx = make_context("wms")
    out = dispatcher(ctx, sender, rule("push_loss", times=2))
    out.send(push("DO1", b"<confirm DO1/>"))
    await out.drain(5)
    assert app.bodies == [b"<confirm DO1/>"]  # the lost attempts never reached it
    assert [(r[1], r[3]["attempt"]) for r in rows(ctx, "push_out")] == [
        ("lost", 1),
        ("lost", 2),
        ("ok", 3),
    ]
    assert [(r[1], r[2]) for r in rows(ctx, "fault")] == [("push_loss", "DO1")]
    assert (out.delivered, out.abandoned) == (1, 0)


@pytest.mark.anyio
async def test_push_loss_never_loses_the_last_attempt(
    make_context: Callable[[str], SystemContext], receiver: tuple[Receiver, PushSender]
) -> None:
    app, sender = receiver
    ctx = make_context("wms")
    out = dispatcher(ctx, sender, rule("push_loss", times=50))
    out.send(push("DO1", b"<confirm DO1/>"))
    await out.drain(5)
    assert app.bodies == [b"<confirm DO1/>"]
    assert [r[1] for r in rows(ctx, "push_out")] == ["lost", "lost", "lost", "ok"]


@pytest.mark.anyio
async def test_push_receiver_failure_counts_answers_as_failed_and_retries(
    make_context: Callable[[str], SystemContext], receiver: tuple[Receiver, PushSender]
) -> None:
    app, sender = receiver
    ctx = make_context("wms")
    out = dispatcher(ctx, sender, rule("push_receiver_failure", times=2))
    out.send(push("DO1", b"<confirm DO1/>"))
    await out.drain(5)
    # The receiver got it each time (and answered), but the fake counted two failures.
    assert app.bodies == [b"<confirm DO1/>"] * 3
    assert [r[1] for r in rows(ctx, "push_out")] == [
        "receiver_failure:ok",
        "receiver_failure:ok",
        "ok",
    ]
    assert [(r[1], r[2]) for r in rows(ctx, "fault")] == [("push_receiver_failure", "DO1")]


@pytest.mark.anyio
async def test_push_forged_goes_once_under_a_bad_signature_and_is_marked(
    make_context: Callable[[str], SystemContext], receiver: tuple[Receiver, PushSender]
) -> None:
    app, sender = receiver
    ctx = make_context("wms")
    forged = Push("deliveryorder.confirm", "DO9", "http://connector/cb", b"<forged DO9/>")
    forged.params = {"sign": "bad"}
    out = dispatcher(ctx, sender, rule("push_forged"))
    out.send(push("DO1", b"<confirm DO1/>", forge=lambda: forged))
    await out.drain(5)
    assert app.bodies == [b"<forged DO9/>", b"<confirm DO1/>"]
    assert [a.query["sign"] for a in app.got] == ["bad", GOOD_SIGN]
    # Never retried although refused; told apart from real pushes by its own kind.
    assert [(r[0], r[1], r[2]) for r in rows(ctx, "push_forged")] == [
        ("deliveryorder.confirm", "refused:403", "DO9")
    ]
    assert rows(ctx, "push_forged")[0][3]["genuine_entity"] == "DO1"
    assert [(r[1], r[2]) for r in rows(ctx, "push_out")] == [("ok", "DO1")]
    assert [(r[1], r[2]) for r in rows(ctx, "fault")] == [("push_forged", "DO9")]


@pytest.mark.anyio
async def test_push_faults_fire_on_their_push_only_and_by_seed(
    make_context: Callable[[str], SystemContext], receiver: tuple[Receiver, PushSender]
) -> None:
    app, sender = receiver
    ctx = make_context("wms")
    half = FaultRule("wms", "deliveryorder.confirm", "push_duplicate", rate=0.5)
    out = dispatcher(ctx, sender, half)
    for n in range(20):
        out.send(push(f"DO{n}", f"<confirm DO{n}/>".encode()))
        out.send(push(f"DO{n}", f"<report DO{n}/>".encode(), operation="orderprocess.report"))
    await out.drain(5)
    hit = [r[2] for r in rows(ctx, "fault")]
    again = FaultInjector([half], seed=3)
    expected = [
        f"DO{n}" for n in range(20) if again.pick("wms", "deliveryorder.confirm", half.stage)
    ]
    assert hit == expected and 0 < len(hit) < 20
    assert len(app.got) == 40 + len(hit)  # reports are never duplicated


# ------------------------------------------------------------------ redelivery schedules


class RecordingClock(ManualClock):
    """A manual clock that remembers each simulated wait asked of it and waits none."""

    def __init__(self) -> None:
        super().__init__()
        self.waits: list[float] = []

    def sim_to_wall_seconds(self, sim_seconds: float) -> float:
        self.waits.append(sim_seconds)
        return 0.0


@pytest.mark.parametrize("system", ["wms", "carrier", "bank"])
@pytest.mark.anyio
async def test_each_system_redelivers_on_its_own_bounded_schedule(
    tmp_path: Path, system: str
) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        return httpx.Response(500)

    clock = RecordingClock()
    async with httpx.AsyncClient(transport=httpx.MockTransport(refuse)) as client:
        ctx = SystemContext.create(system, tmp_path, clock, HttpxSender(client), seed=1)
        ctx.dispatcher.send(push("E1", b"x", operation="p"))
        await ctx.dispatcher.drain(5)
    assert clock.waits == list(RETRY_SCHEDULES[system])
    assert [r[1] for r in rows(ctx, "push_out")] == ["refused:500"] * (len(clock.waits) + 1)
    assert (ctx.dispatcher.delivered, ctx.dispatcher.abandoned) == (0, 1)


def test_schedules_are_the_documented_ones() -> None:
    # docs/CHAOS.md "Redelivery schedules": Alibaba Cloud 1/5/10 min, kuaidi100 3 x 30 min,
    # WeChat Pay 15/15/30/180/1800/1800/1800/1800/3600 s.
    assert RETRY_SCHEDULES["wms"] == (60, 300, 600)
    assert RETRY_SCHEDULES["carrier"] == (1800, 1800, 1800)
    assert RETRY_SCHEDULES["bank"] == (15, 15, 30, 180, 1800, 1800, 1800, 1800, 3600)


# ------------------------------------------------------------------ the protocols' forgeries


@pytest.mark.anyio
async def test_a_forged_qimen_confirm_ships_an_open_order_under_a_wrong_sign(
    make_context: Callable[[str], SystemContext], world: World, clock: ManualClock
) -> None:
    got: list[httpx.Request] = []

    def connector(request: httpx.Request) -> httpx.Response:
        got.append(request)
        return httpx.Response(200, content=OK_XML)

    credentials = QimenCredentials()
    ctx = make_context("wms")
    async with httpx.AsyncClient(transport=httpx.MockTransport(connector)) as client:
        ctx.dispatcher = dispatcher(ctx, HttpxSender(client), rule("push_forged"))
        wms = WmsService(ctx, credentials, FIXED, RecordingCarrier())
        wms.setup(world)
        QimenPushes.attach(wms, credentials)
        wms.confirm_callback_url = "http://connector.test/qimen/callback"
        wms.create_delivery_order(order(world, "T0001"))
        clock.advance(100)
        later = wms.create_delivery_order(order(world, "T0002", express="SF2222222222"))
        clock.advance(81)  # T0001 ships at 180 s; T0002 is still being picked
        await ctx.dispatcher.drain(5)

    forged, genuine = (r for r in got if r.url.params["method"] == CONFIRM_METHOD)
    for request, valid in ((forged, False), (genuine, True)):
        params = dict(request.url.params)
        expected = independent_qimen_sign(credentials.secret, params, request.content.decode())
        assert (params["sign"] == expected) is valid
    root = etree.fromstring(forged.content)
    assert root.findtext("deliveryOrder/deliveryOrderCode") == "T0002"
    assert root.findtext("deliveryOrder/deliveryOrderId") == later.delivery_order_id
    assert root.findtext("deliveryOrder/status") == "DELIVERED"
    assert root.findtext("deliveryOrder/outBizCode") == f"{later.delivery_order_id}-DELIVERED"
    assert root.findtext("packages/package/expressCode") == "SF2222222222"
    assert etree.fromstring(genuine.content).findtext("deliveryOrder/deliveryOrderCode") == "T0001"
    # Forging changed nothing at the WMS.
    assert "DELIVERED" not in states(wms, "T0002")
    assert [(r[1], r[2]) for r in rows(ctx, "fault")] == [("push_forged", "T0002")]
    assert [(r[0], r[2]) for r in rows(ctx, "push_forged")] == [("deliveryorder.confirm", "T0002")]


def _tracking_event(state: int) -> TrackingChanged:
    trace = Trace("2026-11-11 10:00:00", "【广州】已揽收", "广州", "1")
    tracking = Tracking("SF100", "SF", "T0001", state, str(state), "广州", (trace,))
    return TrackingChanged("EB1", "http://connector/kdniao", tracking)


def test_a_forged_kdniao_push_says_signed_under_a_wrong_datasign(clock: ManualClock) -> None:
    genuine = tracking_push(_tracking_event(2), KEY, clock.now())
    assert genuine.forge is not None
    forged = genuine.forge()
    assert forged is not None and forged.forge is None  # a forgery is not forged again
    for sent, valid in ((genuine, True), (forged, False)):
        form = dict(parse_qsl(sent.content.decode()))
        assert (form["DataSign"] == independent_kdniao_sign(form["RequestData"])) is valid
    data = json.loads(dict(parse_qsl(forged.content.decode()))["RequestData"])["Data"][0]
    assert (data["LogisticCode"], data["State"]) == ("SF100", "3")
    assert data["Traces"][-1]["AcceptStation"].startswith("快件已签收")
    assert forged.entity == genuine.entity == "SF100"


def test_a_forged_bank_notice_carries_a_signature_the_bank_never_made(
    make_context: Callable[[str], SystemContext],
) -> None:
    ctx = make_context("bank")
    sent: list[Push] = []
    ctx.dispatcher.send = sent.append  # type: ignore[method-assign]
    entry = Entry("E1", "6222", date(2026, 11, 11), 1000, "CRDT", "E2E1", "T0001")
    CreditNotices(ctx, "whsec")(CreditNotice(entry, "CNY", "http://connector/bank"))
    (genuine,) = sent
    assert genuine.forge is not None
    forged = genuine.forge()
    assert forged is not None and forged.content == genuine.content
    for notice, valid in ((genuine, True), (forged, False)):
        timestamp, mac = (
            part.split("=", 1)[1] for part in notice.headers[SIGNATURE_HEADER].split(",")
        )
        expected = hmac.new(
            b"whsec", f"{timestamp}.".encode() + notice.content, hashlib.sha256
        ).hexdigest()
        assert (mac == expected) is valid
