"""Cycle counts the simulated business plays (issue 13): A items weekly, B monthly, C
quarterly by default, in simulated time; a count finds shrinkage (units gone) and miscounts.

An item's ABC class comes from its popularity rank (by sales, the Zipf rank the demand
draws with; no draw): the `a_share` most popular items are A, the next `b_share` B, the rest
C. Each class has a process: the first count comes at a seeded moment within its period,
then one every period; each time, every warehouse counts every cargo owner's items of that
class (an item's owner is its supplier's), one check order per warehouse and owner. With
`waves` above 1 the count rolls: the class's items (by rank, every `waves`-th one) form that
many groups, one group counted every period / waves, so each item is still counted once a
period (a month sees a third of the quarterly C items with 3). What is
counted is on_hand, less shrinkage for a `shrinkage_rate` share of the items (up to
`shrinkage_share` of their units, at least one) and off by up to `miscount_units` either
way for a `miscount_rate` share. The WMS adjusts its books and reports the differences
(fake_systems/wms/counts.py); the connector books them in the ERP (docs/CONTRACT.md).

Draws come from streams of their own (`counts-<seed>` for the times, `counts-lines-<seed>`
for what is found), so adding counts changes no other traffic.
"""

from __future__ import annotations

import math
import random
from collections.abc import Generator

import simpy

from fake_systems.wms.counts import ABC_CLASSES
from fake_systems.wms.models import WmsError
from fake_systems.wms.service import WmsService
from simulator.scenario import CountSettings
from simulator.world import World


def abc_classes(world: World, settings: CountSettings) -> dict[str, str]:
    """Each item's ABC class by popularity rank (1 = most sold): no draw."""
    ranked = sorted(world.skus, key=lambda sku: (sku.popularity_rank, sku.item_code))
    a_end = max(1, round(len(ranked) * settings.a_share))
    b_end = max(a_end + 1, round(len(ranked) * (settings.a_share + settings.b_share)))
    return {
        sku.item_code: "A" if index < a_end else "B" if index < b_end else "C"
        for index, sku in enumerate(ranked)
    }


class Counts:
    """The count process of each ABC class, as SimPy processes; counts what they found."""

    def __init__(
        self,
        env: simpy.Environment,
        world: World,
        settings: CountSettings,
        wms: WmsService,
        seed: int,
    ) -> None:
        self.env = env
        self.world = world
        self.settings = settings
        self.wms = wms
        self.classes = abc_classes(world, settings)
        # Each item's wave: by rank within its class, round robin, so every wave mixes items
        # of every popularity (`classes` is in rank order).
        ranks: dict[str, int] = {}
        self.waves: dict[str, int] = {}
        for item, abc_class in self.classes.items():
            self.waves[item] = ranks.get(abc_class, 0) % settings.waves
            ranks[abc_class] = ranks.get(abc_class, 0) + 1
        self.clock_random = random.Random(f"counts-{seed}")
        self.random = random.Random(f"counts-lines-{seed}")
        self.stats = {"counts": 0, "items_counted": 0, "shrinkage": 0, "miscounts": 0, "skipped": 0}

    def start(self, until_seconds: float) -> list[simpy.events.Process]:
        return [self.env.process(self._plan(c, until_seconds)) for c in ABC_CLASSES]

    def _plan(
        self, abc_class: str, until_seconds: float
    ) -> Generator[simpy.events.Event, object, None]:
        start = self.env.now
        waves = self.settings.waves
        step = self.settings.period_hours(abc_class) * 3600.0 / waves
        # Classes and warehouses are not all counted at the same moment: a seeded offset.
        yield self.env.timeout(self.clock_random.uniform(0, step))
        wave = 0
        while self.env.now - start < until_seconds:
            self.count_class(abc_class, wave)
            wave = (wave + 1) % waves
            yield self.env.timeout(step)

    def count_class(self, abc_class: str, wave: int = 0) -> int:
        """Count every warehouse's items of `abc_class` in `wave`, one check order per
        warehouse and cargo owner; how many check orders were made."""
        made = 0
        for warehouse in sorted(w.code for w in self.world.warehouses):
            for owner in sorted(o.code for o in self.world.owners):
                items = sorted(
                    item
                    for item, cls in self.classes.items()
                    if cls == abc_class
                    and self.waves[item] == wave
                    and self.world.supplier_of(item).owner_code == owner
                )
                if not items:
                    continue
                counted = [(item, self.found(warehouse, item)) for item in items]
                code = f"PD{abc_class}{self.stats['counts'] + self.stats['skipped'] + 1:013d}"
                try:
                    self.wms.counts.count(owner, code, warehouse, abc_class, counted)
                except WmsError:
                    self.stats["skipped"] += 1  # an item unknown at the warehouse: not counted
                    continue
                self.stats["counts"] += 1
                self.stats["items_counted"] += len(items)
                made += 1
        return made

    def found(self, warehouse: str, item: str) -> int:
        """What a count of `item` finds: on_hand, less shrinkage, off by a miscount."""
        row = self.wms.conn.execute(
            "SELECT on_hand FROM stock WHERE warehouse_code = ? AND item_code = ?",
            (warehouse, item),
        ).fetchone()
        units = 0 if row is None else int(row[0])
        s = self.settings
        if units and self.random.random() < s.shrinkage_rate:
            units -= self.random.randint(1, max(1, math.ceil(units * s.shrinkage_share)))
            self.stats["shrinkage"] += 1
        if self.random.random() < s.miscount_rate:
            units += self.random.choice([-1, 1]) * self.random.randint(1, s.miscount_units)
            self.stats["miscounts"] += 1
        return max(0, units)

    def report(self) -> dict[str, int]:
        return dict(self.stats)
