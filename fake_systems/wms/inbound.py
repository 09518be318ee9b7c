"""Goods coming in and moving: entry orders (入库单) and return orders (退货入库单), received
NEW → ACCEPT → FULFILLED as SimPy processes, and transfers between warehouses (instant).

A return order is received once the buyer's parcel is at the warehouse (`parcel_arrives`,
matched by the return waybill, `expressCode`, else by `preDeliveryOrderCode`); the quality
check then sorts each line's units into saleable (ZP, back on `stock.on_hand`) and defective
(CC, `unsaleable_stock`), and the confirm reports one orderLine per line and inventoryType.
"""

from __future__ import annotations

import random
import sqlite3
from collections.abc import Generator, Sequence
from dataclasses import dataclass
from typing import Any

import simpy

from fake_systems.common.context import SystemContext
from fake_systems.common.scope import OwnerScope
from fake_systems.common.storage import transaction
from fake_systems.wms.catalog import Catalog
from fake_systems.wms.deliveries import Deliveries, record_count
from fake_systems.wms.events import InboundReceived, ReportLine
from fake_systems.wms.models import (
    CANCELEDFAIL,
    INVALID_PARAMETER,
    PERMISSION_DENIED,
    InboundKind,
    InboundOrderRequest,
    InboundOrderView,
    InboundResult,
    InboundStatus,
    TransferRequest,
    WmsConfig,
    WmsError,
)
from fake_systems.wms.orders import find_order, line_views
from fake_systems.wms.reports import Reports
from fake_systems.wms.stock import StockLedger
from simulator.clock import format_qimen_time

_ID_PREFIX = {InboundKind.ENTRY: "EO", InboundKind.RETURN: "RO"}
# How often (simulated seconds) an accepted return order looks whether its parcel is in.
PARCEL_LOOK_EVERY_SECONDS = 60.0
SALEABLE, DEFECTIVE = "ZP", "CC"


def next_inbound_id(conn: sqlite3.Connection, kind: InboundKind) -> str:
    """The next entry (EO…) or return (RO…) order id: one numbering for both kinds."""
    count = conn.execute("SELECT COUNT(*) FROM inbound_orders").fetchone()[0]
    return f"{_ID_PREFIX[kind]}{int(count) + 1:014d}"


@dataclass(frozen=True)
class ParcelLine:
    """Units of one item in a returned parcel, and how many of them are defective."""

    item_code: str
    qty: int
    defective: int


