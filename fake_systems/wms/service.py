"""The WMS domain service: delivery orders, stock reservations, fulfilment as SimPy processes."""

from __future__ import annotations

import sqlite3
from collections.abc import Generator, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import simpy

from fake_systems.common.context import SystemContext
from fake_systems.common.credentials import QimenCredentials
from fake_systems.common.signing import qimen_sign
from fake_systems.common.storage import transaction
from fake_systems.common.webhooks import Push, PushReply
from fake_systems.wms import qimen_xml
from fake_systems.wms.models import (
    CANCELABLE,
    CANCELEDFAIL,
    ENTRY_ORDER_TYPES,
    INVALID_PARAMETER,
    ITEM_EXIST,
    ITEM_NOT_EXIST,
    ORDER_NOT_EXIST,
    OWNER_NOT_EXIST,
    PERMISSION_DENIED,
    RETURN_ORDER_TYPES,
    STOCK_NOT_ENOUGH,
    WAREHOUSE_NOT_EXIST,
    CarrierDesk,
    CreateResult,
    DeliveryOrderRequest,
    DeliveryOrderView,
    DeliveryStatus,
    InboundKind,
    InboundOrderRequest,
    InboundOrderView,
    InboundResult,
    InboundStatus,
    ItemRequest,
    LineView,
    Scope,
    StockView,
    TransferRequest,
    WmsConfig,
    WmsError,
)
from simulator.clock import CHINA, format_qimen_time
from simulator.world import World

__all__ = ["CarrierDesk", "WmsConfig", "WmsError", "WmsService"]

CONFIRM_METHOD = "taobao.qimen.deliveryorder.confirm"
STOCK_CHANGE_METHOD = "taobao.qimen.stockchange.report"
PROCESS_METHOD = "taobao.qimen.orderprocess.report"
INBOUND_CONFIRM_METHODS = {
    InboundKind.ENTRY: "taobao.qimen.entryorder.confirm",
    InboundKind.RETURN: "taobao.qimen.returnorder.confirm",
}
_INBOUND_ID_PREFIX = {InboundKind.ENTRY: "EO", InboundKind.RETURN: "RO"}

SCHEMA = """
CREATE TABLE IF NOT EXISTS warehouses (
    warehouse_code TEXT PRIMARY KEY, name TEXT, province TEXT, city TEXT, area TEXT,
    address TEXT, carrier_code TEXT, pickers INTEGER, packers INTEGER
);
CREATE TABLE IF NOT EXISTS owners (owner_code TEXT PRIMARY KEY, name TEXT);
CREATE TABLE IF NOT EXISTS items (
    item_code TEXT PRIMARY KEY, name TEXT, category TEXT, weight_kg REAL,
    owner_code TEXT, bar_code TEXT, updated_sim TEXT  -- owner NULL: the world's shared catalog
);
CREATE TABLE IF NOT EXISTS stock (
    warehouse_code TEXT NOT NULL, item_code TEXT NOT NULL, initial_qty INTEGER NOT NULL,
    on_hand INTEGER NOT NULL, reserved INTEGER NOT NULL,
    PRIMARY KEY (warehouse_code, item_code)
);
CREATE TABLE IF NOT EXISTS stock_ledger (
    seq INTEGER PRIMARY KEY, warehouse_code TEXT, item_code TEXT, field TEXT,
    change INTEGER, balance_after INTEGER, reason TEXT, reference TEXT,
    sim_time TEXT, wall_time REAL
);
CREATE TABLE IF NOT EXISTS delivery_orders (
    delivery_order_id TEXT PRIMARY KEY, delivery_order_code TEXT NOT NULL,
    source_order_code TEXT, owner_code TEXT NOT NULL, customer_id TEXT,
    warehouse_code TEXT NOT NULL, order_type TEXT, status TEXT NOT NULL,
    logistics_code TEXT, express_code TEXT, source_platform_code TEXT, shop_nick TEXT,
    weight_kg REAL, created_sim TEXT, created_wall REAL, delivered_sim TEXT,
    delivered_wall REAL, canceled_sim TEXT, canceled_wall REAL,
    UNIQUE (owner_code, delivery_order_code)
);
CREATE INDEX IF NOT EXISTS delivery_orders_code ON delivery_orders(delivery_order_code);
CREATE INDEX IF NOT EXISTS delivery_orders_express ON delivery_orders(express_code);
CREATE TABLE IF NOT EXISTS delivery_order_lines (
    delivery_order_id TEXT NOT NULL, order_line_no TEXT, item_code TEXT, plan_qty INTEGER,
    actual_qty INTEGER, owner_code TEXT, source_order_code TEXT, inventory_type TEXT,
    actual_price TEXT
);
CREATE INDEX IF NOT EXISTS delivery_order_lines_id ON delivery_order_lines(delivery_order_id);
CREATE TABLE IF NOT EXISTS inbound_orders (
    inbound_order_id TEXT PRIMARY KEY, kind TEXT NOT NULL, order_code TEXT NOT NULL,
    owner_code TEXT NOT NULL, warehouse_code TEXT NOT NULL, order_type TEXT, status TEXT NOT NULL,
    supplier_code TEXT, purchase_order_code TEXT, pre_delivery_order_code TEXT,
    logistics_code TEXT, express_code TEXT, return_reason TEXT, created_sim TEXT,
    created_wall REAL, confirmed_sim TEXT, confirmed_wall REAL,
    UNIQUE (kind, owner_code, order_code)
);
CREATE TABLE IF NOT EXISTS inbound_order_lines (
    inbound_order_id TEXT NOT NULL, order_line_no TEXT, item_code TEXT, plan_qty INTEGER,
    actual_qty INTEGER, owner_code TEXT, inventory_type TEXT
);
CREATE INDEX IF NOT EXISTS inbound_order_lines_id ON inbound_order_lines(inbound_order_id);
CREATE TABLE IF NOT EXISTS transfer_orders (
    transfer_order_id TEXT PRIMARY KEY, transfer_order_code TEXT NOT NULL,
    owner_code TEXT NOT NULL, from_warehouse_code TEXT NOT NULL, to_warehouse_code TEXT NOT NULL,
    status TEXT NOT NULL, created_sim TEXT, created_wall REAL,
    UNIQUE (owner_code, transfer_order_code)
);
CREATE TABLE IF NOT EXISTS transfer_order_lines (
    transfer_order_id TEXT NOT NULL, order_line_no TEXT, item_code TEXT, qty INTEGER
);
"""

