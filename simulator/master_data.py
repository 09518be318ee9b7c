"""Master-data changes the simulated business makes in the ERP, in simulated time: new
materials, renames, new retail prices, new barcodes, discontinued materials (issue 13).

Each kind comes at its own rate per simulated day (`master_data:` in the scenario), as one
Poisson process whose arrivals pick their kind in proportion to the rates. The connector
carries each change to the WMS's item and the OMS's goods (docs/CONTRACT.md, "Master data").

What the rest of the world makes of them (docs/DECISIONS.md, "Master-data changes"):
- a discontinued material is taken off the shops at once: the demand model stops drawing it
  (its `withdrawn` set), whatever the OMS says; at least half the world's catalogue stays on
  sale;
- a new material is listed but not sold: it has no stock anywhere and procurement reviews only
  the items the warehouses stock;
- renames and price changes do not change what the platforms' orders say (their own listing).

Draws come from a stream of their own (`master-data-<seed>`), so turning this on changes no
other traffic but the demand for discontinued materials.
"""

from __future__ import annotations

import random
from collections.abc import Generator
from dataclasses import dataclass
from typing import cast

import simpy

from fake_systems.erp.master_data import ChangeKind, MaterialChange
from fake_systems.erp.service import ErpService
from fake_systems.oms.service import OmsService
from fake_systems.wms.service import WmsService
from simulator.scenario import MasterDataSettings
from simulator.world import CATEGORIES, World, barcode_of, category_label

DAY = 86_400.0
QUIET_START_SECONDS = 60.0


@dataclass
class Material:
    """What the business knows of one of its materials (the ERP has the same)."""

    number: str
    name: str
    category: str
    price_cents: int
    barcode_generation: int = 0
    renames: int = 0
    active: bool = True


class MasterDataChanges:
    """The business's master-data process (SimPy) over the ERP service; counts the changes."""

    def __init__(
        self,
        env: simpy.Environment,
        world: World,
        settings: MasterDataSettings,
        erp: ErpService,
        wms: WmsService,
        oms: OmsService,
        seed: int,
        withdrawn: set[str],
    ) -> None:
        self.env = env
        self.world = world
        self.settings = settings
        self.erp = erp
        self.wms = wms
        self.oms = oms
        self.random = random.Random(f"master-data-{seed}")
        self.withdrawn = withdrawn
        self.materials = {
            sku.item_code: Material(sku.item_code, sku.name, sku.category, sku.price_cents)
            for sku in world.skus
        }
        self.changed: set[str] = set()
        self.unsynced = 0  # as `pending` last saw it: the report comes after the fakes close
        self.stats: dict[str, int] = {kind: 0 for kind in settings.per_day}
        self.stats["skipped"] = 0

    def start(self, until_seconds: float) -> simpy.events.Process:
        return self.env.process(self._play(until_seconds))

    def _play(self, until_seconds: float) -> Generator[simpy.events.Event, object, None]:
        rates = self.settings.per_day
        kinds = [kind for kind, rate in rates.items() if rate > 0]
        total = sum(rates[kind] for kind in kinds) / DAY
        if total <= 0:
            return
        start = self.env.now
        # The catalogue is loaded into the three systems at the start; the business's first
        # change comes later, so no connector can mistake it for part of that load.
        yield self.env.timeout(QUIET_START_SECONDS)
        while True:
            wait = self.random.expovariate(total)
            if self.env.now + wait - start >= until_seconds:
                return
            yield self.env.timeout(wait)
            kind = self.random.choices(kinds, [rates[k] for k in kinds])[0]
            self.change(cast(ChangeKind, kind))

    def change(self, kind: ChangeKind) -> str | None:
        """Make one change of `kind` in the ERP now; the material's number, or None when
        there is nothing to change (no active material, or the catalogue at its floor)."""
        if kind == "new":
            material = self._new_material()
            change = MaterialChange(
                "new",
                name=material.name,
                barcode=barcode_of(material.number),
                price_cents=material.price_cents,
                category=material.category,
            )
        else:
            active = sorted(number for number, m in self.materials.items() if m.active)
            on_sale = sum(1 for sku in self.world.skus if self.materials[sku.item_code].active)
            if not active or (kind == "discontinue" and on_sale <= len(self.world.skus) // 2):
                self.stats["skipped"] += 1
                return None
            material = self.materials[self.random.choice(active)]
            change = self._change_of(kind, material)
        self.erp.change_material(material.number, change)
        if kind == "discontinue":
            material.active = False
            self.withdrawn.add(material.number)
        self.changed.add(material.number)
        self.stats[kind] += 1
        return material.number

    def _new_material(self) -> Material:
        category = self.random.choice(sorted(CATEGORIES))
        low, high, _, _ = CATEGORIES[category]
        number = str(self.random.randrange(10**15, 10**16))
        while number in self.materials:
            number = str(self.random.randrange(10**15, 10**16))
        serial = len(self.materials) + 1
        material = Material(
            number,
            f"新品{serial}号{category_label(category)}",
            category,
            self.random.randint(low, high) * 100,
        )
        self.materials[number] = material
        return material

    def _change_of(self, kind: ChangeKind, material: Material) -> MaterialChange:
        """The change of an existing material, applied to the business's own record of it."""
        if kind == "rename":
            material.renames += 1
            base = material.name.split("（")[0]
            material.name = f"{base}（{material.renames}代）"
            return MaterialChange("rename", name=material.name)
        if kind == "price":
            factor = self.random.uniform(0.8, 1.2)
            material.price_cents = max(100, round(material.price_cents * factor / 100) * 100 - 1)
            return MaterialChange("price", price_cents=material.price_cents)
        if kind == "barcode":
            material.barcode_generation += 1  # 0 is the world's barcode
            return MaterialChange(
                "barcode", barcode=barcode_of(material.number, material.barcode_generation)
            )
        return MaterialChange("discontinue")

    @property
    def pending(self) -> int:
        """Changed materials the WMS or the OMS does not show as the ERP has them yet (the
        drain waits for them, bounded by its timeout: a connector that ignores changes keeps
        them)."""
        if not self.changed:
            return 0
        numbers = sorted(self.changed)
        marks = ", ".join("?" for _ in numbers)
        erp = {
            str(row[0]): (str(row[1]), str(row[2]), int(row[3]), int(row[4]))
            for row in self.erp.conn.execute(
                "SELECT number, name, barcode, price_cents, is_sale FROM bd_material"
                f" WHERE number IN ({marks})",
                numbers,
            )
        }
        wms = {
            str(row[0]): (row[1], row[2])
            for row in self.wms.conn.execute(
                f"SELECT item_code, name, bar_code FROM items WHERE item_code IN ({marks})",
                numbers,
            )
        }
        oms = {
            str(row[0]): (row[1], row[2], int(row[3]), int(row[4]) > 0)
            for row in self.oms.conn.execute(
                "SELECT spec_no, goods_name, barcode, price_cents, deleted FROM goods"
                f" WHERE spec_no IN ({marks})",
                numbers,
            )
        }
        behind = 0
        for number, (name, barcode, price, on_sale) in erp.items():
            discontinued = not on_sale
            in_wms = discontinued or wms.get(number) == (name, barcode)
            in_oms = oms.get(number) == (name, barcode, price, discontinued) or (
                discontinued and number not in oms
            )
            behind += not (in_wms and in_oms)
        self.unsynced = behind
        return behind

    def report(self) -> dict[str, int]:
        return {**self.stats, "materials_changed": len(self.changed), "unsynced": self.unsynced}
