"""Cheap checks polled during a run: progress counts and violations that are already final."""

from __future__ import annotations

import sqlite3

from contract_tests.metrics import DO_TRADE_CTE, RECEIVABLE, SALES_OUTSTOCK, count_orders

__all__ = ["LIVE_CHECKS", "count_orders", "live_violation_counts", "live_violations"]

# Only violations that no later event can repair: an order not yet at the WMS may still get
# there, but a second delivery order, a negative balance or a wrong audited amount stays wrong.
LIVE_CHECKS: dict[str, str] = {
    "duplicate_delivery_orders": f"""
        WITH {DO_TRADE_CTE}
        SELECT COUNT(*) FROM (
            SELECT trade_no FROM do_trade WHERE trade_no IS NOT NULL AND status <> 'CANCELED'
            GROUP BY trade_no HAVING COUNT(*) > 1
        )""",
    "negative_stock": """
        SELECT COUNT(*) FROM (
            SELECT DISTINCT warehouse_code, item_code FROM wms.stock_ledger
            WHERE balance_after < 0
        )""",
    "wrong_waybill_in_oms": """
        SELECT COUNT(*) FROM wms.delivery_orders AS d
        JOIN oms.orders AS o ON o.trade_no = d.delivery_order_code
        WHERE d.status = 'DELIVERED' AND o.logistics_no IS NOT NULL
          AND o.logistics_no IS NOT d.express_code""",
    "duplicate_erp_documents": f"""
        SELECT COUNT(*) FROM (
            SELECT bill_no FROM erp.documents
            WHERE form_id IN ('{SALES_OUTSTOCK}', '{RECEIVABLE}')
            GROUP BY form_id, bill_no HAVING COUNT(*) > 1
        )""",
    "wrong_erp_amount": f"""
        SELECT COUNT(*) FROM erp.documents AS e JOIN oms.orders AS o ON o.trade_no = e.bill_no
        WHERE e.form_id IN ('{SALES_OUTSTOCK}', '{RECEIVABLE}') AND e.document_status = 'C'
          AND e.amount_cents IS NOT o.paid_cents""",
}


def live_violation_counts(conn: sqlite3.Connection) -> dict[str, int]:
    """Each live check's count; a check whose tables are not there (yet) counts 0."""
    counts: dict[str, int] = {}
    for name, sql in LIVE_CHECKS.items():
        try:
            row = conn.execute(sql).fetchone()
        except sqlite3.Error:
            counts[name] = 0
            continue
        counts[name] = int(row[0] or 0)
    return counts


def live_violations(conn: sqlite3.Connection) -> int:
    """How many final violations the run has so far (the judge's full verdict comes after)."""
    return sum(live_violation_counts(conn).values())
