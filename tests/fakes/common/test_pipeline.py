"""The shared request pipeline, on a toy protocol: each stage, refusals that change nothing, a
bug logged and answered in the protocol's format, and a lost answer after the commit."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from typing import Any, ClassVar

import httpx
import orjson
import pytest
from starlette.responses import Response

from fake_systems.common.context import SystemContext
from fake_systems.common.faults import FaultInjector, FaultRule
from fake_systems.common.pipeline import (
    OFF_LOOP_BYTES,
    Call,
    Caller,
    Inbound,
    Pipeline,
    Protocol,
    WireError,
)
from fake_systems.common.scope import OwnerScope


class EchoProtocol(Protocol):
    """A protocol of the smallest kind: `?op=` names the operation, `x-key` proves the caller,
    JSON in and out, `{"ok": false, "code": …}` on failure."""

    system = "echo"
    max_body_bytes = 64
    parsed_on: ClassVar[list[threading.Thread]] = []

    def __init__(self, ctx: SystemContext) -> None:
        self.ctx = ctx
        ctx.conn.execute("CREATE TABLE IF NOT EXISTS notes (owner TEXT, text TEXT)")
        self.operations = {"put": self.put, "boom": self.boom, "half": self.half}

    def operation_of(self, call: Call) -> str:
        return call.inbound.query.get("op", "unknown")

    def authenticate(self, call: Call) -> Caller:
        key = call.inbound.headers.get("x-key")
        if key == "all":
            return Caller("integrator")
        if key == "a":
            return Caller("tenant-a", OwnerScope.of(("A",)))
        raise WireError("auth", "bad key")

    def parse(self, inbound: Inbound) -> Any:
        self.parsed_on.append(threading.current_thread())
        try:
            return orjson.loads(inbound.body)
        except orjson.JSONDecodeError:
            raise WireError("format", "not JSON") from None

    def encode(self, call: Call, result: Any) -> Response:
        return Response(orjson.dumps({"ok": True, "result": result}))

    def encode_error(self, call: Call, error: WireError) -> Response:
        body = {"ok": False, "code": error.code, "message": error.message}
        return Response(orjson.dumps(body), status_code=error.http_status)

    def too_large(self, call: Call) -> WireError:
        return WireError("too-large", "body too large")

    def unknown_operation(self, call: Call) -> WireError:
        return WireError("no-such-op", call.operation)

    def internal_error(self, call: Call, error: Exception) -> WireError:
        return WireError("system", "system error, try later")

    def put(self, call: Call) -> Any:
        owner = call.data["owner"]
        if not call.scope.allows(owner):
            raise WireError("forbidden", "not your owner")
        call.entity = owner
        self.ctx.conn.execute("INSERT INTO notes VALUES (?, ?)", (owner, call.data["text"]))
        if call.data["text"] == "fail-after-write":
            raise WireError("late", "refused after writing")
        return "stored"

    def boom(self, call: Call) -> Any:
        self.ctx.conn.execute("INSERT INTO notes VALUES ('A', 'half')")
        raise RuntimeError("a bug of the fake")

    def half(self, call: Call) -> Any:
        call.outcome = "partial"  # answered as a success, recorded as what it was
        return "some items refused"


class NamingProtocol(EchoProtocol):
    """Refusals that depend on the call: the operation, the failure's type."""

    def too_large(self, call: Call) -> WireError:
        return WireError(f"too-large:{call.operation}", "body too large")

    def internal_error(self, call: Call, error: Exception) -> WireError:
        return WireError(f"system:{type(error).__name__}", f"system error in {call.operation}")


@pytest.fixture
def ctx(make_context: Callable[[str], SystemContext]) -> SystemContext:
    return make_context("echo")


def notes(ctx: SystemContext) -> list[tuple[str, str]]:
    return [tuple(row) for row in ctx.conn.execute("SELECT owner, text FROM notes")]


def history(ctx: SystemContext) -> list[tuple[str, str, str, str | None]]:
    rows = ctx.conn.execute("SELECT kind, operation, outcome, entity FROM events ORDER BY seq")
    return [tuple(row) for row in rows]


async def send(
    ctx: SystemContext,
    op: str,
    body: bytes,
    key: str = "all",
    protocol: type[EchoProtocol] = EchoProtocol,
) -> tuple[int, dict[str, Any]]:
    pipeline = Pipeline(protocol(ctx), ctx)
    transport = httpx.ASGITransport(app=pipeline)
    async with httpx.AsyncClient(transport=transport, base_url="http://fake") as client:
        response = await client.post(f"/echo?op={op}", content=body, headers={"x-key": key})
    return response.status_code, response.json() if response.content[:1] == b"{" else {}


