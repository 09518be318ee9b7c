"""The ERP's book stock per material and warehouse (K3's 即时库存, `STK_Inventory`): the opening
balance (K3's 初始库存, `STK_InvInit`) plus every audited stock document, posted at Audit and
taken back at UnAudit.

K3 keeps `T_STK_INVENTORY` up to date as stock bills are audited and un-audited; the fake keeps
the postings themselves (`inventory_moves`, one row per entry and audit or un-audit, signed)
so that the judge can read the book stock at any moment, and the `inventory` view of their sum.
Which forms move stock, and which way, is `STOCK_SIGNS`: adding a stock form is one line there.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping

SCHEMA = """
-- K3's 初始库存 (STK_InvInit): what each warehouse held when the stock module started.
CREATE TABLE IF NOT EXISTS inventory_opening (
    material_number TEXT NOT NULL,
    stock_number    TEXT NOT NULL,
    qty             INTEGER NOT NULL,
    PRIMARY KEY (material_number, stock_number)
);
-- Each audited stock document's entries, signed (+ in, - out), and their reversal at UnAudit.
CREATE TABLE IF NOT EXISTS inventory_moves (
    seq             INTEGER PRIMARY KEY,
    fid             INTEGER NOT NULL,
    form_id         TEXT    NOT NULL,
    bill_no         TEXT    NOT NULL,
    note            TEXT,                      -- the document's FNote when posted
    material_number TEXT    NOT NULL,
    stock_number    TEXT,                      -- NULL: an entry that named no warehouse
    qty             INTEGER NOT NULL,
    posted_sim      TEXT    NOT NULL,
    posted_wall     REAL    NOT NULL
);
CREATE INDEX IF NOT EXISTS inventory_moves_stock
    ON inventory_moves (stock_number, material_number, posted_wall);
-- 即时库存: the book stock now, per material and warehouse.
CREATE VIEW IF NOT EXISTS inventory AS
    SELECT material_number, stock_number, SUM(qty) AS qty FROM (
        SELECT material_number, stock_number, qty FROM inventory_opening
        UNION ALL
        SELECT material_number, stock_number, qty FROM inventory_moves
        WHERE stock_number IS NOT NULL
    ) GROUP BY material_number, stock_number;
"""

# The audited documents that move stock and which way (+1 in, -1 out) at the warehouse of
# each entry (the form's stock field: FStockId, FSrcStockId out, FDestStockId in). A transfer's
# FPathLossQty moves nothing here: the lost units left with the transfer-out and never arrive.
# PUR_MRB (purchase return) reduces stock once the fake keeps that form.
STOCK_SIGNS: dict[str, int] = {
    "STK_InStock": 1,
    "SAL_OUTSTOCK": -1,
    "SAL_RETURNSTOCK": 1,
    "STK_TRANSFEROUT": -1,
    "STK_TRANSFERIN": 1,
    "STK_StockCountGain": 1,
    "STK_StockCountLoss": -1,
    "PUR_MRB": -1,
}


def seed(conn: sqlite3.Connection, opening: Mapping[tuple[str, str], int]) -> None:
    """The opening balance per (warehouse, material); rows already there are kept."""
    conn.executemany(
        "INSERT OR IGNORE INTO inventory_opening VALUES (?, ?, ?)",
        [(item, warehouse, qty) for (warehouse, item), qty in opening.items()],
    )


def post(
    conn: sqlite3.Connection,
    fid: int,
    form_id: str,
    direction: int,
    now_sim: str,
    now_wall: float,
) -> None:
    """Post a stock document's entries (`direction` 1 at Audit, -1 at UnAudit), inside the
    caller's transaction; documents of forms that move no stock post nothing."""
    sign = STOCK_SIGNS.get(form_id)
    if sign is None:
        return
    conn.execute(
        "INSERT INTO inventory_moves (fid, form_id, bill_no, note, material_number,"
        " stock_number, qty, posted_sim, posted_wall)"
        " SELECT d.fid, d.form_id, d.bill_no, d.note, e.material_number, e.stock_number,"
        " e.qty * ?, ?, ? FROM documents d JOIN document_entries e ON e.fid = d.fid"
        " WHERE d.fid = ? AND e.material_number IS NOT NULL ORDER BY e.seq",
        (sign * direction, now_sim, now_wall, fid),
    )
