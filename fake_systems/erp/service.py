"""The ERP fake's domain: K3 sessions and users, master data, and the bills an integration posts.

Bills: sales outbound (SAL_OUTSTOCK), receivable (AR_receivable), payable (AP_Payable),
purchase inbound (STK_InStock), receipt (AR_RECEIVEBILL) and voucher (GL_VOUCHER). Master data:
materials and customers (writable), suppliers, stocks, organisations, currencies, accounts and
account books (seeded from the world, read-only).

Tenancy: one organisation ("100") keeps every owner's books; each customer, supplier and account
book belongs to one cargo owner (customers = the owner's shops). A user whose credentials carry
an `owners` scope sees and changes only bills whose customer / supplier / book belongs to one
of its owners, and only those owners' customers; the others look as if they did not exist.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, NoReturn

import orjson

from fake_systems.common.context import SystemContext
from fake_systems.common.credentials import K3Credentials
from fake_systems.common.money import CENT
from fake_systems.common.signing import constant_time_equal, k3_login_sign
from fake_systems.common.storage import transaction
from fake_systems.common.wire import WireValueError, parse_decimal, parse_int
from fake_systems.erp.models import (
    ACCOUNTS,
    BILL_FORMS,
    CURRENCIES,
    MASTER_FORMS,
    MSG_APP_FAILED,
    MSG_AUDITED_NO_CHANGE,
    MSG_FORM_NOT_FOUND,
    MSG_LOGIN_FAILED,
    MSG_SIGN_FAILED,
    MSG_SIGN_REPLAYED,
    MSG_SIGN_STALE,
    MSG_SUBMITTED_NO_CHANGE,
    ORG_NUMBER,
    DocumentStatus,
    ErrorItem,
    FormSpec,
    K3Error,
    LoginResult,
    MsgCode,
    OperationResult,
    Session,
    SuccessEntity,
)
from fake_systems.erp.query import QUERY_SPECS, compile_query, money_out
from simulator.clock import format_qimen_time
from simulator.world import World

__all__ = ["ErpService", "LoginFailed"]

# Bounds of entry numbers: an amount, and a quantity times a price, stay below AMOUNT_LIMIT
# yuan, so that a bill of MAX_ENTRIES_PER_CALL entries still sums inside 64-bit cents.
AMOUNT_LIMIT = Decimal(10) ** 12
MAX_QUANTITY = 10**9

SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
    fid             INTEGER PRIMARY KEY,
    form_id         TEXT    NOT NULL,
    bill_no         TEXT    NOT NULL,
    document_status TEXT    NOT NULL,          -- Z draft, A saved, B submitted, C audited, D
    customer_number TEXT,                      -- customer bills: the customer (shop number)
    supplier_number TEXT,                      -- AP_Payable, STK_InStock: the supplier
    book_number     TEXT,                      -- GL_VOUCHER: the account book
    owner_code      TEXT,                      -- the partner's cargo owner; NULL = none
    amount_cents    INTEGER NOT NULL,          -- sum of the entries' amounts (voucher: debit)
    bill_date       TEXT,
    note            TEXT,
    org_number      TEXT,
    currency_number TEXT,
    saved_sim       TEXT    NOT NULL,
    saved_wall      REAL    NOT NULL,
    modified_sim    TEXT    NOT NULL,
    modified_wall   REAL    NOT NULL,
    submitted_sim   TEXT,
    submitted_wall  REAL,
    audited_sim     TEXT,
    audited_wall    REAL,
    model           TEXT    NOT NULL           -- the saved Model as received (merged on update)
);
-- Bill numbers are unique per form and cargo owner: one owner's numbers say nothing of
-- another's, and a tenant's Save never learns that another owner uses a number.
CREATE UNIQUE INDEX IF NOT EXISTS documents_owner_bill
    ON documents (form_id, COALESCE(owner_code, ''), bill_no);
CREATE INDEX IF NOT EXISTS documents_bill ON documents (form_id, bill_no);
CREATE TABLE IF NOT EXISTS document_entries (
    entry_id        INTEGER PRIMARY KEY,
    fid             INTEGER NOT NULL REFERENCES documents(fid) ON DELETE CASCADE,
    seq             INTEGER NOT NULL,          -- 1-based line number
    material_number TEXT,                      -- goods lines
    qty             INTEGER NOT NULL,
    amount_cents    INTEGER NOT NULL,          -- voucher lines: the debit or the credit
    price_cents     INTEGER,
    stock_number    TEXT,
    account_number  TEXT,                      -- voucher lines
    debit_cents     INTEGER,
    credit_cents    INTEGER
);
CREATE INDEX IF NOT EXISTS document_entries_fid ON document_entries(fid, seq);
CREATE TABLE IF NOT EXISTS bd_material (
    fmaterialid     INTEGER PRIMARY KEY,
    number          TEXT NOT NULL UNIQUE,
    name            TEXT NOT NULL,
    category        TEXT NOT NULL DEFAULT '',
    weight_kg       REAL NOT NULL DEFAULT 0,
    document_status TEXT NOT NULL DEFAULT 'C',
    forbid_status   TEXT NOT NULL DEFAULT 'A',
    created_sim     TEXT NOT NULL,
    modified_sim    TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS bd_customer (
    fcustid         INTEGER PRIMARY KEY,
    number          TEXT NOT NULL UNIQUE,
    name            TEXT NOT NULL,
    owner_code      TEXT,                      -- the cargo owner whose shop this is
    document_status TEXT NOT NULL DEFAULT 'C',
    forbid_status   TEXT NOT NULL DEFAULT 'A',
    created_sim     TEXT NOT NULL,
    modified_sim    TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS bd_supplier (
    fsupplierid     INTEGER PRIMARY KEY,
    number          TEXT NOT NULL UNIQUE,
    name            TEXT NOT NULL,
    owner_code      TEXT,
    document_status TEXT NOT NULL DEFAULT 'C',
    forbid_status   TEXT NOT NULL DEFAULT 'A',
    created_sim     TEXT NOT NULL,
    modified_sim    TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS bd_accountbook (
    faccountbookid  INTEGER PRIMARY KEY,
    number          TEXT NOT NULL UNIQUE,
    name            TEXT NOT NULL,
    owner_code      TEXT,
    document_status TEXT NOT NULL DEFAULT 'C',
    forbid_status   TEXT NOT NULL DEFAULT 'A',
    created_sim     TEXT NOT NULL,
    modified_sim    TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS bd_account (
    facctid         INTEGER PRIMARY KEY,
    number          TEXT NOT NULL UNIQUE,
    name            TEXT NOT NULL,
    document_status TEXT NOT NULL DEFAULT 'C',
    forbid_status   TEXT NOT NULL DEFAULT 'A',
    created_sim     TEXT NOT NULL,
    modified_sim    TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS bd_stock (
    fstockid        INTEGER PRIMARY KEY,
    number          TEXT NOT NULL UNIQUE,
    name            TEXT NOT NULL,
    document_status TEXT NOT NULL DEFAULT 'C',
    forbid_status   TEXT NOT NULL DEFAULT 'A',
    created_sim     TEXT NOT NULL,
    modified_sim    TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS org_organizations (
    forgid          INTEGER PRIMARY KEY,
    number          TEXT NOT NULL UNIQUE,
    name            TEXT NOT NULL,
    document_status TEXT NOT NULL DEFAULT 'C',
    forbid_status   TEXT NOT NULL DEFAULT 'A',
    created_sim     TEXT NOT NULL,
    modified_sim    TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS bd_currency (
    fcurrencyid     INTEGER PRIMARY KEY,
    number          TEXT NOT NULL UNIQUE,
    name            TEXT NOT NULL,
    code            TEXT NOT NULL,
    document_status TEXT NOT NULL DEFAULT 'C',
    forbid_status   TEXT NOT NULL DEFAULT 'A',
    created_sim     TEXT NOT NULL,
    modified_sim    TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS sessions (
    session_id   TEXT PRIMARY KEY,
    acct_id      TEXT NOT NULL,
    username     TEXT NOT NULL,
    owners       TEXT NOT NULL,                -- comma-joined owner codes; '' = every owner
    lcid         INTEGER NOT NULL,
    user_token   TEXT NOT NULL,
    created_sim  TEXT NOT NULL,
    created_wall REAL NOT NULL,
    last_wall    REAL NOT NULL                 -- last use, for the idle timeout
);
CREATE TABLE IF NOT EXISTS login_signs (
    sign  TEXT PRIMARY KEY,                    -- LoginBySign signatures already used
    wall  REAL NOT NULL
);
"""

