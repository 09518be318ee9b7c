"""A whole ecosystem served in process over ASGI (or on loopback sockets, `served`), for
tests that walk every fake's routes, and the state and history two sites are compared by."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import AsyncIterator, Collection
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from fake_systems.common.credentials import Credentials
from fake_systems.common.faults import NO_FAULTS
from fake_systems.common.server import ServerGroup
from fake_systems.ecosystem import Ecosystem, NoPushes
from simulator.clock import ManualClock
from simulator.world import World, build_world

SEED = 3


def small_world() -> World:
    """The world every site is built on: three goods, four customers, two owners."""
    return build_world(seed=SEED, sku_count=3, customer_count=4)


@dataclass
class Site:
    """Five fakes of one run folder, each with an httpx client on its app (no sockets)."""

    ecosystem: Ecosystem
    world: World
    clock: ManualClock
    clients: dict[str, httpx.AsyncClient]

    @classmethod
    def open(cls, folder: Path, credentials: Credentials | None = None) -> Site:
        """A fresh site in `folder`; equal `credentials` and the fixed seed make two sites
        answer the same requests alike."""
        folder.mkdir(parents=True, exist_ok=True)
        world = small_world()
        issued = credentials or Credentials.issue([owner.code for owner in world.owners])
        clock = ManualClock()
        ecosystem = Ecosystem.create(
            folder, world, clock, NoPushes(), seed=SEED, credentials=issued, faults=NO_FAULTS
        )
        clients = {
            system: httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://fake"
            )  # type: ignore[arg-type]
            for system, app in ecosystem.apps().items()
        }
        return cls(ecosystem, world, clock, clients)

    @property
    def credentials(self) -> Credentials:
        return self.ecosystem.credentials

    async def close(self) -> None:
        for client in self.clients.values():
            await client.aclose()
        await self.ecosystem.close()


@asynccontextmanager
async def served(site: Site, systems: Collection[str] = ()) -> AsyncIterator[ServerGroup]:
    """The site's apps (those of `systems`, or all five) on free loopback ports
    (`group.urls`), for what only a socket shows: resets, closed connections, answers cut
    or dribbled."""
    group = ServerGroup()
    apps = site.ecosystem.apps()
    await group.start({name: app for name, app in apps.items() if not systems or name in systems})
    try:
        yield group
    finally:
        await group.stop()


def over_socket(request: httpx.Request, base_url: str) -> httpx.Request:
    """The same request (method, path, query, headers, body) sent to `base_url` instead."""
    base = httpx.URL(base_url)
    url = request.url.copy_with(scheme=base.scheme, host=base.host, port=base.port)
    headers = [(k, v) for k, v in request.headers.multi_items() if k.lower() != "host"]
    return httpx.Request(request.method, url, headers=headers, content=request.content)


def state(conn: sqlite3.Connection) -> dict[str, list[tuple[Any, ...]]]:
    """Every table but the history: what a refusal must leave alone."""
    tables = [
        row[0]
        for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        if row[0] != "events" and not row[0].startswith("sqlite_")
    ]
    return {t: [tuple(r) for r in conn.execute(f"SELECT * FROM {t} ORDER BY 1")] for t in tables}


# What the fakes draw at random rather than by seed, masked before two sites are compared:
# uuids (Kdniao's request numbers, K3's user tokens), long hex (K3 session ids, ISO message
# ids, the bank's token hashes) and the bank's session tokens.
RANDOM = (
    re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"),
    re.compile(r"[0-9a-f]{20,}"),
    re.compile(r'(?<="session_token":")[^"]*'),
)


def unrandom(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    for pattern in RANDOM:
        value = pattern.sub("<random>", value)
    return value


def comparable(response: httpx.Response) -> tuple[int, str]:
    return response.status_code, unrandom(response.text)


def comparable_state(conn: sqlite3.Connection) -> dict[str, list[tuple[Any, ...]]]:
    return {
        table: [tuple(unrandom(cell) for cell in row) for row in rows]
        for table, rows in state(conn).items()
    }


def history_since(conn: sqlite3.Connection, seq: int) -> list[tuple[Any, ...]]:
    """(kind, operation, entity, outcome) of the history rows after `seq`."""
    rows = conn.execute(
        "SELECT kind, operation, entity, outcome FROM events WHERE seq > ? ORDER BY seq", (seq,)
    )
    return [tuple(unrandom(cell) for cell in row) for row in rows]


def last_seq(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT COALESCE(MAX(seq), 0) FROM events").fetchone()[0])
