"""The ERP fake's domain: K3 sessions, master data, and sales-outbound and receivable documents."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP
from typing import Any

import orjson

from fake_systems.common.context import SystemContext
from fake_systems.common.credentials import K3Credentials
from fake_systems.common.money import CENT, to_cents, to_decimal
from fake_systems.common.storage import transaction
from fake_systems.erp.models import (
    BILL_FORMS,
    CURRENCIES,
    MASTER_FORMS,
    MSG_AUDITED_NO_CHANGE,
    MSG_FORM_NOT_FOUND,
    MSG_LOGIN_FAILED,
    MSG_SUBMITTED_NO_CHANGE,
    ORG_NUMBER,
    DocumentStatus,
    ErrorItem,
    FormSpec,
    K3Error,
    LoginResult,
    MsgCode,
    OperationResult,
    SuccessEntity,
)
from fake_systems.erp.query import QUERY_SPECS, compile_query, money_out
from simulator.clock import format_qimen_time
from simulator.world import World

__all__ = ["ErpService", "LoginFailed"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
    fid             INTEGER PRIMARY KEY,
    form_id         TEXT    NOT NULL,
    bill_no         TEXT    NOT NULL,
    document_status TEXT    NOT NULL,          -- Z draft, A saved, B submitted, C audited, D
    customer_number TEXT    NOT NULL,
    amount_cents    INTEGER NOT NULL,          -- sum of the entries' amounts
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
    model           TEXT    NOT NULL,          -- the saved Model as received (merged on update)
    UNIQUE (form_id, bill_no)
);
CREATE TABLE IF NOT EXISTS document_entries (
    entry_id        INTEGER PRIMARY KEY,
    fid             INTEGER NOT NULL REFERENCES documents(fid) ON DELETE CASCADE,
    seq             INTEGER NOT NULL,          -- 1-based line number
    material_number TEXT    NOT NULL,
    qty             INTEGER NOT NULL,
    amount_cents    INTEGER NOT NULL,
    price_cents     INTEGER,
    stock_number    TEXT
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
    lcid         INTEGER NOT NULL,
    user_token   TEXT NOT NULL,
    created_sim  TEXT NOT NULL,
    created_wall REAL NOT NULL
);
"""

FIRST_FID = 100001  # K3 internal ids of a fresh data centre start about here
USER_ID = 100008
CUSTOMER_LABEL = "客户"
MATERIAL_LABEL = "物料编码"
STOCK_LABEL = "仓库"
QTY_LABELS = {"frealqty": "实发数量", "fpriceqty": "计价数量"}


class LoginFailed(Exception):
    """ValidateUser refused: the text K3 puts in `Message` with `LoginResultType` 0."""


@dataclass(frozen=True)
class _Entry:
    material_number: str
    qty: int
    amount_cents: int
    price_cents: int | None
    stock_number: str | None


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