FIRST_FID = 100001  # K3 internal ids of a fresh data centre start about here
USER_ID = 100008
SIGN_TOLERANCE_SECONDS = 300  # LoginBySign timestamps within ±5 min of the server's clock
SESSION_TOUCH_SECONDS = 1.0  # resolution of the sliding session expiry (wall seconds)
MATERIAL_LABEL = "物料编码"
STOCK_LABEL = "仓库"


class LoginFailed(Exception):
    """A login refused: the text K3 puts in `Message` with `LoginResultType` 0."""


@dataclass(frozen=True)
class _Entry:
    qty: int = 0
    amount_cents: int = 0
    material_number: str | None = None
    price_cents: int | None = None
    stock_number: str | None = None
    account_number: str | None = None
    debit_cents: int | None = None
    credit_cents: int | None = None


@dataclass(frozen=True)
class _Table:
    """Rows the batch operations (Submit, Audit, UnAudit, Delete) act on."""

    name: str
    id_col: str
    number_col: str
    where: str
    params: tuple[Any, ...]
    owned: bool  # has an owner_code column that scoped users are limited by
    master: str | None = None  # the master-data kind whose cache follows status changes


# Master tables by basedata kind: (table, id column, whether rows belong to an owner).
_MASTER_TABLES: dict[str, tuple[str, str, bool]] = {
    "material": ("bd_material", "fmaterialid", False),
    "customer": ("bd_customer", "fcustid", True),
    "supplier": ("bd_supplier", "fsupplierid", True),
    "book": ("bd_accountbook", "faccountbookid", True),
    "account": ("bd_account", "facctid", False),
    "stock": ("bd_stock", "fstockid", False),
    "org": ("org_organizations", "forgid", False),
    "currency": ("bd_currency", "fcurrencyid", False),
}
# Writable master forms by lower-cased form id → basedata kind.
_MASTER_KINDS = {"bd_material": "material", "bd_customer": "customer"}


def _lower_keys(mapping: Mapping[str, Any]) -> dict[str, Any]:
    """K3 field keys are case-insensitive: look them up lower-cased."""
    return {str(key).lower(): value for key, value in mapping.items()}


def _basedata_number(value: Any) -> str | None:
    """`{"FNumber": "X"}` → "X"; None when the field is absent or empty; ValueError if malformed."""
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise ValueError("basedata field is not an object")
    number = _lower_keys(value).get("fnumber")
    if number is None or (isinstance(number, str) and not number.strip()):
        return None
    if not isinstance(number, str | int) or isinstance(number, bool):
        raise ValueError("FNumber is not text")
    return str(number).strip()


def _to_int_list(values: Any) -> list[Any]:
    """`Ids` arrive as "1,2,3" (as K3's own SDK sends them) or as a JSON list."""
    if values is None or values == "":
        return []
    if isinstance(values, str):
        return [part.strip() for part in values.split(",") if part.strip()]
    if isinstance(values, list):
        return values
    return [values]


def _in_scope(owner: str | None, owners: Sequence[str]) -> bool:
    """An owner-scoped user sees rows of its owners only; an unscoped one sees every row."""
    return not owners or owner in owners


def _ambiguous(number: str) -> str:
    return f"单据编号为[{number}]的单据不唯一（多个货主使用此编号），请按内码(Ids)操作"


def _owner_clause(owners: Sequence[str], column: str = "owner_code") -> tuple[str, list[str]]:
    if not owners:
        return "", []
    return f" AND {column} IN ({', '.join('?' for _ in owners)})", list(owners)


