"""Partial shipments: an order the WMS shipped in several packages (a PARTDELIVERED confirm,
confirmType 1, then the final one) is carried package by package.

The packages are the WMS's state rows (`wms.events`, outcome PARTDELIVERED or DELIVERED, with a
`package` number and the package's `expressCode`); the OMS's waybills are its logistics sync
records (one per package of a split shipment, 拆单发货) and the trade's `logistics_no`; the ERP's
quantities are the trade's SAL_OUTSTOCK entries (documents found as everywhere, by bill number
or FNote).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from contract_tests import cancellations
from contract_tests.evidence import InvariantResult, history, rows_result
from contract_tests.metrics import DO_TRADE_CTE, ERP_TRADE_DOCUMENTS_CTE, SALES_OUTSTOCK
from fake_systems.oms.models import TradeStatus

DESCRIPTIONS = {
    "partial_shipments_complete": (
        "every order the WMS shipped in packages adds up to the trade's ordered units, each"
        " package's waybill is in the OMS for the trade, and the trade's SAL_OUTSTOCK books"
        " per item what the packages shipped"
    ),
}

# Delivery orders shipped in packages (a state row with a package number), DELIVERED, of a
# trade neither cancelled nor asked to be (the cancellation checks judge those).
_SPLIT_ORDERS = f"""WITH {DO_TRADE_CTE}
    SELECT DISTINCT t.delivery_order_id, t.delivery_order_code, t.trade_no, t.delivered_wall
    FROM do_trade AS t JOIN oms.orders AS o ON o.trade_no = t.trade_no
    WHERE t.status = 'DELIVERED' AND o.trade_status <> {int(TradeStatus.CANCELLED)}
      AND t.trade_no NOT IN ({cancellations.CANCEL_REQUESTED_TRADES})
      AND EXISTS (SELECT 1 FROM wms.events AS e
                  WHERE e.entity = t.delivery_order_code AND e.kind = 'state'
                    AND e.operation = 'deliveryorder' AND e.outcome = 'PARTDELIVERED'
                    AND json_extract(e.payload, '$.deliveryOrderId') = t.delivery_order_id)
    ORDER BY t.delivered_wall, t.trade_no"""
_PACKAGES = """
    SELECT json_extract(payload, '$.package') AS number,
           json_extract(payload, '$.expressCode') AS express_code
    FROM wms.events
    WHERE entity = ? AND kind = 'state' AND operation = 'deliveryorder'
      AND outcome IN ('PARTDELIVERED', 'DELIVERED')
      AND json_extract(payload, '$.deliveryOrderId') = ?
    ORDER BY number"""
_OMS_WAYBILLS = """
    SELECT logistics_no FROM oms.logistics_syncs WHERE trade_no = ?
    UNION SELECT logistics_no FROM oms.orders WHERE trade_no = ? AND logistics_no IS NOT NULL"""
_OUTSTOCK = f"""WITH {ERP_TRADE_DOCUMENTS_CTE}
    SELECT e.material_number AS item, SUM(e.qty) AS qty, COUNT(DISTINCT d.fid) AS documents
    FROM trade_documents AS d JOIN erp.document_entries AS e ON e.fid = d.fid
    WHERE d.trade_no = ? AND d.form_id = '{SALES_OUTSTOCK}' AND d.document_status = 'C'
    GROUP BY e.material_number"""


@dataclass
class SplitOrder:
    """One delivery order shipped in packages, and what each system says of it."""

    delivery_order_id: str
    code: str
    trade_no: str
    ordered: int = 0
    packages: list[tuple[int, str]] = field(default_factory=list)  # (number, expressCode)
    shipped: dict[str, int] = field(default_factory=dict)  # item -> units, all packages
    oms_waybills: set[str] = field(default_factory=set)
    booked: dict[str, int] | None = None  # item -> SAL_OUTSTOCK units; None: no outstock yet

    @property
    def missing_waybills(self) -> list[str]:
        return [code for _, code in self.packages if code not in self.oms_waybills]


def _load(conn: sqlite3.Connection, row: sqlite3.Row) -> SplitOrder:
    order = SplitOrder(row["delivery_order_id"], row["delivery_order_code"], row["trade_no"])
    order.ordered = int(
        conn.execute(
            "SELECT COALESCE(SUM(num), 0) FROM oms.order_lines WHERE trade_no = ?",
            (order.trade_no,),
        ).fetchone()[0]
    )
    order.packages = [
        (int(p["number"] or 1), str(p["express_code"]))
        for p in conn.execute(_PACKAGES, (order.code, order.delivery_order_id))
    ]
    for line in conn.execute(
        "SELECT item_code, SUM(COALESCE(actual_qty, 0)) AS qty FROM wms.delivery_order_lines"
        " WHERE delivery_order_id = ? GROUP BY item_code",
        (order.delivery_order_id,),
    ):
        order.shipped[line["item_code"]] = int(line["qty"])
    order.oms_waybills = {
        str(w[0]) for w in conn.execute(_OMS_WAYBILLS, (order.trade_no, order.trade_no))
    }
    booked = conn.execute(_OUTSTOCK, (order.trade_no,)).fetchall()
    if booked:
        order.booked = {b["item"]: int(b["qty"]) for b in booked}
    return order


def _problems(order: SplitOrder) -> list[str]:
    problems = []
    if sum(order.shipped.values()) != order.ordered:
        problems.append("packages short of the order")
    if order.missing_waybills:
        problems.append("package waybill not in the OMS")
    # A trade with no outstock at all is erp_outstock_audited's business (missing).
    if order.booked is not None and order.booked != order.shipped:
        problems.append("outstock differs from the packages")
    return problems


def _example(conn: sqlite3.Connection, order: SplitOrder, problems: list[str]) -> dict[str, Any]:
    return {
        "entity": order.trade_no,
        "delivery_order_code": order.code,
        "problem": "; ".join(problems),
        "expected": {
            "units": order.ordered,
            "oms_waybills": [code for _, code in order.packages],
            "outstock": order.shipped,
        },
        "observed": {
            "units": sum(order.shipped.values()),
            "packages": {str(number): code for number, code in order.packages},
            "oms_waybills": sorted(order.oms_waybills),
            "missing_waybills": order.missing_waybills,
            "outstock": order.booked,
        },
        "history": history(conn, ("oms", "wms", "erp"), (order.trade_no, order.code)),
    }


def partial_shipments_complete(
    conn: sqlite3.Connection, objectives: Mapping[str, float]
) -> InvariantResult:
    orders = [_load(conn, row) for row in conn.execute(_SPLIT_ORDERS).fetchall()]
    return rows_result(
        "partial_shipments_complete",
        DESCRIPTIONS["partial_shipments_complete"],
        orders,
        _problems,
        lambda order, problems: _example(conn, order, problems),
    )


CHECKS = (partial_shipments_complete,)
