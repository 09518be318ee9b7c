"""What every fake's service is built from: database, history, pushes, faults, clock, dice."""

from __future__ import annotations

import random
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from fake_systems.common.faults import FaultInjector
from fake_systems.common.storage import History, after_transaction, open_database
from fake_systems.common.webhooks import PushSender, WebhookDispatcher
from simulator.clock import Clock
from simulator.fault_plan import clock_skew_seconds


@dataclass
class SystemContext:
    name: str
    conn: sqlite3.Connection
    clock: Clock
    history: History
    dispatcher: WebhookDispatcher
    faults: FaultInjector
    seed: int = 0

    @classmethod
    def create(
        cls,
        name: str,
        run_dir: Path,
        clock: Clock,
        sender: PushSender,
        seed: int,
        faults: FaultInjector | None = None,
    ) -> SystemContext:
        """Open `<run_dir>/<name>.db` and wire the shared machinery for one system; `faults`
        is the plan, of which this system keeps its own rules in an injector of its own."""
        conn = open_database(run_dir / f"{name}.db")
        history = History(conn, clock)
        # Each fake owns its injector (its rules added and removed live by /_fake/faults).
        own_faults = (FaultInjector([], seed) if faults is None else faults).for_system(name)
        return cls(
            name=name,
            conn=conn,
            clock=clock,
            history=history,
            dispatcher=WebhookDispatcher(history, clock, sender, system=name, faults=own_faults),
            faults=own_faults,
            seed=seed,
        )

    def dice(self, *key: object) -> random.Random:
        """Dice of one entity's own (a delivery order, a parcel), named by `key` and seeded by
        the run's seed and the system's name: what it draws does not depend on which entities
        came before it, so a connector's timing (which order reaches the WMS first) moves no
        other order's work times or parcel's fate, and one system's dice leave the others'
        alone."""
        return random.Random(f"{self.seed}:{self.name}:{':'.join(map(str, key))}")

    # -- the fake's own clock (clock_skew) -------------------------------------------------
    #
    # A real system reads its own clock, which may be off; the simulation's clock never is
    # (history rows, latencies and windows read `clock`). What the fake checks against "now"
    # (a request's timestamp) and what it stamps on what it sends (a push's timestamp or
    # signature time) read these instead.

    def skew(self, operation: str = "*") -> float:
        """Seconds the fake's clock is ahead (negative: behind) now; 0 without a clock_skew
        rule in its window. The first time a rule applies is its `fault` row, with the
        operation that first read the clock."""
        return self._skew(operation)[0]

    def _skew(self, operation: str) -> tuple[float, dict[str, object]]:
        """The skew now, and what its fault rows say of it (the rule's id and its seconds)."""
        found = self.faults.clock_skew(self.name, self.clock.now())
        if found is None:
            return 0.0, {}
        rule, first = found
        seconds = clock_skew_seconds(rule)
        about: dict[str, object] = {"stage": "world", **self.faults.tag(rule), "seconds": seconds}
        if first:
            self._skew_row(operation, about)
        return seconds, about

    def _skew_row(self, operation: str, payload: dict[str, object]) -> None:
        # Kept whether or not the work it happened in commits: a refusal rolls it back.
        after_transaction(
            self.conn, lambda: self.history.record("fault", operation, "clock_skew", None, payload)
        )

    def wall(self, operation: str = "*") -> float:
        """The fake's own wall clock (Unix seconds): the shared one, skewed."""
        return self.clock.wall() + self.skew(operation)

    def now(self, operation: str = "*") -> datetime:
        """The fake's own simulated time, for the times it writes on what it sends."""
        return self.clock.now() + timedelta(seconds=self.skew(operation))

    def stale_by(self, sent: float, tolerance: float, operation: str) -> float | None:
        """How far a request stamped `sent` (Unix seconds) lies from the fake's own clock
        when that is more than `tolerance` seconds (the caller refuses it), else None. A
        refusal only the skew causes (the true clock would have accepted) is a `clock_skew`
        fault row of `operation`, so the report counts what the skew did."""
        skew, about = self._skew(operation)
        offset = sent - (self.clock.wall() + skew)
        if abs(offset) <= tolerance:
            return None
        if skew and abs(sent - self.clock.wall()) <= tolerance:
            self._skew_row(operation, {**about, "refused_offset": round(offset, 3)})
        return offset
