"""The realtime clock: frozen until started, then simulated = wall elapsed x scale."""

from __future__ import annotations

from datetime import datetime

import pytest

from simulator import clock as clock_module
from simulator.clock import CHINA, RealtimeClock, format_qimen_time, parse_qimen_time


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def monotonic(monkeypatch: pytest.MonkeyPatch) -> FakeMonotonic:
    fake = FakeMonotonic()
    monkeypatch.setattr(clock_module.time, "monotonic", fake)
    return fake


def test_time_stands_still_until_started(monotonic: FakeMonotonic) -> None:
    clock = RealtimeClock(datetime(2026, 11, 11, 0, 0, tzinfo=CHINA), scale=60)
    monotonic.now += 10
    clock.catch_up()
    assert clock.sim_seconds() == 0


def test_simulated_time_follows_wall_times_scale(monotonic: FakeMonotonic) -> None:
    clock = RealtimeClock(datetime(2026, 11, 11, 0, 0, tzinfo=CHINA), scale=60)
    clock.start()
    monotonic.now += 2.5
    clock.catch_up()
    assert clock.sim_seconds() == pytest.approx(150)
    assert format_qimen_time(clock.now()) == "2026-11-11 00:02:30"


def test_catch_up_runs_due_processes_at_their_simulated_time(monotonic: FakeMonotonic) -> None:
    clock = RealtimeClock(datetime(2026, 11, 11, 0, 0, tzinfo=CHINA), scale=10)
    fired: list[float] = []

    def process():  # type: ignore[no-untyped-def]
        yield clock.env.timeout(30)
        fired.append(clock.env.now)

    clock.env.process(process())
    clock.start()
    monotonic.now += 2.0  # 20 simulated seconds: not yet
    clock.catch_up()
    assert fired == []
    monotonic.now += 2.0  # 40 simulated seconds
    clock.catch_up()
    assert fired == [30]


def test_after_catching_up_the_next_event_is_the_real_one(monotonic: FakeMonotonic) -> None:
    # The driver sleeps until `peek()`; SimPy's run(until=…) leaves a no-op stop marker at
    # `now`, which made it wake at once, forever: a core at 100 % with nothing to do.
    clock = RealtimeClock(datetime(2026, 11, 11, 0, 0, tzinfo=CHINA), scale=1)

    def process():  # type: ignore[no-untyped-def]
        while True:
            yield clock.env.timeout(0.1)

    clock.env.process(process())
    clock.start()
    for step in range(1, 6):
        monotonic.now += 0.01
        clock.catch_up()
        assert clock.sim_seconds() == pytest.approx(0.01 * step)
        assert clock.env.peek() == pytest.approx(0.1)


def test_scale_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        RealtimeClock(datetime(2026, 11, 11, tzinfo=CHINA), scale=0)


def test_qimen_time_round_trip() -> None:
    moment = datetime(2026, 11, 11, 0, 0, 5, tzinfo=CHINA)
    assert parse_qimen_time(format_qimen_time(moment)) == moment
    with pytest.raises(ValueError):
        parse_qimen_time("2026/11/11")
