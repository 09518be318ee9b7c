"""Suppliers' deliveries (到货): the goods of a purchase order as they reach the warehouse,
more, fewer or damaged; a purchase entry order (CGRK) receives what its delivery brought.

The simulator (simulator/procurement.py) says what arrived, in process; the entry order the
connector creates waits in ACCEPT for it (matched by owner and `purchaseOrderCode`, else its
own code), then puts the sound units on hand (ZP) and the damaged ones on `unsaleable_stock`
(CC), and its confirm reports one orderLine per line and inventoryType with what was counted.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass

from fake_systems.common.context import SystemContext
from fake_systems.common.storage import transaction
from fake_systems.wms.events import ReportLine
from simulator.clock import format_qimen_time

SCHEMA = """
CREATE TABLE IF NOT EXISTS supplier_deliveries (
    owner_code TEXT NOT NULL, purchase_order_code TEXT NOT NULL, warehouse_code TEXT NOT NULL,
    supplier_code TEXT, arrived_sim TEXT, arrived_wall REAL,
    inbound_order_id TEXT,  -- the entry order that received it, once confirmed
    PRIMARY KEY (owner_code, purchase_order_code)
);
CREATE TABLE IF NOT EXISTS supplier_delivery_lines (
    owner_code TEXT NOT NULL, purchase_order_code TEXT NOT NULL, item_code TEXT NOT NULL,
    qty INTEGER NOT NULL, damaged INTEGER NOT NULL
);
"""
SOUND, DAMAGED = "ZP", "CC"
PURCHASE_ENTRY = "CGRK"


@dataclass(frozen=True)
class DeliveryLine:
    """Units of one item a supplier delivered, and how many of them arrived damaged."""

    item_code: str
    qty: int
    damaged: int


class Deliveries:
    """The deliveries table and the count of an entry order against its delivery."""

    def __init__(self, ctx: SystemContext) -> None:
        self.ctx = ctx
        self.conn = ctx.conn
        self.conn.executescript(SCHEMA)

    def arrive(
        self,
        owner_code: str,
        purchase_order_code: str,
        warehouse_code: str,
        supplier_code: str,
        lines: Sequence[DeliveryLine],
    ) -> None:
        """A supplier's goods reach the warehouse; a second arrival of the same order is ignored."""
        now_sim, now_wall = format_qimen_time(self.ctx.clock.now()), self.ctx.clock.wall()
        with transaction(self.conn):
            added = self.conn.execute(
                "INSERT OR IGNORE INTO supplier_deliveries VALUES (?, ?, ?, ?, ?, ?, NULL)",
                (owner_code, purchase_order_code, warehouse_code, supplier_code, now_sim, now_wall),
            ).rowcount
            if not added:
                return
            self.conn.executemany(
                "INSERT INTO supplier_delivery_lines VALUES (?, ?, ?, ?, ?)",
                [
                    (owner_code, purchase_order_code, ln.item_code, ln.qty, ln.damaged)
                    for ln in lines
                ],
            )
            self.ctx.history.record("state", "delivery", "ARRIVED", purchase_order_code, None)

    @staticmethod
    def awaits(order: sqlite3.Row) -> bool:
        """Whether an entry order is received against a supplier's delivery."""
        return bool(order["order_type"] == PURCHASE_ENTRY)

    def key(self, order: sqlite3.Row) -> str | None:
        """The purchase order code of the delivery the entry order claimed (else None)."""
        code = order["purchase_order_code"] or order["order_code"]
        row = self.conn.execute(
            "SELECT purchase_order_code FROM supplier_deliveries WHERE owner_code = ?"
            " AND purchase_order_code = ? AND warehouse_code = ?"
            " AND inbound_order_id = ?",
            (order["owner_code"], code, order["warehouse_code"], order["inbound_order_id"]),
        ).fetchone()
        return None if row is None else str(row[0])

    def claim(self, order: sqlite3.Row) -> bool:
        """Whether the entry order's delivery is in; it is then this order's to count, so
        that a second entry order for it waits for goods that never come."""
        code = order["purchase_order_code"] or order["order_code"]
        with transaction(self.conn):
            claimed = self.conn.execute(
                "UPDATE supplier_deliveries SET inbound_order_id = ? WHERE owner_code = ?"
                " AND purchase_order_code = ? AND warehouse_code = ?"
                " AND (inbound_order_id IS NULL OR inbound_order_id = ?)",
                (
                    order["inbound_order_id"],
                    order["owner_code"],
                    code,
                    order["warehouse_code"],
                    order["inbound_order_id"],
                ),
            ).rowcount
        return bool(claimed)

    def count(self, order: sqlite3.Row) -> list[ReportLine]:
        """The entry order's lines as its delivery fills them: every delivered unit of a
        line's item (over-delivery too; the first line of an item takes it all), sound (ZP)
        and damaged (CC); one ReportLine per line and inventoryType with units, a line the
        delivery lacks as 0 (ZP). Call inside the put-away's transaction."""
        order_id = order["inbound_order_id"]
        key = self.key(order)
        left: dict[str, list[int]] = {
            str(row[0]): [int(row[1]) - int(row[2]), int(row[2])]
            for row in self.conn.execute(
                "SELECT item_code, SUM(qty), SUM(damaged) FROM supplier_delivery_lines"
                " WHERE owner_code = ? AND purchase_order_code = ? GROUP BY item_code",
                (order["owner_code"], key),
            )
        }
        counted: list[ReportLine] = []
        for line in self.conn.execute(
            "SELECT rowid, * FROM inbound_order_lines WHERE inbound_order_id = ? ORDER BY rowid",
            (order_id,),
        ).fetchall():
            sound, damaged = left.pop(line["item_code"], [0, 0])
            counted += record_count(self.conn, order_id, line, sound, damaged)
        return counted


def record_count(
    conn: sqlite3.Connection, order_id: str, line: sqlite3.Row, sound: int, damaged: int
) -> list[ReportLine]:
    """An inbound line's count (entry or return order): its actual_qty, and one
    inbound_quality row and ReportLine per inventory type with units (ZP sound, CC damaged or
    defective); a line nothing came for, one ZP of 0. `line` has its rowid."""
    conn.execute(
        "UPDATE inbound_order_lines SET actual_qty = ? WHERE rowid = ?",
        (sound + damaged, line["rowid"]),
    )
    counted: list[ReportLine] = []
    for inventory_type, qty in ((SOUND, sound), (DAMAGED, damaged)):
        if qty == 0 and (inventory_type == DAMAGED or damaged > 0):
            continue
        conn.execute(
            "INSERT INTO inbound_quality VALUES (?, ?, ?, ?, ?)",
            (order_id, line["order_line_no"], line["item_code"], inventory_type, qty),
        )
        counted.append(
            ReportLine(
                line["order_line_no"],
                line["owner_code"],
                line["item_code"],
                inventory_type,
                line["plan_qty"],
                qty,
            )
        )
    return counted
