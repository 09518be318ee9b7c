"""Live progress of a run: a rich panel on a terminal, a plain line every few seconds elsewhere."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from types import TracebackType

from rich.console import Console
from rich.live import Live
from rich.table import Table

PLAIN_LINE_EVERY_SECONDS = 5.0


@dataclass
class Snapshot:
    """What a run looks like at one moment."""

    phase: str
    wall_elapsed: float
    sim_now: str
    counts: dict[str, int] = field(default_factory=dict)
    violations: int = 0
    expected_orders: int = 0

    def orders_per_minute(self) -> float:
        return (
            self.counts.get("created", 0) / self.wall_elapsed * 60.0 if self.wall_elapsed else 0.0
        )


class ProgressDisplay:
    """Context manager; `show(snapshot)` as often as you like."""

    def __init__(self, console: Console, title: str) -> None:
        self.console = console
        self.title = title
        self._live: Live | None = None
        self._last_line = 0.0

    def __enter__(self) -> ProgressDisplay:
        if self.console.is_terminal:
            self._live = Live(console=self.console, refresh_per_second=4, transient=False)
            self._live.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._live is not None:
            self._live.__exit__(exc_type, exc, tb)

    def show(self, snapshot: Snapshot) -> None:
        if self._live is not None:
            self._live.update(self._table(snapshot))
            return
        now = time.monotonic()
        if now - self._last_line >= PLAIN_LINE_EVERY_SECONDS or snapshot.phase == "done":
            self._last_line = now
            self.console.print(self._line(snapshot), highlight=False)

    def _table(self, snap: Snapshot) -> Table:
        c = snap.counts
        table = Table(title=f"{self.title} — {snap.phase}", title_justify="left", expand=False)
        for column in (
            "wall",
            "simulated",
            "created",
            "at WMS",
            "shipped",
            "invoiced",
            "delivered",
            "backlog",
            "orders/min",
            "violations",
        ):
            table.add_column(column, justify="right")
        created = f"{c.get('created', 0)}"
        if snap.expected_orders:
            created += f" / ~{snap.expected_orders}"
        if c.get("cancelled"):  # only scenarios with cancellations have any
            created += f" ({c['cancelled']} cancelled)"
        table.add_row(
            f"{snap.wall_elapsed:5.1f}s",
            snap.sim_now,
            created,
            str(c.get("at_wms", 0)),
            str(c.get("shipped", 0)),
            str(c.get("invoiced", 0)),
            str(c.get("delivered", 0)),
            str(c.get("backlog", 0)),
            f"{snap.orders_per_minute():,.0f}",
            f"[red]{snap.violations}[/red]" if snap.violations else "0",
        )
        return table

    @staticmethod
    def _line(snap: Snapshot) -> str:
        c = snap.counts
        return (
            f"[{snap.wall_elapsed:6.1f}s {snap.phase:>8}] sim {snap.sim_now}"
            f"  created {c.get('created', 0)}"
            + (f" ({c['cancelled']} cancelled)" if c.get("cancelled") else "")
            + f"  at_wms {c.get('at_wms', 0)}"
            f"  shipped {c.get('shipped', 0)}  invoiced {c.get('invoiced', 0)}"
            f"  delivered {c.get('delivered', 0)}  backlog {c.get('backlog', 0)}"
            f"  {snap.orders_per_minute():,.0f}/min  violations {snap.violations}"
        )
