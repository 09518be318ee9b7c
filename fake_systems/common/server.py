"""Serves several ASGI apps from one event loop, each on its own free port (127.0.0.1 unless
told otherwise), with the /_fake/ control surface guarded (`ControlGuard`)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.types import ASGIApp
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from fake_systems.common.app import ControlGuard, control_token_for
from fake_systems.common.broken import CONNECTION, Connection

STARTUP_TIMEOUT_SECONDS = 15.0
# A request (head and body) must arrive within this many seconds of its first byte, and a new
# connection must start one as soon: a client that dribbles bytes (slowloris) is cut.
REQUEST_TIMEOUT_SECONDS = 20.0


class FakeServerConfig(uvicorn.Config):
    """uvicorn's Config with the request deadline that its protocols lack."""

    def __init__(self, app: ASGIApp, *, request_timeout: float, **kwargs: Any) -> None:
        super().__init__(app, http=RequestDeadlineProtocol, **kwargs)
        self.request_timeout = request_timeout


class RequestDeadlineProtocol(HttpToolsProtocol):
    """httptools' HTTP/1.1 protocol, plus a deadline on reading each request.

    uvicorn times out idle keep-alive connections but not a request that arrives slowly: any
    byte resets its timer, so a client sending its headers a byte at a time held a
    connection, and with enough of them the server, forever. The deadline starts with the
    connection or the first byte of a request and ends when the whole request (head and
    body) has arrived; when it passes, the connection is closed. The app's own time to answer
    is not limited.

    Each request's scope also carries the connection (`extensions["ecomock.connection"]`),
    so that a fault can reset it or close it unanswered (`fake_systems/common/broken.py`).
    """

    def __init__(
        self,
        config: uvicorn.Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.request_timeout: float = getattr(config, "request_timeout", REQUEST_TIMEOUT_SECONDS)
        self._deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._connection = Connection(transport)
        self._arm()  # a connection that never sends a request is cut too

    def on_message_begin(self) -> None:
        super().on_message_begin()
        # ASGI extensions are dicts; this one holds the connection under its own name.
        self.scope["extensions"] = {CONNECTION: {"connection": self._connection}}

    def data_received(self, data: bytes) -> None:
        if self._deadline is None:
            self._arm()
        super().data_received(data)

    def on_message_complete(self) -> None:
        self._disarm()
        super().on_message_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._deadline = self.loop.call_later(self.request_timeout, self._expire)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expire(self) -> None:
        self._deadline = None
        if not self.transport.is_closing():
            self.transport.close()


class EmbeddedServer(uvicorn.Server):
    """A uvicorn server that leaves Ctrl-C and SIGTERM to the program embedding it."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def bind_free_port(host: str = "127.0.0.1", port: int = 0) -> socket.socket:
    """A listening socket on `port` (0: any free one); handing the socket over avoids races."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.setblocking(False)
    return sock


@dataclass
class ServerGroup:
    """The five fakes' servers; `urls` maps each name to its base URL once started.

    `control_token` guards /_fake/; listening beyond loopback without one generates one.
    """

    host: str = "127.0.0.1"
    control_token: str | None = None
    request_timeout: float = REQUEST_TIMEOUT_SECONDS
    urls: dict[str, str] = field(default_factory=dict)
    _servers: list[uvicorn.Server] = field(default_factory=list)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def start(self, apps: dict[str, ASGIApp], ports: dict[str, int] | None = None) -> None:
        self.control_token = control_token_for(self.host, self.control_token)
        for name, app in apps.items():
            sock = bind_free_port(self.host, (ports or {}).get(name, 0))
            port = sock.getsockname()[1]
            config = FakeServerConfig(
                ControlGuard(app, self.control_token),
                request_timeout=self.request_timeout,
                log_level="warning",
                access_log=False,
                lifespan="off",
                timeout_keep_alive=30,
                backlog=2048,
            )
            server = EmbeddedServer(config)
            self._servers.append(server)
            self._tasks.append(asyncio.create_task(server.serve(sockets=[sock])))
            self.urls[name] = f"http://{self.host}:{port}"
        await self._wait_started()

    async def _wait_started(self) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + STARTUP_TIMEOUT_SECONDS
        while not all(server.started for server in self._servers):
            failed = [t for t in self._tasks if t.done()]
            if failed:
                failed[0].result()  # re-raise the server's error
                raise RuntimeError("a fake's server stopped while starting")
            if loop.time() > deadline:
                raise TimeoutError("the fakes' servers did not start in time")
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        for server in self._servers:
            server.should_exit = True
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=10)
