"""Shared fixtures: a manual clock, a per-system context in a temporary run folder, a world.

Also where end-to-end runs are shared out to xdist workers (`make test` runs with
`-n <at least 3> --dist loadgroup`): in three groups, so that at most three play at once
whatever the number of workers. They pace themselves by the wall clock and judge latency;
each uses about a quarter of a core (an after-sales run: 9 CPU seconds in 40 wall seconds),
so three at once on a 2-core machine leave the smoke's p99 (0.3 s) far inside its 3 s, while
fewer groups make the e2e workers the suite's length (two: 12 minutes, docs/PERFORMANCE.md).
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


E2E_GROUPS = ("e2e-0", "e2e-1", "e2e-2")


def _shared_run(item: pytest.Item) -> str:
    """The module's node id when the item uses a module-scoped fixture (a run its module's tests
    share: in two groups it would play twice), else the item's own."""
    definitions = item._fixtureinfo.name2fixturedefs.values()  # type: ignore[attr-defined]
    if any(defs and defs[-1].scope == "module" for defs in definitions):
        return item.nodeid.split("::")[0]
    return item.nodeid


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The `e2e` tests dealt into the E2E_GROUPS, each played in turn by one worker (before
    xdist reads the groups, hence tryfirst): the tests sharing a module's run together, each
    such module or lone test to the group with the fewest runs so far."""
    units: dict[str, list[pytest.Item]] = {}
    for item in items:
        if item.get_closest_marker("e2e") is not None:
            units.setdefault(_shared_run(item), []).append(item)
    runs = dict.fromkeys(E2E_GROUPS, 0)
    for unit in units.values():
        group = min(E2E_GROUPS, key=runs.__getitem__)
        runs[group] += 1
        for item in unit:
            item.add_marker(pytest.mark.xdist_group(group))
