"""Cancellations before shipment: a trade the OMS cancelled (trade_status 5) while its
delivery order could still be stopped ships nothing and is booked nowhere.

"Could still be stopped": the WMS had not started picking it by the time the OMS cancelled
it plus the `cancel_to_wms` objective (3 s wall by default), the time a connector is given to
carry a cancellation to the WMS. An order picked before that is a cancellation after
picking (the WMS answers `order.cancel` with CANCELEDFAIL): interception at the carrier and
the return are not judged yet (issue 11), so such trades are left out of this check.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from typing import Any

from contract_tests.evidence import MAX_EXAMPLES, InvariantResult, history, result, yuan
from contract_tests.metrics import DO_TRADE_CTE, ERP_TRADE_DOCUMENTS_CTE, NEVER

CANCELLED_STATUS = 5
DEFAULT_GRACE_SECONDS = 3.0
GRACE_OBJECTIVE = "cancel_to_wms_p99_seconds"

DESCRIPTIONS = {
    "cancelled_not_shipped": (
        "a trade cancelled in the OMS before its picking started has no live WMS delivery"
        " order (none shipped) and no SAL_OUTSTOCK or AR_receivable"
    ),
}

# Each cancelled trade's delivery orders with when picking started: the first PICK state row
# of the order's code (NEVER if it never did), looked up through the history's entity index
# for these few orders only. A trade is judged unless one of them was picked too soon after
# the cancellation to be stopped.
_SCOPE = f"""WITH {DO_TRADE_CTE}, {ERP_TRADE_DOCUMENTS_CTE},
    cancelled AS (
        SELECT trade_no, src_tid, shop_no, cancelled_sim, cancelled_wall FROM oms.orders
        WHERE trade_status = {CANCELLED_STATUS}
    ),
    orders AS (
        SELECT c.trade_no, c.cancelled_wall, t.delivery_order_id, t.delivery_order_code,
               t.status,
               COALESCE((SELECT MIN(e.wall_time) FROM wms.events AS e
                         WHERE e.entity = t.delivery_order_code AND e.kind = 'state'
                           AND e.operation = 'deliveryorder' AND e.outcome = 'PICK'),
                        {NEVER}) AS picked_wall
        FROM cancelled AS c JOIN do_trade AS t ON t.trade_no = c.trade_no
    ),
    judged AS (
        SELECT c.* FROM cancelled AS c
        WHERE NOT EXISTS (
            SELECT 1 FROM orders AS o WHERE o.trade_no = c.trade_no
              AND o.picked_wall <= COALESCE(c.cancelled_wall, 0) + :grace)
    )"""


def cancelled_not_shipped(
    conn: sqlite3.Connection, objectives: Mapping[str, float]
) -> InvariantResult:
    grace = {"grace": float(objectives.get(GRACE_OBJECTIVE, DEFAULT_GRACE_SECONDS))}
    checked = int(conn.execute(_SCOPE + " SELECT COUNT(*) FROM judged", grace).fetchone()[0])
    rows = conn.execute(
        _SCOPE
        + """
        SELECT j.trade_no, j.src_tid, j.cancelled_sim,
               (SELECT group_concat(o.delivery_order_id || ' ' || o.status, ', ') FROM orders AS o
                WHERE o.trade_no = j.trade_no AND o.status <> 'CANCELED') AS live,
               (SELECT COUNT(*) FROM orders AS o WHERE o.trade_no = j.trade_no
                  AND o.status IN ('DELIVERED', 'PARTDELIVERED')) AS shipped,
               (SELECT COUNT(*) FROM trade_documents AS d WHERE d.trade_no = j.trade_no) AS docs
        FROM judged AS j
        WHERE live IS NOT NULL OR docs > 0
        ORDER BY j.cancelled_wall, j.trade_no""",
        grace,
    ).fetchall()
    breakdown: dict[str, int] = {}
    examples: list[dict[str, Any]] = []
    for row in rows:
        problems = []
        if row["shipped"]:
            problems.append("shipped")
        elif row["live"] is not None:
            problems.append("delivery order not cancelled")
        if row["docs"]:
            problems.append("ERP documents")
        for problem in problems:
            breakdown[problem] = breakdown.get(problem, 0) + 1
        if len(examples) >= MAX_EXAMPLES:
            continue
        documents = [
            {
                "fid": d["fid"],
                "form_id": d["form_id"],
                "bill_no": d["bill_no"],
                "document_status": d["document_status"],
                "amount": yuan(d["amount_cents"]),
            }
            for d in conn.execute(
                "WITH " + ERP_TRADE_DOCUMENTS_CTE + " SELECT * FROM trade_documents"
                " WHERE trade_no = ? ORDER BY fid",
                (row["trade_no"],),
            )
        ]
        examples.append(
            {
                "entity": row["trade_no"],
                "problem": "; ".join(problems),
                "cancelled_sim": row["cancelled_sim"],
                "expected": "every delivery order CANCELED, no SAL_OUTSTOCK or AR_receivable",
                "observed": {
                    "live delivery orders": row["live"] or "none",
                    "erp_documents": len(documents),
                },
                "erp_documents": documents,
                "history": history(conn, ("oms", "wms", "erp"), (row["trade_no"], row["src_tid"])),
            }
        )
    return result(
        "cancelled_not_shipped",
        DESCRIPTIONS["cancelled_not_shipped"],
        checked,
        len(rows),
        examples,
        breakdown,
    )


CHECKS = (cancelled_not_shipped,)
