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


# What the WMS shipped (each DELIVERED delivery order of a trade, `actual_qty` per item),
# the documents of those trades with what they book per material, and for each document and
# shipment of its trade whether they differ (both ways of a multiset comparison).
_SHIPPED_DOCUMENTS = f"""WITH {DO_TRADE_CTE}, {ERP_TRADE_DOCUMENTS_CTE},
    shipped_orders AS (
        SELECT delivery_order_id, trade_no, warehouse_code FROM do_trade
        WHERE trade_no IS NOT NULL AND status = 'DELIVERED'
    ),
    shipped AS (
        SELECT s.delivery_order_id, l.item_code AS item,
               SUM(COALESCE(l.actual_qty, l.plan_qty)) AS qty
        FROM shipped_orders AS s
        JOIN wms.delivery_order_lines AS l ON l.delivery_order_id = s.delivery_order_id
        GROUP BY s.delivery_order_id, l.item_code
    ),
    docs AS (
        SELECT DISTINCT fid, form_id, bill_no, trade_no FROM trade_documents
        WHERE trade_no IN (SELECT trade_no FROM shipped_orders)
    ),
    booked AS (
        SELECT d.fid, e.material_number AS item, SUM(e.qty) AS qty
        FROM docs AS d JOIN erp.document_entries AS e ON e.fid = d.fid
        GROUP BY d.fid, e.material_number
    ),
    pairs AS (
        SELECT d.fid, s.delivery_order_id
        FROM docs AS d JOIN shipped_orders AS s ON s.trade_no = d.trade_no
    ),
    differ AS (
        SELECT p.fid, p.delivery_order_id FROM pairs AS p
        JOIN shipped AS s ON s.delivery_order_id = p.delivery_order_id
        LEFT JOIN booked AS b ON b.fid = p.fid AND b.item = s.item
        WHERE b.qty IS NOT s.qty
        UNION
        SELECT p.fid, p.delivery_order_id FROM pairs AS p
        JOIN booked AS b ON b.fid = p.fid
        LEFT JOIN shipped AS s ON s.delivery_order_id = p.delivery_order_id AND s.item = b.item
        WHERE s.qty IS NOT b.qty
    )"""


def erp_documents_match_shipment(
    conn: sqlite3.Connection, objectives: Mapping[str, float]
) -> InvariantResult:
    checked = scalar(conn, _SHIPPED_DOCUMENTS + " SELECT COUNT(*) FROM docs")
    # A document books one shipment: it must equal one of its trade's DELIVERED delivery
    # orders (a trade shipped twice is no_duplicate_delivery_orders' business, and its one
    # document matches one of them). Then the outstock entries' stock against the
    # warehouses the trade's goods left from.
    rows = conn.execute(
        _SHIPPED_DOCUMENTS
        + f"""
        SELECT d.fid, d.form_id, d.bill_no, d.trade_no, 'quantities differ' AS problem
        FROM docs AS d
        WHERE d.fid NOT IN (SELECT fid FROM (SELECT * FROM pairs EXCEPT SELECT * FROM differ))
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
            SELECT t.delivery_order_id, t.warehouse_code, l.item_code,
                   SUM(COALESCE(l.actual_qty, l.plan_qty)) AS qty
            FROM do_trade AS t
            JOIN wms.delivery_order_lines AS l ON l.delivery_order_id = t.delivery_order_id
            WHERE t.trade_no = ? AND t.status = 'DELIVERED'
            GROUP BY t.delivery_order_id, l.item_code ORDER BY t.delivery_order_id, l.item_code""",
            (trade_no,),
        ).fetchall()
        per_order: dict[str, dict[str, int]] = {}
        for r in shipped_lines:
            per_order.setdefault(r["delivery_order_id"], {})[r["item_code"]] = r["qty"]
        entries = conn.execute(
            "SELECT material_number, SUM(qty) AS qty, group_concat(DISTINCT stock_number)"
            " AS stocks FROM erp.document_entries WHERE fid = ?"
            " GROUP BY material_number ORDER BY material_number",
            (fid,),
        ).fetchall()
        # The one shipment's lines, or each shipment's when the trade was shipped twice.
        expected: dict[str, Any] = {
            "lines": next(iter(per_order.values())) if len(per_order) == 1 else per_order
        }
        observed: dict[str, Any] = {"lines": {r["material_number"]: r["qty"] for r in entries}}
        if entry["form_id"] == SALES_OUTSTOCK:
            expected["stock"] = sorted({r["warehouse_code"] for r in shipped_lines})
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
