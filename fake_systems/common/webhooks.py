"""Outgoing pushes (WMS confirmations, carrier tracking, bank notices): retried, recorded."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Protocol

import aiohttp
import httpx

from fake_systems.common.storage import History, after_commit
from simulator.clock import Clock

# Simulated seconds between attempts: the graded 1 / 5 / 15 minute retries of the seeds.
DEFAULT_RETRY_SIM_SECONDS: tuple[float, ...] = (60.0, 300.0, 900.0)
PUSH_TIMEOUT_SECONDS = 10.0
# Per dispatcher: 16 local pushes in flight carry thousands a second. The pushes go out
# through aiohttp, not httpx: measured on one machine, an httpx.AsyncClient POST to a local
# server cost ~1,180 µs of CPU, an aiohttp ClientSession POST ~96 µs, and the pushes were a
# large share of the fakes' CPU under load (httpcore also scans its whole pool, with two
# syscalls per connection, on every request: docs/PERFORMANCE.md).
MAX_PUSHES_IN_FLIGHT = 16
# Idle connections are dropped before a receiver's 5-second keep-alive (uvicorn's default)
# could close one under a push (a POST is never resent: that race would cost a retry).
KEEPALIVE_SECONDS = 4.0


@dataclass(frozen=True)
class PushReply:
    """The receiver's answer to one push: all `Push.accepted` gets to judge."""

    status_code: int
    content: bytes


class PushTransportError(Exception):
    """No answer (refused, reset, timed out); the message is the underlying error's class name."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


class PushSender(Protocol):
    """Posts one push and returns the answer; raises PushTransportError when there is none.

    `push.headers` is read once per attempt, so headers signed at send time stay fresh.
    """

    async def post(self, push: Push, timeout: float) -> PushReply: ...


class AiohttpSender:
    """The pushes' sender in runs: one keep-alive aiohttp session, opened on first use."""

    def __init__(self, limit: int = MAX_PUSHES_IN_FLIGHT) -> None:
        # Connections at most: as many as the pushes its dispatchers may have in flight, since
        # a push's timeout also counts any wait for a free connection.
        self.limit = limit
        self._session: aiohttp.ClientSession | None = None

    def _open(self) -> aiohttp.ClientSession:
        # Created inside the running loop (aiohttp binds a session to it), on the first push.
        connector = aiohttp.TCPConnector(limit=self.limit, keepalive_timeout=KEEPALIVE_SECONDS)
        return aiohttp.ClientSession(
            connector=connector,
            # A push without a Content-Type goes without one (as with httpx), not as
            # application/octet-stream; one the push sets is sent as set.
            skip_auto_headers=("Content-Type",),
            # Pushes are stateless webhooks: no cookie bookkeeping on every answer.
            cookie_jar=aiohttp.DummyCookieJar(),
        )

    async def post(self, push: Push, timeout: float) -> PushReply:
        """POST the push, its params on the query; the answer, or PushTransportError."""
        if self._session is None:
            self._session = self._open()
        try:
            async with self._session.post(
                push.url,
                data=push.content,
                headers=dict(push.headers),
                params=dict(push.params) or None,
                timeout=aiohttp.ClientTimeout(total=timeout),
                allow_redirects=False,  # as httpx: a redirect is the receiver's answer
            ) as response:
                return PushReply(response.status, await response.read())
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise PushTransportError(type(exc).__name__) from exc

    async def close(self) -> None:
        """Close the session and its connections (a no-op if nothing was ever pushed)."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> AiohttpSender:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()


class HttpxSender:
    """Pushes through an httpx client: tests bind it to a MockTransport or an ASGI app."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def post(self, push: Push, timeout: float) -> PushReply:
        """POST the push, its params on the query; the answer, or PushTransportError."""
        try:
            response = await self.client.post(
                push.url,
                content=push.content,
                headers=dict(push.headers),
                params=dict(push.params),
                timeout=timeout,
            )
        except httpx.HTTPError as exc:
            raise PushTransportError(type(exc).__name__) from exc
        return PushReply(response.status_code, response.content)


@dataclass
class Push:
    """One push to deliver: where, what, and how to tell the receiver accepted it."""

    operation: str
    entity: str
    url: str
    content: bytes
    headers: Mapping[str, str] = field(default_factory=dict)
    params: Mapping[str, str] = field(default_factory=dict)
    accepted: Callable[[PushReply], bool] = lambda reply: reply.status_code == 200
    payload_for_history: object = None


class WebhookDispatcher:
    """Delivers pushes in the background of the event loop, retrying on the simulated schedule."""

    def __init__(
        self,
        history: History,
        clock: Clock,
        sender: PushSender,
        retry_sim_seconds: tuple[float, ...] = DEFAULT_RETRY_SIM_SECONDS,
    ) -> None:
        self.history = history
        self.clock = clock
        self.sender = sender
        self.retry_sim_seconds = retry_sim_seconds
        self._tasks: set[asyncio.Task[None]] = set()
        self._slots = asyncio.Semaphore(MAX_PUSHES_IN_FLIGHT)
        self.delivered = 0
        self.abandoned = 0

    @property
    def in_flight(self) -> int:
        return len(self._tasks)

    def send(self, push: Push) -> None:
        """Schedule delivery once the change that caused it commits; returns at once (safe to
        call from inside a SimPy process). A push of a rolled-back change never leaves."""
        after_commit(self.history.conn, lambda: self._schedule(push))

    def _schedule(self, push: Push) -> None:
        task = asyncio.get_running_loop().create_task(self._deliver(push))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver(self, push: Push) -> None:
        delays = (0.0, *self.retry_sim_seconds)
        for attempt, delay in enumerate(delays, start=1):
            if delay:
                await asyncio.sleep(self.clock.sim_to_wall_seconds(delay))
            outcome = await self._attempt(push)
            self.history.record(
                "push_out",
                push.operation,
                outcome,
                push.entity,
                {"attempt": attempt, "url": push.url, "body": push.payload_for_history},
            )
            if outcome == "ok":
                self.delivered += 1
                return
        self.abandoned += 1

    async def _attempt(self, push: Push) -> str:
        async with self._slots:
            try:
                reply = await self.sender.post(push, PUSH_TIMEOUT_SECONDS)
            except PushTransportError as exc:
                return f"transport:{exc.kind}"
        if push.accepted(reply):
            return "ok"
        return f"refused:{reply.status_code}"

    async def drain(self, timeout_seconds: float) -> None:
        """Wait for the pushes in flight (bounded); used when a run winds down."""
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=timeout_seconds)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=5)
