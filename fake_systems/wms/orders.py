"""Delivery orders (出库单): create, batch create, query and cancel, each within the caller's
owner scope; `fulfilment.py` walks them from NEW to DELIVERED."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence

from fake_systems.common.context import SystemContext
from fake_systems.common.scope import OwnerScope
from fake_systems.common.storage import transaction
from fake_systems.wms.catalog import Catalog
from fake_systems.wms.fulfilment import Fulfilment
from fake_systems.wms.models import (
    CANCELABLE,
    CANCELEDFAIL,
    INVALID_PARAMETER,
    ORDER_NOT_EXIST,
    CarrierDesk,
    CreateResult,
    DeliveryOrderRequest,
    DeliveryOrderView,
    DeliveryStatus,
    LineView,
    WmsError,
)
from fake_systems.wms.reports import Reports
from fake_systems.wms.stock import StockLedger
from simulator.clock import format_qimen_time


class DeliveryOrders:
    """Delivery orders, idempotent on (owner, deliveryOrderCode)."""

    def __init__(
        self,
        ctx: SystemContext,
        catalog: Catalog,
        stock: StockLedger,
        reports: Reports,
        fulfilment: Fulfilment,
        carrier: CarrierDesk | None,
    ) -> None:
        self.ctx = ctx
        self.conn = ctx.conn
        self.catalog = catalog
        self.stock = stock
        self.reports = reports
        self.fulfilment = fulfilment
        self.carrier = carrier
        self._next_seq = 1

    def load(self) -> None:
        """Continue the deliveryOrderId sequence of the database."""
        count = self.conn.execute("SELECT COUNT(*) FROM delivery_orders").fetchone()[0]
        self._next_seq = int(count) + 1

    def create(self, request: DeliveryOrderRequest, scope: OwnerScope) -> CreateResult:
        """Create (or find again) a delivery order, reserve its stock and start fulfilment.

        Idempotent on (owner, deliveryOrderCode): the owner is the lines' ownerCode, else the
        caller's only owner, else the caller's customerId. Items must be the owner's or shared,
        an `expressCode` a waybill the carrier issued for that owner. Raises WmsError on refusal.
        """
        if not request.lines:
            raise WmsError(INVALID_PARAMETER, "orderLines must hold at least one orderLine")
        owners = {line.owner_code for line in request.lines if line.owner_code}
        if len(owners) > 1:
            raise WmsError(
                INVALID_PARAMETER, f"one delivery order, one ownerCode: {sorted(owners)}"
            )
        explicit_owner = owners.pop() if owners else None
        owner = self.catalog.resolve_owner(explicit_owner, scope, request.customer_id)
        existing = self.conn.execute(
            "SELECT delivery_order_id, warehouse_code, logistics_code, created_sim"
            " FROM delivery_orders WHERE owner_code = ? AND delivery_order_code = ?",
            (owner, request.delivery_order_code),
        ).fetchone()
        if existing is not None:
            return CreateResult(
                existing["delivery_order_id"],
                existing["warehouse_code"],
                existing["logistics_code"],
                existing["created_sim"],
                created=False,
            )
        self.catalog.check_warehouse(request.warehouse_code)
        self.catalog.check_own_items((line.item_code for line in request.lines), owner)
        if request.express_code:
            self._check_waybill(request.express_code, owner)

        order_id = f"DO{self._next_seq:014d}"
        now_sim, now_wall = format_qimen_time(self.ctx.clock.now()), self.ctx.clock.wall()
        with transaction(self.conn):
            self.conn.execute(
                "INSERT INTO delivery_orders (delivery_order_id, delivery_order_code,"
                " source_order_code, owner_code, customer_id, warehouse_code, order_type, status,"
                " logistics_code, express_code, source_platform_code, shop_nick, created_sim,"
                " created_wall, receiver_province)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    order_id,
                    request.delivery_order_code,
                    request.lines[0].source_order_code,
                    owner,
                    request.customer_id,
                    request.warehouse_code,
                    request.order_type,
                    DeliveryStatus.NEW.value,
                    request.logistics_code,
                    request.express_code,
                    request.source_platform_code,
                    request.shop_nick,
                    now_sim,
                    now_wall,
                    request.receiver_province,
                ),
            )
            self.conn.executemany(
                "INSERT INTO delivery_order_lines VALUES (?, ?, ?, ?, 0, ?, ?, ?, ?)",
                [
                    (
                        order_id,
                        line.order_line_no,
                        line.item_code,
                        line.plan_qty,
                        line.owner_code or owner,
                        line.source_order_code,
                        line.inventory_type,
                        line.actual_price,
                    )
                    for line in request.lines
                ],
            )
            for line in request.lines:
                self.stock.reserve(request.warehouse_code, line.item_code, line.plan_qty, order_id)
            self.ctx.history.record(
                "state",
                "deliveryorder",
                DeliveryStatus.NEW.value,
                request.delivery_order_code,
                {"deliveryOrderId": order_id, "warehouseCode": request.warehouse_code},
            )
        self._next_seq += 1
        self.fulfilment.start(order_id, request.delivery_order_code, request.warehouse_code)
        return CreateResult(order_id, request.warehouse_code, request.logistics_code, now_sim, True)

    def create_many(
        self, requests: Sequence[DeliveryOrderRequest], scope: OwnerScope
    ) -> list[CreateResult | WmsError]:
        """deliveryorder.batchcreate: each order on its own, all-or-nothing per order."""
        results: list[CreateResult | WmsError] = []
        with transaction(self.conn):
            for request in requests:
                # A savepoint per order: one refused order must not undo the others.
                self.conn.execute("SAVEPOINT batch_order")
                try:
                    results.append(self.create(request, scope))
                except WmsError as error:
                    self.conn.execute("ROLLBACK TO batch_order")
                    results.append(error)
                self.conn.execute("RELEASE batch_order")
        return results

    def cancel(
        self,
        order_code: str,
        owner_code: str | None,
        scope: OwnerScope,
        warehouse_code: str | None = None,
    ) -> DeliveryStatus:
        """Cancel in NEW or ACCEPT: the reservation is released and fulfilment stops.
        Cancelling a CANCELED order succeeds again; later it raises WmsError(CANCELEDFAIL)."""
        row = find_order(self.conn, order_code, owner_code, scope, warehouse=warehouse_code)
        status = DeliveryStatus(row["status"])
        if status is DeliveryStatus.CANCELED:
            return status
        if status not in CANCELABLE:
            raise WmsError(CANCELEDFAIL, f"订单状态为 {status.value}, 已开始拣货, 不允许取消")
        order_id = row["delivery_order_id"]
        with transaction(self.conn):
            self.conn.execute(
                "UPDATE delivery_orders SET status = ?, canceled_sim = ?, canceled_wall = ?"
                " WHERE delivery_order_id = ?",
                (
                    DeliveryStatus.CANCELED.value,
                    format_qimen_time(self.ctx.clock.now()),
                    self.ctx.clock.wall(),
                    order_id,
                ),
            )
            for line in order_lines(self.conn, order_id):
                self.stock.release(
                    row["warehouse_code"], line["item_code"], line["plan_qty"], order_id
                )
            self.ctx.history.record(
                "state",
                "deliveryorder",
                DeliveryStatus.CANCELED.value,
                order_code,
                {"deliveryOrderId": order_id, "from": status.value},
            )
            self.reports.order_progressed(order_id, DeliveryStatus.CANCELED)
        self.fulfilment.stop(order_id)
        return DeliveryStatus.CANCELED

    def query(
        self, order_code: str, owner_code: str | None, scope: OwnerScope
    ) -> DeliveryOrderView:
        """The order with its lines; raises WmsError(ORDER_NOT_EXIST)."""
        row = find_order(self.conn, order_code, owner_code, scope)
        return DeliveryOrderView(
            delivery_order_id=row["delivery_order_id"],
            delivery_order_code=row["delivery_order_code"],
            owner_code=row["owner_code"],
            warehouse_code=row["warehouse_code"],
            order_type=row["order_type"],
            status=DeliveryStatus(row["status"]),
            logistics_code=row["logistics_code"],
            express_code=row["express_code"],
            created_sim=row["created_sim"],
            delivered_sim=row["delivered_sim"],
            weight_kg=row["weight_kg"],
            lines=line_views(order_lines(self.conn, row["delivery_order_id"])),
        )

    def _check_waybill(self, express_code: str, owner: str) -> None:
        """A waybill given with an order must be usable for the order's owner; another
        owner's is refused exactly like one nobody issued (no existence leak)."""
        taken = self.conn.execute(
            "SELECT 1 FROM delivery_orders WHERE express_code = ? AND owner_code <> ? LIMIT 1",
            (express_code, owner),
        ).fetchone()
        usable = taken is None and (
            self.carrier is None or self.carrier.waybill_usable(express_code, owner)
        )
        if not usable:
            raise WmsError(
                INVALID_PARAMETER, f"Invalid arguments:expressCode {express_code} (运单号不可用)"
            )


