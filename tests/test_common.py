"""The shared machinery: history redaction, atomic transactions, webhook retries, error fallback."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from fake_systems.common.app import make_app
from fake_systems.common.context import SystemContext
from fake_systems.common.faults import FaultInjector, FaultRule
from fake_systems.common.storage import transaction
from fake_systems.common.webhooks import Push, WebhookDispatcher
from simulator.clock import ManualClock


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
    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    # Tiny simulated delays: the schedule is exercised without the test waiting on it.
    return WebhookDispatcher(ctx.history, ctx.clock, client, retry_sim_seconds=(0.01, 0.01, 0.01))


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

    app = make_app("oms", clock, ctx.conn, [router], on_error)
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
    assert receiver == {"Name": "张三", "Mobile": "138****5678", "Address": "天河区体****"}
    assert "13912345678" not in second and "太和镇8号" not in second
    assert "<mobile>139****5678</mobile>" in second
