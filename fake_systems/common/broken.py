"""Answers that go wrong on the wire: a connection reset, an answer held then never sent, one
cut mid-way, one dribbled out, one empty, one with its syntax broken (docs/CHAOS.md).

Each is a Starlette `Response` whose ASGI call plays the fault, so the pipeline returns it
like any answer. Dropping a connection needs the socket, which ASGI does not hand to an
app: the fakes' server (`server.RequestDeadlineProtocol`) puts a `Connection` in each
request's scope under `extensions["ecomock.connection"]["connection"]`. Without one (an in-process
transport in tests) there is no socket to drop, and the app raises `ConnectionDropped`
instead, which such transports pass on to the client. Every wait is bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from collections.abc import Mapping
from typing import Any

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

CONNECTION = "ecomock.connection"
# How long to wait for the server to notice a connection it dropped itself.
SETTLE_SECONDS = 2.0
# A dribbled answer goes out in at most this many pieces.
MAX_PIECES = 10


class ConnectionDropped(ConnectionError):
    """Raised, with no socket to drop (an in-process transport), where a connection would be
    reset or closed without an answer."""


class Connection:
    """The socket under one request, to reset or close it without an answer."""

    def __init__(self, transport: asyncio.Transport) -> None:
        self.transport = transport

    def reset(self) -> None:
        """Close with a TCP RST (SO_LINGER 0): the client reads ECONNRESET."""
        sock = self.transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.transport.abort()

    def close(self) -> None:
        """Close with a FIN: the client reads an end of stream where the answer should be."""
        self.transport.close()


def connection_of(scope: Scope) -> Connection | None:
    connection = (scope.get("extensions") or {}).get(CONNECTION, {}).get("connection")
    return connection if isinstance(connection, Connection) else None


async def until_disconnected(receive: Receive, timeout: float) -> bool:
    """Wait up to `timeout` seconds for the client to be gone; whether it is.

    The body was read whole before, so the server's next message is the disconnect.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    for _ in range(1000):  # a server answers http.request at most once more; bounded anyway
        left = deadline - loop.time()
        if left <= 0:
            return False
        try:
            message = await asyncio.wait_for(receive(), left)
        except TimeoutError:
            return False
        if message["type"] == "http.disconnect":
            return True
    return False


async def drop(scope: Scope, receive: Receive, *, reset: bool) -> None:
    """Reset or close the request's connection, and wait until the server has noticed, so
    that it does not answer in our stead ("returned without starting response")."""
    connection = connection_of(scope)
    if connection is None:
        raise ConnectionDropped("connection reset" if reset else "connection closed")
    if reset:
        connection.reset()
    else:
        connection.close()
    await until_disconnected(receive, SETTLE_SECONDS)


class Reset(Response):
    """No answer: the connection is reset (`reset_before`, `reset_after`, `outage`)."""

    def __init__(self) -> None:
        super().__init__(b"", status_code=502)  # never sent; for a caller that inspects it

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await drop(scope, receive, reset=True)


class Hang(Response):
    """No answer for `seconds` (or until the client gives up), then the connection closes."""

    def __init__(self, seconds: float) -> None:
        super().__init__(b"", status_code=504)
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if await until_disconnected(receive, self.seconds):
            return  # the client left first, as it should
        await drop(scope, receive, reset=False)


class _Replay(Response):
    """An answer re-sent from its parts: status, headers and the body as encoded."""

    def __init__(self, answer: Response) -> None:
        super().__init__(b"", status_code=answer.status_code)
        self.raw_headers = list(answer.raw_headers)
        self.body = bytes(answer.body)

    async def start(self, send: Send) -> None:
        await send(
            {"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers}
        )


class Truncated(_Replay):
    """The answer's headers (its full Content-Length), half its body, then a closed
    connection: the client reads an incomplete message."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.start(send)
        half = self.body[: len(self.body) // 2]
        await send({"type": "http.response.body", "body": half, "more_body": True})
        await drop(scope, receive, reset=False)


class Slow(_Replay):
    """The whole answer, its body in pieces spread over `seconds`."""

    def __init__(self, answer: Response, seconds: float) -> None:
        super().__init__(answer)
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.start(send)
        pieces = max(1, min(MAX_PIECES, len(self.body)))
        size = -(-len(self.body) // pieces)  # ceiling: `pieces` pieces cover the body
        for index in range(pieces):
            await asyncio.sleep(self.seconds / pieces)
            piece = self.body[index * size : (index + 1) * size]
            last = index == pieces - 1
            await send({"type": "http.response.body", "body": piece, "more_body": not last})


def with_body(answer: Response, body: bytes) -> Response:
    """The answer's status and headers (every one, cookies included) around another body."""
    response = Response(body, answer.status_code)
    response.raw_headers = [
        (name, value) for name, value in answer.raw_headers if name != b"content-length"
    ] + [(b"content-length", str(len(body)).encode())]
    return response


def empty(answer: Response) -> Response:
    """The answer's status and headers, no body (`Content-Length: 0`)."""
    return with_body(answer, b"")


def malformed(answer: Response) -> Response:
    """The answer whole but for its last closing delimiter (`}`, `]` or `>`): a complete
    HTTP message whose JSON or XML no longer parses."""
    body = bytes(answer.body).rstrip()
    cut = max(body.rfind(b"}"), body.rfind(b"]"), body.rfind(b">"))
    return with_body(answer, body[:cut] + body[cut + 1 :] if cut >= 0 else body + b"<")


def seconds_param(params: Mapping[str, Any], default: float) -> float:
    """A kind's `seconds` parameter (wall seconds), or its default."""
    return float(params.get("seconds", default))
