"""The warehouse's inventory snapshot, taken every 30 simulated minutes while the business
runs (the seeds' "WMS pushes an inventory snapshot every 30 min"), and the OMS's stock at the
same instant (the harness's recording, for the three-ledger check); no draw, so adding them
changes no traffic."""

from __future__ import annotations

from collections.abc import Generator

import simpy

from fake_systems.oms.service import OmsService
from fake_systems.wms.service import WmsService
from fake_systems.wms.snapshots import SNAPSHOT_SECONDS


def play_snapshots(
    env: simpy.Environment,
    wms: WmsService,
    oms: OmsService,
    until_seconds: float,
    every_seconds: float = SNAPSHOT_SECONDS,
) -> simpy.events.Process:
    """A SimPy process taking a snapshot every `every_seconds` from one period after now
    until `until_seconds` have passed: the WMS's, then the OMS's under the same id, with
    nothing in between (one step of the event loop)."""

    def run() -> Generator[simpy.events.Event, object, None]:
        start = env.now
        while True:
            yield env.timeout(every_seconds)
            if env.now - start > until_seconds:
                return
            oms.snapshots.take(wms.snapshots.take())

    return env.process(run())
