"""A whole ecosystem served in process over ASGI, for tests that walk every fake's routes."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import httpx

from fake_systems.common.credentials import Credentials
from fake_systems.common.faults import NO_FAULTS
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
