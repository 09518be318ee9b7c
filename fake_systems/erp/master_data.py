"""The ERP's basedata: seeded from the world, usable numbers cached, checked on every Save.

One organisation ("100"), currencies, accounts and stocks are shared by every owner; each
customer (the owner's shops), supplier (`SUP-<x>`) and account book (`001`, …) belongs to
one cargo owner. A number is usable on a bill once audited and not forbidden.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Literal

from fake_systems.carrier.fees import carrier_suppliers
from fake_systems.common.context import SystemContext
from fake_systems.common.scope import OwnerScope
from fake_systems.erp.fields import basedata_number
from fake_systems.erp.models import ACCOUNTS, CURRENCIES, ORG_NUMBER, DocumentStatus, ErrorItem
from fake_systems.erp.schema import MASTER_TABLES, sim_now
from simulator.world import World, barcode_of

ChangeKind = Literal["new", "rename", "price", "barcode", "discontinue"]


@dataclass(frozen=True)
class MaterialChange:
    """What the business changes of a material: `kind` says why; the fields not None are set
    (a new material needs name, barcode and price)."""

    kind: ChangeKind
    name: str | None = None
    barcode: str | None = None
    price_cents: int | None = None
    category: str = ""
    weight_kg: float = 0.0


# A supplier's payment terms unless the scenario sets them (K3 leaves 付款条件 to each
# business; 30 days is a common one, and no shorter scenario sees a payable fall due).
DEFAULT_TERMS_DAYS = 30


class MasterData:
    """Basedata tables and the cache of usable numbers by kind (number → owner, None: shared)."""

    def __init__(self, ctx: SystemContext) -> None:
        self.ctx = ctx
        self.conn = ctx.conn
        self._usable: dict[str, dict[str, str | None]] = {kind: {} for kind in MASTER_TABLES}

    def seed(self, world: World) -> None:
        """Organisation "100", currencies, accounts, stocks, and per owner its customers (the
        shops), a supplier and an account book; then the materials (idempotent)."""
        now = sim_now(self.ctx)
        self.conn.execute(
            "INSERT OR IGNORE INTO org_organizations (forgid, number, name, created_sim,"
            " modified_sim) VALUES (1, ?, ?, ?, ?)",
            (ORG_NUMBER, "ecomock 总部", now, now),
        )
        self.conn.executemany(
            "INSERT OR IGNORE INTO bd_currency (number, name, code, created_sim, modified_sim)"
            " VALUES (?, ?, ?, ?, ?)",
            [(number, name, code, now, now) for number, name, code in CURRENCIES],
        )
        self.conn.executemany(
            "INSERT OR IGNORE INTO bd_account (number, name, created_sim, modified_sim)"
            " VALUES (?, ?, ?, ?)",
            [(number, name, now, now) for number, name in ACCOUNTS],
        )
        self.conn.executemany(
            "INSERT OR IGNORE INTO bd_stock (number, name, created_sim, modified_sim)"
            " VALUES (?, ?, ?, ?)",
            [(wh.code, wh.name, now, now) for wh in world.warehouses],
        )
        for index, owner in enumerate(world.owners, start=1):
            suffix = owner.code.rsplit("-", 1)[-1]
            self.conn.execute(
                "INSERT OR IGNORE INTO bd_supplier (number, name, owner_code, created_sim,"
                " modified_sim) VALUES (?, ?, ?, ?, ?)",
                (f"SUP-{suffix}", f"{owner.name}供应商", owner.code, now, now),
            )
            self.conn.execute(
                "INSERT OR IGNORE INTO bd_accountbook (number, name, owner_code, created_sim,"
                " modified_sim) VALUES (?, ?, ?, ?, ?)",
                (f"{index:03d}", f"{owner.name}账簿", owner.code, now, now),
            )
        # The owners' suppliers with the seeds' 10-digit codes (purchasing, issue 13).
        self.conn.executemany(
            "INSERT OR IGNORE INTO bd_supplier (number, name, owner_code, bank_account,"
            " created_sim, modified_sim) VALUES (?, ?, ?, ?, ?, ?)",
            [(s.code, s.name, s.owner_code, s.bank_account, now, now) for s in world.suppliers],
        )
        # The express companies, who bill carrier fees: every owner's (no owner_code).
        self.conn.executemany(
            "INSERT OR IGNORE INTO bd_supplier (number, name, owner_code, bank_account,"
            " created_sim, modified_sim) VALUES (?, ?, NULL, ?, ?, ?)",
            [
                (s.code, s.name, s.bank_account, now, now)
                for s in carrier_suppliers(world.warehouses)
            ],
        )
        for shop in world.shops:
            self.upsert_customer(shop.shop_no, shop.name, shop.owner_code)
        self.conn.executemany(
            "INSERT OR IGNORE INTO bd_material (number, name, category, weight_kg, barcode,"
            " price_cents, created_sim, modified_sim) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    sku.item_code,
                    sku.name,
                    sku.category,
                    sku.weight_kg,
                    barcode_of(sku.item_code),
                    sku.price_cents,
                    now,
                    now,
                )
                for sku in world.skus
            ],
        )

    def load(self) -> None:
        """Fill the cache from the tables: validation runs on every Save, and the cache keeps
        it to memory lookups."""
        for kind, (table, _, owned) in MASTER_TABLES.items():
            owner = "owner_code" if owned else "NULL"
            self._usable[kind] = {
                row[0]: row[1]
                for row in self.conn.execute(
                    f"SELECT number, {owner} FROM {table}"
                    " WHERE document_status = 'C' AND forbid_status = 'A'"
                )
            }

    def refresh(self, kind: str, number: str) -> None:
        """Follow a row's status in the cache: usable when audited and not forbidden."""
        table, _, owned = MASTER_TABLES[kind]
        row = self.conn.execute(
            f"SELECT document_status, forbid_status, {'owner_code' if owned else 'NULL'}"
            f" FROM {table} WHERE number = ?",
            (number,),
        ).fetchone()
        if row is not None and row[0] == DocumentStatus.AUDITED and row[1] == "A":
            self._usable[kind][number] = row[2]
        else:
            self._usable[kind].pop(number, None)

    def forget(self, kind: str, number: str) -> None:
        """A renumbered row's old number is no longer usable."""
        self._usable[kind].pop(number, None)

    def owner_of(self, kind: str, number: str) -> str | None:
        """The cargo owner of a usable number (None: shared, or not usable)."""
        return self._usable[kind].get(number)

    def upsert_material(
        self, number: str, name: str, category: str = "", weight_kg: float = 0.0
    ) -> None:
        """Add or rename a material (BD_MATERIAL, `FNumber` = item code); FModifyDate moves."""
        now = sim_now(self.ctx)
        self.conn.execute(
            "INSERT INTO bd_material (number, name, category, weight_kg, created_sim, modified_sim)"
            " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(number) DO UPDATE SET name = excluded.name,"
            " category = excluded.category, weight_kg = excluded.weight_kg,"
            " modified_sim = excluded.modified_sim",
            (number, name, category, weight_kg, now, now),
        )
        self.refresh("material", number)

    def change_material(self, number: str, change: MaterialChange) -> None:
        """Apply a business change to a material (created audited if new; `discontinue` clears
        FIsSale: no longer sold, still usable on the bills of what was sold before, which a
        forbidden material, FForbidStatus B, would not be) and record it with the state it
        leaves, in the caller's transaction."""
        now = sim_now(self.ctx)
        if change.kind == "new":
            self.conn.execute(
                "INSERT INTO bd_material (number, name, category, weight_kg, barcode,"
                " price_cents, created_sim, modified_sim) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    number,
                    change.name or number,
                    change.category,
                    change.weight_kg,
                    change.barcode or "",
                    change.price_cents or 0,
                    now,
                    now,
                ),
            )
        else:
            self.conn.execute(
                "UPDATE bd_material SET name = COALESCE(?, name), barcode = COALESCE(?, barcode),"
                " price_cents = COALESCE(?, price_cents), is_sale = ?, modified_sim = ?"
                " WHERE number = ?",
                (
                    change.name,
                    change.barcode,
                    change.price_cents,
                    0 if change.kind == "discontinue" else 1,
                    now,
                    number,
                ),
            )
        row = self.conn.execute(
            "SELECT name, barcode, price_cents, is_sale FROM bd_material WHERE number = ?",
            (number,),
        ).fetchone()
        if row is None:
            raise KeyError(number)
        self.conn.execute(
            "INSERT INTO material_changes (number, change, name, barcode, price_cents,"
            " is_sale, changed_sim, changed_wall) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (number, change.kind, row[0], row[1], int(row[2]), row[3], now, self.ctx.clock.wall()),
        )
        self.ctx.history.record("state", "BD_MATERIAL.change", change.kind, number)
        self.refresh("material", number)

    def upsert_customer(self, number: str, name: str, owner_code: str | None = None) -> None:
        """Add or rename a customer (BD_Customer, `FNumber` = shop number) of a cargo owner."""
        now = sim_now(self.ctx)
        self.conn.execute(
            "INSERT INTO bd_customer (number, name, owner_code, created_sim, modified_sim)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT(number) DO UPDATE SET name = excluded.name,"
            " owner_code = COALESCE(excluded.owner_code, owner_code),"
            " modified_sim = excluded.modified_sim",
            (number, name, owner_code, now, now),
        )
        self.refresh("customer", number)

    def set_payment_terms(self, number: str, days: int) -> None:
        """A supplier's 付款条件: payables booked from now on fall due `days` after their date."""
        self.conn.execute(
            "UPDATE bd_supplier SET pay_terms_days = ?, modified_sim = ? WHERE number = ?",
            (days, sim_now(self.ctx), number),
        )

    def due_date(self, supplier: str, bill_date: str) -> str:
        """A payable's FENDDATE_H: its date plus its supplier's terms (from today's simulated
        date when its FDate is no yyyy-MM-dd date)."""
        row = self.conn.execute(
            "SELECT pay_terms_days FROM bd_supplier WHERE number = ?", (supplier,)
        ).fetchone()
        days = DEFAULT_TERMS_DAYS if row is None else int(row[0])
        try:
            start = date.fromisoformat(bill_date[:10])
        except ValueError:
            start = date.fromisoformat(sim_now(self.ctx)[:10])
        return (start + timedelta(days=days)).isoformat()

    def check(
        self,
        value: Any,
        kind: str,
        label: str,
        field_name: str,
        errors: list[ErrorItem],
        where: str = "",
        *,
        scope: OwnerScope = OwnerScope.EVERYONE,
    ) -> str | None:
        """The number of a basedata field, if it exists, is audited and is visible to `scope`;
        another owner's basedata is reported exactly as a missing one (no existence leak)."""
        try:
            number = basedata_number(value)
        except ValueError:
            errors.append(
                ErrorItem(
                    f'{where}字段[{label}]的值格式不正确，应为{{"FNumber": "编码"}}', field_name
                )
            )
            return None
        if number is None:
            errors.append(ErrorItem(f"{where}字段[{label}]是必录字段", field_name))
            return None
        known = self._usable[kind]
        if number not in known or not scope.allows(known[number]):
            errors.append(
                ErrorItem(
                    f"{where}字段[{label}]的值[{number}]在基础资料中不存在或未审核", field_name
                )
            )
            return None
        return number