class Inbound:
    """Entry and return orders share one table and one life; transfers have their own."""

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
        self.env: simpy.Environment = ctx.clock.env
        self.config = config
        self.catalog = catalog
        self.stock = stock
        self.reports = reports
        self.deliveries = Deliveries(ctx)
        self._processes: dict[str, simpy.Process] = {}

    def create(self, request: InboundOrderRequest, scope: OwnerScope) -> InboundResult:
        """entryorder.create / returnorder.create: record it (NEW) and start receiving.

        Idempotent on (kind, owner, code). A return's preDeliveryOrderCode, when given, must
        be a delivery order of the same owner. Raises WmsError on refusal.
        """
        if not request.lines:
            raise WmsError(INVALID_PARAMETER, "orderLines must hold at least one orderLine")
        owner = self.catalog.resolve_owner(request.owner_code, scope, None)
        existing = self.conn.execute(
            "SELECT inbound_order_id FROM inbound_orders WHERE kind = ? AND owner_code = ?"
            " AND order_code = ?",
            (request.kind.value, owner, request.order_code),
        ).fetchone()
        if existing is not None:
            return InboundResult(existing[0], created=False)
        self.catalog.check_warehouse(request.warehouse_code)
        self.catalog.check_own_items((line.item_code for line in request.lines), owner)
        if request.pre_delivery_order_code is not None:
            find_order(self.conn, request.pre_delivery_order_code, owner, scope)
        order_id = next_inbound_id(self.conn, request.kind)
        now_sim, now_wall = format_qimen_time(self.ctx.clock.now()), self.ctx.clock.wall()
        with transaction(self.conn):
            self.conn.execute(
                "INSERT INTO inbound_orders (inbound_order_id, kind, order_code, owner_code,"
                " warehouse_code, order_type, status, supplier_code, purchase_order_code,"
                " pre_delivery_order_code, logistics_code, express_code, return_reason,"
                " created_sim, created_wall) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    order_id,
                    request.kind.value,
                    request.order_code,
                    owner,
                    request.warehouse_code,
                    request.order_type,
                    InboundStatus.NEW.value,
                    request.supplier_code,
                    request.purchase_order_code,
                    request.pre_delivery_order_code,
                    request.logistics_code,
                    request.express_code,
                    request.return_reason,
                    now_sim,
                    now_wall,
                ),
            )
            self.conn.executemany(
                "INSERT INTO inbound_order_lines VALUES (?, ?, ?, ?, 0, ?, ?)",
                [
                    (
                        order_id,
                        line.order_line_no,
                        line.item_code,
                        line.plan_qty,
                        line.owner_code or owner,
                        line.inventory_type,
                    )
                    for line in request.lines
                ],
            )
            self.ctx.history.record(
                "state", request.kind.value, "NEW", request.order_code, {"orderId": order_id}
            )
        self._processes[order_id] = self.env.process(
            self._receive(order_id, self.ctx.dice("inbound", owner, request.order_code))
        )
        return InboundResult(order_id, created=True)

    def query(
        self, kind: InboundKind, order_code: str, owner_code: str | None, scope: OwnerScope
    ) -> InboundOrderView:
        """entryorder.query / returnorder.query; raises WmsError(ORDER_NOT_EXIST)."""
        row = self._find(kind, order_code, owner_code, scope)
        lines = self.conn.execute(
            "SELECT * FROM inbound_order_lines WHERE inbound_order_id = ? ORDER BY rowid",
            (row["inbound_order_id"],),
        ).fetchall()
        return InboundOrderView(
            kind=kind,
            order_id=row["inbound_order_id"],
            order_code=row["order_code"],
            owner_code=row["owner_code"],
            warehouse_code=row["warehouse_code"],
            order_type=row["order_type"],
            status=InboundStatus(row["status"]),
            created_sim=row["created_sim"],
            confirmed_sim=row["confirmed_sim"],
            pre_delivery_order_code=row["pre_delivery_order_code"],
            lines=line_views(lines),
        )

    def cancel(
        self,
        kind: InboundKind,
        order_code: str,
        owner_code: str | None,
        scope: OwnerScope,
        warehouse_code: str | None = None,
    ) -> InboundStatus:
        """Cancel in NEW or ACCEPT (no stock moves); CANCELEDFAIL once FULFILLED."""
        row = self._find(kind, order_code, owner_code, scope, warehouse_code)
        status = InboundStatus(row["status"])
        if status is InboundStatus.CANCELED:
            return status
        if status is InboundStatus.FULFILLED:
            raise WmsError(CANCELEDFAIL, f"单据状态为 {status.value}, 已入库, 不允许取消")
        with transaction(self.conn):
            self.conn.execute(
                "UPDATE inbound_orders SET status = ? WHERE inbound_order_id = ?",
                (InboundStatus.CANCELED.value, row["inbound_order_id"]),
            )
            self.ctx.history.record("state", kind.value, "CANCELED", order_code, None)
        process = self._processes.pop(row["inbound_order_id"], None)
        if process is not None and process.is_alive:
            process.interrupt("canceled")
        return InboundStatus.CANCELED

    def _find(
        self,
        kind: InboundKind,
        order_code: str,
        owner_code: str | None,
        scope: OwnerScope,
        warehouse_code: str | None = None,
    ) -> sqlite3.Row:
        return find_order(
            self.conn,
            order_code,
            owner_code,
            scope,
            "inbound_orders",
            "order_code",
            ("kind", kind.value),
            warehouse_code,
        )

    def parcel_arrives(
        self,
        owner_code: str,
        warehouse_code: str,
        logistics_no: str,
        pre_delivery_order_code: str,
        lines: Sequence[ParcelLine],
    ) -> None:
        """A buyer's returned parcel reaches the warehouse (the simulator, in process): it
        waits there for its return order, whose quality check finds `defective` of each
        line's units unsaleable. A second arrival of the same waybill is ignored."""
        now_sim, now_wall = format_qimen_time(self.ctx.clock.now()), self.ctx.clock.wall()
        with transaction(self.conn):
            added = self.conn.execute(
                "INSERT OR IGNORE INTO return_parcels VALUES (?, ?, ?, ?, ?, ?)",
                (
                    owner_code,
                    logistics_no,
                    warehouse_code,
                    pre_delivery_order_code,
                    now_sim,
                    now_wall,
                ),
            ).rowcount
            if not added:
                return
            self.conn.executemany(
                "INSERT INTO return_parcel_lines VALUES (?, ?, ?, ?, ?)",
                [(owner_code, logistics_no, ln.item_code, ln.qty, ln.defective) for ln in lines],
            )
            self.ctx.history.record(
                "state",
                "returnparcel",
                "ARRIVED",
                logistics_no,
                {"preDeliveryOrderCode": pre_delivery_order_code},
            )

    def _parcel(self, order: sqlite3.Row) -> str | None:
        """The waybill of the parcel a return order receives, once it is in (else None)."""
        row = self.conn.execute(
            "SELECT logistics_no FROM return_parcels WHERE owner_code = ?"
            " AND (logistics_no = ? OR (? IS NULL AND pre_delivery_order_code = ?))"
            " ORDER BY arrived_wall LIMIT 1",
            (
                order["owner_code"],
                order["express_code"],
                order["express_code"],
                order["pre_delivery_order_code"],
            ),
        ).fetchone()
        return None if row is None else str(row[0])

    def _receive(self, order_id: str, dice: random.Random) -> Generator[simpy.Event, Any, None]:
        """Accept, then receive, after times drawn with the order's own dice."""
        between = dice.uniform
        try:
            yield self.env.timeout(between(*self.config.accept_seconds))
            if not self._advance(order_id, InboundStatus.NEW, InboundStatus.ACCEPT):
                return
            order = self.conn.execute(
                "SELECT * FROM inbound_orders WHERE inbound_order_id = ?", (order_id,)
            ).fetchone()
            if order["kind"] == InboundKind.RETURN.value:
                # Nothing to count before the buyer's parcel is in; it may never come.
                while self._parcel(order) is None:
                    yield self.env.timeout(PARCEL_LOOK_EVERY_SECONDS)
            elif self._against_delivery(order):
                while not self.deliveries.claim(order):
                    yield self.env.timeout(PARCEL_LOOK_EVERY_SECONDS)
            yield self.env.timeout(between(*self.config.receive_seconds))
            if self._advance(order_id, InboundStatus.ACCEPT, InboundStatus.FULFILLED):
                self._put_away(order_id)
        except simpy.Interrupt:
            return
        finally:
            self._processes.pop(order_id, None)

    def _advance(self, order_id: str, before: InboundStatus, after: InboundStatus) -> bool:
        with transaction(self.conn):
            row = self.conn.execute(
                "UPDATE inbound_orders SET status = ? WHERE inbound_order_id = ? AND status = ?"
                " RETURNING kind, order_code",
                (after.value, order_id, before.value),
            ).fetchone()
            if row is not None:
                self.ctx.history.record("state", row[0], after.value, row[1], {"orderId": order_id})
        return row is not None

    def _put_away(self, order_id: str) -> None:
        """FULFILLED: the counted goods go on hand, the connector is told."""
        now_sim, now_wall = format_qimen_time(self.ctx.clock.now()), self.ctx.clock.wall()
        with transaction(self.conn):
            order = self.conn.execute(
                "UPDATE inbound_orders SET confirmed_sim = ?, confirmed_wall = ?"
                " WHERE inbound_order_id = ? RETURNING *",
                (now_sim, now_wall, order_id),
            ).fetchone()
            kind = InboundKind(order["kind"])
            warehouse = order["warehouse_code"]
            counted = kind is InboundKind.RETURN or self._against_delivery(order)
            if counted:
                lines = (
                    self._check_quality(order)
                    if kind is InboundKind.RETURN
                    else self.deliveries.count(order)
                )
                reason = "return" if kind is InboundKind.RETURN else "receive"
                for line in lines:
                    if line.actual_qty == 0:
                        continue  # a line its parcel lacked: nothing moves
                    if line.inventory_type == SALEABLE:
                        self.stock.add(warehouse, line.item_code, line.actual_qty, reason, order_id)
                    else:
                        self.stock.add_unsaleable(
                            warehouse,
                            line.item_code,
                            line.inventory_type,
                            line.actual_qty,
                            reason,
                            order_id,
                        )
                saleable = [line for line in lines if line.inventory_type == SALEABLE]
            else:
                self.conn.execute(
                    "UPDATE inbound_order_lines SET actual_qty = plan_qty"
                    " WHERE inbound_order_id = ?",
                    (order_id,),
                )
                lines = [
                    ReportLine(
                        r["order_line_no"],
                        r["owner_code"],
                        r["item_code"],
                        r["inventory_type"],
                        r["plan_qty"],
                        r["actual_qty"],
                    )
                    for r in self.conn.execute(
                        "SELECT * FROM inbound_order_lines WHERE inbound_order_id = ?"
                        " ORDER BY rowid",
                        (order_id,),
                    )
                ]
                for line in lines:
                    self.stock.add(warehouse, line.item_code, line.actual_qty, "receive", order_id)
                saleable = lines
            self.reports.stock_changed(
                order["owner_code"],
                order["order_code"],
                order["order_type"],
                f"{order_id}-STOCK",
                [(warehouse, line.item_code, line.actual_qty) for line in saleable],
            )
        self.reports.emit(
            InboundReceived(
                kind=kind,
                order_code=order["order_code"],
                order_id=order_id,
                owner_code=order["owner_code"],
                warehouse_code=warehouse,
                order_type=order["order_type"],
                purchase_order_code=order["purchase_order_code"],
                supplier_code=order["supplier_code"],
                pre_delivery_order_code=order["pre_delivery_order_code"],
                logistics_code=order["logistics_code"],
                express_code=order["express_code"],
                return_reason=order["return_reason"],
                confirm_time=now_sim,
                lines=tuple(lines),
                out_biz_code=f"{order_id}-FULFILLED",
            )
        )

    def _against_delivery(self, order: sqlite3.Row) -> bool:
        return (
            self.config.supplier_deliveries
            and order["kind"] == InboundKind.ENTRY.value
            and self.deliveries.awaits(order)
        )

    def _check_quality(self, order: sqlite3.Row) -> list[ReportLine]:
        """The return order's lines as its parcel fills them: per line, up to its planQty of
        the parcel's good units of the item (ZP), then of its defective ones (CC); one
        ReportLine per line and inventoryType with units. Units the order does not ask for
        stay in the parcel; a line the parcel lacks is received as 0 (ZP)."""
        order_id = order["inbound_order_id"]
        parcel = self._parcel(order)
        left: dict[str, list[int]] = {}
        for row in self.conn.execute(
            "SELECT item_code, SUM(qty) - SUM(defective), SUM(defective) FROM return_parcel_lines"
            " WHERE owner_code = ? AND logistics_no = ? GROUP BY item_code",
            (order["owner_code"], parcel),
        ):
            left[row[0]] = [int(row[1]), int(row[2])]
        checked: list[ReportLine] = []
        for line in self.conn.execute(
            "SELECT rowid, * FROM inbound_order_lines WHERE inbound_order_id = ? ORDER BY rowid",
            (order_id,),
        ).fetchall():
            good_left, bad_left = left.get(line["item_code"], [0, 0])
            good = min(line["plan_qty"], good_left)
            bad = min(line["plan_qty"] - good, bad_left)
            left[line["item_code"]] = [good_left - good, bad_left - bad]
            checked += record_count(self.conn, order_id, line, good, bad)
        return checked

    # ---------------------------------------------------------------- transfers

    def transfer(self, request: TransferRequest, scope: OwnerScope) -> tuple[str, bool]:
        """transferorder.create: move available stock between warehouses at once.

        Returns (transferOrderId, created); idempotent on (owner, code). All lines or none:
        STOCK_NOT_ENOUGH when the source's on_hand − reserved is short. Only the owner's items
        move; the shared catalog's stock (every owner sells from it) only for the integrator.
        """
        if not request.lines:
            raise WmsError(INVALID_PARAMETER, "orderLines must hold at least one orderLine")
        if request.from_warehouse_code == request.to_warehouse_code:
            raise WmsError(INVALID_PARAMETER, "Invalid arguments:toWarehouseCode = from")
        owner = self.catalog.resolve_owner(request.owner_code, scope, None)
        existing = self.conn.execute(
            "SELECT transfer_order_id FROM transfer_orders WHERE owner_code = ?"
            " AND transfer_order_code = ?",
            (owner, request.transfer_order_code),
        ).fetchone()
        if existing is not None:
            return existing[0], False
        self.catalog.check_warehouse(request.from_warehouse_code)
        self.catalog.check_warehouse(request.to_warehouse_code)
        self.catalog.check_own_items((line.item_code for line in request.lines), owner)
        if scope.owners is not None and any(
            self.catalog.is_shared(line.item_code) for line in request.lines
        ):
            raise WmsError(PERMISSION_DENIED, "共享商品的库存只能由集成商调拨")
        count = self.conn.execute("SELECT COUNT(*) FROM transfer_orders").fetchone()[0]
        order_id = f"TO{int(count) + 1:014d}"
        src, dst = request.from_warehouse_code, request.to_warehouse_code
        with transaction(self.conn):
            self.conn.execute(
                "INSERT INTO transfer_orders VALUES (?, ?, ?, ?, ?, 'FULFILLED', ?, ?)",
                (
                    order_id,
                    request.transfer_order_code,
                    owner,
                    src,
                    dst,
                    format_qimen_time(self.ctx.clock.now()),
                    self.ctx.clock.wall(),
                ),
            )
            for line in request.lines:
                self.stock.take(src, line.item_code, line.plan_qty, "transfer", order_id)
                self.stock.add(dst, line.item_code, line.plan_qty, "transfer", order_id)
                self.conn.execute(
                    "INSERT INTO transfer_order_lines VALUES (?, ?, ?, ?)",
                    (order_id, line.order_line_no, line.item_code, line.plan_qty),
                )
            self.ctx.history.record(
                "state", "transferorder", "FULFILLED", request.transfer_order_code, None
            )
            self.reports.stock_changed(
                owner,
                request.transfer_order_code,
                "DBCK",
                f"{order_id}-STOCK",
                [(src, ln.item_code, -ln.plan_qty) for ln in request.lines]
                + [(dst, ln.item_code, ln.plan_qty) for ln in request.lines],
            )
        return order_id, True
