"""The WMS's master data — warehouses, owners, items — and who may see and name what."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from fake_systems.common.context import SystemContext
from fake_systems.common.scope import OwnerScope
from fake_systems.common.storage import transaction
from fake_systems.wms.models import (
    ANY_WAREHOUSE,
    INVALID_PARAMETER,
    ITEM_EXIST,
    ITEM_NOT_EXIST,
    OWNER_NOT_EXIST,
    PERMISSION_DENIED,
    SHARED_OWNER,
    WAREHOUSE_NOT_EXIST,
    ItemRequest,
    WmsError,
)
from simulator.clock import format_qimen_time
from simulator.world import World, barcode_of


@dataclass(frozen=True)
class Site:
    """A warehouse as fulfilment needs it: its default carrier and its crew."""

    carrier_code: str
    pickers: int
    packers: int
    province: str = ""  # where its parcels leave from (the carrier's fees go by it)


class Catalog:
    """Warehouses, owners and items, kept in memory in step with their tables: every request
    reads them, and memory is much faster than a query each time."""

    def __init__(self, ctx: SystemContext) -> None:
        self.ctx = ctx
        self.conn = ctx.conn
        self.warehouses: dict[str, Site] = {}
        self.owners: set[str] = set()
        self.weights: dict[str, float] = {}  # item code -> kg
        self.item_owners: dict[str, str | None] = {}  # item code -> owner (None: shared)

    def seed(self, world: World) -> None:
        """Warehouses, owners and the shared catalog from the world; existing rows are kept."""
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
            "INSERT OR IGNORE INTO owners VALUES (?, ?)", [(o.code, o.name) for o in world.owners]
        )
        now = format_qimen_time(self.ctx.clock.now())
        added = [
            sku
            for sku in world.skus
            if self.conn.execute(
                "INSERT OR IGNORE INTO items (item_code, name, category, weight_kg, bar_code,"
                " updated_sim) VALUES (?, ?, ?, ?, ?, ?)",
                (
                    sku.item_code,
                    sku.name,
                    sku.category,
                    sku.weight_kg,
                    barcode_of(sku.item_code),
                    now,
                ),
            ).rowcount
        ]
        self.conn.executemany(
            "INSERT INTO item_changes (item_code, action, name, bar_code, changed_sim,"
            " changed_wall) VALUES (?, 'seed', ?, ?, ?, ?)",
            [
                (sku.item_code, sku.name, barcode_of(sku.item_code), now, self.ctx.clock.wall())
                for sku in added
            ],
        )

    def load(self) -> None:
        """Read the master data into memory."""
        for row in self.conn.execute("SELECT * FROM warehouses"):
            self.warehouses[row["warehouse_code"]] = Site(
                row["carrier_code"], row["pickers"], row["packers"], row["province"] or ""
            )
        self.owners = {row[0] for row in self.conn.execute("SELECT owner_code FROM owners")}
        self.weights, self.item_owners = {}, {}
        for row in self.conn.execute("SELECT item_code, weight_kg, owner_code FROM items"):
            self.weights[row[0]] = float(row[1] or 0.0)
            self.item_owners[row[0]] = row[2]

    # ---------------------------------------------------------------- scope

    def item_visible(self, item_code: str, scope: OwnerScope) -> bool:
        """Shared catalog items are visible to all; an owner's items to its scope only."""
        if item_code not in self.weights:
            return False
        owner = self.item_owners.get(item_code)
        return owner is None or scope.allows(owner)

    def check_items(self, item_codes: Iterable[str], scope: OwnerScope) -> None:
        for code in item_codes:
            if not self.item_visible(code, scope):
                raise WmsError(ITEM_NOT_EXIST, f"商品不存在: {code}")

    def check_own_items(self, item_codes: Iterable[str], owner: str) -> None:
        """The items of an order must be the order's owner's or shared, whoever the caller:
        an order of one owner never reserves, receives or moves another owner's stock."""
        self.check_items(item_codes, OwnerScope(frozenset({owner})))

    def is_shared(self, item_code: str) -> bool:
        """A world catalog item, which every owner sells from."""
        return self.item_owners.get(item_code) is None

    def resolve_owner(self, explicit: str | None, scope: OwnerScope, fallback: str | None) -> str:
        """The owner a command acts for: the named one, else the caller's only owner, else
        `fallback`; refused if outside the caller's scope or (when named) not an owner."""
        only = scope.names[0] if len(scope.names) == 1 else None
        owner = explicit or only or fallback or ""
        if not scope.allows(owner):
            raise WmsError(PERMISSION_DENIED, f"货主 {owner or '(none)'} 不在授权范围内")
        if explicit is not None and explicit not in self.owners:
            raise WmsError(OWNER_NOT_EXIST, f"货主不存在: {explicit}")
        return owner

    def check_warehouse(self, code: str) -> None:
        if code not in self.warehouses:
            raise WmsError(WAREHOUSE_NOT_EXIST, f"仓库不存在: {code}")

    # ---------------------------------------------------------------- items

    def synchronize_item(self, action: str, request: ItemRequest, scope: OwnerScope) -> str:
        """singleitem.synchronize: `add` a new item or `update` one; returns the itemId.

        add is the integrator's (any owner's item, by ownerCode) and refuses an existing code
        (ITEM_EXIST); an owner-scoped caller's add is refused whatever the code, because item
        codes are one namespace for all owners and ITEM_EXIST would tell it another owner's
        code exists. The integrator's add with ownerCode `OTHER` (SHARED_OWNER) is a shared
        catalogue item, as the world's are: what the ERP's materials, owned by nobody, become
        (ecomock's convention, docs/DECISIONS.md). update refuses an unknown or invisible item
        (ITEM_NOT_EXIST) and a shared catalog item for an owner-scoped caller.
        """
        if request.warehouse_code not in (None, ANY_WAREHOUSE):
            self.check_warehouse(request.warehouse_code)
        shared = request.owner_code == SHARED_OWNER and scope.owners is None
        owner = None if shared else self.resolve_owner(request.owner_code, scope, None)
        exists = request.item_code in self.weights
        now = format_qimen_time(self.ctx.clock.now())
        with transaction(self.conn):
            if action == "add":
                if scope.owners is not None:
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
                if not exists or not self.item_visible(request.item_code, scope):
                    raise WmsError(ITEM_NOT_EXIST, f"商品不存在: {request.item_code}")
                if scope.owners is not None and self.is_shared(request.item_code):
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
            row = self.conn.execute(
                "SELECT weight_kg, owner_code, name, bar_code FROM items WHERE item_code = ?",
                (request.item_code,),
            ).fetchone()
            self.conn.execute(
                "INSERT INTO item_changes (item_code, action, name, bar_code, changed_sim,"
                " changed_wall) VALUES (?, ?, ?, ?, ?, ?)",
                (request.item_code, action, row[2], row[3], now, self.ctx.clock.wall()),
            )
            self.ctx.history.record("state", "item", action, request.item_code, {"owner": owner})
        self.weights[request.item_code] = float(row[0] or 0.0)
        self.item_owners[request.item_code] = row[1]
        return request.item_code