def find_order(
    conn: sqlite3.Connection,
    order_code: str,
    owner_code: str | None,
    scope: OwnerScope,
    table: str = "delivery_orders",
    code_column: str = "delivery_order_code",
    extra: tuple[str, str] | None = None,
    warehouse: str | None = None,
) -> sqlite3.Row:
    """The order with this code, of `owner_code` and in `warehouse` if given, within `scope`.

    Without an owner, a code two owners in scope both use is refused rather than
    guessed: acting on the wrong owner's order is worse than asking for `ownerCode`.
    """
    where, args = [f"{code_column} = ?"], [order_code]
    if owner_code:
        where.append("owner_code = ?")
        args.append(owner_code)
    if scope.owners is not None:
        where.append(f"owner_code IN ({','.join('?' * len(scope.names))})")
        args.extend(scope.names)
    if extra is not None:
        where.append(f"{extra[0]} = ?")
        args.append(extra[1])
    if warehouse is not None:
        where.append("warehouse_code = ?")
        args.append(warehouse)
    rows = conn.execute(
        f"SELECT * FROM {table} WHERE {' AND '.join(where)} ORDER BY rowid LIMIT 2", args
    ).fetchall()
    if not rows:
        raise WmsError(ORDER_NOT_EXIST, f"单据不存在: {order_code}")
    if len(rows) > 1:
        raise WmsError(
            INVALID_PARAMETER,
            f"Invalid arguments:ownerCode required, {order_code} 属于多个货主",
        )
    return rows[0]  # type: ignore[no-any-return]


def order_lines(conn: sqlite3.Connection, order_id: str) -> list[sqlite3.Row]:
    return conn.execute(
        "SELECT * FROM delivery_order_lines WHERE delivery_order_id = ? ORDER BY rowid",
        (order_id,),
    ).fetchall()


def line_views(rows: Iterable[sqlite3.Row]) -> tuple[LineView, ...]:
    return tuple(
        LineView(r["order_line_no"], r["item_code"], r["plan_qty"], r["actual_qty"]) for r in rows
    )