_INSERT_LEDGER = (
    "INSERT INTO stock_ledger (warehouse_code, item_code, field, change, balance_after, reason,"
    " reference, sim_time, wall_time) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


@dataclass
class _Crew:
    """A warehouse's people: orders queue for them, which is how a backlog builds at peak."""

    pickers: simpy.Resource
    packers: simpy.Resource


class WmsService:
    """A Qimen-speaking warehouse: takes delivery orders, reserves stock, picks, packs and ships.

    Each order runs NEW → ACCEPT → PICK → PACKAGE → DELIVERED as a SimPy process that queues
    for the warehouse's pickers and packers; cancellation is possible in NEW and ACCEPT only.
    On DELIVERED it pushes a final `deliveryorder.confirm` and hands the parcel to the carrier.
    A configurable share of orders ships in two packages: PACKAGE → PARTDELIVERED (a partial
    confirm, confirmType 1) → DELIVERED (the final confirm with the rest). With
    `process_reports` every state change is also pushed as `orderprocess.report`.
    Entry and return orders run NEW → ACCEPT → FULFILLED; on FULFILLED stock rises and an
    `entryorder.confirm` / `returnorder.confirm` is pushed. Transfers move stock at once.

    Every command takes a `scope` (the caller's owner codes, None = all): orders and items of
    other owners are invisible (ORDER_NOT_EXIST / ITEM_NOT_EXIST), naming an owner outside the
    scope is refused (isv.permission-denied).

    LIMITATIONS (what the fake does not imitate):
    - No short picks, EXCEPTION/REJECT; every unit ordered is shipped in the end.
    - At most two packages per order (split by units in line order, the first holding half,
      rounded down); weight is the sum of catalog weights, no packaging material.
    - orderprocess.report covers delivery orders only, not entry or return orders.
    - No batches, inventory types other than as recorded, locations, waves, PRINT/CHECK/WEIGH.
    - Stock is per (warehouse, item), not per owner: owners are kept apart by item ownership
      (items synchronised by an owner are that owner's; the world's catalog is shared).
    - Inbound orders are received in full (actualQty = planQty), no PARTFULFILLED, no
      quality states; transfers are instant (no DBCK/DBRK legs, no in-transit stock).
    - No stock counts (盘点) or adjustments other than by the orders above.
    - Orders in flight are not resumed after a process restart (state lives in one run).
    - A repeated order code returns the first order even if the content differs.
    """

    def __init__(
        self,
        ctx: SystemContext,
        credentials: QimenCredentials,
        config: WmsConfig | None = None,
        carrier: CarrierDesk | None = None,
    ) -> None:
        self.ctx = ctx
        self.credentials = credentials
        self.config = config or WmsConfig()
        self.carrier = carrier
        # Where deliveryorder.confirm goes (the connector's callback); None: no pushes.
        self.confirm_callback_url: str | None = None
        self.conn: sqlite3.Connection = ctx.conn
        self.env: simpy.Environment = ctx.clock.env
        self._warehouses: dict[str, str] = {}  # code -> default carrier code
        self._owners: set[str] = set()
        self._weights: dict[str, float] = {}  # item code -> kg
        self._item_owners: dict[str, str | None] = {}  # item code -> owner (None: shared)
        self._crews: dict[str, _Crew] = {}
        self._processes: dict[str, simpy.Process] = {}
        self._next_seq = 1
        self.conn.executescript(SCHEMA)

    # ---------------------------------------------------------------- setup

    def setup(self, world: World) -> None:
        """Create the tables and seed warehouses, owners, items and initial stock from the world.

        Safe to call on an existing database: master data and stock already there are kept.
        """
        with transaction(self.conn):
            self.conn.executemany(
                "INSERT OR IGNORE INTO warehouses VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        w.code,
                        w.name,
                        w.province,
                        w.city,
                        w.area,
                        w.address,
                        w.carrier_code,
                        w.pickers,
                        w.packers,
                    )
                    for w in world.warehouses
                ],
            )
            self.conn.executemany(
                "INSERT OR IGNORE INTO owners VALUES (?, ?)",
                [(o.code, o.name) for o in world.owners],
            )
            self.conn.executemany(
                "INSERT OR IGNORE INTO items (item_code, name, category, weight_kg)"
                " VALUES (?, ?, ?, ?)",
                [(s.item_code, s.name, s.category, s.weight_kg) for s in world.skus],
            )
            self.conn.executemany(
                "INSERT OR IGNORE INTO stock VALUES (?, ?, ?, ?, 0)",
                [(wh, item, qty, qty) for (wh, item), qty in world.initial_stock.items()],
            )
        self._load_master_data()

    def _load_master_data(self) -> None:
        # Master data is read on every request; memory is much faster than a query each time.
        for row in self.conn.execute("SELECT * FROM warehouses"):
            self._warehouses[row["warehouse_code"]] = row["carrier_code"]
            if row["warehouse_code"] not in self._crews:
                self._crews[row["warehouse_code"]] = _Crew(
                    simpy.Resource(self.env, capacity=max(1, row["pickers"])),
                    simpy.Resource(self.env, capacity=max(1, row["packers"])),
                )
        self._owners = {row[0] for row in self.conn.execute("SELECT owner_code FROM owners")}
        self._weights, self._item_owners = {}, {}
        for row in self.conn.execute("SELECT item_code, weight_kg, owner_code FROM items"):
            self._weights[row[0]] = float(row[1] or 0.0)
            self._item_owners[row[0]] = row[2]
        count = self.conn.execute("SELECT COUNT(*) FROM delivery_orders").fetchone()[0]
        self._next_seq = int(count) + 1

    # ---------------------------------------------------------------- scope

    def _item_visible(self, item_code: str, scope: Scope) -> bool:
        """Shared catalog items are visible to all; an owner's items to its scope only."""
        if item_code not in self._weights:
            return False
        owner = self._item_owners.get(item_code)
        return scope is None or owner is None or owner in scope

    def _check_items(self, item_codes: Iterable[str], scope: Scope) -> None:
        for code in item_codes:
            if not self._item_visible(code, scope):
                raise WmsError(ITEM_NOT_EXIST, f"商品不存在: {code}")

    def _check_own_items(self, item_codes: Iterable[str], owner: str) -> None:
        """The items of an order must be the order's owner's or shared, whoever the caller:
        an order of one owner never reserves, receives or moves another owner's stock."""
        self._check_items(item_codes, frozenset({owner}))

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

    def _resolve_owner(self, explicit: str | None, scope: Scope, fallback: str | None) -> str:
        """The owner a command acts for: the named one, else the caller's only owner, else
        `fallback`; refused if outside the caller's scope or (when named) not an owner."""
        owner = explicit or (next(iter(scope)) if scope is not None and len(scope) == 1 else None)
        owner = owner or fallback or ""
        if scope is not None and owner not in scope:
            raise WmsError(PERMISSION_DENIED, f"货主 {owner or '(none)'} 不在授权范围内")
        if explicit is not None and explicit not in self._owners:
            raise WmsError(OWNER_NOT_EXIST, f"货主不存在: {explicit}")
        return owner

    def _check_warehouse(self, code: str) -> None:
        if code not in self._warehouses:
            raise WmsError(WAREHOUSE_NOT_EXIST, f"仓库不存在: {code}")

    # ---------------------------------------------------------------- commands

    def create_delivery_order(
        self, request: DeliveryOrderRequest, scope: Scope = None
    ) -> CreateResult:
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
        owner = self._resolve_owner(explicit_owner, scope, request.customer_id)
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
        self._check_warehouse(request.warehouse_code)
        self._check_own_items((line.item_code for line in request.lines), owner)
        if request.express_code:
            self._check_waybill(request.express_code, owner)

        order_id = f"DO{self._next_seq:014d}"
        now_sim, now_wall = format_qimen_time(self.ctx.clock.now()), self.ctx.clock.wall()
        with transaction(self.conn):
            self.conn.execute(
                "INSERT INTO delivery_orders (delivery_order_id, delivery_order_code,"
                " source_order_code, owner_code, customer_id, warehouse_code, order_type, status,"
                " logistics_code, express_code, source_platform_code, shop_nick, created_sim,"
                " created_wall) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
                self._reserve(request.warehouse_code, line.item_code, line.plan_qty, order_id)
            self.ctx.history.record(
                "state",
                "deliveryorder",
                DeliveryStatus.NEW.value,
                request.delivery_order_code,
                {"deliveryOrderId": order_id, "warehouseCode": request.warehouse_code},
            )
        self._next_seq += 1
        self._processes[order_id] = self.env.process(
            self._fulfil(order_id, request.delivery_order_code, request.warehouse_code)
        )
        return CreateResult(order_id, request.warehouse_code, request.logistics_code, now_sim, True)

    def _reserve(self, warehouse: str, item: str, qty: int, order_id: str) -> None:
        # The guard in WHERE makes check-and-reserve one statement: no oversell, even for
        # an order naming the same item on several lines.
        row = self.conn.execute(
            "UPDATE stock SET reserved = reserved + ? WHERE warehouse_code = ? AND item_code = ?"
            " AND on_hand - reserved >= ? RETURNING reserved",
            (qty, warehouse, item, qty),
        ).fetchone()
        if row is None:
            have = self.conn.execute(
                "SELECT on_hand - reserved FROM stock WHERE warehouse_code = ? AND item_code = ?",
                (warehouse, item),
            ).fetchone()
            available = have[0] if have else 0
            raise WmsError(
                STOCK_NOT_ENOUGH,
                f"库存不足: 仓库 {warehouse} 商品 {item} 可用 {available}, 需要 {qty}",
            )
        self._ledger(warehouse, item, "reserved", qty, row[0], "reserve", order_id)

    def _ledger(
        self,
        warehouse: str,
        item: str,
        field: str,
        change: int,
        balance: int,
        reason: str,
        ref: str,
    ) -> None:
        self.conn.execute(
            _INSERT_LEDGER,
            (
                warehouse,
                item,
                field,
                change,
                balance,
                reason,
                ref,
                format_qimen_time(self.ctx.clock.now()),
                self.ctx.clock.wall(),
            ),
        )

    def create_delivery_orders(
        self, requests: Sequence[DeliveryOrderRequest], scope: Scope = None
    ) -> list[CreateResult | WmsError]:
        """deliveryorder.batchcreate: each order on its own, all-or-nothing per order."""
        results: list[CreateResult | WmsError] = []
        with transaction(self.conn):
            for request in requests:
                # A savepoint per order: one refused order must not undo the others.
                self.conn.execute("SAVEPOINT batch_order")
                try:
                    results.append(self.create_delivery_order(request, scope))
                except WmsError as error:
                    self.conn.execute("ROLLBACK TO batch_order")
                    results.append(error)
                self.conn.execute("RELEASE batch_order")
        return results

    def cancel_order(
        self,
        order_code: str,
        owner_code: str | None = None,
        scope: Scope = None,
        order_type: str | None = None,
    ) -> DeliveryStatus | InboundStatus:
        """Cancel an order in NEW or ACCEPT; returns its new status (CANCELED).

        A delivery order's reservation is released and its fulfilment stopped; an entry or
        return order (chosen by an inbound `order_type`) simply stops. Cancelling an already
        cancelled order succeeds again; later it raises WmsError(CANCELEDFAIL).
        """
        if order_type in ENTRY_ORDER_TYPES or order_type in RETURN_ORDER_TYPES:
            kind = InboundKind.ENTRY if order_type in ENTRY_ORDER_TYPES else InboundKind.RETURN
            return self._cancel_inbound(kind, order_code, owner_code, scope)
        row = self._find(order_code, owner_code, scope)
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
            for line in self._lines(order_id):
                balance = self.conn.execute(
                    "UPDATE stock SET reserved = reserved - ? WHERE warehouse_code = ?"
                    " AND item_code = ? RETURNING reserved",
                    (line["plan_qty"], row["warehouse_code"], line["item_code"]),
                ).fetchone()[0]
                self._ledger(
                    row["warehouse_code"],
                    line["item_code"],
                    "reserved",
                    -line["plan_qty"],
                    balance,
                    "cancel",
                    order_id,
                )
            self.ctx.history.record(
                "state",
                "deliveryorder",
                DeliveryStatus.CANCELED.value,
                order_code,
                {"deliveryOrderId": order_id, "from": status.value},
            )
            self._report_process(order_id, DeliveryStatus.CANCELED)
        process = self._processes.pop(order_id, None)
        if process is not None and process.is_alive:
            process.interrupt("canceled")
        return DeliveryStatus.CANCELED

    # ---------------------------------------------------------------- queries

    def query_delivery_order(
        self, order_code: str, owner_code: str | None = None, scope: Scope = None
    ) -> DeliveryOrderView:
        """The order with its lines; raises WmsError(ORDER_NOT_EXIST)."""
        row = self._find(order_code, owner_code, scope)
        lines = _line_views(self._lines(row["delivery_order_id"]))
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
            lines=lines,
        )

    def _find(
        self,
        order_code: str,
        owner_code: str | None,
        scope: Scope = None,
        table: str = "delivery_orders",
        code_column: str = "delivery_order_code",
        extra: tuple[str, str] | None = None,
    ) -> sqlite3.Row:
        """The order with this code, of `owner_code` if given, within `scope`.

        Without an owner, a code two owners in scope both use is refused rather than
        guessed: acting on the wrong owner's order is worse than asking for `ownerCode`.
        """
        where, args = [f"{code_column} = ?"], [order_code]
        if owner_code:
            where.append("owner_code = ?")
            args.append(owner_code)
        if scope is not None:
            where.append(f"owner_code IN ({','.join('?' * len(scope))})")
            args.extend(sorted(scope))
        if extra is not None:
            where.append(f"{extra[0]} = ?")
            args.append(extra[1])
        rows = self.conn.execute(
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

    def _lines(self, order_id: str) -> list[sqlite3.Row]:
        return self.conn.execute(
            "SELECT * FROM delivery_order_lines WHERE delivery_order_id = ? ORDER BY rowid",
            (order_id,),
        ).fetchall()

    # ---------------------------------------------------------------- fulfilment

    def _between(self, bounds: tuple[float, float]) -> float:
        return self.ctx.random.uniform(*bounds)

    def _fulfil(
        self, order_id: str, code: str, warehouse: str
    ) -> Generator[simpy.Event, Any, None]:
        crew = self._crews[warehouse]
        try:
            yield self.env.timeout(self._between(self.config.accept_seconds))
            if not self._advance(order_id, code, DeliveryStatus.NEW, DeliveryStatus.ACCEPT):
                return
            with crew.pickers.request() as turn:
                yield turn
                if not self._advance(order_id, code, DeliveryStatus.ACCEPT, DeliveryStatus.PICK):
                    return
                yield self.env.timeout(self._between(self.config.pick_seconds))
            with crew.packers.request() as turn:
                yield turn
                self._advance(order_id, code, DeliveryStatus.PICK, DeliveryStatus.PACKAGE)
                yield self.env.timeout(self._between(self.config.pack_seconds))
            packages = self._packages(order_id)
            for number, package in enumerate(packages, start=1):
                if number > 1:  # the rest is packed once more before it leaves
                    yield self.env.timeout(self._between(self.config.pack_seconds))
                self._ship(order_id, package, number, final=number == len(packages))
        except simpy.Interrupt:
            return  # cancelled: the cancel already released the stock
        except Exception as exc:
            # An error here must not stop the whole simulation; leave the order where it is.
            self.ctx.history.record(
                "fault",
                "deliveryorder.fulfil",
                f"error:{type(exc).__name__}",
                code,
                {"error": str(exc)},
            )
        finally:
            self._processes.pop(order_id, None)

    def _advance(
        self, order_id: str, code: str, before: DeliveryStatus, after: DeliveryStatus
    ) -> bool:
        """Move one step if the order is still where the process thinks it is."""
        with transaction(self.conn):
            moved = self.conn.execute(
                "UPDATE delivery_orders SET status = ? WHERE delivery_order_id = ? AND status = ?",
                (after.value, order_id, before.value),
            ).rowcount
            if moved:
                self.ctx.history.record(
                    "state", "deliveryorder", after.value, code, {"deliveryOrderId": order_id}
                )
                self._report_process(order_id, after)
        return bool(moved)

    def _packages(self, order_id: str) -> list[dict[int, int]]:
        """The order's packages as {line rowid: units}: one, or two for the configured share.

        A split takes half the units (rounded down) in line order for the first package, so
        it may hold whole lines, part of a line, or both; orders of one unit never split.
        """
        lines = self.conn.execute(
            "SELECT rowid, plan_qty FROM delivery_order_lines WHERE delivery_order_id = ?"
            " ORDER BY rowid",
            (order_id,),
        ).fetchall()
        whole = {int(row[0]): int(row[1]) for row in lines}
        total = sum(whole.values())
        share = self.config.partial_delivery_share
        # Drawing only when a share is set keeps the random stream of other runs unchanged.
        if share <= 0 or total < 2 or self.ctx.random.random() >= share:
            return [whole]
        first: dict[int, int] = {}
        left = total // 2
        for rowid, qty in whole.items():
            take = min(qty, left)
            if take > 0:
                first[rowid] = take
                left -= take
        rest = {rowid: qty - first.get(rowid, 0) for rowid, qty in whole.items()}
        return [first, {rowid: qty for rowid, qty in rest.items() if qty > 0}]

    def _ship(self, order_id: str, package: dict[int, int], number: int, final: bool) -> None:
        """One package leaves: its stock goes, the connector is told, the carrier takes over.

        `package` maps line rowids to units. The final package makes the order DELIVERED
        (delivered_sim/wall set now), an earlier one PARTDELIVERED; `actual_qty` of each line
        adds up what has been shipped so far.
        """
        order = dict(
            self.conn.execute(
                "SELECT * FROM delivery_orders WHERE delivery_order_id = ?", (order_id,)
            ).fetchone()
        )
        warehouse, code = order["warehouse_code"], order["delivery_order_code"]
        owner = order["owner_code"]
        shipper = order["logistics_code"] or self._warehouses[warehouse]
        if number == 1:  # the order's own waybill: as the create gave it, else issued now
            express = order["express_code"] or self._waybill(code, shipper, owner)
            order["express_code"] = express
        else:  # every further parcel needs a number of its own
            express = self._waybill(f"{code}-{number}", shipper, owner)
        lines = [
            {**dict(line), "actual_qty": package[line["rowid"]]}
            for line in self.conn.execute(
                "SELECT rowid, * FROM delivery_order_lines WHERE delivery_order_id = ?"
                " ORDER BY rowid",
                (order_id,),
            )
            if line["rowid"] in package
        ]
        weight = round(sum(self._weights[ln["item_code"]] * ln["actual_qty"] for ln in lines), 3)
        status = DeliveryStatus.DELIVERED if final else DeliveryStatus.PARTDELIVERED
        now_sim, now_wall = format_qimen_time(self.ctx.clock.now()), self.ctx.clock.wall()
        single = final and number == 1
        tag = "" if single else f"-P{number}"
        with transaction(self.conn):
            self.conn.execute(
                "UPDATE delivery_orders SET status = ?, express_code = ?,"
                " weight_kg = COALESCE(weight_kg, 0) + ?, delivered_sim = ?, delivered_wall = ?"
                " WHERE delivery_order_id = ?",
                (
                    status.value,
                    order["express_code"],
                    weight,
                    now_sim if final else None,
                    now_wall if final else None,
                    order_id,
                ),
            )
            for line in lines:
                qty = line["actual_qty"]
                self.conn.execute(
                    "UPDATE delivery_order_lines SET actual_qty = actual_qty + ? WHERE rowid = ?",
                    (qty, line["rowid"]),
                )
                on_hand, reserved = self.conn.execute(
                    "UPDATE stock SET on_hand = on_hand - ?, reserved = reserved - ?"
                    " WHERE warehouse_code = ? AND item_code = ? RETURNING on_hand, reserved",
                    (qty, qty, warehouse, line["item_code"]),
                ).fetchone()
                self._ledger(
                    warehouse, line["item_code"], "on_hand", -qty, on_hand, "ship", order_id
                )
                self._ledger(
                    warehouse, line["item_code"], "reserved", -qty, reserved, "ship", order_id
                )
            detail: dict[str, Any] = {
                "deliveryOrderId": order_id,
                "expressCode": express,
                "weight": weight,
            }
            if not single:
                detail["package"] = number
            self.ctx.history.record("state", "deliveryorder", status.value, code, detail)
            self._report_stock_change(
                owner,
                code,
                order["order_type"],
                f"{order_id}{tag}-STOCK",
                [(warehouse, line["item_code"], -line["actual_qty"]) for line in lines],
            )
            self._report_process(order_id, status, None if single else f"包裹 {number}")
        order["delivered_sim"] = now_sim  # the confirm's orderConfirmTime: this package's
        out_biz_code = f"{order_id}-{status.value}" + ("" if final else f"-{number}")
        self._push_confirm(order, lines, express, weight, out_biz_code, final)
        if self.carrier is not None:
            self.carrier.hand_over(express, shipper, weight)

    def _waybill(self, order_code: str, shipper: str, owner: str) -> str:
        if self.carrier is not None:
            return self.carrier.issue_waybill(order_code, shipper, owner)
        # No carrier wired (unit tests, WMS alone): a made-up but well-formed number.
        return f"{shipper}{self.ctx.random.randrange(10**11, 10**12)}"

    def _push_confirm(
        self,
        order: dict[str, Any],
        lines: list[dict[str, Any]],
        express: str,
        weight: float,
        out_biz_code: str,
        final: bool,
    ) -> None:
        body = qimen_xml.confirm_body(order, lines, express, weight, out_biz_code, final)
        self._push(
            CONFIRM_METHOD,
            order["delivery_order_code"],
            body,
            {
                "deliveryOrderId": order["delivery_order_id"],
                "outBizCode": out_biz_code,
                "expressCode": express,
            },
        )

    def _push(self, method: str, entity: str, body: str, summary: dict[str, Any]) -> None:
        """Send one signed Qimen call to the connector's callback (none set: nothing sent)."""
        url = self.confirm_callback_url
        if not url:
            return
        self.ctx.dispatcher.send(
            Push(
                operation=method.removeprefix("taobao.qimen."),
                entity=entity,
                url=url,
                content=body.encode(),
                headers={"Content-Type": qimen_xml.CONTENT_TYPE},
                params=self.signed_params(method, body),
                accepted=_confirm_accepted,
                payload_for_history=summary,
            )
        )

    def _report_process(
        self, order_id: str, status: DeliveryStatus, remark: str | None = None
    ) -> None:
        """orderprocess.report of a delivery order's new state, when enabled."""
        if not self.config.process_reports:
            return
        order = self.conn.execute(
            "SELECT delivery_order_id, delivery_order_code, owner_code, order_type,"
            " warehouse_code FROM delivery_orders WHERE delivery_order_id = ?",
            (order_id,),
        ).fetchone()
        out_biz_code = f"{order_id}-PROCESS-{status.value}"
        body = qimen_xml.process_report_body(
            dict(order),
            status.value,
            format_qimen_time(self.ctx.clock.now()),
            out_biz_code,
            remark,
        )
        self._push(
            PROCESS_METHOD,
            order["delivery_order_code"],
            body,
            {"outBizCode": out_biz_code, "processStatus": status.value},
        )

    def _report_stock_change(
        self,
        owner: str,
        order_code: str,
        order_type: str,
        out_biz_code: str,
        moves: list[tuple[str, str, int]],
    ) -> None:
        """stockchange.report for (warehouse, item, signed quantity) moves of the owner's order,
        when enabled. The owner comes with the order: a code alone may name several owners'."""
        if not self.config.stock_change_reports:
            return
        body = qimen_xml.stock_change_body(
            owner,
            order_code,
            order_type,
            out_biz_code,
            format_qimen_time(self.ctx.clock.now()),
            moves,
        )
        self._push(
            STOCK_CHANGE_METHOD, order_code, body, {"outBizCode": out_biz_code, "lines": len(moves)}
        )

    # ---------------------------------------------------------------- items and inventory

    def synchronize_item(self, action: str, request: ItemRequest, scope: Scope = None) -> str:
        """singleitem.synchronize: `add` a new item or `update` one; returns the itemId.

        add is the integrator's (any owner's item, by ownerCode) and refuses an existing code
        (ITEM_EXIST); an owner-scoped caller's add is refused whatever the code, because item
        codes are one namespace for all owners and ITEM_EXIST would tell it another owner's
        code exists. update refuses an unknown or invisible item (ITEM_NOT_EXIST) and a shared
        catalog item for an owner-scoped caller.
        """
        owner = self._resolve_owner(request.owner_code, scope, None)
        exists = request.item_code in self._weights
        now = format_qimen_time(self.ctx.clock.now())
        with transaction(self.conn):
            if action == "add":
                if scope is not None:
                    raise WmsError(
                        PERMISSION_DENIED, "新增商品只能由集成商操作 (ownerCode 指定货主)"
                    )
                if exists:
                    raise WmsError(ITEM_EXIST, f"商品已存在: {request.item_code}")
                self.conn.execute(
                    "INSERT INTO items (item_code, name, category, weight_kg, owner_code,"
                    " bar_code, updated_sim) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        request.item_code,
                        request.name,
                        request.category,
                        request.weight_kg or 0.0,
                        owner,
                        request.bar_code,
                        now,
                    ),
                )
            elif action == "update":
                if not exists or not self._item_visible(request.item_code, scope):
                    raise WmsError(ITEM_NOT_EXIST, f"商品不存在: {request.item_code}")
                if scope is not None and self._item_owners.get(request.item_code) is None:
                    raise WmsError(PERMISSION_DENIED, "共享商品只能由集成商修改")
                self.conn.execute(
                    "UPDATE items SET name = COALESCE(?, name), category = COALESCE(?, category),"
                    " weight_kg = COALESCE(?, weight_kg), bar_code = COALESCE(?, bar_code),"
                    " updated_sim = ? WHERE item_code = ?",
                    (
                        request.name,
                        request.category,
                        request.weight_kg,
                        request.bar_code,
                        now,
                        request.item_code,
                    ),
                )
            else:
                raise WmsError(INVALID_PARAMETER, f"Invalid arguments:actionType {action}")
            self.ctx.history.record("state", "item", action, request.item_code, {"owner": owner})
        row = self.conn.execute(
            "SELECT weight_kg, owner_code FROM items WHERE item_code = ?", (request.item_code,)
        ).fetchone()
        self._weights[request.item_code] = float(row[0] or 0.0)
        self._item_owners[request.item_code] = row[1]
        return request.item_code

    def query_inventory(
        self,
        criteria: Sequence[tuple[str | None, str, str | None]],
        scope: Scope = None,
    ) -> list[StockView]:
        """inventory.query: per (warehouseCode or None for all, itemCode, ownerCode) criterion,
        on hand and reserved per warehouse; items without a stock row count zero."""
        views: list[StockView] = []
        for warehouse, item, owner in criteria:
            if owner is not None or scope is not None:
                owner = self._resolve_owner(owner, scope, None)
            if warehouse is not None:
                self._check_warehouse(warehouse)
            self._check_items((item,), scope if owner is None else frozenset({owner}))
            for code in [warehouse] if warehouse is not None else sorted(self._warehouses):
                row = self.conn.execute(
                    "SELECT on_hand, reserved FROM stock WHERE warehouse_code = ?"
                    " AND item_code = ?",
                    (code, item),
                ).fetchone()
                views.append(StockView(code, item, *(tuple(row) if row else (0, 0))))
        return views

    # ---------------------------------------------------------------- inbound

    def create_inbound_order(
        self, request: InboundOrderRequest, scope: Scope = None
    ) -> InboundResult:
        """entryorder.create / returnorder.create: record it (NEW) and start receiving.

        Idempotent on (kind, owner, code). A return's preDeliveryOrderCode, when given, must
        be a delivery order of the same owner. Raises WmsError on refusal.
        """
        if not request.lines:
            raise WmsError(INVALID_PARAMETER, "orderLines must hold at least one orderLine")
        owner = self._resolve_owner(request.owner_code, scope, None)
        existing = self.conn.execute(
            "SELECT inbound_order_id FROM inbound_orders WHERE kind = ? AND owner_code = ?"
            " AND order_code = ?",
            (request.kind.value, owner, request.order_code),
        ).fetchone()
        if existing is not None:
            return InboundResult(existing[0], created=False)
        self._check_warehouse(request.warehouse_code)
        self._check_own_items((line.item_code for line in request.lines), owner)
        if request.pre_delivery_order_code is not None:
            self._find(request.pre_delivery_order_code, owner, scope)
        count = self.conn.execute("SELECT COUNT(*) FROM inbound_orders").fetchone()[0]
        order_id = f"{_INBOUND_ID_PREFIX[request.kind]}{int(count) + 1:014d}"
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
        self._processes[order_id] = self.env.process(self._receive(order_id))
        return InboundResult(order_id, created=True)

    def query_inbound_order(
        self,
        kind: InboundKind,
        order_code: str,
        owner_code: str | None = None,
        scope: Scope = None,
    ) -> InboundOrderView:
        """entryorder.query / returnorder.query; raises WmsError(ORDER_NOT_EXIST)."""
        row = self._find(
            order_code, owner_code, scope, "inbound_orders", "order_code", ("kind", kind.value)
        )
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
            lines=_line_views(lines),
        )

    def _cancel_inbound(
        self, kind: InboundKind, order_code: str, owner_code: str | None, scope: Scope
    ) -> InboundStatus:
        row = self._find(
            order_code, owner_code, scope, "inbound_orders", "order_code", ("kind", kind.value)
        )
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

    def _receive(self, order_id: str) -> Generator[simpy.Event, Any, None]:
        try:
            yield self.env.timeout(self._between(self.config.accept_seconds))
            if not self._advance_inbound(order_id, InboundStatus.NEW, InboundStatus.ACCEPT):
                return
            yield self.env.timeout(self._between(self.config.receive_seconds))
            if self._advance_inbound(order_id, InboundStatus.ACCEPT, InboundStatus.FULFILLED):
                self._put_away(order_id)
        except simpy.Interrupt:
            return
        finally:
            self._processes.pop(order_id, None)

    def _advance_inbound(self, order_id: str, before: InboundStatus, after: InboundStatus) -> bool:
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
            order = dict(
                self.conn.execute(
                    "UPDATE inbound_orders SET confirmed_sim = ?, confirmed_wall = ?"
                    " WHERE inbound_order_id = ? RETURNING *",
                    (now_sim, now_wall, order_id),
                ).fetchone()
            )
            self.conn.execute(
                "UPDATE inbound_order_lines SET actual_qty = plan_qty WHERE inbound_order_id = ?",
                (order_id,),
            )
            lines = [
                dict(r)
                for r in self.conn.execute(
                    "SELECT * FROM inbound_order_lines WHERE inbound_order_id = ? ORDER BY rowid",
                    (order_id,),
                )
            ]
            kind = InboundKind(order["kind"])
            reason = "receive" if kind is InboundKind.ENTRY else "return"
            warehouse = order["warehouse_code"]
            for line in lines:
                self._add_on_hand(
                    warehouse, line["item_code"], line["actual_qty"], reason, order_id
                )
            self._report_stock_change(
                order["owner_code"],
                order["order_code"],
                order["order_type"],
                f"{order_id}-STOCK",
                [(warehouse, line["item_code"], line["actual_qty"]) for line in lines],
            )
        out_biz_code = f"{order_id}-FULFILLED"
        body = qimen_xml.inbound_confirm_body(kind.value, order, lines, out_biz_code)
        self._push(
            INBOUND_CONFIRM_METHODS[kind],
            order["order_code"],
            body,
            {"orderId": order_id, "outBizCode": out_biz_code},
        )

    def _add_on_hand(self, warehouse: str, item: str, qty: int, reason: str, ref: str) -> None:
        """on_hand += qty (negative: out), creating the stock row for a new item."""
        balance = self.conn.execute(
            "INSERT INTO stock VALUES (?, ?, 0, ?, 0) ON CONFLICT (warehouse_code, item_code)"
            " DO UPDATE SET on_hand = on_hand + excluded.on_hand RETURNING on_hand",
            (warehouse, item, qty),
        ).fetchone()[0]
        self._ledger(warehouse, item, "on_hand", qty, balance, reason, ref)

    # ---------------------------------------------------------------- transfers

    def create_transfer(self, request: TransferRequest, scope: Scope = None) -> tuple[str, bool]:
        """transferorder.create: move available stock between warehouses at once.

        Returns (transferOrderId, created); idempotent on (owner, code). All lines or none:
        STOCK_NOT_ENOUGH when the source's on_hand − reserved is short. Only the owner's items
        move; the shared catalog's stock (every owner sells from it) only for the integrator.
        """
        if not request.lines:
            raise WmsError(INVALID_PARAMETER, "orderLines must hold at least one orderLine")
        if request.from_warehouse_code == request.to_warehouse_code:
            raise WmsError(INVALID_PARAMETER, "Invalid arguments:toWarehouseCode = from")
        owner = self._resolve_owner(request.owner_code, scope, None)
        existing = self.conn.execute(
            "SELECT transfer_order_id FROM transfer_orders WHERE owner_code = ?"
            " AND transfer_order_code = ?",
            (owner, request.transfer_order_code),
        ).fetchone()
        if existing is not None:
            return existing[0], False
        self._check_warehouse(request.from_warehouse_code)
        self._check_warehouse(request.to_warehouse_code)
        self._check_own_items((line.item_code for line in request.lines), owner)
        if scope is not None and any(
            self._item_owners.get(line.item_code) is None for line in request.lines
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
                moved = self.conn.execute(
                    "UPDATE stock SET on_hand = on_hand - ? WHERE warehouse_code = ?"
                    " AND item_code = ? AND on_hand - reserved >= ? RETURNING on_hand",
                    (line.plan_qty, src, line.item_code, line.plan_qty),
                ).fetchone()
                if moved is None:
                    raise WmsError(STOCK_NOT_ENOUGH, f"库存不足: 仓库 {src} 商品 {line.item_code}")
                self._ledger(
                    src, line.item_code, "on_hand", -line.plan_qty, moved[0], "transfer", order_id
                )
                self._add_on_hand(dst, line.item_code, line.plan_qty, "transfer", order_id)
                self.conn.execute(
                    "INSERT INTO transfer_order_lines VALUES (?, ?, ?, ?)",
                    (order_id, line.order_line_no, line.item_code, line.plan_qty),
                )
            self.ctx.history.record(
                "state", "transferorder", "FULFILLED", request.transfer_order_code, None
            )
            self._report_stock_change(
                owner,
                request.transfer_order_code,
                "DBCK",
                f"{order_id}-STOCK",
                [(src, ln.item_code, -ln.plan_qty) for ln in request.lines]
                + [(dst, ln.item_code, ln.plan_qty) for ln in request.lines],
            )
        return order_id, True

    def signed_params(self, method: str, body: str) -> dict[str, str]:
        """Query parameters of a Qimen call from this WMS, signed with the issued secret."""
        params = {
            "method": method,
            "timestamp": format_qimen_time(datetime.fromtimestamp(self.ctx.clock.wall(), CHINA)),
            "format": "xml",
            "app_key": self.credentials.app_key,
            "v": "2.0",
            "sign_method": "md5",
            "customerId": self.credentials.customer_id,
        }
        params["sign"] = qimen_sign(self.credentials.secret, params, body)
        return params


def _line_views(rows: Iterable[sqlite3.Row]) -> tuple[LineView, ...]:
    return tuple(
        LineView(r["order_line_no"], r["item_code"], r["plan_qty"], r["actual_qty"]) for r in rows
    )


def _confirm_accepted(reply: PushReply) -> bool:
    return reply.status_code == 200 and qimen_xml.response_flag(reply.content) == "success"
