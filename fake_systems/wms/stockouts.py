"""Outbound orders other than sales the ERP side sends (stockout.create, 出库单): a purchase
return to a supplier (orderType CGTH, 采购退货出库) and the like, shipped NEW → ACCEPT →
DELIVERED as a SimPy process, with what the warehouse really had.

When the order ships, each line takes what is available of its item (on_hand − reserved, never
what orders reserved) up to its planQty, possibly nothing: the units leave `on_hand` (ledger
reason `stockout`) and the connector hears `stockout.confirm` with planQty and actualQty per
line. A `short_pick` business fault on `stockout.create` (docs/CHAOS.md) makes the picker find
only 1 to n−1 of the order's n units (none of one; first lines first): the order ships that,
final; the units missed stay on the shelf. The order shares `stockout_orders` with the
warehouse's own transfer legs (fake_systems/wms/transfers.py), and their numbering.
"""

from __future__ import annotations

import random
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

import simpy

from fake_systems.common.context import SystemContext
from fake_systems.common.faults import Stage
from fake_systems.common.scope import OwnerScope
from fake_systems.common.storage import transaction
from fake_systems.wms.catalog import Catalog
from fake_systems.wms.events import OrderRef, ReportLine, StockoutConfirmed
from fake_systems.wms.models import (
    INVALID_PARAMETER,
    PERMISSION_DENIED,
    InboundLineRequest,
    InboundResult,
    WmsConfig,
    WmsError,
)
from fake_systems.wms.reports import Reports
from fake_systems.wms.stock import StockLedger
from fake_systems.wms.transfers import SCHEMA
from simulator.clock import format_qimen_time

# orderType values stockout.create takes (Qimen's list: 普通出库, 其他出库, B2B出库, 采购退货出库).
# DBCK is not among them: the warehouse raises its transfers itself (transfers.py), and an
# ERP's go through transferorder.create.
STOCKOUT_ORDER_TYPES = frozenset({"PTCK", "QTCK", "B2BCK", "CGTH"})
PURCHASE_RETURN = "CGTH"
LEDGER_REASON = "stockout"
# The operation a `short_pick` rule names to hit these orders (or `*`), at their pick.
FAULTED_OPERATION = "stockout.create"
SHORT_PICK = ("short_pick",)


@dataclass(frozen=True)
class StockoutRequest:
    """stockout.create, parsed by the adapter."""

    order_code: str
    warehouse_code: str
    order_type: str
    owner_code: str | None
    lines: tuple[InboundLineRequest, ...]
    supplier_code: str | None = None


