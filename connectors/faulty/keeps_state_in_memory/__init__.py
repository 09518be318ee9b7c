"""Faulty connector, defect "state kept in memory": its store is SQLite `:memory:`.

Everything the reference keeps on disk (the trades it took, each step's progress, the pushes
it acknowledged, the poll cursor) dies with the process. After a crash it polls from the
start of the run again, so it finds the trades still waiting to ship; but a WMS confirm it
acknowledged before the crash is never sent again, so the restarted process no longer knows
those orders shipped, and when their parcels are signed for it never completes them in the
OMS: `delivered_orders_completed` must catch it in a scenario with a crash.
"""

from __future__ import annotations

from pathlib import Path

from connectors.reference.connector import Connector
from connectors.reference.store import StateStore

IN_MEMORY = Path(":memory:")


class KeepsStateInMemoryConnector(Connector):
    """The reference connector whose state lives and dies with its process."""

    def open_store(self) -> StateStore:
        return StateStore(IN_MEMORY)
