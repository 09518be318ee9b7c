"""Split trades: the sub-orders of a platform order the OMS split (trade_mask 2048) cover its
lines exactly once at the WMS, each line under its own sub-order's delivery order.

A delivery order line names its OMS line by `orderLineNo` (the contract's `rec_id`; the
platform's `src_oid` is taken too) and item. The other checks look at one trade at a time
(`no_lost_orders`, `wms_lines_match_oms`); this one looks at the platform order, so that a
line sent twice, or under a sibling sub-order to the sibling's warehouse, is named as such.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from contract_tests.evidence import InvariantResult, history, rows_result
from contract_tests.metrics import DO_TRADE_MATERIALIZED_CTE
from fake_systems.oms.models import TRADE_MASK_SPLIT, TradeStatus

CANCELLED = int(TradeStatus.CANCELLED)

DESCRIPTIONS = {
    "split_trade_covered_once": (
        "the sub-orders of each split trade (trade_mask 2048) cover its lines exactly once:"
        " every line not cancelled is in exactly one live WMS delivery order, its own"
        " sub-order's, with its quantity"
    ),
}

# The lines of split sub-orders not cancelled: what must be covered.
_LINES = f"""
    SELECT o.shop_no, o.src_tid, o.trade_no, o.warehouse_no, l.rec_id, l.src_oid, l.spec_no,
           l.num
    FROM oms.orders AS o JOIN oms.order_lines AS l ON l.trade_no = o.trade_no
    WHERE (o.trade_mask & {TRADE_MASK_SPLIT}) <> 0 AND o.trade_status <> {CANCELLED}
    ORDER BY o.paid_wall, o.trade_no, l.rec_id"""
# Every line of a live delivery order of a split sub-order (cancelled or not): what covers.
_COVERING = f"""
    WITH {DO_TRADE_MATERIALIZED_CTE}
    SELECT o.shop_no, o.src_tid, t.trade_no, t.warehouse_code, l.order_line_no, l.item_code,
           l.plan_qty
    FROM oms.orders AS o JOIN do_trade AS t ON t.trade_no = o.trade_no
    JOIN wms.delivery_order_lines AS l ON l.delivery_order_id = t.delivery_order_id
    WHERE (o.trade_mask & {TRADE_MASK_SPLIT}) <> 0 AND t.status <> 'CANCELED'"""


@dataclass
class PlatformOrder:
    """One split platform order: its sub-orders and, per line, what the WMS holds of it."""

    shop_no: str
    src_tid: str
    sub_orders: dict[str, str] = field(default_factory=dict)  # trade_no -> warehouse
    lines: list[dict[str, Any]] = field(default_factory=list)


def split_trade_covered_once(
    conn: sqlite3.Connection, objectives: Mapping[str, float]
) -> InvariantResult:
    covering: dict[tuple[str, str], list[sqlite3.Row]] = {}
    for row in conn.execute(_COVERING):
        covering.setdefault((row["shop_no"], row["src_tid"]), []).append(row)
    orders: dict[tuple[str, str], PlatformOrder] = {}
    for line in conn.execute(_LINES):
        key = (line["shop_no"], line["src_tid"])
        order = orders.setdefault(key, PlatformOrder(*key))
        order.sub_orders[line["trade_no"]] = line["warehouse_no"]
        names = {str(line["rec_id"]), line["src_oid"]}
        copies = [
            c
            for c in covering.get(key, ())
            if c["order_line_no"] in names and c["item_code"] == line["spec_no"]
        ]
        order.lines.append(
            {
                "oid": line["src_oid"],
                "trade_no": line["trade_no"],
                "spec_no": line["spec_no"],
                "num": line["num"],
                "sent": [
                    {"under": c["trade_no"], "warehouse": c["warehouse_code"], "qty": c["plan_qty"]}
                    for c in copies
                ],
            }
        )

    def example(order: PlatformOrder, problems: list[str]) -> dict[str, Any]:
        return {
            "entity": order.src_tid,
            "shop_no": order.shop_no,
            "sub_orders": order.sub_orders,
            "problem": "; ".join(problems),
            "expected": "each line in exactly one live delivery order: its own sub-order's,"
            " with its quantity",
            "observed": {
                line["oid"]: {"sub_order": line["trade_no"], "sent": line["sent"]}
                for line in order.lines
                if _line_problem(line)
            },
            "history": history(conn, ("oms", "wms"), (order.src_tid, *order.sub_orders)),
        }

    return rows_result(
        "split_trade_covered_once",
        DESCRIPTIONS["split_trade_covered_once"],
        orders.values(),
        _problems,
        example,
    )


def _line_problem(line: dict[str, Any]) -> str | None:
    sent = line["sent"]
    if not sent:
        return "line missing"
    if len(sent) > 1:
        return "line sent twice"
    if sent[0]["under"] != line["trade_no"]:
        return "line sent under another sub-order"
    if sent[0]["qty"] != line["num"]:
        return "line with another quantity"
    return None


def _problems(order: PlatformOrder) -> list[str]:
    """The platform order's kinds of problem, each once."""
    return list(dict.fromkeys(p for p in map(_line_problem, order.lines) if p is not None))


CHECKS = (split_trade_covered_once,)
