"""Connector crash and restart: a scenario's `crashes:` played on the simulated timeline.

Between crashes the connector is watched as in any run: an exit nobody planned stops the run
(simulator/stopping.py). A planned one is expected: the watch is put aside, the process group
gets the signal (SIGKILL: dies at once; SIGTERM: a graceful stop), and `restart_after`
simulated seconds later the same command starts again with the same environment and state
folder; the watch resumes once it answers its readiness URL. Each crash is recorded in
run-status.json, and from there in the reports (docs/CHAOS.md, "Connector crash and restart").
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from contract_tests.run_status import CONNECTOR_EXITED, RunStatus
from simulator.clock import RealtimeClock, format_qimen_time
from simulator.connector import ConnectorError, ConnectorProcess
from simulator.scenario import CrashSettings
from simulator.stopping import RunStop, describe_exit

SIGNALS = {"KILL": signal.SIGKILL, "TERM": signal.SIGTERM}
# The longest nap while waiting for a crash's time: the clock may be paused or restarted, so
# one long sleep computed up front could overshoot.
WAKE_SECONDS = 0.05


@dataclass
class CrashRecord:
    """One crash as it happened: when (simulated and wall), how, and how long the connector
    took to serve again (from the signal to its readiness URL answering)."""

    index: int
    signal: str
    planned_at_sim_seconds: float
    restart_after_sim_seconds: float
    killed_sim: str | None = None
    killed_wall: float | None = None
    exit_code: int | None = None
    restarted_wall: float | None = None
    ready_wall: float | None = None
    error: str | None = None

    @property
    def down_wall_seconds(self) -> float | None:
        if self.killed_wall is None or self.ready_wall is None:
            return None
        return round(self.ready_wall - self.killed_wall, 3)

    def as_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "signal": f"SIG{self.signal}",
            "planned_at_sim_seconds": self.planned_at_sim_seconds,
            "restart_after_sim_seconds": self.restart_after_sim_seconds,
            "killed_sim": self.killed_sim,
            "killed_wall": self.killed_wall,
            "exit_code": self.exit_code,
            "exit": None if self.exit_code is None else describe_exit(self.exit_code),
            "restarted_wall": self.restarted_wall,
            "ready_wall": self.ready_wall,
            "down_wall_seconds": self.down_wall_seconds,
            "error": self.error,
        }


class CrashPlayer:
    """Watches the connector and plays the planned crashes in turn; run it as a task and
    cancel it before stopping the connector on purpose (as `RunStop.watch_connector`)."""

    def __init__(
        self,
        connector: ConnectorProcess,
        crashes: Sequence[CrashSettings],
        clock: RealtimeClock,
        stop: RunStop,
        ready_timeout: float,
        on_change: Callable[[], None],
        announce: Callable[[str], None],
    ) -> None:
        self.connector = connector
        self.crashes = crashes
        self.clock = clock
        self.stop = stop
        self.ready_timeout = ready_timeout
        self.on_change = on_change
        self.announce = announce
        self.records: list[CrashRecord] = []

    def describe(self) -> list[dict[str, Any]]:
        return [record.as_dict() for record in self.records]

    async def run(self) -> None:
        for index, crash in enumerate(self.crashes):
            watcher = asyncio.create_task(self.stop.watch_connector(self.connector))
            try:
                await self._until(crash.at)
            finally:
                watcher.cancel()
                await asyncio.wait({watcher})
            if self.stop.requested:
                return  # it died on its own first: the run is stopping
            if not await self._play(index, crash):
                return
        await self.stop.watch_connector(self.connector)

    async def _until(self, at_sim_seconds: float) -> None:
        """Until the simulated clock reaches `at_sim_seconds` (the run cancels this at its end)."""
        while (left := at_sim_seconds - self.clock.target_seconds()) > 0:
            await asyncio.sleep(min(self.clock.sim_to_wall_seconds(left), WAKE_SECONDS))

    async def _play(self, index: int, crash: CrashSettings) -> bool:
        """One crash and restart; False when the connector did not come back (run stopping)."""
        record = CrashRecord(index, crash.signal, crash.at, crash.restart_after)
        self.records.append(record)
        self.clock.catch_up()  # the world up to this instant, so its time is the crash's
        record.killed_sim = format_qimen_time(self.clock.now())
        record.killed_wall = time.time()
        self.announce(f"crash {index}: SIG{crash.signal} to the connector at {record.killed_sim}")
        record.exit_code = await self.connector.kill(SIGNALS[crash.signal])
        self.on_change()
        await asyncio.sleep(self.clock.sim_to_wall_seconds(crash.restart_after))
        record.restarted_wall = time.time()
        try:
            await self.connector.restart(self.ready_timeout)
        except ConnectorError as exc:
            record.error = str(exc)
            self.on_change()
            what = f"the connector did not come back after crash {index}: {exc}"
            self.stop.request(
                RunStatus(CONNECTOR_EXITED, what, connector_log_tail=self.connector.log_tail()),
                f"{what}: stopping the run",
            )
            return False
        record.ready_wall = time.time()
        self.on_change()
        self.announce(
            f"crash {index}: the connector serves again after {record.down_wall_seconds:.1f} s"
        )
        return True
