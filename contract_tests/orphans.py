"""No orphans: every audited ERP sales document and every WMS delivery order names a trade.

The duplicate checks find a trade's second document or delivery order when it still names
the trade (by number, FNote or sourceOrderCode). A copy under a fresh number that names no
trade escapes them; counting from the other side, every document and order must belong to
some trade, catches it whatever it is called. Only connectors create these (the simulator
places trades, never documents or delivery orders), so anything unlinked is the connector's.
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
    scalar,
    yuan,
)
from contract_tests.metrics import DO_TRADE_CTE, ERP_TRADE_DOCUMENTS_CTE, RECEIVABLE, SALES_OUTSTOCK

MAX_CANDIDATES = 3

DESCRIPTIONS = {
    "no_orphan_documents": (
        "every audited SAL_OUTSTOCK and AR_receivable, and every WMS delivery order, of the"
        " OMS's cargo owners belongs to a trade (by number or FNote, resp. deliveryOrderCode"
        " or sourceOrderCode)"
    ),
}

# Only the cargo owners the OMS has trades for (or none named): the WMS and the ERP serve
# other tenants too, whose orders and bills (even under one of our numbers) are not ours.
_OURS = "(d.owner_code IS NULL OR d.owner_code IN (SELECT owner_code FROM oms.orders))"
_ERP_SCOPE = f"""FROM erp.documents AS d
    WHERE d.form_id IN ('{SALES_OUTSTOCK}', '{RECEIVABLE}') AND d.document_status = 'C'
      AND d.amount_cents >= 0 AND {_OURS}"""
_ERP_ORPHANS = f"""WITH {ERP_TRADE_DOCUMENTS_CTE}
    SELECT d.fid, d.form_id, d.bill_no, d.customer_number, d.note, d.amount_cents
    {_ERP_SCOPE} AND d.fid NOT IN (SELECT fid FROM trade_documents)"""
_WMS_SCOPE = f"FROM wms.delivery_orders AS d WHERE {_OURS}"
_WMS_ORPHANS = f"""WITH {DO_TRADE_CTE}
    SELECT d.delivery_order_id, d.delivery_order_code, d.source_order_code, d.owner_code,
           d.status
    {_WMS_SCOPE} AND d.delivery_order_id NOT IN (SELECT delivery_order_id FROM do_trade)"""


def no_orphan_documents(
    conn: sqlite3.Connection, objectives: Mapping[str, float]
) -> InvariantResult:
    checked = scalar(conn, f"SELECT COUNT(*) {_ERP_SCOPE}") + scalar(
        conn, f"SELECT COUNT(*) {_WMS_SCOPE}"
    )
    erp = conn.execute(_ERP_ORPHANS + " ORDER BY d.fid").fetchall()
    wms = conn.execute(_WMS_ORPHANS + " ORDER BY d.delivery_order_id").fetchall()
    breakdown: dict[str, int] = {}
    examples: list[dict[str, Any]] = []
    for row in erp:
        breakdown[row["form_id"]] = breakdown.get(row["form_id"], 0) + 1
        if len(examples) < MAX_EXAMPLES:
            examples.append(
                {
                    "entity": row["bill_no"],
                    "form_id": row["form_id"],
                    "fid": row["fid"],
                    "expected": "the bill number or FNote of a trade of its customer's shop",
                    "observed": {
                        "bill_no": row["bill_no"],
                        "note": row["note"],
                        "customer_number": row["customer_number"],
                        "amount": yuan(row["amount_cents"]),
                    },
                    # Which trades it may copy: its shop's trades of the same amount.
                    "candidate_trades": [
                        r[0]
                        for r in conn.execute(
                            "SELECT trade_no FROM oms.orders WHERE shop_no = ?"
                            " AND paid_cents = ? ORDER BY trade_no LIMIT ?",
                            (row["customer_number"], row["amount_cents"], MAX_CANDIDATES),
                        )
                    ],
                    "history": history(conn, ("erp",), (row["bill_no"], str(row["fid"]))),
                }
            )
    for row in wms:
        breakdown["delivery order"] = breakdown.get("delivery order", 0) + 1
        if len(examples) < MAX_EXAMPLES:
            examples.append(
                {
                    "entity": row["delivery_order_code"],
                    "delivery_order_id": row["delivery_order_id"],
                    "expected": "deliveryOrderCode or sourceOrderCode of a trade of its owner",
                    "observed": {
                        "delivery_order_code": row["delivery_order_code"],
                        "source_order_code": row["source_order_code"],
                        "owner_code": row["owner_code"],
                        "status": row["status"],
                    },
                    "history": history(
                        conn, ("wms",), (row["delivery_order_code"], row["delivery_order_id"])
                    ),
                }
            )
    return result(
        "no_orphan_documents",
        DESCRIPTIONS["no_orphan_documents"],
        checked,
        len(erp) + len(wms),
        examples,
        breakdown,
    )


CHECKS = (no_orphan_documents,)
