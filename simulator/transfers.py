"""Transfers between warehouses the simulated business plays (issue 13): the warehouse ships
some surplus stock of one cargo owner's items to another warehouse, in simulated time, and the
goods arrive some hours later, now and then with units lost on the way.

About `per_hour` times a simulated hour (exponential gaps) a transfer starts: a sending
warehouse, a receiving one and a cargo owner drawn at random; up to `max_lines` of that
owner's items (an item's owner is its supplier's) with at least `min_available` units
available at the sender, each moving `move_share` of them. The WMS ships it at once (DBCK,
stockout.confirm) and, `transit_hours` later, receives it at the other warehouse (DBRK,
entryorder.confirm) less the loss: a `loss_rate` share of transfers lose up to `loss_share`
of one line's units. The connector books both legs and the loss in the ERP
(docs/CONTRACT.md, "Transfers between warehouses").

Draws come from streams of their own (`transfers-<seed>` for the times, `transfers-lines-
<seed>` for the rest), so adding transfers changes no other traffic, and the times do not
depend on the stock. What a transfer carries does: the stock at that moment moves with the
connector's pace, as procurement's purchase orders do.
"""

from __future__ import annotations

import math
import random
from collections.abc import Generator

import simpy

from fake_systems.wms.models import WmsError
from fake_systems.wms.service import WmsService
from simulator.scenario import TransferSettings
from simulator.world import World


class Transfers:
    """The transfer process and each transfer's journey, as SimPy processes; counts them."""

    def __init__(
        self,
        env: simpy.Environment,
        world: World,
        settings: TransferSettings,
        wms: WmsService,
        seed: int,
    ) -> None:
        self.env = env
        self.world = world
        self.settings = settings
        self.wms = wms
        # When transfers start comes from a stream of its own: what they carry depends on the
        # stock at that moment (which the connector's pace moves), their times must not.
        self.clock_random = random.Random(f"transfers-{seed}")
        self.random = random.Random(f"transfers-lines-{seed}")
        self.stats = {"shipped": 0, "arrived": 0, "with_loss": 0, "units_lost": 0, "skipped": 0}
        # Transfers whose goods are still on the road (counted here: the report is made
        # after the databases are closed).
        self.on_road = 0

    def start(self, until_seconds: float) -> simpy.events.Process:
        return self.env.process(self._plan(until_seconds))

    def _plan(self, until_seconds: float) -> Generator[simpy.events.Event, object, None]:
        start = self.env.now
        while True:
            gap = self.clock_random.expovariate(self.settings.per_hour / 3600.0)
            yield self.env.timeout(gap)
            if self.env.now - start >= until_seconds:
                return
            self.ship()

    def ship(self) -> str | None:
        """Start one transfer now; its code, or None when nothing is worth moving."""
        s = self.settings
        warehouses = [w.code for w in self.world.warehouses]
        if len(warehouses) < 2:
            return None
        src, dst = self.random.sample(warehouses, 2)
        owner = self.random.choice(self.world.owners).code
        candidates = [
            (str(item), int(available))
            for item, available in self.wms.conn.execute(
                "SELECT item_code, on_hand - reserved FROM stock WHERE warehouse_code = ?"
                " AND on_hand - reserved >= ? ORDER BY item_code",
                (src, s.min_available),
            )
            if self.world.supplier_of(str(item)).owner_code == owner
        ]
        if not candidates:
            self.stats["skipped"] += 1
            return None
        chosen = self.random.sample(candidates, min(s.max_lines, len(candidates)))
        lines = [(item, max(1, int(available * s.move_share))) for item, available in chosen]
        code = f"DB{self.stats['shipped'] + self.stats['skipped'] + 1:014d}"
        try:
            self.wms.transfers.ship(owner, code, src, dst, sorted(lines))
        except WmsError:
            self.stats["skipped"] += 1  # sold meanwhile: the business tries again later
            return None
        self.stats["shipped"] += 1
        self.on_road += 1
        low, high = s.transit_hours.as_tuple()
        after = self.random.uniform(low, high) * 3600.0
        # The loss is drawn now, with the rest of the transfer: one draw sequence per transfer.
        self.env.process(self._arrive(owner, code, self.received(dict(lines)), after))
        return code

    def received(self, sent: dict[str, int]) -> dict[str, int]:
        """What arrives of `sent`: all of it, or for a `loss_rate` share of transfers one
        line short by up to `loss_share` of its units (possibly all of them)."""
        received = dict(sent)
        if self.random.random() < self.settings.loss_rate:
            item = self.random.choice(sorted(sent))
            most = max(1, math.ceil(sent[item] * self.settings.loss_share))
            lost = self.random.randint(1, min(most, sent[item]))
            received[item] -= lost
            self.stats["with_loss"] += 1
            self.stats["units_lost"] += lost
        return received

    def _arrive(
        self, owner: str, code: str, received: dict[str, int], after: float
    ) -> Generator[simpy.events.Event, object, None]:
        yield self.env.timeout(after)
        self.on_road -= 1
        if self.wms.transfers.arrive(owner, code, received):
            self.stats["arrived"] += 1

    @property
    def pending(self) -> int:
        """Transfers on the road (the drain waits for them to arrive)."""
        return self.on_road

    def report(self) -> dict[str, int]:
        return {**self.stats, "in_transit": self.pending}
