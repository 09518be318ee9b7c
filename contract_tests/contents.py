"""Contents invariants: the documents say what happened, not only how much it was worth.

The audited checks compare totals (one document, the paid amount); these compare what the
documents and orders carry: the WMS order is in the trade's warehouse, and each ERP document
of a shipped trade books the materials and quantities the WMS shipped, out of the warehouse
that shipped them.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from typing import Any

from contract_tests.evidence import MAX_EXAMPLES, InvariantResult, history, result, scalar
from contract_tests.metrics import DO_TRADE_CTE, ERP_TRADE_DOCUMENTS_CTE, SALES_OUTSTOCK

DESCRIPTIONS = {
    "wms_order_in_trade_warehouse": (
        "every live WMS delivery order is in the warehouse the OMS assigned its trade"
    ),
    "erp_documents_match_shipment": (
        "every ERP document of a shipped trade books the materials and quantities the WMS"
        " shipped (SAL_OUTSTOCK: from the warehouse that shipped them)"
    ),
}


def wms_order_in_trade_warehouse(
    conn: sqlite3.Connection, objectives: Mapping[str, float]
) -> InvariantResult:
    scope = f"""WITH {DO_TRADE_CTE}
        SELECT t.trade_no, t.delivery_order_id, t.warehouse_code, o.warehouse_no
        FROM do_trade AS t JOIN oms.orders AS o ON o.trade_no = t.trade_no
        WHERE t.status <> 'CANCELED'"""
    checked = scalar(conn, f"SELECT COUNT(*) FROM ({scope})")
    rows = conn.execute(
        scope + " AND t.warehouse_code IS NOT o.warehouse_no ORDER BY t.trade_no"
    ).fetchall()
    examples = [
        {
            "entity": row["trade_no"],
            "delivery_order_id": row["delivery_order_id"],
            "expected": {"warehouse": row["warehouse_no"]},
            "observed": {"warehouse": row["warehouse_code"]},
            "history": history(conn, ("wms",), (row["trade_no"], row["delivery_order_id"])),
        }
        for row in rows[:MAX_EXAMPLES]
    ]
    return result(
        "wms_order_in_trade_warehouse",
        DESCRIPTIONS["wms_order_in_trade_warehouse"],
        checked,
        len(rows),
        examples,
    )


# What the WMS shipped per trade (its DELIVERED delivery orders, `actual_qty` per item) and
# the documents of those trades with what they book per material.
_SHIPPED_DOCUMENTS = f"""WITH {DO_TRADE_CTE}, {ERP_TRADE_DOCUMENTS_CTE},
    shipped_orders AS (
        SELECT delivery_order_id, trade_no, warehouse_code FROM do_trade
        WHERE trade_no IS NOT NULL AND status = 'DELIVERED'
    ),
    shipped AS (
        SELECT s.trade_no, l.item_code AS item, SUM(COALESCE(l.actual_qty, l.plan_qty)) AS qty
        FROM shipped_orders AS s
        JOIN wms.delivery_order_lines AS l ON l.delivery_order_id = s.delivery_order_id
        GROUP BY s.trade_no, l.item_code
    ),
    docs AS (
        SELECT DISTINCT fid, form_id, bill_no, trade_no FROM trade_documents
        WHERE trade_no IN (SELECT trade_no FROM shipped_orders)
    ),
    booked AS (
        SELECT d.fid, e.material_number AS item, SUM(e.qty) AS qty
        FROM docs AS d JOIN erp.document_entries AS e ON e.fid = d.fid
        GROUP BY d.fid, e.material_number
    )"""


def erp_documents_match_shipment(
    conn: sqlite3.Connection, objectives: Mapping[str, float]
) -> InvariantResult:
    checked = scalar(conn, _SHIPPED_DOCUMENTS + " SELECT COUNT(*) FROM docs")
    # A multiset comparison both ways (every shipped item booked with its quantity, nothing
    # booked that was not shipped), then the outstock entries' stock against the warehouses
    # the trade's goods left from.
    rows = conn.execute(
        _SHIPPED_DOCUMENTS
        + f"""
        SELECT d.fid, d.form_id, d.bill_no, d.trade_no, 'quantities differ' AS problem
        FROM docs AS d JOIN shipped AS s ON s.trade_no = d.trade_no
        LEFT JOIN booked AS b ON b.fid = d.fid AND b.item = s.item
        WHERE b.qty IS NOT s.qty
        UNION
        SELECT d.fid, d.form_id, d.bill_no, d.trade_no, 'quantities differ'
        FROM docs AS d JOIN booked AS b ON b.fid = d.fid
        LEFT JOIN shipped AS s ON s.trade_no = d.trade_no AND s.item = b.item
        WHERE s.qty IS NOT b.qty
        UNION
        SELECT d.fid, d.form_id, d.bill_no, d.trade_no, 'wrong stock'
        FROM docs AS d JOIN erp.document_entries AS e ON e.fid = d.fid
        WHERE d.form_id = '{SALES_OUTSTOCK}' AND NOT EXISTS (
            SELECT 1 FROM shipped_orders AS s
            WHERE s.trade_no = d.trade_no AND s.warehouse_code = e.stock_number)
        ORDER BY 4, 1, 5"""
    ).fetchall()
    problems: dict[int, dict[str, Any]] = {}
    for row in rows:
        entry = problems.setdefault(row["fid"], {**dict(row), "problems": []})
        entry["problems"].append(row["problem"])
    breakdown: dict[str, int] = {}
    examples: list[dict[str, Any]] = []
    for fid, entry in problems.items():
        for problem in entry["problems"]:
            breakdown[problem] = breakdown.get(problem, 0) + 1
        if len(examples) >= MAX_EXAMPLES:
            continue
        trade_no = entry["trade_no"]
        shipped_lines = conn.execute(
            f"""WITH {DO_TRADE_CTE}
            SELECT l.item_code, SUM(COALESCE(l.actual_qty, l.plan_qty)) AS qty,
                   group_concat(DISTINCT t.warehouse_code) AS warehouses
            FROM do_trade AS t
            JOIN wms.delivery_order_lines AS l ON l.delivery_order_id = t.delivery_order_id
            WHERE t.trade_no = ? AND t.status = 'DELIVERED'
            GROUP BY l.item_code ORDER BY l.item_code""",
            (trade_no,),
        ).fetchall()
        entries = conn.execute(
            "SELECT material_number, SUM(qty) AS qty, group_concat(DISTINCT stock_number)"
            " AS stocks FROM erp.document_entries WHERE fid = ?"
            " GROUP BY material_number ORDER BY material_number",
            (fid,),
        ).fetchall()
        expected: dict[str, Any] = {"lines": {r["item_code"]: r["qty"] for r in shipped_lines}}
        observed: dict[str, Any] = {"lines": {r["material_number"]: r["qty"] for r in entries}}
        if entry["form_id"] == SALES_OUTSTOCK:
            expected["stock"] = sorted({r["warehouses"] for r in shipped_lines})
            observed["stock"] = sorted({str(r["stocks"]) for r in entries})
        examples.append(
            {
                "entity": trade_no,
                "problem": "; ".join(entry["problems"]),
                "form_id": entry["form_id"],
                "bill_no": entry["bill_no"],
                "fid": fid,
                "expected": expected,
                "observed": observed,
                "history": history(conn, ("erp",), (trade_no, str(entry["bill_no"]))),
            }
        )
    return result(
        "erp_documents_match_shipment",
        DESCRIPTIONS["erp_documents_match_shipment"],
        checked,
        len(problems),
        examples,
        breakdown,
    )


CHECKS = (wms_order_in_trade_warehouse, erp_documents_match_shipment)
