"""Transfers in two legs (调拨): the sending warehouse's outbound order (出库单, orderType DBCK)
and the receiving warehouse's entry order (入库单, orderType DBRK), with the goods in transit
between them and, sometimes, some of them lost on the way.

The warehouse raises a transfer itself (the simulator, in process: `ship`): the DBCK order
ships at once, its units leave the sender's `on_hand` (ledger reason `transfer_out`) and the
connector hears `stockout.confirm`; the DBRK entry order, same code, waits at the receiver in
ACCEPT. When the goods arrive (`arrive`), it is FULFILLED with what really came: those units
go on the receiver's `on_hand` (reason `transfer_in`) and the connector hears
`entryorder.confirm` (`planQty` = sent, `actualQty` = received). What is missing is the
transit loss: on neither warehouse's books, the ERP's to record.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from fake_systems.common.context import SystemContext
from fake_systems.common.storage import transaction
from fake_systems.wms.catalog import Catalog
from fake_systems.wms.events import InboundReceived, OrderRef, ReportLine, StockoutConfirmed
from fake_systems.wms.inbound import next_inbound_id
from fake_systems.wms.models import INVALID_PARAMETER, InboundKind, InboundStatus, WmsError
from fake_systems.wms.reports import Reports
from fake_systems.wms.stock import StockLedger
from simulator.clock import format_qimen_time

SCHEMA = """
CREATE TABLE IF NOT EXISTS stockout_orders (
    stockout_order_id TEXT PRIMARY KEY, order_code TEXT NOT NULL, owner_code TEXT NOT NULL,
    warehouse_code TEXT NOT NULL, to_warehouse_code TEXT, order_type TEXT NOT NULL,
    status TEXT NOT NULL, created_sim TEXT, created_wall REAL, confirmed_sim TEXT,
    confirmed_wall REAL,
    UNIQUE (owner_code, order_code)
);
CREATE TABLE IF NOT EXISTS stockout_order_lines (
    stockout_order_id TEXT NOT NULL, order_line_no TEXT, item_code TEXT NOT NULL,
    plan_qty INTEGER NOT NULL, actual_qty INTEGER NOT NULL, inventory_type TEXT NOT NULL
);
"""
TRANSFER_OUT, TRANSFER_IN = "DBCK", "DBRK"
SOUND = "ZP"


class Transfers:
    """The two legs of each transfer, over the stock ledger; reports go through `reports`."""

    def __init__(
        self, ctx: SystemContext, catalog: Catalog, stock: StockLedger, reports: Reports
    ) -> None:
        self.ctx = ctx
        self.conn = ctx.conn
        self.conn.executescript(SCHEMA)
        self.catalog = catalog
        self.stock = stock
        self.reports = reports

    def ship(
        self,
        owner_code: str,
        order_code: str,
        from_warehouse: str,
        to_warehouse: str,
        lines: Sequence[tuple[str, int]],
    ) -> str:
        """The sender ships a transfer of (item, units) lines: its DBCK order is DELIVERED,
        the DBRK entry order waits at the receiver. All lines or none (STOCK_NOT_ENOUGH when
        the sender's on_hand − reserved is short). Returns the stockout order id."""
        if not lines or any(qty <= 0 for _, qty in lines):
            raise WmsError(INVALID_PARAMETER, "a transfer needs lines of at least one unit")
        if from_warehouse == to_warehouse:
            raise WmsError(INVALID_PARAMETER, "Invalid arguments:toWarehouseCode = from")
        self.catalog.check_warehouse(from_warehouse)
        self.catalog.check_warehouse(to_warehouse)
        now_sim, now_wall = format_qimen_time(self.ctx.clock.now()), self.ctx.clock.wall()
        count = self.conn.execute("SELECT COUNT(*) FROM stockout_orders").fetchone()[0]
        out_id = f"SO{int(count) + 1:014d}"
        reported: list[ReportLine] = []
        with transaction(self.conn):
            self.conn.execute(
                "INSERT INTO stockout_orders VALUES (?, ?, ?, ?, ?, ?, 'DELIVERED', ?, ?, ?, ?)",
                (
                    out_id,
                    order_code,
                    owner_code,
                    from_warehouse,
                    to_warehouse,
                    TRANSFER_OUT,
                    now_sim,
                    now_wall,
                    now_sim,
                    now_wall,
                ),
            )
            in_id = next_inbound_id(self.conn, InboundKind.ENTRY)
            self.conn.execute(
                "INSERT INTO inbound_orders (inbound_order_id, kind, order_code, owner_code,"
                " warehouse_code, order_type, status, created_sim, created_wall)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    in_id,
                    InboundKind.ENTRY.value,
                    order_code,
                    owner_code,
                    to_warehouse,
                    TRANSFER_IN,
                    InboundStatus.ACCEPT.value,
                    now_sim,
                    now_wall,
                ),
            )
            for seq, (item, qty) in enumerate(lines, start=1):
                # Never what is reserved for orders; a short line raises: nothing is written.
                self.stock.take(from_warehouse, item, qty, "transfer_out", out_id)
                self.conn.execute(
                    "INSERT INTO stockout_order_lines VALUES (?, ?, ?, ?, ?, ?)",
                    (out_id, str(seq), item, qty, qty, SOUND),
                )
                self.conn.execute(
                    "INSERT INTO inbound_order_lines VALUES (?, ?, ?, ?, 0, ?, ?)",
                    (in_id, str(seq), item, qty, owner_code, SOUND),
                )
                reported.append(ReportLine(str(seq), owner_code, item, SOUND, qty, qty))
            self.ctx.history.record(
                "state", "stockout", "DELIVERED", order_code, {"orderId": out_id}
            )
            self.ctx.history.record("state", "entryorder", "ACCEPT", order_code, {"orderId": in_id})
            self.reports.stock_changed(
                owner_code,
                order_code,
                TRANSFER_OUT,
                f"{out_id}-STOCK",
                [(from_warehouse, item, -qty) for item, qty in lines],
            )
        self.reports.emit(
            StockoutConfirmed(
                OrderRef(order_code, out_id, owner_code, from_warehouse, TRANSFER_OUT),
                tuple(reported),
                now_sim,
                f"{out_id}-DELIVERED",
            )
        )
        return out_id

    def arrive(self, owner_code: str, order_code: str, received: Mapping[str, int]) -> bool:
        """The goods of a transfer reach the receiver: its DBRK entry order is FULFILLED with
        `received` units per item (at most what was sent; missing items: none came). False
        if there is no such transfer in transit (a repeat)."""
        now_sim, now_wall = format_qimen_time(self.ctx.clock.now()), self.ctx.clock.wall()
        with transaction(self.conn):
            order = self.conn.execute(
                "UPDATE inbound_orders SET status = ?, confirmed_sim = ?, confirmed_wall = ?"
                " WHERE kind = ? AND owner_code = ? AND order_code = ? AND order_type = ?"
                " AND status = ? RETURNING *",
                (
                    InboundStatus.FULFILLED.value,
                    now_sim,
                    now_wall,
                    InboundKind.ENTRY.value,
                    owner_code,
                    order_code,
                    TRANSFER_IN,
                    InboundStatus.ACCEPT.value,
                ),
            ).fetchone()
            if order is None:
                return False
            in_id, warehouse = order["inbound_order_id"], order["warehouse_code"]
            left = dict(received)
            lines: list[ReportLine] = []
            for line in self.conn.execute(
                "SELECT rowid, * FROM inbound_order_lines WHERE inbound_order_id = ?"
                " ORDER BY rowid",
                (in_id,),
            ).fetchall():
                qty = min(line["plan_qty"], left.pop(line["item_code"], 0))
                self.conn.execute(
                    "UPDATE inbound_order_lines SET actual_qty = ? WHERE rowid = ?",
                    (qty, line["rowid"]),
                )
                if qty:
                    self.stock.add(warehouse, line["item_code"], qty, "transfer_in", in_id)
                lines.append(
                    ReportLine(
                        line["order_line_no"],
                        owner_code,
                        line["item_code"],
                        SOUND,
                        line["plan_qty"],
                        qty,
                    )
                )
            self.ctx.history.record(
                "state", "entryorder", "FULFILLED", order_code, {"orderId": in_id}
            )
            self.reports.stock_changed(
                owner_code,
                order_code,
                TRANSFER_IN,
                f"{in_id}-STOCK",
                [(warehouse, line.item_code, line.actual_qty) for line in lines if line.actual_qty],
            )
        self.reports.emit(
            InboundReceived(
                kind=InboundKind.ENTRY,
                order_code=order_code,
                order_id=in_id,
                owner_code=owner_code,
                warehouse_code=warehouse,
                order_type=TRANSFER_IN,
                purchase_order_code=None,
                supplier_code=None,
                pre_delivery_order_code=None,
                logistics_code=None,
                express_code=None,
                return_reason=None,
                confirm_time=now_sim,
                lines=tuple(lines),
                out_biz_code=f"{in_id}-FULFILLED",
            )
        )
        return True

    def in_transit(self) -> int:
        """Transfers shipped and not yet received."""
        row = self.conn.execute(
            "SELECT COUNT(*) FROM inbound_orders WHERE kind = ? AND order_type = ? AND status = ?",
            (InboundKind.ENTRY.value, TRANSFER_IN, InboundStatus.ACCEPT.value),
        ).fetchone()
        return int(row[0])
