"""Master data (issue 13): every material of the ERP is in the WMS and the OMS as the ERP has
it, a discontinued one is off sale in the OMS, and each change the business made reached both
within the scenario's sync objective (simulated seconds: business time).

Old runs (before the change tables existed) have nothing to check: 0 checked, passed.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from contract_tests.evidence import (
    InvariantResult,
    history,
    result,
    rows_result,
    table_in_run,
    yuan,
)

OBJECTIVE = "master_data_sync_seconds"
DEFAULT_OBJECTIVE_SECONDS = 86_400.0  # the seeds' slowest: 24 hours
TABLES = (
    ("erp", "bd_material"),
    ("erp", "material_changes"),
    ("wms", "item_changes"),
    ("oms", "goods_changes"),
)

DESCRIPTIONS = {
    "master_data_agrees": (
        "every audited, unforbidden ERP material for sale (FIsSale) exists in the WMS (name,"
        " barcode) and on sale in the OMS (name, barcode, retail price) as the ERP has it, a"
        " discontinued one (FIsSale off) is off sale in the OMS, and each master-data change"
        " reached the WMS and the OMS within the master_data_sync_seconds objective (simulated"
        " time)"
    ),
}

# A system's view of a material, compared as tuples: WMS (name, barcode); OMS (name, barcode,
# price in cents, on sale).
State = tuple[Any, ...]


@dataclass
class Material:
    """One ERP material as judged: its state, its changes and each system's timeline."""

    number: str
    name: str
    barcode: str
    price_cents: int
    discontinued: bool
    # (kind, sim time, the WMS's state after it, the OMS's state after it)
    changes: list[tuple[str, str, State, State]] = field(default_factory=list)
    wms: list[tuple[str, State]] = field(default_factory=list)  # (sim time, state)
    oms: list[tuple[str, State]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    late: list[dict[str, Any]] = field(default_factory=list)

    @property
    def wms_expected(self) -> State:
        return (self.name, self.barcode)

    @property
    def oms_expected(self) -> State:
        return (self.name, self.barcode, self.price_cents, not self.discontinued)


def master_data_agrees(
    conn: sqlite3.Connection, objectives: Mapping[str, float]
) -> InvariantResult:
    name = "master_data_agrees"
    if not all(table_in_run(conn, schema, table) for schema, table in TABLES):
        return result(name, DESCRIPTIONS[name], 0, 0, [])
    objective = float(objectives.get(OBJECTIVE, DEFAULT_OBJECTIVE_SECONDS))
    materials = _materials(conn)
    for material in materials.values():
        _judge(material, objective)

    def example(material: Material, problems: list[str]) -> dict[str, Any]:
        wms = material.wms[-1][1] if material.wms else None
        oms = material.oms[-1][1] if material.oms else None
        return {
            "entity": material.number,
            "problem": "; ".join(problems),
            "expected": {
                "name": material.name,
                "barcode": material.barcode,
                "retail_price": yuan(material.price_cents),
                "on_sale": not material.discontinued,
            },
            "observed": {
                "wms": None if wms is None else {"name": wms[0], "barcode": wms[1]},
                "oms": None
                if oms is None
                else {
                    "name": oms[0],
                    "barcode": oms[1],
                    "retail_price": yuan(oms[2]),
                    "on_sale": oms[3],
                },
            },
            "late": material.late,
            "history": history(conn, ("erp", "wms", "oms"), (material.number,)),
        }

    return rows_result(
        name,
        DESCRIPTIONS[name],
        list(materials.values()),
        lambda material: material.problems,
        example,
    )


def _materials(conn: sqlite3.Connection) -> dict[str, Material]:
    materials = {
        str(row[0]): Material(str(row[0]), str(row[1]), str(row[2]), int(row[3]), not row[4])
        for row in conn.execute(
            "SELECT number, name, barcode, price_cents, is_sale FROM erp.bd_material"
            " WHERE document_status = 'C' AND forbid_status = 'A' ORDER BY number"
        )
    }
    for number, kind, at, name, barcode, price, on_sale in conn.execute(
        "SELECT number, change, changed_sim, name, barcode, price_cents, is_sale"
        " FROM erp.material_changes ORDER BY seq"
    ):
        material = materials.get(str(number))
        if material is not None:
            wms: State = (name, barcode)
            oms: State = (name, barcode, int(price), bool(on_sale))
            material.changes.append((str(kind), str(at), wms, oms))
    for number, at, name, barcode in conn.execute(
        "SELECT item_code, changed_sim, name, bar_code FROM wms.item_changes ORDER BY seq"
    ):
        if str(number) in materials:
            materials[str(number)].wms.append((str(at), (name, barcode or "")))
    for number, at, name, barcode, price, deleted in conn.execute(
        "SELECT spec_no, changed_sim, goods_name, barcode, price_cents, deleted"
        " FROM oms.goods_changes ORDER BY seq"
    ):
        if str(number) in materials:
            materials[str(number)].oms.append(
                (str(at), (name, barcode, int(price), int(deleted) == 0))
            )
    return materials


def _judge(material: Material, objective: float) -> None:
    """The end state first, then how long each change took to reach each system."""
    problems = material.problems
    wms = material.wms[-1][1] if material.wms else None
    oms = material.oms[-1][1] if material.oms else None
    if material.discontinued:
        if oms is not None and oms[3]:
            problems.append("discontinued but on sale in the OMS")
    else:
        if wms is None:
            problems.append("missing in the WMS")
        elif wms != material.wms_expected:
            problems.append("WMS item differs")
        if oms is None:
            problems.append("missing in the OMS")
        elif not oms[3]:
            problems.append("off sale in the OMS")
        elif oms != material.oms_expected:
            problems.append("OMS goods differ")
    for system, timeline in (("WMS", material.wms), ("OMS", material.oms)):
        states = [change[2] if system == "WMS" else change[3] for change in material.changes]
        for i, (kind, at, _, _) in enumerate(material.changes):
            if system == "WMS" and kind == "discontinue":
                continue  # the WMS keeps a discontinued item: nothing to carry
            # Reached when the system shows this state or a later one (a change superseded
            # before it was carried is carried by the later one).
            wanted = set(states[i:])
            took = _propagation_seconds(timeline, at, wanted)
            if took is not None and took > objective:
                material.late.append(
                    {"change": kind, "at": at, "system": system, "after_seconds": took}
                )
                if f"late to the {system}" not in problems:
                    problems.append(f"late to the {system}")


def _propagation_seconds(
    timeline: list[tuple[str, State]], at: str, wanted: set[State]
) -> float | None:
    """Simulated seconds from `at` until the system first showed a wanted state (0 when it
    already did); None when it never did (the end state reports that)."""
    before = [state for time, state in timeline if time <= at]
    if before and before[-1] in wanted:
        return 0.0
    for time, state in timeline:
        if time > at and state in wanted:
            return (datetime.fromisoformat(time) - datetime.fromisoformat(at)).total_seconds()
    return None


CHECKS = (master_data_agrees,)
