"""Cycle counts (盘点): the warehouse counts some items of one cargo owner at one warehouse,
and where the count differs from the books, on_hand moves to what was counted.

The warehouse counts on its own schedule (the simulator, in process: `count`): each check
order (盘点单) covers one ABC class; an item whose counted units differ from its on_hand is
adjusted (ledger reason `count`, one row per item) and reported to the connector in one
`inventory.report` (库存盘点通知, adjustType CHECK) with the signed difference per item.
Items counted without a difference are kept in the check order and not reported. Reserved
units are never counted away: a count below what orders hold is raised to it (the picker
holds those units already).
"""

from __future__ import annotations

from collections.abc import Sequence

from fake_systems.common.context import SystemContext
from fake_systems.common.storage import transaction
from fake_systems.wms.catalog import Catalog
from fake_systems.wms.events import CountLine, InventoryCounted
from fake_systems.wms.models import INVALID_PARAMETER, WmsError
from fake_systems.wms.reports import Reports
from fake_systems.wms.stock import StockLedger
from simulator.clock import format_qimen_time

SCHEMA = """
CREATE TABLE IF NOT EXISTS count_orders (
    check_order_id TEXT PRIMARY KEY, check_order_code TEXT NOT NULL, owner_code TEXT NOT NULL,
    warehouse_code TEXT NOT NULL, abc_class TEXT NOT NULL, checked_sim TEXT NOT NULL,
    checked_wall REAL NOT NULL,
    UNIQUE (owner_code, check_order_code)
);
CREATE TABLE IF NOT EXISTS count_order_lines (
    check_order_id TEXT NOT NULL, item_code TEXT NOT NULL, book_qty INTEGER NOT NULL,
    counted_qty INTEGER NOT NULL, difference INTEGER NOT NULL,
    PRIMARY KEY (check_order_id, item_code)
);
"""
ADJUST_TYPE = "CHECK"
ABC_CLASSES = ("A", "B", "C")


class Counts:
    """Check orders over the stock ledger; their reports go through `reports`."""

    def __init__(
        self, ctx: SystemContext, catalog: Catalog, stock: StockLedger, reports: Reports
    ) -> None:
        self.ctx = ctx
        self.conn = ctx.conn
        self.conn.executescript(SCHEMA)
        self.catalog = catalog
        self.stock = stock
        self.reports = reports

    def count(
        self,
        owner_code: str,
        check_order_code: str,
        warehouse: str,
        abc_class: str,
        counted: Sequence[tuple[str, int]],
    ) -> str | None:
        """Record a count of (item, units counted) at `warehouse` and adjust on_hand to it;
        the check order id, or None when `check_order_code` was counted before (a repeat:
        nothing moves). Reports the items that differed, if any."""
        if abc_class not in ABC_CLASSES:
            raise WmsError(INVALID_PARAMETER, f"Invalid arguments:abcClass = {abc_class}")
        if not counted or any(qty < 0 for _, qty in counted):
            raise WmsError(INVALID_PARAMETER, "a count needs items counted at 0 units or more")
        self.catalog.check_warehouse(warehouse)
        now_sim, now_wall = format_qimen_time(self.ctx.clock.now()), self.ctx.clock.wall()
        lines: list[CountLine] = []
        book_total = 0
        with transaction(self.conn):
            number = self.conn.execute("SELECT COUNT(*) FROM count_orders").fetchone()[0]
            check_id = f"PD{int(number) + 1:014d}"
            inserted = self.conn.execute(
                "INSERT INTO count_orders VALUES (?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (owner_code, check_order_code) DO NOTHING RETURNING 1",
                (check_id, check_order_code, owner_code, warehouse, abc_class, now_sim, now_wall),
            ).fetchone()
            if inserted is None:
                return None
            for item, units in sorted(dict(counted).items()):
                row = self.conn.execute(
                    "SELECT on_hand, reserved FROM stock WHERE warehouse_code = ?"
                    " AND item_code = ?",
                    (warehouse, item),
                ).fetchone()
                book, reserved = (int(row[0]), int(row[1])) if row else (0, 0)
                book_total += book
                found = max(units, reserved)
                difference = found - book
                self.conn.execute(
                    "INSERT INTO count_order_lines VALUES (?, ?, ?, ?, ?)",
                    (check_id, item, book, found, difference),
                )
                if difference > 0:
                    self.stock.add(warehouse, item, difference, "count", check_id)
                elif difference < 0:
                    self.stock.take(warehouse, item, -difference, "count", check_id)
                if difference:
                    lines.append(CountLine(item, book, found, difference))
            self.ctx.history.record(
                "state",
                "inventorycheck",
                "CHECKED",
                check_order_code,
                {"checkOrderId": check_id, "abcClass": abc_class, "differences": len(lines)},
            )
            if lines:
                self.reports.stock_changed(
                    owner_code,
                    check_order_code,
                    "PD",
                    f"{check_id}-STOCK",
                    [(warehouse, line.item_code, line.difference) for line in lines],
                )
        if lines:
            self.reports.emit(
                InventoryCounted(
                    owner_code,
                    check_order_code,
                    check_id,
                    warehouse,
                    abc_class,
                    now_sim,
                    book_total,
                    tuple(lines),
                    f"{check_id}-CHECK",
                )
            )
        return check_id
