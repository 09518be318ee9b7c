"""Causality invariants: each downstream action follows the upstream event that allows it.

`booked_after_wms_shipped` is here; its twin for the carrier, `completed_only_when_signed`,
is in invariants.py. All five fakes stamp their rows and history with one clock
(`SystemContext.clock.wall()`, Unix seconds, in one process), and each records its own event
before it tells anyone: the WMS commits a shipment (state row, `delivered_wall`) before its
confirm is pushed, the carrier commits a signed parcel before its tracking push. So an OMS or
ERP row stamped earlier than the upstream event it depends on was written before that event
happened: it cannot have followed from it. Simulated time is not used: its text has whole
seconds, and one simulated second is a fraction of a wall second at the scales the scenarios
run.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from typing import Any

from contract_tests.evidence import MAX_EXAMPLES, InvariantResult, history, result, scalar
from contract_tests.metrics import ERP_TRADE_DOCUMENTS_CTE, NEVER, WMS_SHIPPED_CTE

DESCRIPTIONS = {
    "booked_after_wms_shipped": (
        "the OMS marks a trade shipped, and the ERP saves its documents, only after the WMS"
        " shipped it"
    ),
}


def _seconds_before(action_wall: float, event_wall: float) -> str:
    if event_wall >= NEVER:
        return "while the WMS never shipped it"
    return f"{event_wall - action_wall:.3f} s before the WMS shipped it"


def booked_after_wms_shipped(
    conn: sqlite3.Connection, objectives: Mapping[str, float]
) -> InvariantResult:
    """Every OMS `shipped_wall` and every ERP document's `saved_wall` of a trade comes after
    the WMS shipped it (one violation per trade, its early acts listed)."""
    scope = f"""WITH {WMS_SHIPPED_CTE}, {ERP_TRADE_DOCUMENTS_CTE},
        acts AS (
            SELECT trade_no, 'OMS shipped' AS act, shipped_wall AS wall, NULL AS fid,
                   NULL AS bill_no
            FROM oms.orders WHERE shipped_wall IS NOT NULL
            UNION ALL
            SELECT trade_no, form_id || ' saved', saved_wall, fid, bill_no
            FROM trade_documents
        ),
        -- Trades a forged confirm named are no_action_on_forged_push's: it names the push.
        forged AS (
            SELECT t.trade_no FROM do_trade AS t JOIN wms.events AS e
                ON e.kind = 'push_forged' AND e.operation = 'deliveryorder.confirm'
               AND e.entity = t.delivery_order_code
        )"""
    checked = scalar(conn, scope + " SELECT COUNT(DISTINCT trade_no) FROM acts")
    rows = conn.execute(
        scope
        + f"""
        SELECT a.trade_no, a.act, a.wall, a.fid, a.bill_no,
               COALESCE(s.wall, {NEVER}) AS shipped_wall
        FROM acts AS a LEFT JOIN wms_shipped AS s ON s.trade_no = a.trade_no
        WHERE a.wall < COALESCE(s.wall, {NEVER})
          AND a.trade_no NOT IN (SELECT trade_no FROM forged WHERE trade_no IS NOT NULL)
        ORDER BY a.trade_no, a.wall, a.act"""
    ).fetchall()
    early: dict[str, list[sqlite3.Row]] = {}
    for row in rows:
        early.setdefault(row["trade_no"], []).append(row)
    breakdown: dict[str, int] = {}
    examples: list[dict[str, Any]] = []
    for trade_no, acts in early.items():
        for act in {row["act"] for row in acts}:
            breakdown[f"{act} early"] = breakdown.get(f"{act} early", 0) + 1
        if len(examples) >= MAX_EXAMPLES:
            continue
        shipped_wall = acts[0]["shipped_wall"]
        examples.append(
            {
                "entity": trade_no,
                "problem": ", ".join(sorted({row["act"] for row in acts}))
                + " before the WMS shipped the order",
                "expected": "nothing shipped or booked until the WMS ships the order",
                "observed": [
                    f"{row['act']}"
                    + (f" (bill {row['bill_no']}, fid {row['fid']})" if row["fid"] else "")
                    + f" {_seconds_before(row['wall'], shipped_wall)}"
                    for row in acts
                ],
                "wms_shipped_wall": None if shipped_wall >= NEVER else shipped_wall,
                "history": history(
                    conn,
                    ("wms", "oms", "erp"),
                    (trade_no, *(str(row["bill_no"]) for row in acts if row["bill_no"])),
                ),
            }
        )
    return result(
        "booked_after_wms_shipped",
        DESCRIPTIONS["booked_after_wms_shipped"],
        checked,
        len(early),
        examples,
        dict(sorted(breakdown.items())),
    )


CHECKS = (booked_after_wms_shipped,)
