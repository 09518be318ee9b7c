"""The WMS domain service: delivery orders, stock reservations, fulfilment as SimPy processes."""

from __future__ import annotations

import sqlite3
from collections.abc import Generator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
import simpy

from fake_systems.common.context import SystemContext
from fake_systems.common.credentials import QimenCredentials
from fake_systems.common.signing import qimen_sign
from fake_systems.common.storage import transaction
from fake_systems.common.webhooks import Push
from fake_systems.wms import qimen_xml
from fake_systems.wms.models import (
    CANCELABLE,
    CANCELEDFAIL,
    INVALID_PARAMETER,
    ITEM_NOT_EXIST,
    ORDER_NOT_EXIST,
    OWNER_NOT_EXIST,
    STOCK_NOT_ENOUGH,
    WAREHOUSE_NOT_EXIST,
    CarrierDesk,
    CreateResult,
    DeliveryOrderRequest,
    DeliveryOrderView,
    DeliveryStatus,
    LineView,
    WmsConfig,
    WmsError,
)
from simulator.clock import CHINA, format_qimen_time
from simulator.world import World

__all__ = ["CarrierDesk", "WmsConfig", "WmsError", "WmsService"]

CONFIRM_METHOD = "taobao.qimen.deliveryorder.confirm"

SCHEMA = """
CREATE TABLE IF NOT EXISTS warehouses (
    warehouse_code TEXT PRIMARY KEY, name TEXT, province TEXT, city TEXT, area TEXT,
    address TEXT, carrier_code TEXT, pickers INTEGER, packers INTEGER
);
CREATE TABLE IF NOT EXISTS owners (owner_code TEXT PRIMARY KEY, name TEXT);
CREATE TABLE IF NOT EXISTS items (
    item_code TEXT PRIMARY KEY, name TEXT, category TEXT, weight_kg REAL
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
CREATE TABLE IF NOT EXISTS delivery_order_lines (
    delivery_order_id TEXT NOT NULL, order_line_no TEXT, item_code TEXT, plan_qty INTEGER,
    actual_qty INTEGER, owner_code TEXT, source_order_code TEXT, inventory_type TEXT,
    actual_price TEXT
);
CREATE INDEX IF NOT EXISTS delivery_order_lines_id ON delivery_order_lines(delivery_order_id);
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

    LIMITATIONS (what the fake does not imitate):
    - No short picks, split packages, partial confirms (confirmType 1) or EXCEPTION/REJECT.
    - One package per order; weight is the sum of catalog weights, no packaging material.
    - No batches, inventory types other than as recorded, locations, waves, PRINT/CHECK/WEIGH.
    - Stock only moves by delivery orders here (no inbound, returns, counts or transfers yet).
    - Orders in flight are not resumed after a process restart (state lives in one run).
    - A repeated deliveryOrderCode returns the first order even if the content differs.
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
                "INSERT OR IGNORE INTO items VALUES (?, ?, ?, ?)",
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
        self._weights = {
            row[0]: float(row[1])
            for row in self.conn.execute("SELECT item_code, weight_kg FROM items")
        }
        count = self.conn.execute("SELECT COUNT(*) FROM delivery_orders").fetchone()[0]
        self._next_seq = int(count) + 1

    # ---------------------------------------------------------------- commands

    def create_delivery_order(self, request: DeliveryOrderRequest) -> CreateResult:
        """Create (or find again) a delivery order, reserve its stock and start fulfilment.

        Idempotent on (owner, deliveryOrderCode): the owner is the lines' ownerCode, or the
        caller's customerId when the lines carry none. Raises WmsError on refusal.
        """
        if not request.lines:
            raise WmsError(INVALID_PARAMETER, "orderLines must hold at least one orderLine")
        owners = {line.owner_code for line in request.lines if line.owner_code}
        if len(owners) > 1:
            raise WmsError(
                INVALID_PARAMETER, f"one delivery order, one ownerCode: {sorted(owners)}"
            )
        explicit_owner = owners.pop() if owners else None
        owner = explicit_owner or request.customer_id
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
        if explicit_owner is not None and explicit_owner not in self._owners:
            raise WmsError(OWNER_NOT_EXIST, f"货主不存在: {owner}")
        if request.warehouse_code not in self._warehouses:
            raise WmsError(WAREHOUSE_NOT_EXIST, f"仓库不存在: {request.warehouse_code}")
        for line in request.lines:
            if line.item_code not in self._weights:
                raise WmsError(ITEM_NOT_EXIST, f"商品不存在: {line.item_code}")

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

    def cancel_order(self, order_code: str, owner_code: str | None = None) -> DeliveryStatus:
        """Cancel a delivery order in NEW or ACCEPT: reservation released, fulfilment stopped.

        Cancelling an already cancelled order succeeds again; once picking has started it
        raises WmsError(CANCELEDFAIL).
        """
        row = self._find(order_code, owner_code)
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
        process = self._processes.pop(order_id, None)
        if process is not None and process.is_alive:
            process.interrupt("canceled")
        return DeliveryStatus.CANCELED

    # ---------------------------------------------------------------- queries

    def query_delivery_order(
        self, order_code: str, owner_code: str | None = None
    ) -> DeliveryOrderView:
        """The order with its lines; raises WmsError(ORDER_NOT_EXIST)."""
        row = self._find(order_code, owner_code)
        lines = tuple(
            LineView(r["order_line_no"], r["item_code"], r["plan_qty"], r["actual_qty"])
            for r in self._lines(row["delivery_order_id"])
        )
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

    def _find(self, order_code: str, owner_code: str | None) -> sqlite3.Row:
        if owner_code:
            row = self.conn.execute(
                "SELECT * FROM delivery_orders WHERE delivery_order_code = ? AND owner_code = ?",
                (order_code, owner_code),
            ).fetchone()
        else:
            row = self.conn.execute(
                "SELECT * FROM delivery_orders WHERE delivery_order_code = ?"
                " ORDER BY delivery_order_id LIMIT 1",
                (order_code,),
            ).fetchone()
        if row is None:
            raise WmsError(ORDER_NOT_EXIST, f"单据不存在: {order_code}")
        return row  # type: ignore[no-any-return]

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
            self._deliver(order_id)
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
        return bool(moved)

    def _deliver(self, order_id: str) -> None:
        """Ship: stock leaves, status DELIVERED, the connector is told, the carrier takes over."""
        order = dict(
            self.conn.execute(
                "SELECT * FROM delivery_orders WHERE delivery_order_id = ?", (order_id,)
            ).fetchone()
        )
        lines = [dict(line) for line in self._lines(order_id)]
        warehouse, code = order["warehouse_code"], order["delivery_order_code"]
        shipper = order["logistics_code"] or self._warehouses[warehouse]
        express = order["express_code"] or self._waybill(code, shipper)
        weight = round(sum(self._weights[ln["item_code"]] * ln["plan_qty"] for ln in lines), 3)
        now_sim, now_wall = format_qimen_time(self.ctx.clock.now()), self.ctx.clock.wall()
        with transaction(self.conn):
            self.conn.execute(
                "UPDATE delivery_orders SET status = ?, express_code = ?, weight_kg = ?,"
                " delivered_sim = ?, delivered_wall = ? WHERE delivery_order_id = ?",
                (DeliveryStatus.DELIVERED.value, express, weight, now_sim, now_wall, order_id),
            )
            self.conn.execute(
                "UPDATE delivery_order_lines SET actual_qty = plan_qty WHERE delivery_order_id = ?",
                (order_id,),
            )
            for line in lines:
                qty = line["plan_qty"]
                line["actual_qty"] = qty
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
            self.ctx.history.record(
                "state",
                "deliveryorder",
                DeliveryStatus.DELIVERED.value,
                code,
                {"deliveryOrderId": order_id, "expressCode": express, "weight": weight},
            )
        order.update(express_code=express, delivered_sim=now_sim)
        self._push_confirm(order, lines, express, weight)
        if self.carrier is not None:
            self.carrier.hand_over(express, shipper, weight)

    def _waybill(self, order_code: str, shipper: str) -> str:
        if self.carrier is not None:
            return self.carrier.issue_waybill(order_code, shipper)
        # No carrier wired (unit tests, WMS alone): a made-up but well-formed number.
        return f"{shipper}{self.ctx.random.randrange(10**11, 10**12)}"

    def _push_confirm(
        self, order: dict[str, Any], lines: list[dict[str, Any]], express: str, weight: float
    ) -> None:
        url = self.confirm_callback_url
        if not url:
            return
        out_biz_code = f"{order['delivery_order_id']}-DELIVERED"
        body = qimen_xml.confirm_body(order, lines, express, weight, out_biz_code)
        params = self.signed_params(CONFIRM_METHOD, body)
        self.ctx.dispatcher.send(
            Push(
                operation="deliveryorder.confirm",
                entity=order["delivery_order_code"],
                url=url,
                content=body.encode(),
                headers={"Content-Type": qimen_xml.CONTENT_TYPE},
                params=params,
                accepted=_confirm_accepted,
                payload_for_history={
                    "deliveryOrderId": order["delivery_order_id"],
                    "outBizCode": out_biz_code,
                    "expressCode": express,
                },
            )
        )

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


def _confirm_accepted(response: httpx.Response) -> bool:
    return response.status_code == 200 and qimen_xml.response_flag(response.content) == "success"
