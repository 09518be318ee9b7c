"""Slow clients are cut: a request must arrive whole within the server's request deadline.

Real sockets against a ServerGroup with a 1-second deadline (production: 20 s). The clients
here are slow on purpose, a byte every 0.1 s; each loop is bounded in count and in time.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable

import pytest
from starlette.types import Receive, Scope, Send

from fake_systems.common.context import SystemContext
from fake_systems.common.credentials import OmsCredentials
from fake_systems.common.server import REQUEST_TIMEOUT_SECONDS, ServerGroup
from fake_systems.oms.api import wdt
from fake_systems.oms.service import OmsService
from simulator.world import World

pytestmark = pytest.mark.anyio

DEADLINE = 1.0
DRIBBLE_SECONDS = 0.1
MAX_DRIBBLES = 60  # 6 s: far past the deadline, still a bounded test


async def slow_answer(scope: Scope, receive: Receive, send: Send) -> None:
    """Reads the whole body, then answers after 1.5 deadlines: the app's own time is free."""
    if scope["type"] != "http":
        return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False) and message["type"] == "http.request"
    await asyncio.sleep(DEADLINE * 1.5)
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"done"})


@pytest.fixture
async def server() -> AsyncIterator[tuple[str, int]]:
    servers = ServerGroup(request_timeout=DEADLINE)
    await servers.start({"app": slow_answer})
    try:
        host, port = servers.urls["app"].removeprefix("http://").split(":")
        yield host, int(port)
    finally:
        await servers.stop()


async def seconds_until_cut(address: tuple[str, int], first: bytes, dribble: bytes) -> float:
    """Send `first`, then `dribble` a byte at a time; the seconds until the server closed the
    connection (or `inf` if it never did within MAX_DRIBBLES)."""
    reader, writer = await asyncio.open_connection(*address)
    started = time.monotonic()
    closed = asyncio.ensure_future(reader.read())  # done when the server closes its side
    try:
        writer.write(first)
        for index in range(MAX_DRIBBLES):
            if closed.done():
                break
            if dribble:
                writer.write(dribble[index % len(dribble) : index % len(dribble) + 1])
                try:
                    await writer.drain()
                except ConnectionError:
                    break
            await asyncio.wait({closed}, timeout=DRIBBLE_SECONDS)
        return time.monotonic() - started if closed.done() else float("inf")
    finally:
        closed.cancel()
        writer.close()


async def test_headers_sent_byte_by_byte_are_cut_after_the_deadline(
    server: tuple[str, int],
) -> None:
    seconds = await seconds_until_cut(
        server, b"POST /openapi HTTP/1.1\r\nHost: fake\r\n", b"X-Slow: aaaaaaaaaaaaaaaa\r\n"
    )
    assert DEADLINE * 0.5 <= seconds <= DEADLINE * 4


async def test_a_body_sent_byte_by_byte_is_cut_after_the_deadline(
    server: tuple[str, int],
) -> None:
    head = b"POST /openapi HTTP/1.1\r\nHost: fake\r\nContent-Length: 1000\r\n\r\n"
    seconds = await seconds_until_cut(server, head, b"{")
    assert DEADLINE * 0.5 <= seconds <= DEADLINE * 4


async def test_a_connection_that_never_sends_is_cut(server: tuple[str, int]) -> None:
    seconds = await seconds_until_cut(server, b"", b"")
    assert DEADLINE * 0.5 <= seconds <= DEADLINE * 4


async def test_a_prompt_request_is_answered_however_long_the_app_takes(
    server: tuple[str, int],
) -> None:
    reader, writer = await asyncio.open_connection(*server)
    try:
        writer.write(b"GET / HTTP/1.1\r\nHost: fake\r\n\r\n")
        answer = await asyncio.wait_for(reader.readuntil(b"done"), timeout=DEADLINE * 5)
    finally:
        writer.close()
    assert answer.startswith(b"HTTP/1.1 200")


def test_production_deadline_is_bounded_and_generous() -> None:
    assert 10 <= REQUEST_TIMEOUT_SECONDS <= 30
    assert ServerGroup().request_timeout == REQUEST_TIMEOUT_SECONDS


async def test_a_fake_cut_mid_body_records_no_internal_error(
    make_context: Callable[[str], SystemContext], world: World
) -> None:
    service = OmsService(make_context("oms"), OmsCredentials())
    service.setup(world)
    servers = ServerGroup(request_timeout=DEADLINE)
    await servers.start({"oms": wdt.create_app(service, OmsCredentials())})
    try:
        host, port = servers.urls["oms"].removeprefix("http://").split(":")
        head = b"POST /openapi HTTP/1.1\r\nHost: fake\r\nContent-Length: 1000\r\n\r\n"
        assert await seconds_until_cut((host, int(port)), head, b"{") <= DEADLINE * 4
    finally:
        await servers.stop()
    outcomes = [row[0] for row in service.conn.execute("SELECT outcome FROM events")]
    assert str(wdt.ERR_INTERNAL) not in outcomes