class Stockouts:
    """Outbound orders created by the caller, each shipped by a SimPy process."""

    def __init__(
        self,
        ctx: SystemContext,
        config: WmsConfig,
        catalog: Catalog,
        stock: StockLedger,
        reports: Reports,
    ) -> None:
        self.ctx = ctx
        self.conn = ctx.conn
        self.conn.executescript(SCHEMA)
        self.env: simpy.Environment = ctx.clock.env
        self.config = config
        self.catalog = catalog
        self.stock = stock
        self.reports = reports

    def create(self, request: StockoutRequest, scope: OwnerScope) -> InboundResult:
        """stockout.create: record it (NEW) and start shipping. Idempotent on (owner, code);
        raises WmsError on refusal (unknown warehouse, another owner's items, no lines)."""
        if not request.lines:
            raise WmsError(INVALID_PARAMETER, "orderLines must hold at least one orderLine")
        owner = self.catalog.resolve_owner(request.owner_code, scope, None)
        existing = self.conn.execute(
            "SELECT stockout_order_id FROM stockout_orders WHERE owner_code = ? AND order_code = ?",
            (owner, request.order_code),
        ).fetchone()
        if existing is not None:
            return InboundResult(existing[0], created=False)
        self.catalog.check_warehouse(request.warehouse_code)
        self.catalog.check_own_items((line.item_code for line in request.lines), owner)
        if scope.owners is not None and any(
            self.catalog.is_shared(line.item_code) for line in request.lines
        ):
            # Every owner sells from the shared catalogue's stock: one owner may not ship it off.
            raise WmsError(PERMISSION_DENIED, "共享商品的库存只能由集成商出库")
        count = self.conn.execute("SELECT COUNT(*) FROM stockout_orders").fetchone()[0]
        order_id = f"SO{int(count) + 1:014d}"
        now_sim, now_wall = format_qimen_time(self.ctx.clock.now()), self.ctx.clock.wall()
        with transaction(self.conn):
            self.conn.execute(
                "INSERT INTO stockout_orders (stockout_order_id, order_code, owner_code,"
                " warehouse_code, order_type, status, created_sim, created_wall)"
                " VALUES (?, ?, ?, ?, ?, 'NEW', ?, ?)",
                (
                    order_id,
                    request.order_code,
                    owner,
                    request.warehouse_code,
                    request.order_type,
                    now_sim,
                    now_wall,
                ),
            )
            self.conn.executemany(
                "INSERT INTO stockout_order_lines VALUES (?, ?, ?, ?, 0, ?)",
                [
                    (order_id, ln.order_line_no, ln.item_code, ln.plan_qty, ln.inventory_type)
                    for ln in request.lines
                ],
            )
            self.ctx.history.record(
                "state", "stockout", "NEW", request.order_code, {"orderId": order_id}
            )
        self.env.process(self._ship(order_id, self.ctx.dice("stockout", owner, request.order_code)))
        return InboundResult(order_id, created=True)

    def _ship(self, order_id: str, dice: random.Random) -> Generator[simpy.Event, Any, None]:
        """Accept, then ship, after times drawn with the order's own dice (no other order's
        timing moves them)."""
        between = dice.uniform
        yield self.env.timeout(between(*self.config.accept_seconds))
        with transaction(self.conn):
            row = self.conn.execute(
                "UPDATE stockout_orders SET status = 'ACCEPT' WHERE stockout_order_id = ?"
                " RETURNING order_code",
                (order_id,),
            ).fetchone()
            self.ctx.history.record("state", "stockout", "ACCEPT", row[0], {"orderId": order_id})
        yield self.env.timeout(between(*self.config.receive_seconds))
        self.ship_now(order_id, self._found(order_id, row[0]))

    def _found(self, order_id: str, code: str) -> int | None:
        """The units a `short_pick` fault lets the picker find of the order's n (1 to n−1, 0 of
        one; a `fault` row naming the order's code), or None: no fault, all is looked for."""
        rule = self.ctx.faults.pick(
            self.ctx.name, FAULTED_OPERATION, Stage.WORLD, self.ctx.clock.now(), SHORT_PICK
        )
        units = int(
            self.conn.execute(
                "SELECT COALESCE(SUM(plan_qty), 0) FROM stockout_order_lines"
                " WHERE stockout_order_id = ?",
                (order_id,),
            ).fetchone()[0]
        )
        if rule is None:
            return None
        # An order of one unit cannot be short of part of itself: the picker finds none (the
        # rule fires whatever the order's size, as on delivery orders).
        found = self.ctx.faults.dice(rule).randint(1, units - 1) if units > 1 else 0
        with transaction(self.conn):
            self.ctx.history.record(
                "fault",
                FAULTED_OPERATION,
                rule.kind,
                code,
                {
                    **self.ctx.faults.tag(rule),
                    "stage": "world",
                    "stockoutOrderId": order_id,
                    "units": units,
                    "found": found,
                },
            )
        return found

    def ship_now(self, order_id: str, found: int | None = None) -> None:
        """DELIVERED: each line takes what is available now, up to its planQty, and all lines
        together at most `found` units (a short pick), when given."""
        now_sim, now_wall = format_qimen_time(self.ctx.clock.now()), self.ctx.clock.wall()
        reported: list[ReportLine] = []
        with transaction(self.conn):
            order = self.conn.execute(
                "UPDATE stockout_orders SET status = 'DELIVERED', confirmed_sim = ?,"
                " confirmed_wall = ? WHERE stockout_order_id = ? RETURNING *",
                (now_sim, now_wall, order_id),
            ).fetchone()
            warehouse = order["warehouse_code"]
            for line in self.conn.execute(
                "SELECT rowid, * FROM stockout_order_lines WHERE stockout_order_id = ?"
                " ORDER BY rowid",
                (order_id,),
            ).fetchall():
                available = self.conn.execute(
                    "SELECT MAX(on_hand - reserved, 0) FROM stock WHERE warehouse_code = ?"
                    " AND item_code = ?",
                    (warehouse, line["item_code"]),
                ).fetchone()
                qty = min(line["plan_qty"], int(available[0]) if available else 0)
                if found is not None:
                    qty = min(qty, found)
                    found -= qty
                if qty:
                    self.stock.take(warehouse, line["item_code"], qty, LEDGER_REASON, order_id)
                self.conn.execute(
                    "UPDATE stockout_order_lines SET actual_qty = ? WHERE rowid = ?",
                    (qty, line["rowid"]),
                )
                reported.append(
                    ReportLine(
                        line["order_line_no"],
                        order["owner_code"],
                        line["item_code"],
                        line["inventory_type"],
                        line["plan_qty"],
                        qty,
                    )
                )
            self.ctx.history.record(
                "state", "stockout", "DELIVERED", order["order_code"], {"orderId": order_id}
            )
            moves = [(warehouse, ln.item_code, -ln.actual_qty) for ln in reported if ln.actual_qty]
            if moves:
                self.reports.stock_changed(
                    order["owner_code"],
                    order["order_code"],
                    order["order_type"],
                    f"{order_id}-STOCK",
                    moves,
                )
        self.reports.emit(
            StockoutConfirmed(
                OrderRef(
                    order["order_code"],
                    order_id,
                    order["owner_code"],
                    warehouse,
                    order["order_type"],
                ),
                tuple(reported),
                now_sim,
                f"{order_id}-DELIVERED",
            )
        )
