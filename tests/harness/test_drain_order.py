"""The drain asks the world what it has under way before it reads the counts: goods that
arrive while the counts are read (a supplier's delivery received, a transfer reaching its
warehouse) are then still the world's or already the connector's to book, never neither, so
the run does not end before the connector booked them."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from contract_tests.metrics import ORDER_COUNT_KEYS
from contract_tests.run_status import DRAIN_ENDED
from simulator import runner
from simulator.runner import RunWatch


class ArrivingWhileRead:
    """One transfer on the road that arrives while the first counts are read (they show the
    state from before it); the connector books it by the third reading."""

    def __init__(self) -> None:
        self.on_road = 1
        self.unbooked = 0
        self.readings = 0

    async def snapshot(self, phase: str) -> SimpleNamespace:
        counts = dict.fromkeys(ORDER_COUNT_KEYS, 0)
        counts["transfers_unbooked"] = self.unbooked
        self.readings += 1
        if self.on_road:
            self.on_road, self.unbooked = 0, 1  # arrived, after the counts were read
        elif self.readings >= 3:
            self.unbooked = 0  # booked
        return SimpleNamespace(counts=counts)


@pytest.mark.anyio
async def test_the_drain_waits_for_what_arrives_while_the_counts_are_read(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(runner, "PROGRESS_EVERY_SECONDS", 0.0)
    world = ArrivingWhileRead()
    watch = RunWatch.__new__(RunWatch)  # its databases are not needed: the counts are faked
    watch.show = lambda snap: None
    watch.drained = None
    monkeypatch.setattr(watch, "snapshot", world.snapshot)
    await watch.drain(timeout=5.0, stall_timeout=5.0, world_busy=lambda: world.on_road)
    assert watch.drained == DRAIN_ENDED
    assert world.unbooked == 0 and world.readings == 4  # ended on the first reading after
