"""What every fake's service is built from: database, history, pushes, faults, clock, dice."""

from __future__ import annotations

import random
import sqlite3
import zlib
from dataclasses import dataclass
from pathlib import Path

from fake_systems.common.faults import FaultInjector
from fake_systems.common.storage import History, open_database
from fake_systems.common.webhooks import PushSender, WebhookDispatcher
from simulator.clock import Clock


@dataclass
class SystemContext:
    name: str
    conn: sqlite3.Connection
    clock: Clock
    history: History
    dispatcher: WebhookDispatcher
    faults: FaultInjector
    random: random.Random

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
        # Each system rolls its own dice, so adding randomness to one leaves the others' alone.
        rng = random.Random(seed * 1_000_003 + zlib.crc32(name.encode()))
        # Each fake owns its injector (its rules added and removed live by /_fake/faults).
        own_faults = (FaultInjector([], seed) if faults is None else faults).for_system(name)
        return cls(
            name=name,
            conn=conn,
            clock=clock,
            history=history,
            dispatcher=WebhookDispatcher(history, clock, sender, system=name, faults=own_faults),
            faults=own_faults,
            random=rng,
        )