@pytest.mark.anyio
async def test_a_call_commits_its_effect_with_its_history_row(ctx: SystemContext) -> None:
    status, answer = await send(ctx, "put", b'{"owner": "A", "text": "hi"}')
    assert (status, answer) == (200, {"ok": True, "result": "stored"})
    assert notes(ctx) == [("A", "hi")]
    assert history(ctx) == [("api_in", "put", "ok", "A")]


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("op", "body", "key", "code"),
    [
        ("put", b'{"owner": "A", "text": "hi"}', "wrong", "auth"),
        ("nope", b"{}", "all", "no-such-op"),
        ("put", b"{not json", "all", "format"),
        ("put", b"{not json", "wrong", "auth"),  # a malformed body waits its turn
        ("put", b'{"owner": "B", "text": "hi"}', "a", "forbidden"),
        ("put", b'{"owner": "A", "text": "fail-after-write"}', "all", "late"),
        ("put", b'{"owner": "A", "text": "' + b"x" * 100 + b'"}', "all", "too-large"),
    ],
)
async def test_refusals_answer_in_the_protocols_format_and_change_nothing(
    ctx: SystemContext, op: str, body: bytes, key: str, code: str
) -> None:
    status, answer = await send(ctx, op, body, key)
    assert status == 200 and answer["ok"] is False and answer["code"] == code
    assert notes(ctx) == []
    assert history(ctx)[-1][:3] == ("api_in", op, code)


@pytest.mark.anyio
async def test_a_bug_is_logged_with_its_traceback_and_answered_as_a_system_error(
    ctx: SystemContext, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="fake_systems.common.pipeline"):
        status, answer = await send(ctx, "boom", b"{}")
    assert (status, answer["code"]) == (200, "system")
    assert "a bug of the fake" not in str(answer)  # no internals on the wire
    assert notes(ctx) == []  # the half-done write was rolled back
    assert history(ctx) == [("api_in", "boom", "system", None)]
    assert any(record.exc_info for record in caplog.records)


@pytest.mark.anyio
async def test_a_lost_answer_comes_after_the_commit(ctx: SystemContext) -> None:
    ctx.faults = FaultInjector([FaultRule("echo", "put", "lost_response", 1.0)], seed=1)
    status, _ = await send(ctx, "put", b'{"owner": "A", "text": "hi"}')
    assert status == 504
    assert notes(ctx) == [("A", "hi")]
    assert history(ctx) == [("api_in", "put", "ok", "A"), ("fault", "put", "lost_response", "A")]


@pytest.mark.anyio
async def test_a_handler_may_record_an_outcome_other_than_ok(ctx: SystemContext) -> None:
    status, answer = await send(ctx, "half", b"{}")
    assert (status, answer) == (200, {"ok": True, "result": "some items refused"})
    assert history(ctx) == [("api_in", "half", "partial", None)]


@pytest.mark.anyio
async def test_a_protocol_may_name_the_call_in_its_size_and_system_errors(
    ctx: SystemContext,
) -> None:
    big = b'{"owner": "A", "text": "' + b"x" * 100 + b'"}'
    _, too_large = await send(ctx, "put", big, protocol=NamingProtocol)
    _, internal = await send(ctx, "boom", b"{}", protocol=NamingProtocol)
    assert too_large["code"] == "too-large:put"
    assert internal["code"] == "system:RuntimeError"
    assert internal["message"] == "system error in boom"
    assert [row[2] for row in history(ctx)] == ["too-large:put", "system:RuntimeError"]
    assert notes(ctx) == []


def test_owner_scope() -> None:
    assert OwnerScope.of(()).allows("anyone") and OwnerScope.of(None).names == ()
    scope = OwnerScope.of(("B", "A"))
    assert scope.allows("A") and not scope.allows("C") and not scope.allows(None)
    assert scope.names == ("A", "B")


@pytest.mark.anyio
async def test_big_bodies_are_parsed_off_the_event_loop(ctx: SystemContext) -> None:
    protocol = EchoProtocol(ctx)
    protocol.max_body_bytes = 1 << 20
    pipeline = Pipeline(protocol, ctx)
    EchoProtocol.parsed_on.clear()
    for size in (10, OFF_LOOP_BYTES):
        body = orjson.dumps({"owner": "A", "text": "x" * size})
        inbound = Inbound("POST", "/echo", {"op": "put"}, {"x-key": "all"}, body)
        assert (await pipeline.respond(inbound)).status_code == 200
    small, big = EchoProtocol.parsed_on
    assert small is threading.main_thread() and big is not threading.main_thread()
    assert len(notes(ctx)) == 2


@pytest.mark.anyio
async def test_an_unproven_callers_body_is_kept_only_as_a_prefix(ctx: SystemContext) -> None:
    protocol = EchoProtocol(ctx)
    protocol.max_body_bytes = 1 << 20
    body = orjson.dumps({"owner": "A", "text": "x" * 50_000})
    inbound = Inbound("POST", "/echo", {"op": "put"}, {"x-key": "wrong"}, body)
    assert (await Pipeline(protocol, ctx).respond(inbound)).status_code == 200
    (payload,) = [row[0] for row in ctx.conn.execute("SELECT payload FROM events")]
    assert len(payload) < 3_000  # a stranger cannot fill the history


@pytest.mark.anyio
async def test_a_client_gone_mid_body_gets_no_answer_and_leaves_no_trace(
    ctx: SystemContext,
) -> None:
    messages: Iterator[dict[str, Any]] = iter(
        [
            {"type": "http.request", "body": b'{"owner": "A", "te', "more_body": True},
            {"type": "http.disconnect"},
        ]
    )
    sent: list[object] = []

    async def receive() -> dict[str, Any]:
        return next(messages)

    async def send(message: object) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/echo",
        "query_string": b"op=put",
        "headers": [(b"x-key", b"all")],
    }
    await Pipeline(EchoProtocol(ctx), ctx)(scope, receive, send)  # type: ignore[arg-type]
    assert sent == [] and history(ctx) == [] and notes(ctx) == []
