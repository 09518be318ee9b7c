"""Returns after delivery: every agreed return refund whose goods reached the warehouse is
received there, settled in the OMS and booked once in the ERP (a SAL_RETURNSTOCK and a red
AR_receivable); each order's receivables net of its red ones equal what the buyer paid net of
what was refunded; returned stock goes where the warehouse's quality check put it.

Each defect is counted by one check: a missing or duplicated document by
`return_refund_booked`, a wrong red amount by `receivable_net_of_refunds` (which looks only at
trades with a red receivable), a wrong stock status by `returned_stock_by_quality` (which
compares the ERP's returned goods with the WMS's only where a SAL_RETURNSTOCK exists).
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
    yuan,
)
from contract_tests.metrics import RECEIVABLE, RETURN_DOCUMENTS_CTE, SALES_RETURN

SETTLED = 80
SALEABLE = "ZP"
AVAILABLE_STOCK_STATUS = "KCZT01_SYS"

DESCRIPTIONS = {
    "return_refund_booked": (
        "every agreed return refund whose parcel reached the warehouse has its return order"
        " received at the WMS, is settled in the OMS, and has exactly one audited"
        " SAL_RETURNSTOCK and exactly one audited red AR_receivable linked to the trade's"
        " documents"
    ),
    "receivable_net_of_refunds": (
        "per order with a red receivable: audited receivables minus audited red receivables"
        " = paid minus refunded, to the cent"
    ),
    "returned_stock_by_quality": (
        "each received return puts the units passed as good (ZP) on saleable stock and the"
        " rest on defective stock; no more comes back than the delivery order shipped, at the"
        " WMS or in the ERP; the SAL_RETURNSTOCK books them in the same stock statuses"
        " (available for ZP)"
    ),
}

# Each agreed return's WMS return order (the one receiving its parcel), once received.
_RECEIVED = """
    SELECT i.inbound_order_id, i.order_code, i.confirmed_wall FROM wms.inbound_orders AS i
    WHERE i.kind = 'returnorder' AND i.status = 'FULFILLED'
      AND i.owner_code = a.owner_code AND i.express_code = a.logistics_no"""


def return_refund_booked(
    conn: sqlite3.Connection, objectives: Mapping[str, float]
) -> InvariantResult:
    scope = f"WITH {RETURN_DOCUMENTS_CTE}"
    rows = conn.execute(
        scope
        + f"""
        SELECT a.*,
               EXISTS ({_RECEIVED}) AS received,
               (SELECT COUNT(*) FROM return_documents AS d WHERE d.refund_no = a.refund_no
                  AND d.form_id = '{SALES_RETURN}') AS stocks,
               (SELECT COUNT(*) FROM return_documents AS d WHERE d.refund_no = a.refund_no
                  AND d.form_id = '{SALES_RETURN}' AND d.document_status = 'C') AS stocks_audited,
               (SELECT COUNT(*) FROM return_documents AS d WHERE d.refund_no = a.refund_no
                  AND d.form_id = '{RECEIVABLE}') AS reds,
               (SELECT COUNT(*) FROM return_documents AS d WHERE d.refund_no = a.refund_no
                  AND d.form_id = '{RECEIVABLE}' AND d.document_status = 'C') AS reds_audited
        FROM agreed_returns AS a WHERE a.arrived_wall IS NOT NULL
        ORDER BY a.arrived_wall, a.refund_no"""
    ).fetchall()

    def example(row: sqlite3.Row, problems: list[str]) -> dict[str, Any]:
        return {
            "entity": row["trade_no"],
            "refund_no": row["refund_no"],
            "problem": "; ".join(problems),
            "refund_amount": yuan(row["refund_cents"]),
            "expected": "return order received, refund settled (80), one audited"
            " SAL_RETURNSTOCK and one audited red AR_receivable",
            "observed": {
                "received at the WMS": bool(row["received"]),
                "refund status": row["status"],
                "SAL_RETURNSTOCK (audited)": f"{row['stocks']} ({row['stocks_audited']})",
                "red AR_receivable (audited)": f"{row['reds']} ({row['reds_audited']})",
            },
            "erp_documents": _documents(conn, row["refund_no"]),
            "history": history(
                conn,
                ("oms", "wms", "erp"),
                (row["trade_no"], row["refund_no"], row["logistics_no"]),
            ),
        }

    return rows_result(
        "return_refund_booked",
        DESCRIPTIONS["return_refund_booked"],
        rows,
        _booking_problems,
        example,
    )


def _booking_problems(row: sqlite3.Row) -> list[str]:
    problems = []
    if not row["received"]:
        problems.append("return order not received")
    if row["status"] < SETTLED:
        problems.append("refund not settled")
    for form, total, audited in (
        (SALES_RETURN, row["stocks"], row["stocks_audited"]),
        ("red AR_receivable", row["reds"], row["reds_audited"]),
    ):
        if total == 0:
            problems.append(f"{form} missing")
        elif total > 1:
            problems.append(f"{form} duplicated")
        elif audited == 0:
            problems.append(f"{form} not audited")
    return problems


def _documents(conn: sqlite3.Connection, refund_no: str) -> list[dict[str, Any]]:
    return [
        {
            "fid": d["fid"],
            "form_id": d["form_id"],
            "bill_no": d["bill_no"],
            "document_status": d["document_status"],
            "amount": yuan(d["amount_cents"]),
        }
        for d in conn.execute(
            f"WITH {RETURN_DOCUMENTS_CTE} SELECT * FROM return_documents WHERE refund_no = ?"
            " ORDER BY fid",
            (refund_no,),
        )
    ]


# Per trade with an audited red receivable: its audited receivables (positive), its audited
# red ones, what the buyer paid and what the OMS refunded (settled return and refund-only
# refunds).
_BALANCE = f"""WITH {RETURN_DOCUMENTS_CTE},
    reds AS (
        SELECT trade_no, SUM(amount_cents) AS red_cents FROM (
            SELECT DISTINCT fid, trade_no, amount_cents FROM return_documents
            WHERE form_id = '{RECEIVABLE}' AND document_status = 'C')
        GROUP BY trade_no
    ),
    balance AS (
        SELECT r.trade_no, r.red_cents, o.paid_cents, o.src_tid,
               (SELECT COALESCE(SUM(t.amount_cents), 0) FROM trade_documents AS t
                WHERE t.trade_no = r.trade_no AND t.form_id = '{RECEIVABLE}'
                  AND t.document_status = 'C') AS receivable_cents,
               (SELECT COALESCE(SUM(f.refund_cents), 0) FROM oms.refunds AS f
                WHERE f.trade_no = r.trade_no AND f.type IN (2, 4)
                  AND f.status >= {SETTLED}) AS refunded_cents
        FROM reds AS r JOIN oms.orders AS o ON o.trade_no = r.trade_no
    )"""


def receivable_net_of_refunds(
    conn: sqlite3.Connection, objectives: Mapping[str, float]
) -> InvariantResult:
    rows = conn.execute(_BALANCE + " SELECT * FROM balance ORDER BY trade_no").fetchall()
    wrong = [
        row
        for row in rows
        if row["receivable_cents"] + row["red_cents"] != row["paid_cents"] - row["refunded_cents"]
    ]
    examples = [
        {
            "entity": row["trade_no"],
            "expected": {
                "receivable - red": yuan(row["paid_cents"] - row["refunded_cents"]),
                "paid": yuan(row["paid_cents"]),
                "refunded": yuan(row["refunded_cents"]),
            },
            "observed": {
                "receivable - red": yuan(row["receivable_cents"] + row["red_cents"]),
                "receivable": yuan(row["receivable_cents"]),
                "red": yuan(row["red_cents"]),
            },
            "history": history(conn, ("oms", "erp"), (row["trade_no"], row["src_tid"])),
        }
        for row in wrong[:MAX_EXAMPLES]
    ]
    return result(
        "receivable_net_of_refunds",
        DESCRIPTIONS["receivable_net_of_refunds"],
        len(rows),
        len(wrong),
        examples,
    )


# Each received return order of a trade: what the quality check found per item and type
# (ZP or not), what the stock ledger moved for it, what the delivery order shipped and what
# all the returns of that delivery order took back, and what its SAL_RETURNSTOCK booked (NULL
# when it has none).
_RECEIVED_RETURNS = f"""WITH {RETURN_DOCUMENTS_CTE},
    received AS (
        SELECT i.inbound_order_id, i.order_code, i.owner_code, i.warehouse_code,
               i.pre_delivery_order_code, a.refund_no, a.trade_no
        FROM wms.inbound_orders AS i
        LEFT JOIN agreed_returns AS a
            ON a.owner_code = i.owner_code AND a.logistics_no = i.express_code
        WHERE i.kind = 'returnorder' AND i.status = 'FULFILLED'
          AND i.owner_code IN (SELECT owner_code FROM oms.orders)
    ),
    quality AS (
        SELECT q.inbound_order_id, q.item_code,
               SUM(CASE WHEN q.inventory_type = '{SALEABLE}' THEN q.qty ELSE 0 END) AS good,
               SUM(CASE WHEN q.inventory_type <> '{SALEABLE}' THEN q.qty ELSE 0 END) AS bad
        FROM wms.inbound_quality AS q GROUP BY q.inbound_order_id, q.item_code
    ),
    moved AS (
        SELECT reference, item_code,
               SUM(CASE WHEN field = 'on_hand' THEN change ELSE 0 END) AS good,
               SUM(CASE WHEN field NOT IN ('on_hand', 'reserved') THEN change ELSE 0 END) AS bad
        FROM wms.stock_ledger WHERE reason = 'return' GROUP BY reference, item_code
    ),
    shipped AS (
        SELECT d.owner_code, d.delivery_order_code, l.item_code,
               SUM(COALESCE(l.actual_qty, 0)) AS qty
        FROM wms.delivery_orders AS d
        JOIN wms.delivery_order_lines AS l ON l.delivery_order_id = d.delivery_order_id
        WHERE d.status IN ('DELIVERED', 'PARTDELIVERED')
        GROUP BY d.owner_code, d.delivery_order_code, l.item_code
    ),
    all_back AS (
        SELECT r.owner_code, r.pre_delivery_order_code, q.item_code, SUM(q.good + q.bad) AS qty
        FROM received AS r JOIN quality AS q ON q.inbound_order_id = r.inbound_order_id
        GROUP BY r.owner_code, r.pre_delivery_order_code, q.item_code
    ),
    erp_back AS (
        SELECT rd.refund_no, e.material_number AS item_code,
               SUM(CASE WHEN l.stock_status = '{AVAILABLE_STOCK_STATUS}' THEN e.qty ELSE 0 END)
                   AS good,
               SUM(CASE WHEN l.stock_status IS NOT '{AVAILABLE_STOCK_STATUS}' THEN e.qty
                   ELSE 0 END) AS bad
        FROM (SELECT DISTINCT fid, refund_no FROM return_documents
              WHERE form_id = '{SALES_RETURN}' AND document_status = 'C') AS rd
        JOIN erp.document_entries AS e ON e.fid = rd.fid
        JOIN erp.document_links AS l ON l.fid = e.fid AND l.seq = e.seq
        GROUP BY rd.refund_no, e.material_number
    ),
    erp_out AS (
        SELECT t.trade_no, e.material_number AS item_code, SUM(e.qty) AS qty
        FROM trade_documents AS t JOIN erp.document_entries AS e ON e.fid = t.fid
        WHERE t.form_id = 'SAL_OUTSTOCK' AND t.document_status = 'C'
        GROUP BY t.trade_no, e.material_number
    ),
    erp_all_back AS (
        SELECT rd.trade_no, e.material_number AS item_code, SUM(e.qty) AS qty
        FROM (SELECT DISTINCT fid, trade_no FROM return_documents
              WHERE form_id = '{SALES_RETURN}' AND document_status = 'C') AS rd
        JOIN erp.document_entries AS e ON e.fid = rd.fid
        GROUP BY rd.trade_no, e.material_number
    ),
    lines AS (
        SELECT r.inbound_order_id, r.order_code, r.refund_no, r.trade_no, q.item_code,
               q.good, q.bad,
               COALESCE(m.good, 0) AS moved_good, COALESCE(m.bad, 0) AS moved_bad,
               COALESCE(s.qty, 0) AS shipped, COALESCE(b.qty, 0) AS back,
               eb.good AS erp_good, eb.bad AS erp_bad,
               (SELECT COUNT(*) FROM return_documents AS x WHERE x.refund_no = r.refund_no
                  AND x.form_id = '{SALES_RETURN}' AND x.document_status = 'C') AS erp_docs,
               COALESCE(eo.qty, 0) AS erp_out, COALESCE(ea.qty, 0) AS erp_all_back
        FROM received AS r JOIN quality AS q ON q.inbound_order_id = r.inbound_order_id
        LEFT JOIN moved AS m ON m.reference = r.inbound_order_id AND m.item_code = q.item_code
        LEFT JOIN shipped AS s ON s.owner_code = r.owner_code
            AND s.delivery_order_code = r.pre_delivery_order_code AND s.item_code = q.item_code
        LEFT JOIN all_back AS b ON b.owner_code = r.owner_code
            AND b.pre_delivery_order_code = r.pre_delivery_order_code
            AND b.item_code = q.item_code
        LEFT JOIN erp_back AS eb ON eb.refund_no = r.refund_no AND eb.item_code = q.item_code
        LEFT JOIN erp_out AS eo ON eo.trade_no = r.trade_no AND eo.item_code = q.item_code
        LEFT JOIN erp_all_back AS ea ON ea.trade_no = r.trade_no AND ea.item_code = q.item_code
    )"""


def returned_stock_by_quality(
    conn: sqlite3.Connection, objectives: Mapping[str, float]
) -> InvariantResult:
    rows = conn.execute(
        _RECEIVED_RETURNS + " SELECT * FROM lines ORDER BY inbound_order_id, item_code"
    ).fetchall()

    def example(row: sqlite3.Row, problems: list[str]) -> dict[str, Any]:
        return {
            "entity": row["trade_no"] or row["order_code"],
            "return_order": row["order_code"],
            "item_code": row["item_code"],
            "problem": "; ".join(problems),
            "expected": {
                "saleable +": row["good"],
                "defective +": row["bad"],
                "back <= shipped": row["shipped"],
                "ERP available / defective": f"{row['good']} / {row['bad']}",
            },
            "observed": {
                "saleable +": row["moved_good"],
                "defective +": row["moved_bad"],
                "back": row["back"],
                "ERP available / defective": (
                    f"{row['erp_good'] or 0} / {row['erp_bad'] or 0}"
                    if row["erp_docs"]
                    else "no SAL_RETURNSTOCK"
                ),
            },
            "history": history(conn, ("wms", "erp"), (row["order_code"], row["refund_no"])),
        }

    return rows_result(
        "returned_stock_by_quality",
        DESCRIPTIONS["returned_stock_by_quality"],
        rows,
        _stock_problems,
        example,
    )


def _stock_problems(row: sqlite3.Row) -> list[str]:
    problems = []
    if row["moved_good"] != row["good"]:
        problems.append("saleable stock differs from the good units")
    if row["moved_bad"] != row["bad"]:
        problems.append("defective stock differs from the defective units")
    if row["back"] > row["shipped"]:
        problems.append("more back than shipped")
    if row["erp_docs"]:
        if (row["erp_good"] or 0, row["erp_bad"] or 0) != (row["good"], row["bad"]):
            problems.append("ERP stock status differs from the quality check")
        if row["erp_all_back"] > row["erp_out"]:
            problems.append("ERP returns more than its outbound")
    return problems


CHECKS = (return_refund_booked, receivable_net_of_refunds, returned_stock_by_quality)
