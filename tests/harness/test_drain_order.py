"""The drain asks the world what it has under way before it reads the counts: goods that
arrive while the counts are read (a supplier's delivery received, a transfer reaching its
warehouse) are then still the world's or already the connector's to book, never neither, so
the run does not end before the connector booked them."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from contract_tests.metrics import ORDER_COUNT_KEYS
from contract_tests.run_status import DRAIN_ENDED, DRAIN_STALLED
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
    monkeypatch.setattr(watch, "_stock_behind", lambda: 0)
    await watch.drain(timeout=5.0, stall_timeout=5.0, world_busy=lambda: world.on_road)
    assert watch.drained == DRAIN_ENDED
    assert world.unbooked == 0 and world.readings == 4  # ended on the first reading after


def finished_watch(
    monkeypatch: pytest.MonkeyPatch, behind: list[int]
) -> tuple[RunWatch, list[int]]:
    """A watch whose counts say every flow is done, and whose OMS stock is `behind` the WMS's
    by these many keys at each look (the last repeated); the looks it took."""
    monkeypatch.setattr(runner, "PROGRESS_EVERY_SECONDS", 0.0)
    watch = RunWatch.__new__(RunWatch)
    watch.show = lambda snap: None
    watch.drained = None
    looks: list[int] = []

    async def snapshot(phase: str) -> SimpleNamespace:
        return SimpleNamespace(counts=dict.fromkeys(ORDER_COUNT_KEYS, 0))

    def stock_behind() -> int:
        looks.append(behind[min(len(looks), len(behind) - 1)])
        return looks[-1]

    monkeypatch.setattr(watch, "snapshot", snapshot)
    monkeypatch.setattr(watch, "_stock_behind", stock_behind)
    return watch, looks


@pytest.mark.anyio
async def test_the_drain_waits_for_the_oms_stock_to_catch_up(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every flow booked, but the connector's last stock push still being retried: the run
    ends once the OMS has caught up (stop 23's flaky-WMS run ended first and failed the
    ledgers at the end)."""
    watch, looks = finished_watch(monkeypatch, [3, 1, 0])
    await watch.drain(timeout=5.0, stall_timeout=5.0)
    assert watch.drained == DRAIN_ENDED
    assert looks == [3, 1, 0]


@pytest.mark.anyio
async def test_an_oms_stock_that_never_catches_up_stalls_the_drain(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    watch, looks = finished_watch(monkeypatch, [2])
    await watch.drain(timeout=5.0, stall_timeout=0.2)
    assert watch.drained == DRAIN_STALLED
    assert len(looks) > 1 and set(looks) == {2}


class SteppingClock:
    """`time.monotonic` for the drain: each look moves it on by `step` seconds."""

    def __init__(self, step: float) -> None:
        self.now, self.step = 0.0, step

    def monotonic(self) -> float:
        self.now += self.step
        return self.now


@pytest.mark.parametrize("retrying", [True, False])
@pytest.mark.anyio
async def test_a_connector_retrying_into_faults_keeps_the_drain_from_stalling(
    monkeypatch: pytest.MonkeyPatch, retrying: bool
) -> None:
    """A step left unfinished, its tries meeting faults for a (clock) second, further apart
    than nothing: the stall window counts from the last fault, not from the last finished
    flow (stop 26: the flaky WMS's create cut short between its fifth and sixth try)."""
    watch, looks = finished_watch(monkeypatch, [2])
    clock = SteppingClock(step=0.01)
    monkeypatch.setattr(runner, "time", clock)
    fired = 0

    def faults_fired() -> int:
        nonlocal fired
        if retrying and clock.now < 1.0 and len(looks) % 5 == 0:
            fired += 1  # a try every fifth look (0.1 s or so apart), for a second
        return fired

    await watch.drain(timeout=10.0, stall_timeout=0.3, faults_fired=faults_fired)
    assert watch.drained == DRAIN_STALLED
    if retrying:
        assert fired > 5 and 1.15 <= clock.now < 1.5  # the last try near 0.9 s, + 0.3
    else:
        assert clock.now < 0.5
