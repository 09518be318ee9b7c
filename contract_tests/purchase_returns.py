"""Purchase returns to suppliers (issue 13): every purchase return the warehouse shipped
(stockout.confirm, orderType CGTH) is booked once in the ERP as it really left: one audited
PUR_MRB (bill number = the WMS order's code) of the units shipped per item, and one audited
red AP_Payable linked to it of minus shipped x the purchase order's price; a return the
warehouse shipped nothing of has neither; no audited PUR_MRB without a shipment; and every
draft PUR_MRB the buyer saved reached the warehouse as a CGTH order (after the drain, which
waits for it, one that has not was never sent).

Old runs (before purchase returns) have nothing to check: 0 checked, passed.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from contract_tests.evidence import (
    InvariantResult,
    history,
    result,
    rows_result,
    table_in_run,
    yuan,
)
from contract_tests.metrics import INSTOCK, PAYABLE, PURCHASE_ORDER

PURCHASE_RETURN = "PUR_MRB"
CGTH = "CGTH"

DESCRIPTIONS = {
    "purchase_returns_booked": (
        "every purchase return the WMS shipped (stockout.confirm, CGTH) has exactly one"
        " audited PUR_MRB under its code of the units that really left per item, and exactly"
        " one audited red AP_Payable linked to it of -(shipped x the purchase order's price);"
        " nothing is booked for a return the WMS shipped nothing of, and no audited PUR_MRB"
        " lacks a shipment; every draft PUR_MRB reached the warehouse as a CGTH order"
    ),
}


@dataclass
class Row:
    """A shipped purchase return, an audited PUR_MRB no shipment explains (`orphan`), or a
    draft the warehouse never had an order for (`unsent`)."""

    code: str
    owner: str
    shipped: dict[str, int] = field(default_factory=dict)
    returns: list[sqlite3.Row] = field(default_factory=list)
    payables: list[sqlite3.Row] = field(default_factory=list)
    booked: dict[str, int] = field(default_factory=dict)
    payable_cents: int | None = None
    orphan: bool = False
    unsent: bool = False


def _per_item(rows: list[sqlite3.Row]) -> dict[str, int]:
    units: dict[str, int] = {}
    for item, qty in rows:
        units[str(item)] = units.get(str(item), 0) + int(qty or 0)
    return {item: qty for item, qty in units.items() if qty}


def _prices(conn: sqlite3.Connection, fid: int, owner: str) -> dict[str, int]:
    """Per material, the price of the purchase order behind a purchase return: its entry's
    stock-in, that stock-in's purchase order, the order's amount over its quantity."""
    prices: dict[str, int] = {}
    for material, amount, qty in conn.execute(
        "SELECT e.material_number, SUM(pe.amount_cents), SUM(pe.qty)"
        " FROM erp.document_links AS l JOIN erp.document_entries AS e"
        "   ON e.fid = l.fid AND e.seq = l.seq"
        " JOIN erp.documents AS s ON s.form_id = ? AND s.bill_no = l.source_bill_no"
        "   AND s.owner_code IS ?"
        " JOIN erp.document_links AS sl ON sl.fid = s.fid AND sl.source_form_id = ?"
        " JOIN erp.documents AS po ON po.form_id = ? AND po.bill_no = sl.source_bill_no"
        "   AND po.owner_code IS ?"
        " JOIN erp.document_entries AS pe ON pe.fid = po.fid"
        "   AND pe.material_number = e.material_number"
        " WHERE l.fid = ? AND l.source_form_id = ? GROUP BY e.material_number",
        (INSTOCK, owner, PURCHASE_ORDER, PURCHASE_ORDER, owner, fid, INSTOCK),
    ):
        if qty:
            prices[str(material)] = int(amount) // int(qty)
    return prices


def _rows(conn: sqlite3.Connection) -> list[Row]:
    if not table_in_run(conn, "wms", "stockout_orders"):
        return []
    rows: list[Row] = []
    shipped_codes: set[tuple[str, str]] = set()
    for order in conn.execute(
        "SELECT stockout_order_id, order_code, owner_code FROM wms.stockout_orders"
        " WHERE order_type = ? AND confirmed_wall IS NOT NULL ORDER BY confirmed_wall, order_code",
        (CGTH,),
    ).fetchall():
        row = Row(order["order_code"], order["owner_code"])
        row.shipped = _per_item(
            conn.execute(
                "SELECT item_code, actual_qty FROM wms.stockout_order_lines"
                " WHERE stockout_order_id = ?",
                (order["stockout_order_id"],),
            ).fetchall()
        )
        shipped_codes.add((row.code, row.owner))
        rows.append(row)
    # Every order the WMS has for a return, shipped or not (a draft it holds is on its way).
    at_wms = {
        (str(code), str(owner))
        for code, owner in conn.execute(
            "SELECT order_code, owner_code FROM wms.stockout_orders WHERE order_type = ?", (CGTH,)
        )
    }
    for other in conn.execute(
        "SELECT bill_no, owner_code, document_status FROM erp.documents WHERE form_id = ?"
        " ORDER BY fid",
        (PURCHASE_RETURN,),
    ).fetchall():
        key = (other["bill_no"], other["owner_code"])
        if other["document_status"] == "C" and key not in shipped_codes:
            rows.append(Row(*key, orphan=True))
        elif other["document_status"] != "C" and key not in at_wms:
            # The drain waited for it: a draft still unsent after it was never sent.
            rows.append(Row(*key, unsent=True))
    for row in rows:
        _booked(conn, row)
    return rows


def _booked(conn: sqlite3.Connection, row: Row) -> None:
    """The row's ERP side: its purchase returns, what the audited one books, its payables."""
    row.returns = conn.execute(
        "SELECT fid, bill_no, document_status FROM erp.documents WHERE form_id = ?"
        " AND bill_no = ? AND owner_code IS ? ORDER BY fid",
        (PURCHASE_RETURN, row.code, row.owner),
    ).fetchall()
    row.payables = conn.execute(
        "SELECT d.fid, d.bill_no, d.document_status, d.amount_cents FROM erp.documents AS d"
        " WHERE d.form_id = ? AND d.owner_code IS ? AND EXISTS (SELECT 1 FROM"
        " erp.document_links AS l WHERE l.fid = d.fid AND l.source_form_id = ?"
        " AND l.source_bill_no = ?) ORDER BY d.fid",
        (PAYABLE, row.owner, PURCHASE_RETURN, row.code),
    ).fetchall()
    audited = [r for r in row.returns if r["document_status"] == "C"]
    if len(audited) == 1:
        fid = int(audited[0]["fid"])
        row.booked = _per_item(
            conn.execute(
                "SELECT material_number, qty FROM erp.document_entries WHERE fid = ?", (fid,)
            ).fetchall()
        )
        prices = _prices(conn, fid, row.owner)
        if row.shipped and all(item in prices for item in row.shipped):
            row.payable_cents = -sum(qty * prices[item] for item, qty in row.shipped.items())


