"""The ERP fake's domain: K3 sessions and users, master data, and the bills an integration posts.

Bills: sales outbound (SAL_OUTSTOCK), sales return (SAL_RETURNSTOCK), receivable
(AR_receivable, red with negative amounts), payable (AP_Payable),
purchase inbound (STK_InStock), receipt (AR_RECEIVEBILL) and voucher (GL_VOUCHER). Master data:
materials and customers (writable), suppliers, stocks, organisations, currencies, accounts and
account books (seeded from the world, read-only).

Tenancy: one organisation ("100") keeps every owner's books; each customer, supplier and account
book belongs to one cargo owner (customers = the owner's shops). A user whose credentials carry
an `owners` scope sees and changes only bills whose customer / supplier / book belongs to one
of its owners, and only those owners' customers; the others look as if they did not exist.

`ErpService` composes the parts, one module each: `sessions` (users, logins, sessions),
`master_data` (basedata and its cache), `documents` (Save, BatchSave, View; `validation`
checks a model), `lifecycle` (Submit, Audit, UnAudit, Delete), `query` (ExecuteBillQuery),
over the tables of `schema`. The K3 wire (envelopes, answers, cookies) is `api/k3.py`'s.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from fake_systems.common.context import SystemContext
from fake_systems.common.credentials import K3Credentials
from fake_systems.common.scope import OwnerScope
from fake_systems.common.storage import transaction
from fake_systems.erp import inventory, query
from fake_systems.erp.documents import Documents
from fake_systems.erp.lifecycle import Lifecycle
from fake_systems.erp.master_data import MasterData, MaterialChange
from fake_systems.erp.models import BillView, LoginResult, OperationResult, Session
from fake_systems.erp.schema import SCHEMA, upgrade_tables
from fake_systems.erp.sessions import LoginFailed, Sessions
from simulator.world import World

__all__ = ["ErpService", "LoginFailed"]


class ErpService:
    """Kingdee K3 Cloud, as far as an order-to-cash and procure-to-pay connector sees it.

    Keeps bills (SAL_OUTSTOCK, AR_receivable, AP_Payable, STK_InStock, AR_RECEIVEBILL,
    GL_VOUCHER) with their entries and walks them through Save (A) → Submit (B) → Audit (C),
    UnAudit (D) and Delete; checks basedata numbers against the master data seeded from the
    world; keeps materials and customers writable (saved A, usable once audited); answers
    ExecuteBillQuery over bills and master data; logs users in (password, app secret or
    signature) and limits owner-scoped users to their owners' data.

    LIMITATIONS (what the fake does not imitate):
    - No workflow, no approval flows, no Push (下推) between forms, no voucher generation
      on audit. Stock documents post to a book stock per material and warehouse at Audit and
      take it back at UnAudit (`inventory`, STK_Inventory): from the world's opening stock
      (as K3's 初始库存 STK_InvInit), in whole units, with no stock status, lot, owner or
      cost; it may go negative (K3 refuses that when 允许负库存 is off, the fake never does).
      Book stock is shared: only unscoped users read it (an owner-scoped one gets no rows).
      Source-bill links are kept and checked only where returns need them
      (fake_systems/erp/returns.py): a SAL_RETURNSTOCK entry's SAL_OUTSTOCK and a red
      AR_receivable entry's original receivable; un-auditing or deleting a source does not
      look at the documents linked to it.
    - Field validation covers the partner (customer / supplier / account book), the entries'
      material, quantity, amount, price, stock, voucher account, debit and credit, and
      organisation / currency numbers when given; every other model field (known to K3 or
      not) is stored as received without checks, as K3 ignores keys its form does not have.
      Quantities must be whole numbers.
    - Save on an existing document replaces all its entries (IsDeleteEntry semantics); entry
      ids are not kept. NeedUpDateFields / NeedReturnFields are accepted and ignored.
    - Bill numbers are unique per form and cargo owner (K3's default rule is per form);
      generated numbers are the form's prefix + the 8-digit internal id, not K3's coding-rule
      output.
    - Sessions expire after `session_ttl` wall seconds without use (None: never), and
      `expire_sessions()` drops them all (as an IIS app-pool recycle does).
    - One organisation ("100") holds every owner's books; tenancy is by the partner's owner,
      not by K3 organisations and data-permission schemes. Materials, stocks, accounts and
      currencies are shared by all owners and writable (materials) by unscoped users only.
    - Master data: only BD_MATERIAL (FNumber, FName, FMaterialGroup) and BD_Customer (FNumber,
      FName) can be saved; deleting basedata does not check whether bills refer to it. A
      material's FBARCODE and its retail price (F_ECO_RetailPrice, a custom field: K3 keeps
      sales prices in price lists, which the fake does not have) and FIsSale (1, 0 once
      discontinued; K3 writes a checkbox as a boolean) are read-only on the wire and
      change only by the simulated business (`change_material`); only those changes are
      recorded in `material_changes`, not a connector's Save of a material.
    - ExecuteBillQuery knows the field keys listed in docs/protocols/erp.md; FilterString is
      SQL-like (AND/OR/NOT, brackets, = <> > < >= <=, IN, LIKE, IS NULL, BETWEEN), no functions.
    - No multi-language names, no permissions beyond the owner scope.
    """

    def __init__(
        self,
        ctx: SystemContext,
        credentials: K3Credentials,
        *,
        session_ttl: float | None = None,
    ) -> None:
        self.ctx = ctx
        self.conn = ctx.conn
        self.credentials = credentials
        self.sessions = Sessions(ctx, session_ttl)
        self.sessions.add_users([credentials])
        self.master = MasterData(ctx)
        self.lifecycle = Lifecycle(ctx, self.master)
        self.documents = Documents(ctx, self.master, self.lifecycle)

    def setup(self, world: World) -> None:
        """Create the tables and seed the master data from the world (idempotent)."""
        self.conn.executescript(SCHEMA)
        self.conn.executescript(inventory.SCHEMA)
        upgrade_tables(self.conn)
        with transaction(self.conn):
            self.master.seed(world)
            inventory.seed(self.conn, world.initial_stock)
        self.master.load()
        self.documents.load()

    # ------------------------------------------------------------------ users and sessions

    def add_users(self, users: Iterable[K3Credentials]) -> None:
        """Issue K3 users: each can log in and is bound to its `owners` scope."""
        self.sessions.add_users(users)

    def login(
        self, acct_id: str, username: str, password: str, lcid: int | None = None
    ) -> LoginResult:
        """AuthService.ValidateUser; raises LoginFailed with K3's message on bad credentials."""
        return self.sessions.login(acct_id, username, password, lcid)

    def login_by_app_secret(
        self, acct_id: str, username: str, app_id: str, app_secret: str, lcid: int | None = None
    ) -> LoginResult:
        """AuthService.LoginByAppSecret: the integration user with its third-party app."""
        return self.sessions.login_by_app_secret(acct_id, username, app_id, app_secret, lcid)

    def login_by_sign(
        self,
        acct_id: str,
        username: str,
        app_id: str,
        timestamp: str,
        sign: str,
        lcid: int | None = None,
    ) -> LoginResult:
        """AuthService.LoginBySign: a signature of five sorted values instead of the secret."""
        return self.sessions.login_by_sign(acct_id, username, app_id, timestamp, sign, lcid)

    def app_user(self, app_id: str) -> K3Credentials | None:
        """The user a third-party app is bound to (signed requests name the app), or None."""
        return self.sessions.app_user(app_id)

    def session(self, session_id: str | None) -> Session | None:
        """The live session with that id (its idle timeout restarts), or None."""
        return self.sessions.session(session_id)

    def session_valid(self, session_id: str | None) -> bool:
        return self.session(session_id) is not None

    def logout(self, session_id: str | None) -> None:
        self.sessions.logout(session_id)

    def expire_sessions(self) -> int:
        """Forget every session (chaos: the server lost its contexts); returns how many."""
        return self.sessions.expire_all()

    # ------------------------------------------------------------------ master data

    def upsert_material(
        self, number: str, name: str, category: str = "", weight_kg: float = 0.0
    ) -> None:
        """Add or rename a material (BD_MATERIAL, `FNumber` = item code); FModifyDate moves."""
        self.master.upsert_material(number, name, category, weight_kg)

    def change_material(self, number: str, change: MaterialChange) -> None:
        """The business changes its master data (the simulator): a new material, or a new
        name, price or barcode, or a discontinued one; FModifyDate moves and the change is
        recorded in `material_changes` for the judge."""
        with transaction(self.conn):
            self.master.change_material(number, change)

    def upsert_customer(self, number: str, name: str, owner_code: str | None = None) -> None:
        """Add or rename a customer (BD_Customer, `FNumber` = shop number) of a cargo owner."""
        self.master.upsert_customer(number, name, owner_code)

    # ------------------------------------------------------------------ documents

    def save(
        self,
        form_id: str,
        model: Any,
        *,
        auto_submit_audit: bool = False,
        scope: OwnerScope = OwnerScope.EVERYONE,
    ) -> OperationResult:
        """DynamicFormService.Save; K3Error when refused (nothing is written then)."""
        return self.documents.save(form_id, model, auto_submit_audit=auto_submit_audit, scope=scope)

    def batch_save(
        self,
        form_id: str,
        models: Any,
        *,
        auto_submit_audit: bool = False,
        scope: OwnerScope = OwnerScope.EVERYONE,
    ) -> OperationResult:
        """DynamicFormService.BatchSave: each model on its own, refusals reported by DIndex."""
        return self.documents.batch_save(
            form_id, models, auto_submit_audit=auto_submit_audit, scope=scope
        )

    def submit(
        self,
        form_id: str,
        numbers: Sequence[str] = (),
        ids: Any = None,
        *,
        scope: OwnerScope = OwnerScope.EVERYONE,
    ) -> OperationResult:
        """DynamicFormService.Submit: A/D/Z → B, per document."""
        return self.lifecycle.submit(form_id, numbers, ids, scope=scope)

    def audit(
        self,
        form_id: str,
        numbers: Sequence[str] = (),
        ids: Any = None,
        *,
        scope: OwnerScope = OwnerScope.EVERYONE,
    ) -> OperationResult:
        """DynamicFormService.Audit: B → C."""
        return self.lifecycle.audit(form_id, numbers, ids, scope=scope)

    def unaudit(
        self,
        form_id: str,
        numbers: Sequence[str] = (),
        ids: Any = None,
        *,
        scope: OwnerScope = OwnerScope.EVERYONE,
    ) -> OperationResult:
        """DynamicFormService.UnAudit: C → D."""
        return self.lifecycle.unaudit(form_id, numbers, ids, scope=scope)

    def delete(
        self,
        form_id: str,
        numbers: Sequence[str] = (),
        ids: Any = None,
        *,
        scope: OwnerScope = OwnerScope.EVERYONE,
    ) -> OperationResult:
        """DynamicFormService.Delete: only documents not submitted nor audited (A, D, Z)."""
        return self.lifecycle.delete(form_id, numbers, ids, scope=scope)

    def view(
        self,
        form_id: str,
        number: str | None = None,
        fid: Any = None,
        *,
        scope: OwnerScope = OwnerScope.EVERYONE,
    ) -> BillView:
        """DynamicFormService.View: one bill by number or id, with its partner and entries."""
        return self.documents.view(form_id, number, fid, scope=scope)

    def execute_bill_query(
        self,
        form_id: str,
        field_keys: str,
        filter_string: str = "",
        order_string: str = "",
        start_row: int = 0,
        limit: int = 0,
        top_row_count: int = 0,
        *,
        scope: OwnerScope = OwnerScope.EVERYONE,
    ) -> list[list[Any]]:
        """DynamicFormService.ExecuteBillQuery: rows of the requested fields (money as yuan)."""
        return query.execute_bill_query(
            self.conn,
            form_id,
            field_keys,
            filter_string,
            order_string,
            start_row,
            limit,
            top_row_count,
            scope=scope,
        )

    def document(self, form_id: str, bill_no: str) -> dict[str, Any] | None:
        """The stored row of a document with its entries (for the simulator and tests)."""
        return self.documents.document(form_id, bill_no)
