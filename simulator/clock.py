"""The one clock of the ecosystem: a SimPy environment that follows the wall clock times a scale."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

import simpy

CHINA = ZoneInfo("Asia/Shanghai")
# How long the driver may sleep before looking again: a step a request schedules sooner than
# the driver's planned wake-up runs at most this late. 5 ms rather than 50: the capacity
# bench's call p99 at 1,000 orders/min was 35 ms against 52-54 ms; it costs ~5 % of a core idle.
MAX_DRIVER_NAP_SECONDS = 0.005


class Clock(Protocol):
    """What the fakes and the simulator need of time; a virtual-time clock can come later."""

    env: simpy.Environment
    scale: float
    epoch: datetime

    def catch_up(self) -> None:
        """Run the world up to the current simulated time."""

    def now(self) -> datetime:
        """Simulated now, timezone-aware."""

    def sim_seconds(self) -> float:
        """Simulated seconds since the epoch of the run."""

    def wall(self) -> float:
        """Wall-clock seconds (Unix time), used for latency measurements."""

    def sim_to_wall_seconds(self, sim_seconds: float) -> float:
        """How many wall seconds a simulated duration lasts."""


class RealtimeClock:
    """Simulated time = epoch + (wall elapsed since start) x scale; SimPy catches up on demand.

    The driver task and every request run in one asyncio event loop, so there are no threads
    and no locks: whoever touches the world first calls `catch_up()`.
    """

    def __init__(self, epoch: datetime, scale: float = 1.0) -> None:
        if scale <= 0:
            raise ValueError("clock scale must be positive")
        if epoch.tzinfo is None:
            epoch = epoch.replace(tzinfo=CHINA)
        self.env = simpy.Environment()
        self.scale = scale
        self.epoch = epoch
        self._started_at: float | None = None  # time stands still until start()
        self._stopping = False

    def start(self) -> None:
        """Let simulated time flow from this wall instant on (call just before traffic starts)."""
        self._started_at = time.monotonic() - self.env.now / self.scale

    def pause(self) -> None:
        """Stop simulated time where it is: requests are still served, nothing new happens."""
        self.catch_up()
        self._started_at = None

    @property
    def started(self) -> bool:
        return self._started_at is not None

    def target_seconds(self) -> float:
        if self._started_at is None:
            return float(self.env.now)
        return (time.monotonic() - self._started_at) * self.scale

    def catch_up(self) -> None:
        target = self.target_seconds()
        if target > self.env.now:
            self.env.run(until=target)
            # `run(until=…)` leaves its stop marker, an event with nothing to do, queued at
            # `now`; drop it, or `peek()` says work is due now and the driver never sleeps.
            if self.env.peek() <= self.env.now:
                self.env.step()

    def sim_seconds(self) -> float:
        return float(self.env.now)

    def now(self) -> datetime:
        return self.epoch + timedelta(seconds=float(self.env.now))

    def wall(self) -> float:
        return time.time()

    def sim_to_wall_seconds(self, sim_seconds: float) -> float:
        return sim_seconds / self.scale

    async def drive(self) -> None:
        """Advance the world as wall time passes, until `stop()`; run as an asyncio task."""
        while not self._stopping:
            self.catch_up()
            next_event = self.env.peek()
            nap = MAX_DRIVER_NAP_SECONDS
            if next_event != float("inf"):
                nap = min(nap, max(0.0, (next_event - self.target_seconds()) / self.scale))
            await asyncio.sleep(nap)

    def stop(self) -> None:
        self._stopping = True


def format_qimen_time(moment: datetime) -> str:
    """`yyyy-MM-dd HH:mm:ss` in China time, as Qimen, Kdniao, 旺店通 and K3 write timestamps."""
    return moment.astimezone(CHINA).strftime("%Y-%m-%d %H:%M:%S")


def parse_qimen_time(text: str) -> datetime:
    """Inverse of `format_qimen_time`; raises ValueError on anything else."""
    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=CHINA)


class ManualClock:
    """A clock that moves only when told to: for unit tests of services and state machines."""

    def __init__(self, epoch: datetime | None = None, scale: float = 60.0) -> None:
        self.env = simpy.Environment()
        self.scale = scale
        self.epoch = epoch or datetime(2026, 11, 10, 20, 0, 0, tzinfo=CHINA)
        self.wall_now = 1_800_000_000.0

    def catch_up(self) -> None:
        """Nothing to do: time moves only by `advance`."""

    def advance(self, sim_seconds: float) -> None:
        """Run the world `sim_seconds` forward; wall time moves by the scaled amount."""
        self.env.run(until=self.env.now + sim_seconds)
        self.wall_now += sim_seconds / self.scale

    def sim_seconds(self) -> float:
        return float(self.env.now)

    def now(self) -> datetime:
        return self.epoch + timedelta(seconds=float(self.env.now))

    def wall(self) -> float:
        return self.wall_now

    def sim_to_wall_seconds(self, sim_seconds: float) -> float:
        return sim_seconds / self.scale
