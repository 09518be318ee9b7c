"""Cancellations before shipment.

`cancelled_not_shipped`: a trade the OMS cancelled (trade_status 5) while its delivery order
could still be stopped ships nothing and is booked nowhere. "Could still be stopped": the
WMS had not started picking it by the time the OMS cancelled it plus the `cancel_to_wms`
objective (3 s wall by default), the time a connector is given to carry a cancellation to
the WMS.

`cancelled_after_picking_returned`: a trade the buyer asked to cancel (a refund before
shipment, type 1) when a picker had already started on it (by the request plus the same
allowance; the WMS then answers `order.cancel` with CANCELEDFAIL) is stopped at the carrier
or comes back: its parcel is intercepted or returned to the sender, and never ends signed
for by the buyer with the refund still waiting. The two checks split the cancelled trades
between them by that one boundary.
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
    "cancelled_after_picking_returned": (
        "a trade the buyer cancelled after its picking started is intercepted at the carrier"
        " or returned to the sender, and never ends delivered with the refund not agreed"
    ),
}


REFUND_BEFORE_SHIPMENT = 1
REFUND_CANCELLED = 10
REFUND_SETTLED = 80
# Trades the buyer asked to cancel, refund agreed or not: a refund before shipment (type 1,
# not withdrawn) of every line. Until the goods are back such a trade is no sale: the
# propagation checks leave it to the cancellation checks.
CANCEL_REQUESTED_TRADES = f"""
    SELECT r.trade_no FROM oms.refunds AS r
    WHERE r.type = {REFUND_BEFORE_SHIPMENT} AND r.status <> {REFUND_CANCELLED}
      AND NOT EXISTS (SELECT 1 FROM oms.order_lines AS l
                      WHERE l.trade_no = r.trade_no AND l.refund_status NOT IN (2, 5))"""
# Kdniao StateEx of a parcel stopped or on its way back: refused (404), back with the sender
# (406), intercepted (413).
STOPPED_STATE_EX = ("404", "406", "413")
# An interception the carrier accepted (carrier.intercepts.status), acted on yet or not.
ACCEPTED_INTERCEPTS = ("requested", "intercepted", "returned")

# When picking of delivery order `t` started: the first PICK state row of its code (NEVER if
# it never did), looked up through the history's entity index for these few orders only.
PICKED_WALL = f"""COALESCE((SELECT MIN(e.wall_time) FROM wms.events AS e
                 WHERE e.entity = t.delivery_order_code AND e.kind = 'state'
                   AND e.operation = 'deliveryorder' AND e.outcome = 'PICK'), {NEVER})"""

# Each cancelled trade's delivery orders with when picking started. A trade is judged unless
# one of them was picked too soon after the cancellation to be stopped.
_SCOPE = f"""WITH {DO_TRADE_CTE}, {ERP_TRADE_DOCUMENTS_CTE},
    asked AS (
        SELECT r.trade_no, MIN(r.created_sim) AS asked_sim, MIN(e.wall_time) AS asked_wall
        FROM oms.refunds AS r JOIN oms.events AS e
          ON e.entity = r.refund_no AND e.kind = 'state' AND e.operation = 'refund'
         AND e.outcome = '20'
        WHERE r.type = {REFUND_BEFORE_SHIPMENT} AND r.status <> {REFUND_CANCELLED}
        GROUP BY r.trade_no
    ),
    cancelled AS (
        SELECT o.trade_no, o.src_tid, o.shop_no, COALESCE(o.cancelled_sim, a.asked_sim)
                   AS cancelled_sim,
               COALESCE(a.asked_wall, o.cancelled_wall) AS cancelled_wall
        FROM oms.orders AS o LEFT JOIN asked AS a ON a.trade_no = o.trade_no
        WHERE o.trade_status = {CANCELLED_STATUS}
           OR o.trade_no IN ({CANCEL_REQUESTED_TRADES})
    ),
    orders AS (
        SELECT c.trade_no, c.cancelled_wall, t.delivery_order_id, t.delivery_order_code,
               t.status,
               {PICKED_WALL} AS picked_wall
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


# Each buyer's refund before shipment with when it was asked (its first history row, status
# 20), the trade's delivery orders with when picking started, and the trades judged: one of
# whose orders was picked no later than the request plus the allowance. Their parcels: the
# OMS's waybill, a waybill requested for the trade, and the delivery orders' waybills, each
# package's of an order shipped in several.
AFTER_PICKING_CTE = f"""{DO_TRADE_CTE},
    requests AS (
        SELECT r.trade_no, r.refund_no, r.status AS refund_status, r.created_sim,
               (SELECT MIN(e.wall_time) FROM oms.events AS e
                WHERE e.entity = r.refund_no AND e.kind = 'state'
                  AND e.operation = 'refund' AND e.outcome = '20') AS asked_wall
        FROM oms.refunds AS r
        WHERE r.type = {REFUND_BEFORE_SHIPMENT} AND r.status <> {REFUND_CANCELLED}
    ),
    orders AS (
        SELECT q.trade_no, t.delivery_order_id, t.delivery_order_code, t.status,
               t.express_code,
               {PICKED_WALL} AS picked_wall
        FROM requests AS q JOIN do_trade AS t ON t.trade_no = q.trade_no
    ),
    judged AS (
        SELECT q.* FROM requests AS q
        WHERE EXISTS (
            SELECT 1 FROM orders AS o WHERE o.trade_no = q.trade_no
              AND o.picked_wall <= COALESCE(q.asked_wall, 0) + :grace)
    ),
    trade_waybills AS (
        SELECT o.trade_no, o.logistics_no AS logistic_code FROM oms.orders AS o
        WHERE o.trade_no IN (SELECT trade_no FROM judged) AND o.logistics_no IS NOT NULL
        UNION
        SELECT w.order_code, w.logistic_code FROM carrier.waybills AS w
        WHERE w.order_code IN (SELECT trade_no FROM judged)
        UNION
        SELECT o.trade_no, o.express_code FROM orders AS o
        WHERE o.trade_no IN (SELECT trade_no FROM judged) AND o.express_code IS NOT NULL
        UNION
        -- Every package of an order the WMS shipped in several: the later ones have waybills
        -- of their own, which neither the OMS nor the order's row names.
        SELECT o.trade_no, json_extract(e.payload, '$.expressCode') FROM orders AS o
        JOIN wms.events AS e ON e.entity = o.delivery_order_code
        WHERE o.trade_no IN (SELECT trade_no FROM judged) AND e.kind = 'state'
          AND e.operation = 'deliveryorder' AND e.outcome IN ('PARTDELIVERED', 'DELIVERED')
          AND json_extract(e.payload, '$.deliveryOrderId') = o.delivery_order_id
          AND json_extract(e.payload, '$.expressCode') IS NOT NULL
    ),
    parcels AS (
        SELECT t.trade_no, p.logistic_code, p.state, p.state_ex,
               i.status AS intercept, i.requested_wall
        FROM trade_waybills AS t JOIN carrier.parcels AS p ON p.logistic_code = t.logistic_code
        LEFT JOIN carrier.intercepts AS i ON i.logistic_code = p.logistic_code
    )"""


def cancelled_after_picking_returned(
    conn: sqlite3.Connection, objectives: Mapping[str, float]
) -> InvariantResult:
    """A trade cancelled after picking: none of its parcels reached the buyer, and each one
    that left was intercepted or came back (docs/JUDGE.md)."""
    grace = {"grace": float(objectives.get(GRACE_OBJECTIVE, DEFAULT_GRACE_SECONDS))}
    checked = int(
        conn.execute(
            "WITH " + AFTER_PICKING_CTE + " SELECT COUNT(*) FROM judged", grace
        ).fetchone()[0]
    )
    stopped = ", ".join(f"'{state}'" for state in STOPPED_STATE_EX)
    accepted = ", ".join(f"'{status}'" for status in ACCEPTED_INTERCEPTS)
    rows = conn.execute(
        "WITH "
        + AFTER_PICKING_CTE
        + f""",
        outcome AS (
            SELECT j.trade_no, j.refund_no, j.refund_status, j.created_sim,
                   (SELECT COUNT(*) FROM parcels AS p WHERE p.trade_no = j.trade_no
                      AND p.state = 3) AS signed,
                   (SELECT COUNT(*) FROM parcels AS p WHERE p.trade_no = j.trade_no
                      AND p.state <> 3 AND p.state_ex NOT IN ({stopped})
                      AND COALESCE(p.intercept, '') NOT IN ({accepted})) AS unstopped,
                   (SELECT group_concat(p.logistic_code || ' ' || p.state || '/' || p.state_ex
                           || COALESCE(' intercept ' || p.intercept, ''), ', ')
                    FROM parcels AS p WHERE p.trade_no = j.trade_no) AS parcel_list,
                   (SELECT group_concat(p.logistic_code, ' ') FROM parcels AS p
                    WHERE p.trade_no = j.trade_no) AS codes
            FROM judged AS j
        )
        SELECT * FROM outcome WHERE signed > 0 OR unstopped > 0
        ORDER BY created_sim, trade_no""",
        grace,
    ).fetchall()
    breakdown: dict[str, int] = {}
    examples: list[dict[str, Any]] = []
    for row in rows:
        refunded = row["refund_status"] >= REFUND_SETTLED
        if row["signed"]:
            problem = "delivered, refund not agreed" if not refunded else "delivered"
        else:
            problem = "not intercepted"
        breakdown[problem] = breakdown.get(problem, 0) + 1
        if len(examples) >= MAX_EXAMPLES:
            continue
        codes = str(row["codes"] or "").split()
        examples.append(
            {
                "entity": row["trade_no"],
                "problem": problem,
                "refund_no": row["refund_no"],
                "expected": (
                    "every parcel that left intercepted or returned to the sender, none signed"
                    " for by the buyer; the refund agreed once the goods are back"
                ),
                "observed": {"parcels": row["parcel_list"], "refund_status": row["refund_status"]},
                "history": history(
                    conn, ("oms", "wms", "carrier"), (row["trade_no"], row["refund_no"], *codes)
                ),
            }
        )
    return result(
        "cancelled_after_picking_returned",
        DESCRIPTIONS["cancelled_after_picking_returned"],
        checked,
        len(rows),
        examples,
        breakdown,
    )


CHECKS = (cancelled_not_shipped, cancelled_after_picking_returned)
