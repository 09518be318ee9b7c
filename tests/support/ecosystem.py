"""The five fakes in process over a test's folder, without servers: what the simulator's
processes (procurement, transfers, after-sales) act on in the harness tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from fake_systems.common.credentials import Credentials
from fake_systems.common.faults import NO_FAULTS
from fake_systems.common.webhooks import HttpxSender
from fake_systems.ecosystem import Ecosystem
from fake_systems.wms.models import WmsConfig
from simulator.clock import ManualClock
from simulator.world import World


@contextmanager
def in_process(
    run_dir: Path, world: World, clock: ManualClock, wms_config: WmsConfig | None = None
) -> Iterator[Ecosystem]:
    """The ecosystem on `clock`, seed 1, no faults; its databases closed afterwards."""
    run_dir.mkdir(parents=True, exist_ok=True)
    ecosystem = Ecosystem.create(
        run_dir,
        world,
        clock,
        HttpxSender(httpx.AsyncClient()),
        seed=1,
        credentials=Credentials.issue([owner.code for owner in world.owners]),
        faults=NO_FAULTS,
        wms_config=wms_config,
    )
    try:
        yield ecosystem
    finally:
        for ctx in ecosystem.contexts.values():
            ctx.conn.close()
