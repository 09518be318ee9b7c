"""The ERP fake's tables, what they are keyed by, and the owner restriction every read adds."""

from __future__ import annotations

import sqlite3

from fake_systems.common.context import SystemContext
from fake_systems.common.scope import OwnerScope
from simulator.clock import format_qimen_time

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
    model           TEXT    NOT NULL,          -- the saved Model as received (merged on update)
    due_date        TEXT                       -- AP_Payable FENDDATE_H: date + supplier's terms
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
-- Source-bill links of entries (fake_systems/erp/returns.py): a SAL_RETURNSTOCK entry's
-- SAL_OUTSTOCK and stock status, a red AR_receivable entry's original receivable.
CREATE TABLE IF NOT EXISTS document_links (
    fid             INTEGER NOT NULL REFERENCES documents(fid) ON DELETE CASCADE,
    seq             INTEGER NOT NULL,
    source_form_id  TEXT    NOT NULL,
    source_bill_no  TEXT    NOT NULL,
    stock_status    TEXT,
    PRIMARY KEY (fid, seq)
);
CREATE INDEX IF NOT EXISTS document_links_source ON document_links(source_bill_no);
-- A receipt bill's entries' handling charges and its write-offs (fake_systems/erp/receipts.py).
CREATE TABLE IF NOT EXISTS receipt_entries (
    fid             INTEGER NOT NULL REFERENCES documents(fid) ON DELETE CASCADE,
    seq             INTEGER NOT NULL,
    handling_cents  INTEGER NOT NULL,
    real_cents      INTEGER NOT NULL,
    comment         TEXT,
    PRIMARY KEY (fid, seq)
);
CREATE TABLE IF NOT EXISTS write_offs (
    fid             INTEGER NOT NULL REFERENCES documents(fid) ON DELETE CASCADE,
    seq             INTEGER NOT NULL,
    source_bill_no  TEXT    NOT NULL,
    amount_cents    INTEGER NOT NULL,
    PRIMARY KEY (fid, seq)
);
CREATE INDEX IF NOT EXISTS write_offs_source ON write_offs(source_bill_no);
CREATE TABLE IF NOT EXISTS bd_material (
    fmaterialid     INTEGER PRIMARY KEY,
    number          TEXT NOT NULL UNIQUE,
    name            TEXT NOT NULL,
    category        TEXT NOT NULL DEFAULT '',
    weight_kg       REAL NOT NULL DEFAULT 0,
    barcode         TEXT NOT NULL DEFAULT '',  -- FBARCODE (条码)
    price_cents     INTEGER NOT NULL DEFAULT 0,  -- F_ECO_RetailPrice, a custom field (零售价)
    is_sale         INTEGER NOT NULL DEFAULT 1,  -- FIsSale (允许销售): 0 once discontinued
    document_status TEXT NOT NULL DEFAULT 'C',
    forbid_status   TEXT NOT NULL DEFAULT 'A',
    created_sim     TEXT NOT NULL,
    modified_sim    TEXT NOT NULL
);
-- Every master-data change the business made (issue 13), with the material's state after it:
-- what the judge times each system's propagation against (contract_tests/master_data.py).
CREATE TABLE IF NOT EXISTS material_changes (
    seq             INTEGER PRIMARY KEY,
    number          TEXT NOT NULL,
    change          TEXT NOT NULL,             -- new | rename | price | barcode | discontinue
    name            TEXT NOT NULL,
    barcode         TEXT NOT NULL,
    price_cents     INTEGER NOT NULL,
    is_sale         INTEGER NOT NULL,
    changed_sim     TEXT NOT NULL,
    changed_wall    REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS material_changes_number ON material_changes(number, seq);
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
    bank_account    TEXT,                      -- FBankCode of its bank entry (payments)
    pay_terms_days  INTEGER NOT NULL DEFAULT 30, -- its 付款条件: a payable is due this much later
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

# Master tables by basedata kind: (table, id column, whether rows belong to an owner).
MASTER_TABLES: dict[str, tuple[str, str, bool]] = {
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
MASTER_KINDS = {"bd_material": "material", "bd_customer": "customer"}


def upgrade_tables(conn: sqlite3.Connection) -> None:
    """Bring a `bd_material` from before barcodes, prices and FIsSale (an `ecomock up`
    folder) up to date."""
    columns = {row[1] for row in conn.execute("PRAGMA table_info(bd_material)")}
    if columns and "barcode" not in columns:
        conn.execute("ALTER TABLE bd_material ADD COLUMN barcode TEXT NOT NULL DEFAULT ''")
    if columns and "price_cents" not in columns:
        conn.execute("ALTER TABLE bd_material ADD COLUMN price_cents INTEGER NOT NULL DEFAULT 0")
    if columns and "is_sale" not in columns:
        conn.execute("ALTER TABLE bd_material ADD COLUMN is_sale INTEGER NOT NULL DEFAULT 1")


def owner_clause(scope: OwnerScope, column: str = "owner_code") -> tuple[str, list[str]]:
    """` AND <column> IN (…)` and its parameters for a scoped user; nothing for everyone."""
    owners = scope.names
    if not owners:
        return "", []
    return f" AND {column} IN ({', '.join('?' for _ in owners)})", list(owners)


def sim_now(ctx: SystemContext) -> str:
    """The simulated time as the tables stamp it."""
    return format_qimen_time(ctx.clock.now())
