"""The WMS's stock per (warehouse, item) and its ledger: every move is a `stock_ledger` row."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from fake_systems.common.context import SystemContext
from fake_systems.common.scope import OwnerScope
from fake_systems.common.storage import transaction
from fake_systems.wms.catalog import Catalog
from fake_systems.wms.models import STOCK_NOT_ENOUGH, StockView, WmsError
from simulator.clock import format_qimen_time

_INSERT_LEDGER = (
    "INSERT INTO stock_ledger (warehouse_code, item_code, field, change, balance_after, reason,"
    " reference, sim_time, wall_time) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


class StockLedger:
    """`on_hand` and `reserved` per (warehouse, item); each change names its reason
    (reserve | ship | cancel | receive | return | transfer) and its order (`reference`)."""

    def __init__(self, ctx: SystemContext, catalog: Catalog) -> None:
        self.ctx = ctx
        self.conn = ctx.conn
        self.catalog = catalog

    def seed(self, initial: Mapping[tuple[str, str], int]) -> None:
        """The world's opening stock; rows already there are kept."""
        self.conn.executemany(
            "INSERT OR IGNORE INTO stock VALUES (?, ?, ?, ?, 0)",
            [(wh, item, qty, qty) for (wh, item), qty in initial.items()],
        )

    def reserve(self, warehouse: str, item: str, qty: int, ref: str) -> None:
        """reserved += qty, or STOCK_NOT_ENOUGH when on_hand − reserved is short."""
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
        self._record(warehouse, item, "reserved", qty, row[0], "reserve", ref)

    def release(self, warehouse: str, item: str, qty: int, ref: str) -> None:
        """reserved −= qty: a cancelled order's reservation."""
        balance = self.conn.execute(
            "UPDATE stock SET reserved = reserved - ? WHERE warehouse_code = ?"
            " AND item_code = ? RETURNING reserved",
            (qty, warehouse, item),
        ).fetchone()[0]
        self._record(warehouse, item, "reserved", -qty, balance, "cancel", ref)

    def ship(self, warehouse: str, item: str, qty: int, ref: str) -> None:
        """on_hand −= qty and reserved −= qty: reserved goods leave."""
        on_hand, reserved = self.conn.execute(
            "UPDATE stock SET on_hand = on_hand - ?, reserved = reserved - ?"
            " WHERE warehouse_code = ? AND item_code = ? RETURNING on_hand, reserved",
            (qty, qty, warehouse, item),
        ).fetchone()
        self._record(warehouse, item, "on_hand", -qty, on_hand, "ship", ref)
        self._record(warehouse, item, "reserved", -qty, reserved, "ship", ref)

    def add(self, warehouse: str, item: str, qty: int, reason: str, ref: str) -> None:
        """on_hand += qty, creating the stock row for a new item."""
        balance = self.conn.execute(
            "INSERT INTO stock VALUES (?, ?, 0, ?, 0) ON CONFLICT (warehouse_code, item_code)"
            " DO UPDATE SET on_hand = on_hand + excluded.on_hand RETURNING on_hand",
            (warehouse, item, qty),
        ).fetchone()[0]
        self._record(warehouse, item, "on_hand", qty, balance, reason, ref)

    def add_unsaleable(
        self, warehouse: str, item: str, inventory_type: str, qty: int, reason: str, ref: str
    ) -> None:
        """Goods that may not be sold (CC defective, ...) come in: kept apart from on_hand,
        never reserved; the ledger row's field is the inventoryType."""
        balance = self.conn.execute(
            "INSERT INTO unsaleable_stock VALUES (?, ?, ?, ?)"
            " ON CONFLICT (warehouse_code, item_code, inventory_type)"
            " DO UPDATE SET qty = qty + excluded.qty RETURNING qty",
            (warehouse, item, inventory_type, qty),
        ).fetchone()[0]
        self._record(warehouse, item, inventory_type, qty, balance, reason, ref)

    def take(self, warehouse: str, item: str, qty: int, reason: str, ref: str) -> None:
        """on_hand −= qty of what is not reserved, or STOCK_NOT_ENOUGH."""
        moved = self.conn.execute(
            "UPDATE stock SET on_hand = on_hand - ? WHERE warehouse_code = ?"
            " AND item_code = ? AND on_hand - reserved >= ? RETURNING on_hand",
            (qty, warehouse, item, qty),
        ).fetchone()
        if moved is None:
            raise WmsError(STOCK_NOT_ENOUGH, f"库存不足: 仓库 {warehouse} 商品 {item}")
        self._record(warehouse, item, "on_hand", -qty, moved[0], reason, ref)

    def query(
        self, criteria: Sequence[tuple[str | None, str, str | None]], scope: OwnerScope
    ) -> list[StockView]:
        """inventory.query: per (warehouseCode or None for all, itemCode, ownerCode) criterion,
        on hand and reserved per warehouse; items without a stock row count zero. Each answer
        is kept in `inventory_reads` (what a connector read before it set the OMS's stock)."""
        catalog = self.catalog
        views: list[StockView] = []
        for warehouse, item, owner in criteria:
            if owner is not None or scope.owners is not None:
                owner = catalog.resolve_owner(owner, scope, None)
            if warehouse is not None:
                catalog.check_warehouse(warehouse)
            catalog.check_items((item,), scope if owner is None else OwnerScope(frozenset({owner})))
            for code in [warehouse] if warehouse is not None else sorted(catalog.warehouses):
                row = self.conn.execute(
                    "SELECT on_hand, reserved FROM stock WHERE warehouse_code = ?"
                    " AND item_code = ?",
                    (code, item),
                ).fetchone()
                views.append(StockView(code, item, *(tuple(row) if row else (0, 0))))
        now = (format_qimen_time(self.ctx.clock.now()), self.ctx.clock.wall())
        with transaction(self.conn):
            self.conn.executemany(
                "INSERT INTO inventory_reads (warehouse_code, item_code, on_hand, reserved,"
                " sim_time, wall_time) VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (view.warehouse_code, view.item_code, view.on_hand, view.reserved, *now)
                    for view in views
                ],
            )
        return views

    def _record(
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
