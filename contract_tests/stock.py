"""Stock and purchasing (issue 13's first slice): every purchase receipt the warehouse
confirmed is booked once in the ERP, a stock-in of what came in and a payable of what was
accepted at the order's price; and the OMS never sold what it did not have.

Old runs (before these tables existed) have nothing to check: 0 checked, passed.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from typing import Any

from contract_tests.evidence import (
    MAX_EXAMPLES,
    InvariantResult,
    history,
    result,
    rows_result,
    table_in_run,
    with_excused,
    yuan,
)
from contract_tests.metrics import INSTOCK, PAYABLE, PURCHASE_ORDER
from contract_tests.sell_outs import judge_oversells

SOUND = "ZP"

DESCRIPTIONS = {
    "purchase_receipts_booked": (
        "every supplier delivery the WMS received and confirmed has exactly one audited"
        " STK_InStock linked to its purchase order, of the units received per item, and"
        " exactly one audited AP_Payable linked to that stock-in, of the units accepted (ZP)"
        " x the purchase order's price (none when nothing was accepted)"
    ),
    "no_oversell": (
        "the OMS never sold more of a spec in a warehouse than it had available while the"
        " WMS had the units free (a sale in a true sell-out is reported and excused)"
    ),
}


def _per_item(rows: list[sqlite3.Row]) -> dict[str, int]:
    units: dict[str, int] = {}
    for row in rows:
        units[row[0]] = units.get(row[0], 0) + int(row[1])
    return {item: qty for item, qty in units.items() if qty}


def purchase_receipts_booked(
    conn: sqlite3.Connection, objectives: Mapping[str, float]
) -> InvariantResult:
    name = "purchase_receipts_booked"
    if not table_in_run(conn, "wms", "supplier_deliveries"):
        return result(name, DESCRIPTIONS[name], 0, 0, [])
    receipts = conn.execute(
        "SELECT s.owner_code, s.purchase_order_code, s.inbound_order_id, i.order_code"
        " FROM wms.supplier_deliveries AS s JOIN wms.inbound_orders AS i"
        "   ON i.inbound_order_id = s.inbound_order_id AND i.status = 'FULFILLED'"
        " ORDER BY i.confirmed_wall, s.purchase_order_code"
    ).fetchall()
    judged = {row["inbound_order_id"]: _receipt_problems(conn, row) for row in receipts}

    def example(row: sqlite3.Row, problems: list[str]) -> dict[str, Any]:
        po, entry = row["purchase_order_code"], row["order_code"]
        _, expected, observed = judged[row["inbound_order_id"]]
        return {
            "entity": po,
            "entry_order": entry,
            "problem": "; ".join(problems),
            "expected": expected,
            "observed": observed,
            "history": history(conn, ("wms", "erp"), (po, entry)),
        }

    return rows_result(
        name, DESCRIPTIONS[name], receipts, lambda row: judged[row["inbound_order_id"]][0], example
    )


def _receipt_problems(
    conn: sqlite3.Connection, receipt: sqlite3.Row
) -> tuple[list[str], dict[str, Any], dict[str, Any]]:
    owner, po, entry = receipt["owner_code"], receipt["purchase_order_code"], receipt[2]
    counted = conn.execute(
        "SELECT item_code, qty, inventory_type FROM wms.inbound_quality WHERE inbound_order_id = ?",
        (entry,),
    ).fetchall()
    received = _per_item(counted)
    accepted = _per_item([row for row in counted if row["inventory_type"] == SOUND])
    # The order's price per material: its entries' amount over their quantity.
    prices = {
        row[0]: int(row[1]) // int(row[2])
        for row in conn.execute(
            "SELECT e.material_number, SUM(e.amount_cents), SUM(e.qty) FROM erp.documents AS d"
            " JOIN erp.document_entries AS e ON e.fid = d.fid WHERE d.form_id = ?"
            " AND d.bill_no = ? AND d.owner_code IS ? GROUP BY e.material_number",
            (PURCHASE_ORDER, po, owner),
        )
        if row[2]
    }
    payable_cents = sum(qty * prices.get(item, 0) for item, qty in accepted.items())
    stock_ins = _linked(conn, INSTOCK, PURCHASE_ORDER, po, owner)
    problems: list[str] = []
    if not stock_ins:
        problems.append("no stock-in")
    elif len(stock_ins) > 1:
        problems.append("more than one stock-in")
    booked: dict[str, int] = {}
    found: dict[int, sqlite3.Row] = {}  # by fid: two stock-ins may share a bill number
    for stock_in in stock_ins:
        booked = _per_item(
            conn.execute(
                "SELECT material_number, qty FROM erp.document_entries WHERE fid = ?",
                (stock_in["fid"],),
            ).fetchall()
        )
        for payable in _linked(conn, PAYABLE, INSTOCK, stock_in["bill_no"], owner):
            found[payable["fid"]] = payable
    payables = list(found.values())
    if len(stock_ins) == 1:
        if stock_ins[0]["document_status"] != "C":
            problems.append("stock-in not audited")
        if booked != received:
            problems.append("stock-in quantities differ from the receipt")
    if accepted and not payables:
        problems.append("no payable")
    elif len(payables) > 1 or (payables and not accepted):
        problems.append("more than one payable" if accepted else "payable for nothing accepted")
    elif payables:
        if payables[0]["document_status"] != "C":
            problems.append("payable not audited")
        if payables[0]["amount_cents"] != payable_cents:
            problems.append("payable amount differs from accepted x price")
    expected = {
        "stock_in": received,
        "payable": yuan(payable_cents) if accepted else None,
        "accepted": accepted,
    }
    observed = {
        "stock_ins": [f"{r['bill_no']} ({r['document_status']})" for r in stock_ins],
        "stock_in": booked,
        "payables": [
            f"{r['bill_no']} {yuan(r['amount_cents'])} ({r['document_status']})" for r in payables
        ],
    }
    return problems, expected, observed


def _linked(
    conn: sqlite3.Connection, form_id: str, source_form: str, source: str, owner: str
) -> list[sqlite3.Row]:
    """The documents of `form_id` of the owner one of whose entries names `source`."""
    return conn.execute(
        "SELECT d.fid, d.bill_no, d.document_status, d.amount_cents FROM erp.documents AS d"
        " WHERE d.form_id = ? AND d.owner_code IS ? AND EXISTS (SELECT 1 FROM"
        " erp.document_links AS l WHERE l.fid = d.fid AND l.source_form_id = ?"
        " AND l.source_bill_no = ?) ORDER BY d.fid",
        (form_id, owner, source_form, source),
    ).fetchall()


def no_oversell(conn: sqlite3.Connection, objectives: Mapping[str, float]) -> InvariantResult:
    name = "no_oversell"
    if not table_in_run(conn, "oms", "oversells"):
        return result(name, DESCRIPTIONS[name], 0, 0, [])
    checked = int(conn.execute("SELECT COUNT(*) FROM oms.order_lines").fetchone()[0])
    oversells = judge_oversells(conn)
    blamed = [o for o in oversells if not o.sell_out]
    breakdown: dict[str, int] = {}
    for oversell in blamed:
        breakdown[oversell.key[0]] = breakdown.get(oversell.key[0], 0) + 1
    examples = [
        {
            "entity": o.trade_no,
            "warehouse": o.key[0],
            "spec_no": o.key[1],
            "expected": f"at most {max(o.available, 0)} unit(s) available",
            "observed": f"{o.num} sold",
            "warehouse_could_cover": f"{o.coverable} of its {o.units} unit(s)",
            "history": history(conn, ("oms",), (o.trade_no,)),
        }
        for o in blamed[:MAX_EXAMPLES]
    ]
    judged = result(name, DESCRIPTIONS[name], checked, len(blamed), examples, breakdown)
    return with_excused(judged, len(oversells) - len(blamed), "sold in a sell-out")


CHECKS = (purchase_receipts_booked, no_oversell)