def problems(row: Row) -> list[str]:
    if row.orphan:
        return ["purchase return booked without a shipment"]
    if row.unsent:
        return ["purchase return never sent to the warehouse"]
    audited = [r for r in row.returns if r["document_status"] == "C"]
    if not row.shipped:
        found = []
        if audited:
            found.append("purchase return booked for nothing shipped")
        if row.payables:
            found.append("red payable for nothing shipped")
        return found
    found = []
    if not audited:
        found.append("no audited purchase return")
    elif len(audited) > 1:
        found.append("more than one purchase return")
    elif row.booked != row.shipped:
        found.append("purchase return quantities differ from what was shipped")
    if not row.payables:
        found.append("no red payable")
    elif len(row.payables) > 1:
        found.append("more than one red payable")
    elif row.payables[0]["document_status"] != "C":
        found.append("red payable not audited")
    elif row.payable_cents is not None and row.payables[0]["amount_cents"] != row.payable_cents:
        found.append("red payable amount differs from -(shipped x price)")
    return found


def purchase_returns_booked(
    conn: sqlite3.Connection, objectives: Mapping[str, float]
) -> InvariantResult:
    name = "purchase_returns_booked"
    rows = _rows(conn)
    if not rows:
        return result(name, DESCRIPTIONS[name], 0, 0, [])

    def example(row: Row, kinds: list[str]) -> dict[str, Any]:
        return {
            "entity": row.code,
            "owner": row.owner,
            "problem": "; ".join(kinds),
            "expected": {
                "purchase_return": row.shipped or None,
                "red_payable": None if row.payable_cents is None else yuan(row.payable_cents),
            },
            "observed": {
                "purchase_returns": [
                    f"{r['bill_no']} ({r['document_status']})" for r in row.returns
                ],
                "purchase_return": row.booked,
                "red_payables": [
                    f"{r['bill_no']} {yuan(r['amount_cents'])} ({r['document_status']})"
                    for r in row.payables
                ],
            },
            "history": history(conn, ("wms", "erp"), (row.code,)),
        }

    return rows_result(name, DESCRIPTIONS[name], rows, problems, example)


CHECKS = (purchase_returns_booked,)
