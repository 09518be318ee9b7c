"""Shared fixtures: a manual clock, a per-system context in a temporary run folder, a world.

`make test` runs with `-n <at least 3> --dist loadscope`: a module's tests on one worker, so
that the end-to-end tests sharing a module-scoped run play it once. (`--dist loadgroup` with
`xdist_group` marks, used before, split a module's tests over the workers whatever their
group, measured with pytest-xdist 3.8: test_stock's module run played three times.) An
end-to-end run paces itself by the wall clock and uses about a quarter of a core (an
after-sales run: 9 CPU seconds in 40 wall seconds), so three at once on a 2-core machine leave
the smoke's p99 (0.3 s) far inside its 3 s.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest

from fake_systems.common.context import SystemContext
from fake_systems.common.webhooks import HttpxSender
from simulator.clock import ManualClock
from simulator.world import World, build_world


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture(scope="session")
def world() -> World:
    return build_world(seed=7, sku_count=30, customer_count=50)


@pytest.fixture
def make_context(tmp_path: Path, clock: ManualClock) -> Callable[[str], SystemContext]:
    """`make_context("wms")` opens wms.db in a temporary run folder with the manual clock.

    Its webhook dispatcher sends through a plain httpx client; tests that check pushes
    replace `ctx.dispatcher.sender` with one bound to their receiver (`mock_sender`).
    """
    sender = HttpxSender(httpx.AsyncClient())

    def make(name: str) -> SystemContext:
        return SystemContext.create(name, tmp_path, clock, sender, seed=7)

    return make


@pytest.fixture
async def asgi_client() -> AsyncIterator[Callable[[object], httpx.AsyncClient]]:
    """`asgi_client(app)`: an httpx client that calls an ASGI app in process."""
    clients: list[httpx.AsyncClient] = []

    def make(app: object) -> httpx.AsyncClient:
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://fake")  # type: ignore[arg-type]
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()