class ErpService:
    """Kingdee K3 Cloud, as far as an order-to-cash connector sees it.

    Keeps SAL_OUTSTOCK (sales outbound) and AR_receivable documents with their entries, walks
    them through Save (A) → Submit (B) → Audit (C) and UnAudit (D), checks customers, materials,
    stocks, organisations and currencies against the master data seeded from the world, and
    answers ExecuteBillQuery over documents and master data.

    LIMITATIONS (what the fake does not imitate):
    - Only SAL_OUTSTOCK and AR_receivable can be written; master data is read-only over the
      API (a Save on BD_MATERIAL etc. answers "no permission", MsgCode 2).
    - No workflow, no approval flows, no linked documents (no Push / source-bill links), no
      red/blue document pairing, no stock postings or voucher generation on audit.
    - Field validation covers the customer, the entries' material, quantity, amount, price and
      stock, and organisation/currency numbers when given; every other model field is stored
      as received without checks. Quantities must be whole numbers.
    - Save on an existing document replaces all its entries (IsDeleteEntry semantics); entry
      ids are not kept. NeedUpDateFields / NeedReturnFields / BatchSave are not supported.
    - Bill numbers are unique per form (K3's default numbering rule); generated numbers are
      `XSCKD` / `AR` + the 8-digit internal id, not K3's coding-rule output.
    - Sessions never expire by themselves; `expire_sessions()` drops them all (as an IIS
      app-pool recycle does), after which every call gets the context-lost answer.
    - ExecuteBillQuery knows the field keys listed in docs/protocols/erp.md; FilterString is
      SQL-like (AND/OR/NOT, brackets, = <> > < >= <=, IN, LIKE, IS NULL, BETWEEN), no functions.
    - One organisation ("100"), one user, no permissions model, no multi-language names.
    """

    def __init__(self, ctx: SystemContext, credentials: K3Credentials) -> None:
        self.ctx = ctx
        self.conn = ctx.conn
        self.credentials = credentials
        self._next_fid = FIRST_FID
        self._materials: set[str] = set()
        self._customers: set[str] = set()
        self._stocks: set[str] = set()
        self._orgs: set[str] = set()
        self._currencies: set[str] = set()

    # ------------------------------------------------------------------ setup and master data

    def setup(self, world: World) -> None:
        """Create the tables; seed organisation "100", currencies, stocks, customers, materials."""
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
                "INSERT OR IGNORE INTO bd_stock (number, name, created_sim, modified_sim)"
                " VALUES (?, ?, ?, ?)",
                [(wh.code, wh.name, now, now) for wh in world.warehouses],
            )
            for shop in world.shops:
                self.upsert_customer(shop.shop_no, shop.name)
            for sku in world.skus:
                self.upsert_material(sku.item_code, sku.name, sku.category, sku.weight_kg)
        self._load_caches()

    def _load_caches(self) -> None:
        # Validation runs on every Save; the number sets keep it to memory lookups.
        def numbers(table: str) -> set[str]:
            return {row[0] for row in self.conn.execute(f"SELECT number FROM {table}")}

        self._materials = numbers("bd_material")
        self._customers = numbers("bd_customer")
        self._stocks = numbers("bd_stock")
        self._orgs = numbers("org_organizations")
        self._currencies = numbers("bd_currency")
        row = self.conn.execute("SELECT MAX(fid) FROM documents").fetchone()
        self._next_fid = max(FIRST_FID, (row[0] or 0) + 1)

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
        self._materials.add(number)

    def upsert_customer(self, number: str, name: str) -> None:
        """Add or rename a customer (BD_Customer, `FNumber` = shop number)."""
        now = self._sim_now()
        self.conn.execute(
            "INSERT INTO bd_customer (number, name, created_sim, modified_sim) VALUES (?, ?, ?, ?)"
            " ON CONFLICT(number) DO UPDATE SET name = excluded.name,"
            " modified_sim = excluded.modified_sim",
            (number, name, now, now),
        )
        self._customers.add(number)

    # ------------------------------------------------------------------ sessions

    def login(
        self, acct_id: str, username: str, password: str, lcid: int | None = None
    ) -> LoginResult:
        """AuthService.ValidateUser; raises LoginFailed with K3's message on bad credentials."""
        creds = self.credentials
        if acct_id != creds.acct_id:
            raise LoginFailed(f"数据中心[{acct_id}]不存在，请检查账套ID(acctID)！")
        if username != creds.username or password != creds.password:
            raise LoginFailed(MSG_LOGIN_FAILED)
        session_id = uuid.uuid4().hex[:24]
        user_token = str(uuid.uuid4())
        chosen_lcid = lcid if lcid else creds.lcid
        self.conn.execute(
            "INSERT INTO sessions (session_id, acct_id, username, lcid, user_token, created_sim,"
            " created_wall) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                session_id,
                acct_id,
                username,
                chosen_lcid,
                user_token,
                self._sim_now(),
                self.ctx.clock.wall(),
            ),
        )
        return LoginResult(session_id, USER_ID, username, acct_id, chosen_lcid, user_token)

    def session_valid(self, session_id: str | None) -> bool:
        if not session_id:
            return False
        row = self.conn.execute(
            "SELECT 1 FROM sessions WHERE session_id = ?", (session_id,)
        ).fetchone()
        return row is not None

    def logout(self, session_id: str | None) -> None:
        self.conn.execute("DELETE FROM sessions WHERE session_id = ?", (session_id,))

    def expire_sessions(self) -> int:
        """Forget every session (chaos: the server lost its contexts); returns how many."""
        return self.conn.execute("DELETE FROM sessions").rowcount

    # ------------------------------------------------------------------ documents

    def save(self, form_id: str, model: Any, *, auto_submit_audit: bool = False) -> OperationResult:
        """DynamicFormService.Save: new without FID (status A), update of A/D/Z with FID.

        Raises K3Error when the whole save is refused; nothing is written then.
        """
        spec = self._bill_form(form_id, "保存")
        if not isinstance(model, Mapping) or not model:
            raise K3Error.one(MsgCode.PARAMETER_ERROR, "参数Model不能为空", "Model")
        fields = _lower_keys(model)
        fid = self._parse_fid(fields.get("fid", fields.get("id")))
        existing: sqlite3.Row | None = None
        stored_model: dict[str, Any] = dict(model)
        if fid is not None:
            existing = self.conn.execute(
                "SELECT * FROM documents WHERE fid = ? AND form_id = ?", (fid, spec.form_id)
            ).fetchone()
            if existing is None:
                raise K3Error.one(MsgCode.NOT_FOUND, f"内码为[{fid}]的单据不存在", "FID")
            status = existing["document_status"]
            if status == DocumentStatus.AUDITED:
                raise K3Error.one(MsgCode.NOT_OPERABLE, MSG_AUDITED_NO_CHANGE)
            if status == DocumentStatus.IN_REVIEW:
                raise K3Error.one(MsgCode.NOT_OPERABLE, MSG_SUBMITTED_NO_CHANGE)
            # K3 keeps the fields a Save leaves out: merge, the new keys winning whatever their case
            stored_model = {
                key: value
                for key, value in orjson.loads(existing["model"]).items()
                if key.lower() not in fields
            }
            stored_model.update(model)
            fields = _lower_keys(stored_model)

        customer, entries, org, currency = self._validate(spec, fields)
        bill_no = self._text(fields.get("fbillno"))
        if bill_no:
            clash = self.conn.execute(
                "SELECT fid FROM documents WHERE form_id = ? AND bill_no = ?",
                (spec.form_id, bill_no),
            ).fetchone()
            if clash is not None and (existing is None or clash[0] != existing["fid"]):
                raise K3Error.one(
                    MsgCode.VALIDATION_FAILED,
                    f"违反字段唯一性要求：单据编号[{bill_no}]已存在",
                    "FBillNo",
                )

        now_sim, now_wall = self._sim_now(), self.ctx.clock.wall()
        amount = sum(entry.amount_cents for entry in entries)
        bill_date = self._text(fields.get("fdate")) or now_sim
        note = self._text(fields.get("fnote"))
        with transaction(self.conn):
            if existing is None:
                fid = self._next_fid
                self._next_fid += 1
                bill_no = bill_no or f"{spec.bill_prefix}{fid:08d}"
                self.conn.execute(
                    "INSERT INTO documents (fid, form_id, bill_no, document_status,"
                    " customer_number, amount_cents, bill_date, note, org_number,"
                    " currency_number, saved_sim, saved_wall, modified_sim, modified_wall, model)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        fid,
                        spec.form_id,
                        bill_no,
                        DocumentStatus.CREATED.value,
                        customer,
                        amount,
                        bill_date,
                        note,
                        org,
                        currency,
                        now_sim,
                        now_wall,
                        now_sim,
                        now_wall,
                        orjson.dumps(stored_model, default=str).decode(),
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
                    " amount_cents = ?, bill_date = ?, note = ?, org_number = ?,"
                    " currency_number = ?, modified_sim = ?, modified_wall = ?, model = ?"
                    " WHERE fid = ?",
                    (
                        bill_no,
                        status,
                        customer,
                        amount,
                        bill_date,
                        note,
                        org,
                        currency,
                        now_sim,
                        now_wall,
                        orjson.dumps(stored_model, default=str).decode(),
                        fid,
                    ),
                )
                self.conn.execute("DELETE FROM document_entries WHERE fid = ?", (fid,))
                self.ctx.history.record("state", f"{spec.form_id}.Save", status, bill_no)
            self.conn.executemany(
                "INSERT INTO document_entries (fid, seq, material_number, qty, amount_cents,"
                " price_cents, stock_number) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        fid,
                        seq,
                        e.material_number,
                        e.qty,
                        e.amount_cents,
                        e.price_cents,
                        e.stock_number,
                    )
                    for seq, e in enumerate(entries, start=1)
                ],
            )
            if auto_submit_audit:
                self._move(spec, fid, bill_no, DocumentStatus.IN_REVIEW)
                self._move(spec, fid, bill_no, DocumentStatus.AUDITED)
        return OperationResult(successes=[SuccessEntity(fid, bill_no, 0)])

    def submit(self, form_id: str, numbers: Sequence[str] = (), ids: Any = None) -> OperationResult:
        """DynamicFormService.Submit: A/D/Z → B, per document; the others are reported by DIndex."""
        return self._batch(
            form_id, numbers, ids, "提交", self._check_submit, DocumentStatus.IN_REVIEW
        )

    def audit(self, form_id: str, numbers: Sequence[str] = (), ids: Any = None) -> OperationResult:
        """DynamicFormService.Audit: B → C."""
        return self._batch(form_id, numbers, ids, "审核", self._check_audit, DocumentStatus.AUDITED)

    def unaudit(
        self, form_id: str, numbers: Sequence[str] = (), ids: Any = None
    ) -> OperationResult:
        """DynamicFormService.UnAudit: C → D."""
        return self._batch(
            form_id, numbers, ids, "反审核", self._check_unaudit, DocumentStatus.REREVIEW
        )

    def delete(self, form_id: str, numbers: Sequence[str] = (), ids: Any = None) -> OperationResult:
        """DynamicFormService.Delete: only documents not submitted nor audited (A, D, Z)."""
        return self._batch(form_id, numbers, ids, "删除", self._check_delete, None)

    def view(self, form_id: str, number: str | None = None, fid: Any = None) -> dict[str, Any]:
        """DynamicFormService.View: the document under K3 property names (docs/protocols/erp.md)."""
        spec = self._bill_form(form_id, "查看")
        if number:
            row = self.conn.execute(
                "SELECT * FROM documents WHERE form_id = ? AND bill_no = ?",
                (spec.form_id, str(number)),
            ).fetchone()
            key = f"单据编号为[{number}]的单据不存在"
        else:
            parsed = self._parse_fid(fid)
            if parsed is None:
                raise K3Error.one(MsgCode.PARAMETER_ERROR, "参数Number和Id不能同时为空", "Number")
            row = self.conn.execute(
                "SELECT * FROM documents WHERE form_id = ? AND fid = ?", (spec.form_id, parsed)
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
    ) -> list[list[Any]]:
        """DynamicFormService.ExecuteBillQuery: rows of the requested fields (money as yuan)."""
        spec = QUERY_SPECS.get(str(form_id).lower())
        if spec is None:
            raise K3Error.one(MsgCode.PARAMETER_ERROR, MSG_FORM_NOT_FOUND, "FormId")
        query = compile_query(
            spec, field_keys, filter_string, order_string, start_row, limit, top_row_count
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
            fid = int(str(value).strip())
        except ValueError as exc:
            raise K3Error.one(MsgCode.PARAMETER_ERROR, f"内码[{value}]格式不正确", "FID") from exc
        return fid if fid > 0 else None

    def _bill_form(self, form_id: Any, action: str) -> FormSpec:
        if not form_id or not isinstance(form_id, str):
            raise K3Error.one(MsgCode.PARAMETER_ERROR, "接口参数formid不能为空", "FormId")
        spec = BILL_FORMS.get(form_id.lower())
        if spec is not None:
            return spec
        master = MASTER_FORMS.get(form_id.lower())
        if master is not None:
            raise K3Error.one(MsgCode.NO_PERMISSION, f"没有{master}的{action}权限", "FormId")
        raise K3Error.one(MsgCode.PARAMETER_ERROR, MSG_FORM_NOT_FOUND, "FormId")

    def _validate(
        self, spec: FormSpec, fields: dict[str, Any]
    ) -> tuple[str, list[_Entry], str, str | None]:
        """All of a model's errors at once, as K3's save validators report them."""
        errors: list[ErrorItem] = []
        customer = self._check_basedata(
            fields.get(spec.customer_key),
            self._customers,
            CUSTOMER_LABEL,
            spec.customer_field,
            errors,
        )
        org = ORG_NUMBER
        for key in ("fsaleorgid", "fstockorgid", "fsettleorgid"):
            if key in fields:
                org = self._check_basedata(fields[key], self._orgs, "组织", key, errors) or org
        currency = None
        for key in ("fcurrencyid", "fsettlecurrid"):
            if key in fields:
                currency = self._check_basedata(fields[key], self._currencies, "币别", key, errors)

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
            entry = self._check_entry(spec, index, _lower_keys(raw), errors)
            if entry is not None:
                entries.append(entry)
        if errors:
            raise K3Error(MsgCode.VALIDATION_FAILED, errors)
        assert customer is not None  # a missing customer is an error above
        return customer, entries, org, currency

    def _check_entry(
        self, spec: FormSpec, index: int, row: dict[str, Any], errors: list[ErrorItem]
    ) -> _Entry | None:
        where = f"{spec.entity_label}第{index}行："
        before = len(errors)
        material = self._check_basedata(
            row.get("fmaterialid"),
            self._materials,
            MATERIAL_LABEL,
            spec.material_field,
            errors,
            where,
        )
        stock = None
        if spec.stock_key and row.get(spec.stock_key) is not None:
            stock = self._check_basedata(
                row[spec.stock_key], self._stocks, STOCK_LABEL, "FStockID", errors, where
            )
        qty_label = QTY_LABELS[spec.qty_key]
        qty = 0
        if row.get(spec.qty_key) is None or row.get(spec.qty_key) == "":
            errors.append(ErrorItem(f"{where}字段[{qty_label}]是必录字段", spec.qty_key))
        else:
            try:
                quantity = to_decimal(row[spec.qty_key])
                if quantity != quantity.to_integral_value():
                    raise ValueError("fractional quantity")
                qty = int(quantity)
            except ValueError:
                errors.append(
                    ErrorItem(
                        f"{where}字段[{qty_label}]的值[{row[spec.qty_key]}]不是整数", spec.qty_key
                    )
                )
        price: int | None = None
        if row.get("ftaxprice") not in (None, ""):
            try:
                price = to_cents(row["ftaxprice"])
            except ValueError:
                errors.append(
                    ErrorItem(
                        f"{where}字段[含税单价]的值[{row['ftaxprice']}]格式不正确", "FTaxPrice"
                    )
                )
        amount = 0
        if row.get(spec.amount_key) not in (None, ""):
            try:
                amount = to_cents(row[spec.amount_key])
            except ValueError:
                errors.append(
                    ErrorItem(
                        f"{where}字段[价税合计]的值[{row[spec.amount_key]}]格式不正确",
                        spec.amount_key,
                    )
                )
        elif price is not None:
            # K3 computes the amount from quantity and tax-inclusive price when it is left out
            total = to_decimal(row["ftaxprice"]) * qty
            amount = int(total.quantize(CENT, rounding=ROUND_HALF_UP) * 100)
        if len(errors) > before or material is None:
            return None
        return _Entry(material, qty, amount, price, stock)

    @staticmethod
    def _check_basedata(
        value: Any,
        known: set[str],
        label: str,
        field_name: str,
        errors: list[ErrorItem],
        where: str = "",
    ) -> str | None:
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
        if number not in known:
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
        action: str,
        check: Callable[[str, str], str | None],
        target: DocumentStatus | None,
    ) -> OperationResult:
        spec = self._bill_form(form_id, action)
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
                row = self._find(spec, key, by_number)
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
                    self.conn.execute("DELETE FROM document_entries WHERE fid = ?", (row["fid"],))
                    self.conn.execute("DELETE FROM documents WHERE fid = ?", (row["fid"],))
                    self.ctx.history.record(
                        "state", f"{spec.form_id}.Delete", "deleted", row["bill_no"]
                    )
                else:
                    self._move(spec, row["fid"], row["bill_no"], target)
                result.successes.append(SuccessEntity(int(row["fid"]), row["bill_no"], dindex))
        if codes:
            result.msg_code = codes[0]
        return result

    def _find(self, spec: FormSpec, key: Any, by_number: bool) -> sqlite3.Row | None:
        if by_number:
            return self.conn.execute(
                "SELECT fid, bill_no, document_status FROM documents"
                " WHERE form_id = ? AND bill_no = ?",
                (spec.form_id, key),
            ).fetchone()
        try:
            fid = int(str(key).strip())
        except ValueError:
            return None
        return self.conn.execute(
            "SELECT fid, bill_no, document_status FROM documents WHERE form_id = ? AND fid = ?",
            (spec.form_id, fid),
        ).fetchone()

    def _move(self, spec: FormSpec, fid: int, bill_no: str, target: DocumentStatus) -> None:
        now_sim, now_wall = self._sim_now(), self.ctx.clock.wall()
        if target == DocumentStatus.IN_REVIEW:
            sql = "document_status = 'B', submitted_sim = ?, submitted_wall = ?"
        elif target == DocumentStatus.AUDITED:
            sql = "document_status = 'C', audited_sim = ?, audited_wall = ?"
        else:  # UnAudit: no longer audited, so the audit stamps go
            sql = (
                "document_status = 'D', audited_sim = NULL, audited_wall = NULL,"
                " modified_sim = ?, modified_wall = ?"
            )
        self.conn.execute(f"UPDATE documents SET {sql} WHERE fid = ?", (now_sim, now_wall, fid))
        operation = {"B": "Submit", "C": "Audit", "D": "UnAudit"}[target.value]
        self.ctx.history.record("state", f"{spec.form_id}.{operation}", target.value, bill_no)

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
        customer = self.conn.execute(
            "SELECT fcustid, name FROM bd_customer WHERE number = ?", (row["customer_number"],)
        ).fetchone()
        entries = []
        for entry in self.conn.execute(
            "SELECT e.*, m.fmaterialid, m.name FROM document_entries e"
            " LEFT JOIN bd_material m ON m.number = e.material_number"
            " WHERE e.fid = ? ORDER BY e.seq",
            (row["fid"],),
        ):
            item: dict[str, Any] = {
                "Id": entry["entry_id"],
                "Seq": entry["seq"],
                "MaterialID": {
                    "Id": entry["fmaterialid"],
                    "Number": entry["material_number"],
                    "Name": entry["name"],
                },
                spec.qty_property: entry["qty"],
                "TaxPrice": money_out(entry["price_cents"]),
                spec.amount_property: money_out(entry["amount_cents"]),
            }
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
            spec.customer_property: {
                "Id": customer["fcustid"] if customer else None,
                "Number": row["customer_number"],
                "Name": customer["name"] if customer else None,
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
