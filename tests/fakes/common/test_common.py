"""The shared machinery: history redaction, atomic transactions, webhook retries, error fallback."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from urllib.parse import parse_qsl

import httpx
import pytest
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

from fake_systems.common.app import make_app
from fake_systems.common.context import SystemContext
from fake_systems.common.faults import FaultInjector, FaultRule
from fake_systems.common.server import ServerGroup, bind_free_port
from fake_systems.common.storage import transaction
from fake_systems.common.webhooks import (
    AiohttpSender,
    Push,
    PushReply,
    PushTransportError,
    WebhookDispatcher,
)
from simulator.clock import ManualClock
from tests.support.pushes import mock_sender


def test_history_never_stores_secrets(make_context: Callable[[str], SystemContext]) -> None:
    ctx = make_context("oms")
    ctx.history.record(
        "api_in", "x", "ok", "T1", {"sign": "ABC", "nested": [{"password": "p", "keep": 1}]}
    )
    payload = ctx.conn.execute("SELECT payload FROM events").fetchone()[0]
    assert "ABC" not in payload and '"p"' not in payload
    assert json.loads(payload) == {"sign": "***", "nested": [{"password": "***", "keep": 1}]}


def test_failed_transaction_leaves_nothing(make_context: Callable[[str], SystemContext]) -> None:
    ctx = make_context("wms")
    ctx.conn.execute("CREATE TABLE t (x INTEGER)")
    with pytest.raises(RuntimeError), transaction(ctx.conn):
        ctx.conn.execute("INSERT INTO t VALUES (1)")
        ctx.history.record("api_in", "x", "ok")
        raise RuntimeError("boom")
    assert ctx.conn.execute("SELECT count(*) FROM t").fetchone()[0] == 0
    assert ctx.conn.execute("SELECT count(*) FROM events").fetchone()[0] == 0


def test_faults_are_reproducible_by_seed() -> None:
    rules = [FaultRule("wms", "deliveryorder.create", "lost_response", 0.3)]
    first = [FaultInjector(rules, 5).hits("wms", "deliveryorder.create", "lost_response")]
    draws = FaultInjector(rules, 5)
    again = FaultInjector(rules, 5)
    sequence = [draws.hits("wms", "deliveryorder.create", "lost_response") for _ in range(200)]
    assert sequence == [
        again.hits("wms", "deliveryorder.create", "lost_response") for _ in range(200)
    ]
    assert 30 <= sum(sequence) <= 90  # about 30 % of 200
    assert first[0] == sequence[0]
    assert not FaultInjector(rules, 5).hits("wms", "order.cancel", "lost_response")


def _dispatcher(
    ctx: SystemContext, handler: Callable[[httpx.Request], httpx.Response]
) -> WebhookDispatcher:
    # Tiny simulated delays: the schedule is exercised without the test waiting on it.
    return WebhookDispatcher(
        ctx.history, ctx.clock, mock_sender(handler), retry_sim_seconds=(0.01, 0.01, 0.01)
    )


@pytest.mark.anyio
async def test_push_is_retried_until_accepted(make_context: Callable[[str], SystemContext]) -> None:
    ctx = make_context("wms")
    answers = iter([500, 200])
    bodies: list[bytes] = []

    def receiver(request: httpx.Request) -> httpx.Response:
        bodies.append(request.content)
        return httpx.Response(next(answers))

    dispatcher = _dispatcher(ctx, receiver)
    dispatcher.send(Push("deliveryorder.confirm", "DO1", "http://connector/cb", b"<request/>"))
    await dispatcher.drain(5)
    assert bodies == [b"<request/>", b"<request/>"]
    assert (dispatcher.delivered, dispatcher.abandoned) == (1, 0)
    outcomes = [row[0] for row in ctx.conn.execute("SELECT outcome FROM events ORDER BY seq")]
    assert outcomes == ["refused:500", "ok"]


@pytest.mark.anyio
async def test_a_push_leaves_only_if_the_change_that_caused_it_commits(
    make_context: Callable[[str], SystemContext],
) -> None:
    ctx = make_context("wms")
    bodies: list[bytes] = []

    def receiver(request: httpx.Request) -> httpx.Response:
        bodies.append(request.content)
        return httpx.Response(200)

    dispatcher = _dispatcher(ctx, receiver)
    with pytest.raises(RuntimeError), transaction(ctx.conn):
        dispatcher.send(Push("deliveryorder.confirm", "DO1", "http://connector/cb", b"<undone/>"))
        raise RuntimeError("the call fails after it queued its push")
    with transaction(ctx.conn):
        dispatcher.send(Push("deliveryorder.confirm", "DO2", "http://connector/cb", b"<done/>"))
        assert dispatcher.in_flight == 0  # not before the commit
    await dispatcher.drain(5)
    assert bodies == [b"<done/>"]


@pytest.mark.anyio
async def test_push_is_abandoned_after_the_last_retry(
    make_context: Callable[[str], SystemContext],
) -> None:
    ctx = make_context("carrier")

    def unreachable(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    dispatcher = _dispatcher(ctx, unreachable)
    dispatcher.send(Push("101", "SF1", "http://connector/push", b"x"))
    await dispatcher.drain(5)
    assert (dispatcher.delivered, dispatcher.abandoned) == (0, 1)
    rows = ctx.conn.execute("SELECT outcome FROM events").fetchall()
    assert [row[0] for row in rows] == ["transport:ConnectError"] * 4  # first try + 3 retries


@dataclass
class Received:
    """One request as a real receiver saw it on the wire."""

    path: str
    query: bytes
    headers: list[tuple[bytes, bytes]]
    body: bytes


@dataclass
class Receiver:
    """A webhook receiver served on 127.0.0.1; `/hang` answers only once `release` is set."""

    url: str
    got: list[Received]
    release: asyncio.Event


RECEIVER_ANSWER = b"<response><flag>success</flag></response>"


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    got: list[Received] = []
    release = asyncio.Event()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        body, more = b"", True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        got.append(Received(scope["path"], scope["query_string"], list(scope["headers"]), body))
        if scope["path"] == "/hang":
            await release.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": RECEIVER_ANSWER})

    servers = ServerGroup()
    await servers.start({"receiver": app})
    try:
        yield Receiver(servers.urls["receiver"], got, release)
    finally:
        release.set()  # a hung request must finish, or uvicorn waits for it when stopping
        await servers.stop()


def _headers(received: Received) -> dict[str, str]:
    return {name.decode(): value.decode() for name, value in received.headers}


@pytest.mark.anyio
async def test_aiohttp_sender_delivers_body_headers_and_query_exactly(receiver: Receiver) -> None:
    # Values a Qimen sign is computed over: the receiver must decode exactly these.
    params = {
        "method": "taobao.qimen.deliveryorder.confirm",
        "timestamp": "2026-11-10 20:00:00",
        "sign": "A+B/C=D",
        "odd": "中文 &=?#%+;/",
        "empty": "",
    }
    headers = {"Content-Type": "text/xml;charset=utf-8", "X-Signature": "t=1,v1=ab cd"}
    body = "<request><remark>发货 &amp; more</remark></request>".encode()
    sender = AiohttpSender()
    try:
        reply = await sender.post(
            Push("confirm", "DO1", receiver.url + "/qimen/cb", body, headers, params), 5.0
        )
        bare = await sender.post(Push("confirm", "DO2", receiver.url + "/bare", b"\x00\xff"), 5.0)
    finally:
        await sender.close()

    assert reply == PushReply(200, RECEIVER_ANSWER)
    assert bare == PushReply(200, RECEIVER_ANSWER)
    first, second = receiver.got
    assert first.path == "/qimen/cb"
    assert parse_qsl(first.query.decode(), keep_blank_values=True) == list(params.items())
    assert first.body == body
    sent = _headers(first)
    assert sent["content-type"] == "text/xml;charset=utf-8"
    assert sent["x-signature"] == "t=1,v1=ab cd"
    assert sent["content-length"] == str(len(body))
    # No Content-Type of aiohttp's own (application/octet-stream) when the push sets none.
    assert (second.path, second.query, second.body) == ("/bare", b"", b"\x00\xff")
    assert "content-type" not in _headers(second)


@pytest.mark.anyio
async def test_aiohttp_sender_times_out_as_a_transport_error(receiver: Receiver) -> None:
    sender = AiohttpSender()
    try:
        with pytest.raises(PushTransportError) as raised:
            await sender.post(Push("confirm", "DO1", receiver.url + "/hang", b"x"), 0.5)
    finally:
        await sender.close()
    assert raised.value.kind == "TimeoutError"
    assert [received.path for received in receiver.got] == ["/hang"]


@pytest.mark.anyio
async def test_dispatcher_over_aiohttp_records_delivery_and_unreachable(
    make_context: Callable[[str], SystemContext], receiver: Receiver
) -> None:
    ctx = make_context("wms")
    with contextlib.closing(bind_free_port()) as sock:
        closed_port = sock.getsockname()[1]  # nothing listens there once the socket closes
    async with AiohttpSender() as sender:
        dispatcher = WebhookDispatcher(ctx.history, ctx.clock, sender, retry_sim_seconds=())
        dispatcher.send(Push("confirm", "DO1", receiver.url + "/cb", b"<a/>", params={"k": "v"}))
        dispatcher.send(Push("confirm", "DO2", f"http://127.0.0.1:{closed_port}/cb", b"<b/>"))
        await dispatcher.drain(5)
    assert dispatcher.in_flight == 0
    assert (dispatcher.delivered, dispatcher.abandoned) == (1, 1)
    outcomes = dict(
        ctx.conn.execute("SELECT entity, outcome FROM events WHERE kind = 'push_out'").fetchall()
    )
    assert outcomes == {"DO1": "ok", "DO2": "transport:ClientConnectorError"}
    assert [(r.path, r.query, r.body) for r in receiver.got] == [("/cb", b"k=v", b"<a/>")]


@pytest.mark.anyio
async def test_app_answers_unforeseen_errors_in_protocol_format(
    make_context: Callable[[str], SystemContext],
    asgi_client: Callable[[object], httpx.AsyncClient],
    clock: ManualClock,
) -> None:
    ctx = make_context("oms")
    router = APIRouter()

    @router.get("/boom")
    def boom() -> dict[str, str]:
        raise ZeroDivisionError("secret internals")

    def on_error(request: Request, exc: Exception) -> Response:
        return JSONResponse({"status": 9999, "message": "internal error"})

    def on_unrouted(request: Request, status: int) -> Response:
        return JSONResponse({"status": 1400, "message": "no such API"}, status)

    app = make_app("oms", clock, ctx.conn, [router], on_error, on_unrouted=on_unrouted)
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, raise_app_exceptions=False), base_url="http://fake"
    )
    response = await client.get("/boom")
    assert response.status_code == 200
    assert response.json() == {"status": 9999, "message": "internal error"}
    assert "secret internals" not in response.text
    clock_answer = (await client.get("/_fake/clock")).json()
    assert clock_answer["scale"] == clock.scale
    assert clock_answer["now_text"] == "2026-11-10 20:00:00"
    await client.aclose()


def test_history_masks_phones_and_addresses(make_context: Callable[[str], SystemContext]) -> None:
    ctx = make_context("carrier")
    ctx.history.record(
        "api_in",
        "1007",
        "ok",
        "T1",
        {"Receiver": {"Name": "张三", "Mobile": "13812345678", "Address": "天河区体育西路1号"}},
    )
    ctx.history.record(
        "api_in",
        "deliveryorder.create",
        "ok",
        "T2",
        "<receiverInfo><mobile>13912345678</mobile><detailAddress>白云区太和镇8号</detailAddress>"
        "</receiverInfo>",
    )
    first, second = (row[0] for row in ctx.conn.execute("SELECT payload FROM events ORDER BY seq"))
    receiver = json.loads(first)["Receiver"]
    # Names are personal data too; the address is hidden whole (its district has a field).
    assert receiver == {"Name": "张**", "Mobile": "138****5678", "Address": "****"}
    assert "13912345678" not in second and "太和镇8号" not in second
    assert "<mobile>139****5678</mobile>" in second