class ErpService:
    """Kingdee K3 Cloud, as far as an order-to-cash and procure-to-pay connector sees it.

    Keeps bills (SAL_OUTSTOCK, AR_receivable, AP_Payable, STK_InStock, AR_RECEIVEBILL,
    GL_VOUCHER) with their entries and walks them through Save (A) → Submit (B) → Audit (C),
    UnAudit (D) and Delete; checks basedata numbers against the master data seeded from the
    world; keeps materials and customers writable (saved A, usable once audited); answers
    ExecuteBillQuery over bills and master data; logs users in (password, app secret or
    signature) and limits owner-scoped users to their owners' data.

    LIMITATIONS (what the fake does not imitate):
    - No workflow, no approval flows, no linked documents (no Push / source-bill links), no
      red/blue document pairing, no stock postings or voucher generation on audit.
    - Field validation covers the partner (customer / supplier / account book), the entries'
      material, quantity, amount, price, stock, voucher account, debit and credit, and
      organisation / currency numbers when given; every other model field (known to K3 or
      not) is stored as received without checks, as K3 ignores keys its form does not have.
      Quantities must be whole numbers.
    - Save on an existing document replaces all its entries (IsDeleteEntry semantics); entry
      ids are not kept. NeedUpDateFields / NeedReturnFields are accepted and ignored.
    - Bill numbers are unique per form (K3's default numbering rule); generated numbers are
      the form's prefix + the 8-digit internal id, not K3's coding-rule output.
    - Sessions expire after `session_ttl` wall seconds without use (None: never), and
      `expire_sessions()` drops them all (as an IIS app-pool recycle does).
    - One organisation ("100") holds every owner's books; tenancy is by the partner's owner,
      not by K3 organisations and data-permission schemes. Materials, stocks, accounts and
      currencies are shared by all owners and writable (materials) by unscoped users only.
    - Master data: only BD_MATERIAL (FNumber, FName, FMaterialGroup) and BD_Customer (FNumber,
      FName) can be saved; deleting basedata does not check whether bills refer to it.
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
        self.session_ttl = session_ttl
        self.users: dict[tuple[str, str], K3Credentials] = {}
        self.add_users([credentials])
        self._next_fid = FIRST_FID
        # usable basedata by kind: number → owner code (None: shared); audited, not forbidden
        self._basedata: dict[str, dict[str, str | None]] = {kind: {} for kind in _MASTER_TABLES}

    def add_users(self, users: Iterable[K3Credentials]) -> None:
        """Issue K3 users: each can log in and is bound to its `owners` scope."""
        for user in users:
            self.users[(user.acct_id, user.username)] = user

    # ------------------------------------------------------------------ setup and master data

    def setup(self, world: World) -> None:
        """Create the tables; seed organisation "100", currencies, accounts, stocks, and per
        owner its customers (the shops), a supplier and an account book; then the materials."""
        self.conn.executescript(SCHEMA)
        now = self._sim_now()
        with transaction(self.conn):
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
            for shop in world.shops:
                self.upsert_customer(shop.shop_no, shop.name, shop.owner_code)
            for sku in world.skus:
                self.upsert_material(sku.item_code, sku.name, sku.category, sku.weight_kg)
        self._load_caches()

    def _load_caches(self) -> None:
        # Validation runs on every Save; the caches keep it to memory lookups.
        for kind, (table, _, owned) in _MASTER_TABLES.items():
            owner = "owner_code" if owned else "NULL"
            self._basedata[kind] = {
                row[0]: row[1]
                for row in self.conn.execute(
                    f"SELECT number, {owner} FROM {table}"
                    " WHERE document_status = 'C' AND forbid_status = 'A'"
                )
            }
        row = self.conn.execute("SELECT MAX(fid) FROM documents").fetchone()
        self._next_fid = max(FIRST_FID, (row[0] or 0) + 1)

    def _refresh_basedata(self, kind: str, number: str) -> None:
        table, _, owned = _MASTER_TABLES[kind]
        row = self.conn.execute(
            f"SELECT document_status, forbid_status, {'owner_code' if owned else 'NULL'}"
            f" FROM {table} WHERE number = ?",
            (number,),
        ).fetchone()
        if row is not None and row[0] == DocumentStatus.AUDITED and row[1] == "A":
            self._basedata[kind][number] = row[2]
        else:
            self._basedata[kind].pop(number, None)

    def upsert_material(
        self, number: str, name: str, category: str = "", weight_kg: float = 0.0
    ) -> None:
        """Add or rename a material (BD_MATERIAL, `FNumber` = item code); FModifyDate moves."""
        now = self._sim_now()
        self.conn.execute(
            "INSERT INTO bd_material (number, name, category, weight_kg, created_sim, modified_sim)"
            " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(number) DO UPDATE SET name = excluded.name,"
            " category = excluded.category, weight_kg = excluded.weight_kg,"
            " modified_sim = excluded.modified_sim",
            (number, name, category, weight_kg, now, now),
        )
        self._refresh_basedata("material", number)

    def upsert_customer(self, number: str, name: str, owner_code: str | None = None) -> None:
        """Add or rename a customer (BD_Customer, `FNumber` = shop number) of a cargo owner."""
        now = self._sim_now()
        self.conn.execute(
            "INSERT INTO bd_customer (number, name, owner_code, created_sim, modified_sim)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT(number) DO UPDATE SET name = excluded.name,"
            " owner_code = COALESCE(excluded.owner_code, owner_code),"
            " modified_sim = excluded.modified_sim",
            (number, name, owner_code, now, now),
        )
        self._refresh_basedata("customer", number)

    # ------------------------------------------------------------------ users and sessions

    def login(
        self, acct_id: str, username: str, password: str, lcid: int | None = None
    ) -> LoginResult:
        """AuthService.ValidateUser; raises LoginFailed with K3's message on bad credentials."""
        user = self._user(acct_id, username, MSG_LOGIN_FAILED)
        if not constant_time_equal(password, user.password):
            raise LoginFailed(MSG_LOGIN_FAILED)
        return self._open_session(user, lcid)

    def login_by_app_secret(
        self, acct_id: str, username: str, app_id: str, app_secret: str, lcid: int | None = None
    ) -> LoginResult:
        """AuthService.LoginByAppSecret: the integration user with its third-party app."""
        user = self._user(acct_id, username, MSG_APP_FAILED)
        if app_id != user.app_id or not constant_time_equal(app_secret, user.app_secret):
            raise LoginFailed(MSG_APP_FAILED)
        return self._open_session(user, lcid)

    def login_by_sign(
        self,
        acct_id: str,
        username: str,
        app_id: str,
        timestamp: str,
        sign: str,
        lcid: int | None = None,
    ) -> LoginResult:
        """AuthService.LoginBySign: the secret stays home, a SHA-256 signature travels.

        The timestamp (unix seconds, wall clock) must be within SIGN_TOLERANCE_SECONDS and a
        signature works once: a replayed login is refused.
        """
        user = self._user(acct_id, username, MSG_APP_FAILED)
        if app_id != user.app_id:
            raise LoginFailed(MSG_APP_FAILED)
        expected = k3_login_sign(acct_id, username, user.app_secret, timestamp)
        if not constant_time_equal(sign.lower(), expected):
            raise LoginFailed(MSG_SIGN_FAILED)
        try:
            stamp = float(timestamp)
        except ValueError as exc:
            raise LoginFailed(MSG_SIGN_STALE) from exc
        now = self.ctx.clock.wall()
        if abs(now - stamp) > SIGN_TOLERANCE_SECONDS:
            raise LoginFailed(MSG_SIGN_STALE)
        with transaction(self.conn):
            # signatures older than the tolerance can never pass again: forget them
            self.conn.execute(
                "DELETE FROM login_signs WHERE wall < ?", (now - 2 * SIGN_TOLERANCE_SECONDS,)
            )
            if self.conn.execute(
                "SELECT 1 FROM login_signs WHERE sign = ?", (expected,)
            ).fetchone():
                raise LoginFailed(MSG_SIGN_REPLAYED)
            self.conn.execute("INSERT INTO login_signs (sign, wall) VALUES (?, ?)", (expected, now))
            return self._open_session(user, lcid)

    def _user(self, acct_id: str, username: str, refusal: str) -> K3Credentials:
        if all(acct != acct_id for acct, _ in self.users):
            raise LoginFailed(f"数据中心[{acct_id}]不存在，请检查账套ID(acctID)！")
        user = self.users.get((acct_id, username))
        if user is None:
            raise LoginFailed(refusal)
        return user

    def _open_session(self, user: K3Credentials, lcid: int | None) -> LoginResult:
        session_id = uuid.uuid4().hex[:24]
        user_token = str(uuid.uuid4())
        chosen_lcid = lcid if lcid else user.lcid
        wall = self.ctx.clock.wall()
        self.conn.execute(
            "INSERT INTO sessions (session_id, acct_id, username, owners, lcid, user_token,"
            " created_sim, created_wall, last_wall) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                session_id,
                user.acct_id,
                user.username,
                ",".join(user.owners),
                chosen_lcid,
                user_token,
                self._sim_now(),
                wall,
                wall,
            ),
        )
        return LoginResult(
            session_id,
            USER_ID,
            user.username,
            user.acct_id,
            chosen_lcid,
            user_token,
            tuple(user.owners),
        )

    def session(self, session_id: str | None) -> Session | None:
        """The live session with that id, or None (unknown, logged out or idle too long).

        Each use restarts the idle timeout, as an ASP.NET session's sliding expiry does.
        """
        if not session_id:
            return None
        row = self.conn.execute(
            "SELECT username, owners, last_wall FROM sessions WHERE session_id = ?", (session_id,)
        ).fetchone()
        if row is None:
            return None
        now = self.ctx.clock.wall()
        if self.session_ttl is not None and now - row["last_wall"] > self.session_ttl:
            self.conn.execute("DELETE FROM sessions WHERE session_id = ?", (session_id,))
            return None
        # The expiry slides by whole seconds: a write (and its commit) per K3 call cost more
        # than the call's own work under load (docs/PERFORMANCE.md).
        if now - row["last_wall"] >= SESSION_TOUCH_SECONDS:
            self.conn.execute(
                "UPDATE sessions SET last_wall = ? WHERE session_id = ?", (now, session_id)
            )
        owners = tuple(code for code in row["owners"].split(",") if code)
        return Session(session_id, row["username"], owners)

    def session_valid(self, session_id: str | None) -> bool:
        return self.session(session_id) is not None

    def logout(self, session_id: str | None) -> None:
        self.conn.execute("DELETE FROM sessions WHERE session_id = ?", (session_id,))

    def expire_sessions(self) -> int:
        """Forget every session (chaos: the server lost its contexts); returns how many."""
        return self.conn.execute("DELETE FROM sessions").rowcount

    # ------------------------------------------------------------------ documents

    def save(
        self,
        form_id: str,
        model: Any,
        *,
        auto_submit_audit: bool = False,
        owners: Sequence[str] = (),
    ) -> OperationResult:
        """DynamicFormService.Save: new without FID (status A), update of A/D/Z with FID.

        Raises K3Error when the whole save is refused; nothing is written then.
        """
        if isinstance(form_id, str) and form_id.lower() in _MASTER_KINDS:
            return self._save_master(form_id, model, auto_submit_audit, owners)
        spec = self._bill_form(form_id, "保存")
        if not isinstance(model, Mapping) or not model:
            raise K3Error.one(MsgCode.PARAMETER_ERROR, "参数Model不能为空", "Model")
        fields = _lower_keys(model)
        fid = self._parse_fid(fields.get("fid", fields.get("id")))
        existing: sqlite3.Row | None = None
        stored_model: dict[str, Any] = dict(model)
        if fid is not None:
            clause, params = _owner_clause(owners)
            existing = self.conn.execute(
                f"SELECT * FROM documents WHERE fid = ? AND form_id = ?{clause}",
                (fid, spec.form_id, *params),
            ).fetchone()
            if existing is None:
                raise K3Error.one(MsgCode.NOT_FOUND, f"内码为[{fid}]的单据不存在", "FID")
            self._check_editable(existing["document_status"])
            # K3 keeps the fields a Save leaves out: merge, the new keys winning whatever their case
            stored_model = {
                key: value
                for key, value in orjson.loads(existing["model"]).items()
                if key.lower() not in fields
            }
            stored_model.update(model)
            fields = _lower_keys(stored_model)

        partner, entries, org, currency = self._validate(spec, fields, owners)
        owner = self._basedata[spec.partner.kind].get(partner)
        bill_no = self._text(fields.get("fbillno"))
        if bill_no:
            clash = self.conn.execute(
                "SELECT fid FROM documents WHERE form_id = ? AND bill_no = ? AND owner_code IS ?",
                (spec.form_id, bill_no, owner),
            ).fetchone()
            if clash is not None and (existing is None or clash[0] != existing["fid"]):
                raise K3Error.one(
                    MsgCode.VALIDATION_FAILED,
                    f"违反字段唯一性要求：单据编号[{bill_no}]已存在",
                    "FBillNo",
                )

        now_sim, now_wall = self._sim_now(), self.ctx.clock.wall()
        if spec.lines == "voucher":
            amount = sum(entry.debit_cents or 0 for entry in entries)
        else:
            amount = sum(entry.amount_cents for entry in entries)
        numbers = {"customer": None, "supplier": None, "book": None, spec.partner.kind: partner}
        header = (
            numbers["customer"],
            numbers["supplier"],
            numbers["book"],
            owner,
            amount,
            self._text(fields.get("fdate")) or now_sim,
            self._text(fields.get("fnote")),
            org,
            currency,
        )
        model_text = orjson.dumps(stored_model, default=str).decode()
        with transaction(self.conn):
            if existing is None:
                fid = self._next_fid
                self._next_fid += 1
                bill_no = bill_no or f"{spec.bill_prefix}{fid:08d}"
                self.conn.execute(
                    "INSERT INTO documents (fid, form_id, bill_no, document_status,"
                    " customer_number, supplier_number, book_number, owner_code, amount_cents,"
                    " bill_date, note, org_number, currency_number, saved_sim, saved_wall,"
                    " modified_sim, modified_wall, model)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        fid,
                        spec.form_id,
                        bill_no,
                        DocumentStatus.CREATED.value,
                        *header,
                        now_sim,
                        now_wall,
                        now_sim,
                        now_wall,
                        model_text,
                    ),
                )
                self.ctx.history.record("state", f"{spec.form_id}.Save", "A", bill_no)
            else:
                fid = int(existing["fid"])
                bill_no = bill_no or existing["bill_no"]
                status = existing["document_status"]
                if status == DocumentStatus.DRAFT:
                    status = DocumentStatus.CREATED.value
                self.conn.execute(
                    "UPDATE documents SET bill_no = ?, document_status = ?, customer_number = ?,"
                    " supplier_number = ?, book_number = ?, owner_code = ?, amount_cents = ?,"
                    " bill_date = ?, note = ?, org_number = ?, currency_number = ?,"
                    " modified_sim = ?, modified_wall = ?, model = ? WHERE fid = ?",
                    (bill_no, status, *header, now_sim, now_wall, model_text, fid),
                )
                self.conn.execute("DELETE FROM document_entries WHERE fid = ?", (fid,))
                self.ctx.history.record("state", f"{spec.form_id}.Save", status, bill_no)
            self.conn.executemany(
                "INSERT INTO document_entries (fid, seq, material_number, qty, amount_cents,"
                " price_cents, stock_number, account_number, debit_cents, credit_cents)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        fid,
                        seq,
                        e.material_number,
                        e.qty,
                        e.amount_cents,
                        e.price_cents,
                        e.stock_number,
                        e.account_number,
                        e.debit_cents,
                        e.credit_cents,
                    )
                    for seq, e in enumerate(entries, start=1)
                ],
            )
            if auto_submit_audit:
                table = self._table(spec.form_id, None)
                self._move(table, fid, bill_no, DocumentStatus.IN_REVIEW)
                self._move(table, fid, bill_no, DocumentStatus.AUDITED)
        return OperationResult(successes=[SuccessEntity(fid, bill_no, 0)])

    def batch_save(
        self,
        form_id: str,
        models: Any,
        *,
        auto_submit_audit: bool = False,
        owners: Sequence[str] = (),
    ) -> OperationResult:
        """DynamicFormService.BatchSave: each model saved on its own; the refused ones are
        reported by DIndex (their position in `Model`), the others are kept."""
        self._table(form_id, owners)
        if not isinstance(models, list) or not models:
            raise K3Error.one(MsgCode.PARAMETER_ERROR, "参数Model不能为空", "Model")
        result = OperationResult()
        codes: list[MsgCode] = []
        for dindex, model in enumerate(models):
            try:
                saved = self.save(
                    form_id, model, auto_submit_audit=auto_submit_audit, owners=owners
                )
            except K3Error as error:
                result.errors.extend(
                    ErrorItem(item.message, item.field_name, dindex) for item in error.errors
                )
                codes.append(error.msg_code)
                continue
            entity = saved.successes[0]
            result.successes.append(SuccessEntity(entity.id, entity.number, dindex))
        if codes:
            result.msg_code = codes[0]
        return result

    def _save_master(
        self, form_id: str, model: Any, auto_submit_audit: bool, owners: Sequence[str]
    ) -> OperationResult:
        """Save a material or a customer: new ones start in A and are usable once audited."""
        kind = _MASTER_KINDS[form_id.lower()]
        canonical = MASTER_FORMS[form_id.lower()]
        if owners:
            # Master numbers are one namespace for every owner: a scoped user's Save would
            # learn from 编码已存在 that another owner's customer exists. Only the integrator
            # writes master data; owners' customers come with their shops.
            self._refuse(form_id.lower(), "保存")
        table = self._table(form_id, owners)
        if not isinstance(model, Mapping) or not model:
            raise K3Error.one(MsgCode.PARAMETER_ERROR, "参数Model不能为空", "Model")
        fields = _lower_keys(model)
        id_col = table.id_col
        row_id = self._parse_fid(fields.get(id_col, fields.get("id")))
        existing: sqlite3.Row | None = None
        if row_id is not None:
            clause, params = _owner_clause(owners) if table.owned else ("", [])
            existing = self.conn.execute(
                f"SELECT * FROM {table.name} WHERE {id_col} = ?{clause}", (row_id, *params)
            ).fetchone()
            if existing is None:
                raise K3Error.one(MsgCode.NOT_FOUND, f"内码为[{row_id}]的数据不存在", id_col)
            self._check_editable(existing["document_status"])
        errors: list[ErrorItem] = []
        number = self._text(fields.get("fnumber")) or (existing["number"] if existing else None)
        name = self._text(fields.get("fname")) or (existing["name"] if existing else None)
        if not number:
            errors.append(ErrorItem("字段[编码]是必录字段", "FNumber"))
        if not name:
            errors.append(ErrorItem("字段[名称]是必录字段", "FName"))
        for key in ("fcreateorgid", "fuseorgid"):
            if key in fields:
                self._check_basedata(fields[key], "org", "组织", key, errors, owners=())
        if errors:
            raise K3Error(MsgCode.VALIDATION_FAILED, errors)
        assert number is not None and name is not None
        clash = self.conn.execute(
            f"SELECT {id_col} FROM {table.name} WHERE number = ?", (number,)
        ).fetchone()
        if clash is not None and (existing is None or clash[0] != existing[id_col]):
            raise K3Error.one(
                MsgCode.VALIDATION_FAILED, f"违反字段唯一性要求：编码[{number}]已存在", "FNumber"
            )
        now = self._sim_now()
        extra: dict[str, Any] = {}
        if kind == "material":
            group = fields.get("fmaterialgroup")
            try:
                extra["category"] = _basedata_number(group) or (
                    existing["category"] if existing else ""
                )
            except ValueError:
                raise K3Error.one(
                    MsgCode.VALIDATION_FAILED,
                    '字段[物料分组]的值格式不正确，应为{"FNumber": "编码"}',
                    "FMaterialGroup",
                ) from None
        elif existing is None:
            extra["owner_code"] = None  # the integrator's new customer belongs to no owner
        with transaction(self.conn):
            if existing is None:
                columns = ["number", "name", "document_status", "created_sim", "modified_sim"]
                values: list[Any] = [number, name, DocumentStatus.CREATED.value, now, now]
                columns += list(extra)
                values += list(extra.values())
                cursor = self.conn.execute(
                    f"INSERT INTO {table.name} ({', '.join(columns)})"
                    f" VALUES ({', '.join('?' for _ in columns)})",
                    values,
                )
                row_id = int(cursor.lastrowid or 0)
                status = DocumentStatus.CREATED.value
            else:
                row_id = int(existing[id_col])
                status = existing["document_status"]
                if status == DocumentStatus.DRAFT:
                    status = DocumentStatus.CREATED.value
                sets = ", ".join(f"{column} = ?" for column in extra)
                self.conn.execute(
                    f"UPDATE {table.name} SET number = ?, name = ?, document_status = ?,"
                    f" modified_sim = ?{', ' + sets if sets else ''} WHERE {id_col} = ?",
                    (number, name, status, now, *extra.values(), row_id),
                )
                if existing["number"] != number:
                    self._basedata[kind].pop(existing["number"], None)
            self.ctx.history.record("state", f"{canonical}.Save", status, number)
            if auto_submit_audit:
                self._move(table, row_id, number, DocumentStatus.IN_REVIEW)
                self._move(table, row_id, number, DocumentStatus.AUDITED)
            self._refresh_basedata(kind, number)
        return OperationResult(successes=[SuccessEntity(row_id, number, 0)])

    def submit(
        self,
        form_id: str,
        numbers: Sequence[str] = (),
        ids: Any = None,
        *,
        owners: Sequence[str] = (),
    ) -> OperationResult:
        """DynamicFormService.Submit: A/D/Z → B, per document; the others are reported by DIndex."""
        return self._batch(
            form_id, numbers, ids, owners, self._check_submit, DocumentStatus.IN_REVIEW
        )

    def audit(
        self,
        form_id: str,
        numbers: Sequence[str] = (),
        ids: Any = None,
        *,
        owners: Sequence[str] = (),
    ) -> OperationResult:
        """DynamicFormService.Audit: B → C."""
        return self._batch(form_id, numbers, ids, owners, self._check_audit, DocumentStatus.AUDITED)

    def unaudit(
        self,
        form_id: str,
        numbers: Sequence[str] = (),
        ids: Any = None,
        *,
        owners: Sequence[str] = (),
    ) -> OperationResult:
        """DynamicFormService.UnAudit: C → D."""
        return self._batch(
            form_id, numbers, ids, owners, self._check_unaudit, DocumentStatus.REREVIEW
        )

    def delete(
        self,
        form_id: str,
        numbers: Sequence[str] = (),
        ids: Any = None,
        *,
        owners: Sequence[str] = (),
    ) -> OperationResult:
        """DynamicFormService.Delete: only documents not submitted nor audited (A, D, Z)."""
        return self._batch(form_id, numbers, ids, owners, self._check_delete, None)

    def view(
        self,
        form_id: str,
        number: str | None = None,
        fid: Any = None,
        *,
        owners: Sequence[str] = (),
    ) -> dict[str, Any]:
        """DynamicFormService.View: the document under K3 property names (docs/protocols/erp.md)."""
        spec = self._bill_form(form_id, "查看")
        clause, params = _owner_clause(owners)
        if number:
            rows = self.conn.execute(
                f"SELECT * FROM documents WHERE form_id = ? AND bill_no = ?{clause} LIMIT 2",
                (spec.form_id, str(number), *params),
            ).fetchall()
            if len(rows) > 1:
                raise K3Error.one(MsgCode.PARAMETER_ERROR, _ambiguous(str(number)), "Number")
            row = rows[0] if rows else None
            key = f"单据编号为[{number}]的单据不存在"
        else:
            parsed = self._parse_fid(fid)
            if parsed is None:
                raise K3Error.one(MsgCode.PARAMETER_ERROR, "参数Number和Id不能同时为空", "Number")
            row = self.conn.execute(
                f"SELECT * FROM documents WHERE form_id = ? AND fid = ?{clause}",
                (spec.form_id, parsed, *params),
            ).fetchone()
            key = f"内码为[{parsed}]的单据不存在"
        if row is None:
            raise K3Error.one(MsgCode.NOT_FOUND, key)
        return self._view_object(spec, row)

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
        owners: Sequence[str] = (),
    ) -> list[list[Any]]:
        """DynamicFormService.ExecuteBillQuery: rows of the requested fields (money as yuan).

        An owner-scoped user gets only its owners' rows of owned forms.
        """
        spec = QUERY_SPECS.get(str(form_id).lower())
        if spec is None:
            raise K3Error.one(MsgCode.PARAMETER_ERROR, MSG_FORM_NOT_FOUND, "FormId")
        query = compile_query(
            spec, field_keys, filter_string, order_string, start_row, limit, top_row_count, owners
        )
        try:
            rows = self.conn.execute(query.sql, query.params).fetchall()
        except sqlite3.Error as exc:  # a FilterString that tokenised but does not form a condition
            raise K3Error.one(
                MsgCode.PARAMETER_ERROR, f"过滤条件语法错误：{filter_string}", "FilterString"
            ) from exc
        if not any(query.money_columns):
            return [list(row) for row in rows]
        return [
            [
                money_out(value) if money else value
                for value, money in zip(row, query.money_columns, strict=True)
            ]
            for row in rows
        ]

    def document(self, form_id: str, bill_no: str) -> dict[str, Any] | None:
        """The stored row of a document with its entries (for the simulator and tests)."""
        row = self.conn.execute(
            "SELECT * FROM documents WHERE form_id = ? AND bill_no = ?", (form_id, bill_no)
        ).fetchone()
        if row is None:
            return None
        result = dict(row)
        result["entries"] = [
            dict(entry)
            for entry in self.conn.execute(
                "SELECT * FROM document_entries WHERE fid = ? ORDER BY seq", (row["fid"],)
            )
        ]
        return result

    # ------------------------------------------------------------------ internals

    def _sim_now(self) -> str:
        return format_qimen_time(self.ctx.clock.now())

    @staticmethod
    def _text(value: Any) -> str | None:
        if value is None or isinstance(value, Mapping | list):
            return None
        text = str(value).strip()
        return text or None

    @staticmethod
    def _parse_fid(value: Any) -> int | None:
        """FID 0, "" or absent means a new document, as in K3."""
        if value is None or value == "" or isinstance(value, bool):
            return None
        try:
            fid = parse_int(value)
        except WireValueError:
            shown = str(value)[:40]
            raise K3Error.one(MsgCode.PARAMETER_ERROR, f"内码[{shown}]格式不正确", "FID") from None
        return fid if fid > 0 else None

    @staticmethod
    def _check_editable(status: str) -> None:
        if status == DocumentStatus.AUDITED:
            raise K3Error.one(MsgCode.NOT_OPERABLE, MSG_AUDITED_NO_CHANGE)
        if status == DocumentStatus.IN_REVIEW:
            raise K3Error.one(MsgCode.NOT_OPERABLE, MSG_SUBMITTED_NO_CHANGE)

    @staticmethod
    def _form_id(form_id: Any) -> str:
        if not form_id or not isinstance(form_id, str):
            raise K3Error.one(MsgCode.PARAMETER_ERROR, "接口参数formid不能为空", "FormId")
        return form_id.lower()

    def _bill_form(self, form_id: Any, action: str) -> FormSpec:
        key = self._form_id(form_id)
        spec = BILL_FORMS.get(key)
        if spec is None:
            self._refuse(key, action)
        return spec

    def _table(self, form_id: Any, owners: Sequence[str] | None, action: str = "保存") -> _Table:
        """What a write on `form_id` acts on; master data only where K3 lets the API write it
        and, for shared master data (materials), only for unscoped users."""
        key = self._form_id(form_id)
        spec = BILL_FORMS.get(key)
        if spec is not None:
            return _Table("documents", "fid", "bill_no", "form_id = ?", (spec.form_id,), True)
        kind = _MASTER_KINDS.get(key)
        if kind is not None:
            table, id_col, owned = _MASTER_TABLES[kind]
            if owned or not owners:
                return _Table(table, id_col, "number", "1 = 1", (), owned, kind)
        self._refuse(key, action)

    @staticmethod
    def _refuse(key: str, action: str) -> NoReturn:
        """A form the API may not write: master data without permission, or no such form."""
        master = MASTER_FORMS.get(key)
        if master is not None:
            raise K3Error.one(MsgCode.NO_PERMISSION, f"没有{master}的{action}权限", "FormId")
        raise K3Error.one(MsgCode.PARAMETER_ERROR, MSG_FORM_NOT_FOUND, "FormId")

    def _validate(
        self, spec: FormSpec, fields: dict[str, Any], owners: Sequence[str]
    ) -> tuple[str, list[_Entry], str, str | None]:
        """All of a model's errors at once, as K3's save validators report them."""
        errors: list[ErrorItem] = []
        partner = self._check_basedata(
            fields.get(spec.partner.key),
            spec.partner.kind,
            spec.partner.label,
            spec.partner.field,
            errors,
            owners=owners,
        )
        org = ORG_NUMBER
        for key in spec.org_keys:
            if key in fields:
                org = self._check_basedata(fields[key], "org", "组织", key, errors) or org
        currency = None
        for key in spec.currency_keys:
            if key in fields:
                currency = self._check_basedata(fields[key], "currency", "币别", key, errors)

        entries: list[_Entry] = []
        rows = fields.get(spec.entity_key)
        if not isinstance(rows, list) or not rows:
            errors.append(
                ErrorItem(
                    f"字段[{spec.entity_label}]是必录字段，至少需要录入一行分录", spec.entity_field
                )
            )
            rows = []
        for index, raw in enumerate(rows, start=1):
            if not isinstance(raw, Mapping):
                errors.append(
                    ErrorItem(f"{spec.entity_label}第{index}行：分录格式不正确", spec.entity_field)
                )
                continue
            check = self._check_voucher_line if spec.lines == "voucher" else self._check_entry
            entry = check(spec, f"{spec.entity_label}第{index}行：", _lower_keys(raw), errors)
            if entry is not None:
                entries.append(entry)
        if spec.lines == "voucher" and entries and not errors:
            debit = sum(entry.debit_cents or 0 for entry in entries)
            credit = sum(entry.credit_cents or 0 for entry in entries)
            if debit != credit:
                errors.append(
                    ErrorItem(
                        f"凭证借贷不平衡：借方合计{money_out(debit)}，贷方合计{money_out(credit)}",
                        spec.entity_field,
                    )
                )
        if errors:
            raise K3Error(MsgCode.VALIDATION_FAILED, errors)
        assert partner is not None  # a missing partner is an error above
        return partner, entries, org, currency

    @staticmethod
    def _money(
        row: dict[str, Any], key: str, label: str, where: str, errors: list[ErrorItem]
    ) -> int | None:
        """An optional money field in cents; None when absent, an error when malformed."""
        if row.get(key) in (None, ""):
            return None
        try:
            amount = parse_decimal(row[key], AMOUNT_LIMIT)
        except WireValueError:
            shown = str(row[key])[:40]
            errors.append(ErrorItem(f"{where}字段[{label}]的值[{shown}]格式不正确", key))
            return None
        return int(amount.quantize(CENT, rounding=ROUND_HALF_UP) * 100)

    def _check_entry(
        self, spec: FormSpec, where: str, row: dict[str, Any], errors: list[ErrorItem]
    ) -> _Entry | None:
        before = len(errors)
        if spec.lines == "receipt":
            if row.get(spec.amount_key) in (None, ""):
                errors.append(
                    ErrorItem(f"{where}字段[{spec.amount_label}]是必录字段", spec.amount_key)
                )
            amount = self._money(row, spec.amount_key, spec.amount_label, where, errors)
            if len(errors) > before or amount is None:
                return None
            return _Entry(amount_cents=amount)
        material = self._check_basedata(
            row.get("fmaterialid"), "material", MATERIAL_LABEL, spec.material_field, errors, where
        )
        stock = None
        if spec.stock_key and (spec.stock_required or row.get(spec.stock_key) is not None):
            stock = self._check_basedata(
                row.get(spec.stock_key), "stock", STOCK_LABEL, "FStockID", errors, where
            )
        qty = 0
        if row.get(spec.qty_key) is None or row.get(spec.qty_key) == "":
            errors.append(ErrorItem(f"{where}字段[{spec.qty_label}]是必录字段", spec.qty_key))
        else:
            try:
                quantity = parse_decimal(row[spec.qty_key], Decimal(MAX_QUANTITY + 1))
                if quantity != quantity.to_integral_value():
                    raise WireValueError("fractional quantity")
                qty = int(quantity)
            except WireValueError:
                shown = str(row[spec.qty_key])[:40]
                errors.append(
                    ErrorItem(
                        f"{where}字段[{spec.qty_label}]的值[{shown}]不是整数或超出范围"
                        f"（绝对值不超过{MAX_QUANTITY}）",
                        spec.qty_key,
                    )
                )
        price = self._money(row, "ftaxprice", "含税单价", where, errors)
        amount = self._money(row, spec.amount_key, spec.amount_label, where, errors)
        if amount is None and price is not None:
            # K3 computes the amount from quantity and tax-inclusive price when it is left out
            total = parse_decimal(row["ftaxprice"], AMOUNT_LIMIT) * qty
            if abs(total) >= AMOUNT_LIMIT:
                errors.append(
                    ErrorItem(
                        f"{where}字段[{spec.amount_label}]的值超出范围（绝对值小于{AMOUNT_LIMIT}）",
                        spec.amount_key,
                    )
                )
                return None
            amount = int(total.quantize(CENT, rounding=ROUND_HALF_UP) * 100)
        if len(errors) > before or material is None:
            return None
        return _Entry(qty, amount or 0, material, price, stock)

    def _check_voucher_line(
        self, spec: FormSpec, where: str, row: dict[str, Any], errors: list[ErrorItem]
    ) -> _Entry | None:
        before = len(errors)
        account = self._check_basedata(
            row.get("faccountid"), "account", "科目编码", "FACCOUNTID", errors, where
        )
        debit = self._money(row, "fdebit", "借方金额", where, errors) or 0
        credit = self._money(row, "fcredit", "贷方金额", where, errors) or 0
        if len(errors) == before and (debit == 0) == (credit == 0):
            errors.append(ErrorItem(f"{where}借方金额和贷方金额必须且只能录入一个", "FDEBIT"))
        if len(errors) > before or account is None:
            return None
        return _Entry(
            amount_cents=debit or credit,
            account_number=account,
            debit_cents=debit,
            credit_cents=credit,
        )

    def _check_basedata(
        self,
        value: Any,
        kind: str,
        label: str,
        field_name: str,
        errors: list[ErrorItem],
        where: str = "",
        *,
        owners: Sequence[str] = (),
    ) -> str | None:
        """The number of a basedata field, if it exists, is audited and is visible to `owners`;
        another owner's basedata is reported exactly as a missing one (no existence leak)."""
        try:
            number = _basedata_number(value)
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
        known = self._basedata[kind]
        if number not in known or not _in_scope(known[number], owners):
            errors.append(
                ErrorItem(
                    f"{where}字段[{label}]的值[{number}]在基础资料中不存在或未审核", field_name
                )
            )
            return None
        return number

    def _batch(
        self,
        form_id: str,
        numbers: Sequence[str] | None,
        ids: Any,
        owners: Sequence[str],
        check: Callable[[str, str], str | None],
        target: DocumentStatus | None,
    ) -> OperationResult:
        action = {None: "删除", "B": "提交", "C": "审核", "D": "反审核"}[
            target.value if target else None
        ]
        table = self._table(form_id, owners, action)
        keys: list[Any]
        by_number = bool(numbers)
        if by_number:
            assert numbers is not None
            keys = [str(number).strip() for number in numbers]
        else:
            keys = _to_int_list(ids)
        if not keys:
            raise K3Error.one(MsgCode.PARAMETER_ERROR, "参数Numbers和Ids不能同时为空", "Numbers")
        result = OperationResult()
        codes: list[MsgCode] = []
        with transaction(self.conn):
            for dindex, key in enumerate(keys):
                rows = self._find(table, key, by_number, owners)
                if len(rows) > 1:
                    result.errors.append(ErrorItem(_ambiguous(key), None, dindex))
                    codes.append(MsgCode.PARAMETER_ERROR)
                    continue
                row = rows[0] if rows else None
                if row is None:
                    label = f"单据编号为[{key}]" if by_number else f"内码为[{key}]"
                    result.errors.append(ErrorItem(f"{label}的单据不存在", None, dindex))
                    codes.append(MsgCode.NOT_FOUND)
                    continue
                refusal = check(row["bill_no"], row["document_status"])
                if refusal is not None:
                    result.errors.append(ErrorItem(refusal, None, dindex))
                    codes.append(MsgCode.NOT_OPERABLE)
                    continue
                if target is None:
                    self._remove(table, int(row["fid"]), row["bill_no"])
                else:
                    self._move(table, int(row["fid"]), row["bill_no"], target)
                result.successes.append(SuccessEntity(int(row["fid"]), row["bill_no"], dindex))
        if codes:
            result.msg_code = codes[0]
        return result

    def _find(
        self, table: _Table, key: Any, by_number: bool, owners: Sequence[str]
    ) -> list[sqlite3.Row]:
        """The rows (at most two) a Number or Id names within `owners`; two mean a number
        several owners use, which only an unscoped user can see."""
        clause, params = _owner_clause(owners) if table.owned else ("", [])
        select = (
            f"SELECT {table.id_col} AS fid, {table.number_col} AS bill_no, document_status"
            f" FROM {table.name} WHERE {table.where}{clause}"
        )
        if by_number:
            return self.conn.execute(
                f"{select} AND {table.number_col} = ? LIMIT 2", (*table.params, *params, key)
            ).fetchall()
        try:
            fid = parse_int(key)
        except WireValueError:
            return []  # no document has such an id
        return self.conn.execute(
            f"{select} AND {table.id_col} = ?", (*table.params, *params, fid)
        ).fetchall()

    def _operation_name(self, table: _Table) -> str:
        if table.master is not None:
            return next(
                MASTER_FORMS[key] for key, kind in _MASTER_KINDS.items() if kind == table.master
            )
        return str(table.params[0])

    def _remove(self, table: _Table, row_id: int, number: str) -> None:
        if table.master is None:
            self.conn.execute("DELETE FROM document_entries WHERE fid = ?", (row_id,))
        self.conn.execute(f"DELETE FROM {table.name} WHERE {table.id_col} = ?", (row_id,))
        self.ctx.history.record("state", f"{self._operation_name(table)}.Delete", "deleted", number)
        if table.master is not None:
            self._refresh_basedata(table.master, number)

    def _move(self, table: _Table, row_id: int, number: str, target: DocumentStatus) -> None:
        now_sim, now_wall = self._sim_now(), self.ctx.clock.wall()
        if table.master is not None:
            self.conn.execute(
                f"UPDATE {table.name} SET document_status = ?, modified_sim = ?"
                f" WHERE {table.id_col} = ?",
                (target.value, now_sim, row_id),
            )
        else:
            if target == DocumentStatus.IN_REVIEW:
                sql = "document_status = 'B', submitted_sim = ?, submitted_wall = ?"
            elif target == DocumentStatus.AUDITED:
                sql = "document_status = 'C', audited_sim = ?, audited_wall = ?"
            else:  # UnAudit: no longer audited, so the audit stamps go
                sql = (
                    "document_status = 'D', audited_sim = NULL, audited_wall = NULL,"
                    " modified_sim = ?, modified_wall = ?"
                )
            self.conn.execute(
                f"UPDATE documents SET {sql} WHERE fid = ?", (now_sim, now_wall, row_id)
            )
        operation = {"B": "Submit", "C": "Audit", "D": "UnAudit"}[target.value]
        self.ctx.history.record(
            "state", f"{self._operation_name(table)}.{operation}", target.value, number
        )
        if table.master is not None:
            self._refresh_basedata(table.master, number)

    @staticmethod
    def _check_submit(bill_no: str, status: str) -> str | None:
        if status == DocumentStatus.IN_REVIEW:
            return f"单据[{bill_no}]已提交，不允许重复提交"
        if status == DocumentStatus.AUDITED:
            return f"单据[{bill_no}]已审核，不允许提交"
        return None

    @staticmethod
    def _check_audit(bill_no: str, status: str) -> str | None:
        if status == DocumentStatus.AUDITED:
            return f"单据[{bill_no}]已审核，不允许重复审核"
        if status != DocumentStatus.IN_REVIEW:
            return f"单据[{bill_no}]未提交，不允许审核"
        return None

    @staticmethod
    def _check_unaudit(bill_no: str, status: str) -> str | None:
        if status != DocumentStatus.AUDITED:
            return f"单据[{bill_no}]未审核，不允许反审核"
        return None

    @staticmethod
    def _check_delete(bill_no: str, status: str) -> str | None:
        if status == DocumentStatus.IN_REVIEW:
            return f"单据[{bill_no}]已提交，不允许删除"
        if status == DocumentStatus.AUDITED:
            return f"单据[{bill_no}]已审核，不允许删除"
        return None

    def _view_object(self, spec: FormSpec, row: sqlite3.Row) -> dict[str, Any]:
        partner_kind = spec.partner.kind
        table, id_col, _ = _MASTER_TABLES[partner_kind]
        number = row[f"{partner_kind}_number"]
        partner = self.conn.execute(
            f"SELECT {id_col}, name FROM {table} WHERE number = ?", (number,)
        ).fetchone()
        entries = []
        for entry in self.conn.execute(
            "SELECT e.*, m.fmaterialid, m.name FROM document_entries e"
            " LEFT JOIN bd_material m ON m.number = e.material_number"
            " WHERE e.fid = ? ORDER BY e.seq",
            (row["fid"],),
        ):
            item: dict[str, Any] = {"Id": entry["entry_id"], "Seq": entry["seq"]}
            if spec.lines == "voucher":
                item["ACCOUNTID"] = {"Number": entry["account_number"]}
                item["DEBIT"] = money_out(entry["debit_cents"])
                item["CREDIT"] = money_out(entry["credit_cents"])
            elif spec.lines == "receipt":
                item[spec.amount_property] = money_out(entry["amount_cents"])
            else:
                item["MaterialID"] = {
                    "Id": entry["fmaterialid"],
                    "Number": entry["material_number"],
                    "Name": entry["name"],
                }
                item[spec.qty_property] = entry["qty"]
                item["TaxPrice"] = money_out(entry["price_cents"])
                item[spec.amount_property] = money_out(entry["amount_cents"])
                if spec.stock_key:
                    item["StockID"] = (
                        {"Number": entry["stock_number"]} if entry["stock_number"] else None
                    )
            entries.append(item)
        return {
            "Id": row["fid"],
            "BillNo": row["bill_no"],
            "DocumentStatus": row["document_status"],
            "FormId": spec.form_id,
            "Date": row["bill_date"],
            "Note": row["note"],
            spec.partner.property: {
                "Id": partner[0] if partner else None,
                "Number": number,
                "Name": partner["name"] if partner else None,
            },
            "OrgNumber": row["org_number"],
            "CurrencyNumber": row["currency_number"],
            "TotalAmount": money_out(row["amount_cents"]),
            "CreateDate": row["saved_sim"],
            "ModifyDate": row["modified_sim"],
            "SubmitDate": row["submitted_sim"],
            "ApproveDate": row["audited_sim"],
            spec.entity_property: entries,
            "Model": orjson.loads(row["model"]),
        }
