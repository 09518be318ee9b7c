"""Order counts and latency samples over an attached run: cheap enough to poll during a run."""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

# Maps WMS delivery orders to the OMS trades they fulfil (unmatched ones are left out). The
# contract says deliveryOrderCode = trade_no; a connector that used the platform order (src_tid)
# as its key is still matched through sourceOrderCode, but only when the code names no trade,
# so one delivery order never maps to a trade twice. Both ways the cargo owner must be the
# trade's: another owner may use the same code, and its order is not this trade's. The
# fallback is a CROSS JOIN so SQLite keeps the (normally empty) unmatched delivery orders as
# the outer loop: the temporary index on src_tid is only built when some delivery order needs
# it.
_DO_COLUMNS = (
    "d.delivery_order_id, d.delivery_order_code, d.status, d.express_code,"
    " d.warehouse_code, d.created_wall, d.delivered_wall"
)
_DO_TRADE_QUERY = f"""(
    SELECT {_DO_COLUMNS}, o.trade_no
    FROM wms.delivery_orders AS d JOIN oms.orders AS o
        ON o.trade_no = d.delivery_order_code AND o.owner_code = d.owner_code
    UNION ALL
    SELECT {_DO_COLUMNS}, o.trade_no
    FROM wms.delivery_orders AS d
    LEFT JOIN oms.orders AS by_code
        ON by_code.trade_no = d.delivery_order_code AND by_code.owner_code = d.owner_code
    CROSS JOIN oms.orders AS o
    WHERE by_code.trade_no IS NULL AND d.source_order_code <> ''
      AND o.src_tid = d.source_order_code AND o.owner_code = d.owner_code
)"""
DO_TRADE_CTE = f"\ndo_trade AS {_DO_TRADE_QUERY}"

# The same, computed once for the query: where the planner would otherwise walk every order
# for every delivery-order line (its second branch has no index to search orders by src_tid),
# as in split_trade_covered_once (5,000 orders: 7.4 s -> 0.01 s). Not the default: the live
# counts, which look up a few trades, are faster flattened.
DO_TRADE_MATERIALIZED_CTE = f"\ndo_trade AS MATERIALIZED {_DO_TRADE_QUERY}"

NEVER = 1e300  # the "time" of an event that never happened: later than any action
# When the WMS shipped each trade: the first PARTDELIVERED or DELIVERED state row of any of
# its delivery orders (the history is keyed by deliveryOrderCode), else the order's
# delivered_wall; NEVER for a trade none of whose delivery orders shipped.
WMS_SHIPPED_CTE = f"""{DO_TRADE_CTE},
first_shipment AS (
    SELECT entity, MIN(wall_time) AS wall FROM wms.events
    WHERE kind = 'state' AND operation = 'deliveryorder'
      AND outcome IN ('PARTDELIVERED', 'DELIVERED')
    GROUP BY entity
),
wms_shipped AS (
    SELECT t.trade_no,
           MIN(MIN(COALESCE(t.delivered_wall, {NEVER}), COALESCE(s.wall, {NEVER}))) AS wall
    FROM do_trade AS t LEFT JOIN first_shipment AS s ON s.entity = t.delivery_order_code
    WHERE t.trade_no IS NOT NULL
    GROUP BY t.trade_no
)"""

PAID_STATUSES = (30, 95, 110)
SHIPPED_STATUSES = (95, 110)
COMPLETED_STATUS = 110
SALES_OUTSTOCK = "SAL_OUTSTOCK"
RECEIVABLE = "AR_receivable"
SALES_RETURN = "SAL_RETURNSTOCK"
PURCHASE_ORDER, INSTOCK, PAYABLE = "PUR_PurchaseOrder", "STK_InStock", "AP_Payable"
PAYMENT = "AP_PAYBILL"
FLOWS = (
    "paid_to_wms",
    "shipped_to_oms",
    "shipped_to_erp",
    "cancel_to_wms",
    "cancel_to_intercept",
    "return_to_refund",
)

# A document's trade: its bill number, or its note (FNote), naming an OMS trade of the same
# shop (bill numbers are per owner, so the customer must match too). The note is how a
# document under another number still names its trade, as sourceOrderCode does at the WMS.
# Two indexed joins in a UNION, not one join on an OR, which SQLite would run as a scan per
# document.
# Red receivables (negative amounts: a return's refund) are not the trade's booking of its
# sale; contract_tests/returns.py judges them.
ERP_TRADE_DOCUMENTS_CTE = f"""
trade_documents AS (
    SELECT d.fid, d.form_id, d.bill_no, d.document_status, d.amount_cents, d.saved_wall,
           o.trade_no
    FROM erp.documents AS d JOIN oms.orders AS o
        ON o.trade_no = d.bill_no AND o.shop_no = d.customer_number
    WHERE d.form_id IN ('{SALES_OUTSTOCK}', '{RECEIVABLE}') AND d.amount_cents >= 0
    UNION
    SELECT d.fid, d.form_id, d.bill_no, d.document_status, d.amount_cents, d.saved_wall,
           o.trade_no
    FROM erp.documents AS d JOIN oms.orders AS o
        ON o.trade_no = d.note AND o.shop_no = d.customer_number
    WHERE d.form_id IN ('{SALES_OUTSTOCK}', '{RECEIVABLE}') AND d.note IS NOT NULL
      AND d.amount_cents >= 0
)"""

# Agreed return refunds (seller agreed: 30 and on, not cancelled) and the buyer's parcel once
# it is at the warehouse (NULL before).
AGREED_RETURNS_CTE = """
agreed_returns AS (
    SELECT r.refund_no, r.trade_no, r.src_tid, r.shop_no, r.owner_code, r.status,
           r.refund_cents, r.logistics_no, p.arrived_sim, p.arrived_wall
    FROM oms.refunds AS r
    LEFT JOIN wms.return_parcels AS p
        ON p.logistics_no = r.logistics_no AND p.owner_code = r.owner_code
    WHERE r.type = 2 AND r.status >= 30
)"""
# The ERP's return documents of each agreed return: SAL_RETURNSTOCK and red AR_receivable
# linked (document_links) to a document of its trade, of the trade's shop, and named after the
# refund (bill number or note) unless the trade has no other return.
RETURN_DOCUMENTS_CTE = f"""{ERP_TRADE_DOCUMENTS_CTE}, {AGREED_RETURNS_CTE},
return_documents AS (
    SELECT DISTINCT d.fid, d.form_id, d.bill_no, d.document_status, d.amount_cents,
           d.audited_wall, a.refund_no, a.trade_no
    FROM erp.documents AS d
    JOIN erp.document_links AS l ON l.fid = d.fid
    JOIN trade_documents AS t ON t.bill_no = l.source_bill_no AND t.form_id = l.source_form_id
    JOIN agreed_returns AS a ON a.trade_no = t.trade_no AND a.shop_no = d.customer_number
    WHERE (d.form_id = '{SALES_RETURN}' OR (d.form_id = '{RECEIVABLE}' AND d.amount_cents < 0))
      AND (d.bill_no = a.refund_no OR d.note = a.refund_no
           OR (SELECT COUNT(*) FROM agreed_returns AS o WHERE o.trade_no = a.trade_no) = 1)
)"""

# A bank fee is an entry of sub-family CHRG, whatever its domain (bank_tx_code LIKE), and
# the bank's closed days come before the simulated date of its history's last row.
CHARGE = "%/CHRG"
CLOSED_BEFORE = "(SELECT substr(MAX(sim_time), 1, 10) FROM bank.events)"
FEES_UNBOOKED = f"""
    SELECT COUNT(*) FROM (
        SELECT DISTINCT e.account, e.booking_date FROM bank.entries AS e
        WHERE e.bank_tx_code LIKE '{CHARGE}' AND e.booking_date < {CLOSED_BEFORE}
          AND NOT EXISTS (
              SELECT 1 FROM erp.documents AS d
              WHERE d.form_id = 'GL_VOUCHER' AND d.document_status = 'C'
                AND 'STMT-' || e.account || '-' || replace(e.booking_date, '-', '')
                    IN (d.bill_no, d.note)))"""

_COUNT_QUERIES: dict[str, str] = {
    "created": "SELECT COUNT(*) FROM oms.orders",
    "at_wms": f"WITH {DO_TRADE_CTE} SELECT COUNT(DISTINCT trade_no) FROM do_trade",
    "shipped": "SELECT COUNT(*) FROM oms.orders WHERE trade_status IN (95, 110)",
    # Both forms audited for one bill number and customer (numbers are per owner; MIN <> MAX:
    # cheaper than COUNT(DISTINCT)).
    "invoiced": f"""
        SELECT COUNT(*) FROM (
            SELECT bill_no FROM erp.documents
            WHERE document_status = 'C' AND form_id IN ('{SALES_OUTSTOCK}', '{RECEIVABLE}')
            GROUP BY bill_no, customer_number HAVING MIN(form_id) <> MAX(form_id)
        )""",
    # Completed in the OMS, or signed at the carrier for a waybill the OMS order carries (or
    # that was requested for it): "delivered" counts what happened, not what was propagated.
    # Never a correlated subquery on a column that may lack an index: SQLite builds no
    # temporary index for those, and the count would turn quadratic.
    "delivered": """
        SELECT COUNT(*) FROM oms.orders AS o
        WHERE o.trade_status = 110
           OR EXISTS (
               SELECT 1 FROM carrier.parcels AS p
               WHERE p.logistic_code = o.logistics_no AND p.state = 3)
           OR o.trade_no IN (
               SELECT w.order_code FROM carrier.parcels AS p
               JOIN carrier.waybills AS w ON w.logistic_code = p.logistic_code
               WHERE p.state = 3)""",
    "completed": "SELECT COUNT(*) FROM oms.orders WHERE trade_status = 110",
    "cancelled": "SELECT COUNT(*) FROM oms.orders WHERE trade_status = 5",
    "backlog": """
        SELECT COUNT(*) FROM wms.delivery_orders WHERE status NOT IN ('DELIVERED', 'CANCELED')""",
    # Returns: buyers' parcels at a warehouse whose return refund the OMS has not settled yet
    # (the connector's to carry: return order, ERP, refund), and return refunds settled.
    "returns_open": """
        SELECT COUNT(*) FROM wms.return_parcels AS p
        JOIN oms.refunds AS r ON r.logistics_no = p.logistics_no AND r.owner_code = p.owner_code
        WHERE r.type = 2 AND r.status < 80""",
    "returned": "SELECT COUNT(*) FROM oms.refunds WHERE type = 2 AND status >= 80",
    # Supplier deliveries the WMS confirmed and the ERP has not booked yet: no audited stock-in
    # linked to the purchase order, or (when anything was accepted sound) no audited payable
    # linked to that stock-in. The connector's work, like `invoiced`: the drain waits for it.
    "receipts_unbooked": f"""
        SELECT COUNT(*) FROM wms.supplier_deliveries AS s
        JOIN wms.inbound_orders AS i
          ON i.inbound_order_id = s.inbound_order_id AND i.status = 'FULFILLED'
        WHERE NOT EXISTS (
            SELECT 1 FROM erp.document_links AS l JOIN erp.documents AS d ON d.fid = l.fid
            WHERE l.source_form_id = '{PURCHASE_ORDER}' AND l.source_bill_no = s.purchase_order_code
              AND d.form_id = '{INSTOCK}' AND d.document_status = 'C'
              AND (NOT EXISTS (
                       SELECT 1 FROM wms.inbound_quality AS q
                       WHERE q.inbound_order_id = s.inbound_order_id
                         AND q.inventory_type = 'ZP' AND q.qty > 0)
                   OR EXISTS (
                       SELECT 1 FROM erp.document_links AS pl
                       JOIN erp.documents AS p ON p.fid = pl.fid
                       WHERE pl.source_form_id = '{INSTOCK}' AND pl.source_bill_no = d.bill_no
                         AND p.form_id = '{PAYABLE}' AND p.document_status = 'C')))""",
    # Transfers between warehouses the ERP has not booked yet: shipped (DBCK) without an
    # audited STK_TRANSFEROUT, or received (DBRK) without an audited STK_TRANSFERIN (by bill
    # number or note = the transfer's code). The connector's work: the drain waits for it.
    "transfers_unbooked": """
        SELECT COUNT(*) FROM wms.stockout_orders AS o
        LEFT JOIN wms.inbound_orders AS i
          ON i.kind = 'entryorder' AND i.order_type = 'DBRK' AND i.owner_code = o.owner_code
         AND i.order_code = o.order_code
        WHERE o.order_type = 'DBCK' AND (
            NOT EXISTS (
                SELECT 1 FROM erp.documents AS d WHERE d.form_id = 'STK_TRANSFEROUT'
                  AND d.document_status = 'C'
                  AND (d.bill_no = o.order_code OR d.note = o.order_code))
            OR (i.status = 'FULFILLED' AND NOT EXISTS (
                SELECT 1 FROM erp.documents AS d WHERE d.form_id = 'STK_TRANSFERIN'
                  AND d.document_status = 'C'
                  AND (d.bill_no = o.order_code OR d.note = o.order_code))))""",
    # Purchase returns not done yet: a draft (not audited) PUR_MRB the WMS has not shipped, or
    # a CGTH stockout that shipped units without an audited PUR_MRB under its code with an
    # audited red AP_Payable linked to it. The connector's work: the drain waits for it.
    "purchase_returns_unbooked": f"""
        SELECT (SELECT COUNT(*) FROM erp.documents AS d
                WHERE d.form_id = 'PUR_MRB' AND d.document_status <> 'C' AND NOT EXISTS (
                    SELECT 1 FROM wms.stockout_orders AS o WHERE o.order_type = 'CGTH'
                      AND o.confirmed_wall IS NOT NULL AND o.order_code = d.bill_no
                      AND o.owner_code IS d.owner_code))
             + (SELECT COUNT(*) FROM wms.stockout_orders AS o
                WHERE o.order_type = 'CGTH' AND o.confirmed_wall IS NOT NULL
                  AND EXISTS (SELECT 1 FROM wms.stockout_order_lines AS l
                              WHERE l.stockout_order_id = o.stockout_order_id
                                AND l.actual_qty > 0)
                  AND NOT EXISTS (
                    SELECT 1 FROM erp.documents AS d
                    WHERE d.form_id = 'PUR_MRB' AND d.document_status = 'C'
                      AND d.bill_no = o.order_code AND d.owner_code IS o.owner_code
                      AND EXISTS (
                        SELECT 1 FROM erp.document_links AS pl
                        JOIN erp.documents AS p ON p.fid = pl.fid
                        WHERE pl.source_form_id = 'PUR_MRB' AND pl.source_bill_no = d.bill_no
                          AND p.form_id = '{PAYABLE}' AND p.document_status = 'C'
                          AND p.owner_code IS d.owner_code)))""",
    # Cycle counts the ERP has not booked yet: a count that found items over (under) the
    # books without an audited STK_StockCountGain (STK_StockCountLoss) by bill number or
    # note = the check order code (the flag before it). The connector's work: the drain
    # waits for it.
    "counts_unbooked": """
        SELECT COUNT(*) FROM wms.count_orders AS o
        WHERE EXISTS (
            SELECT 1 FROM (SELECT 'STK_StockCountGain' AS form, 1 AS sign
                           UNION ALL SELECT 'STK_StockCountLoss', -1) AS f
            WHERE EXISTS (SELECT 1 FROM wms.count_order_lines AS l
                          WHERE l.check_order_id = o.check_order_id
                            AND l.difference * f.sign > 0)
              AND NOT EXISTS (
                SELECT 1 FROM erp.documents AS d WHERE d.form_id = f.form
                  AND d.document_status = 'C'
                  AND (d.bill_no = o.check_order_code OR d.note = o.check_order_code
                       OR d.note = '[超差] ' || o.check_order_code)))""",
    # Bank payments still on their way (not yet settled or rejected), and payments the bank
    # settled that no audited payment bill books yet (by bill number = EndToEndId, or note =
    # the bank's entry): the bank's and the connector's work, the drain waits for it.
    "payments_unbooked": f"""
        SELECT COUNT(*) FROM bank.payments AS p
        WHERE p.status NOT IN ('ACSC', 'RJCT')
           OR (p.status = 'ACSC' AND NOT EXISTS (
                   SELECT 1 FROM erp.documents AS d
                   WHERE d.form_id = '{PAYMENT}' AND d.document_status = 'C'
                     AND (d.bill_no = p.end_to_end_id OR d.note = p.entry_ref)))""",
    # Closed days whose bank fees no audited voucher books yet (contract_tests/statements.py):
    # the connector's work, the drain and the settle phase wait for it.
    "bank_fees_unbooked": FEES_UNBOOKED,
    # Return orders the WMS is counting in (their parcel is there, the confirm not yet made):
    # the warehouse is at work, so the run is not stalled.
    "returns_receiving": """
        SELECT COUNT(*) FROM wms.inbound_orders AS i
        WHERE i.kind = 'returnorder' AND i.status IN ('NEW', 'ACCEPT')
          AND EXISTS (
              SELECT 1 FROM wms.return_parcels AS p WHERE p.owner_code = i.owner_code
                AND (p.logistics_no = i.express_code
                     OR (i.express_code IS NULL
                         AND p.pre_delivery_order_code = i.pre_delivery_order_code)))""",
}

ORDER_COUNT_KEYS = tuple(_COUNT_QUERIES)

# report.json's `flows`: what happened to the run's trades, counted from the fakes' tables (not
# from what the simulator planned). A cancelled trade (5) is counted at the stage its tables
# show: no delivery order (the connector never sent it: cancelled before pickup), or every
# delivery order cancelled at the WMS (before picking); a buyer's refund before shipment of
# a trade the WMS could not stop (a delivery order not cancelled: CANCELEDFAIL) is after
# picking, whatever became of it. Split: platform orders the OMS split (trade_mask 2048) and
# their sub-orders; partial: delivery orders the WMS shipped in two packages (PARTDELIVERED).
# Returns still open are `orders.returns_open`.
_CANCEL_REQUESTS = """
    SELECT DISTINCT r.trade_no FROM oms.refunds AS r WHERE r.type = 1 AND r.status <> 10"""
_FLOW_QUERIES: dict[str, str] = {
    "created": "SELECT COUNT(*) FROM oms.orders",
    "cancelled_before_pickup": f"""
        WITH {DO_TRADE_CTE}
        SELECT COUNT(*) FROM oms.orders AS o WHERE o.trade_status = 5
          AND o.trade_no NOT IN (SELECT trade_no FROM do_trade)""",
    "cancelled_before_picking": f"""
        WITH {DO_TRADE_CTE}
        SELECT COUNT(*) FROM oms.orders AS o WHERE o.trade_status = 5
          AND o.trade_no IN (SELECT trade_no FROM do_trade)
          AND o.trade_no NOT IN (SELECT trade_no FROM do_trade WHERE status <> 'CANCELED')""",
    "cancelled_after_picking": f"""
        WITH {DO_TRADE_CTE}
        SELECT COUNT(*) FROM ({_CANCEL_REQUESTS}) AS c
        WHERE c.trade_no IN (SELECT trade_no FROM do_trade WHERE status <> 'CANCELED')""",
    "intercepted": """
        SELECT COUNT(*) FROM carrier.intercepts WHERE status IN ('intercepted', 'returned')""",
    "refused": """
        SELECT COUNT(DISTINCT entity) FROM carrier.events
        WHERE kind = 'state' AND operation = 'parcel' AND outcome = '404'""",
    "returned": """
        SELECT COUNT(*) FROM oms.refunds AS r WHERE r.type = 2 AND EXISTS (
            SELECT 1 FROM wms.return_parcels AS p
            WHERE p.logistics_no = r.logistics_no AND p.owner_code = r.owner_code)""",
    "refunded": "SELECT COUNT(*) FROM oms.refunds WHERE status >= 80",
    "split": """
        SELECT COUNT(*) FROM (SELECT DISTINCT shop_no, src_tid FROM oms.orders
                              WHERE (trade_mask & 2048) <> 0)""",
    "split_sub_orders": "SELECT COUNT(*) FROM oms.orders WHERE (trade_mask & 2048) <> 0",
    "partial": """
        SELECT COUNT(DISTINCT entity) FROM wms.events
        WHERE kind = 'state' AND operation = 'deliveryorder' AND outcome = 'PARTDELIVERED'""",
    # Trades in no end state when the run ended: paid and neither shipped nor cancelled, or
    # with a buyer's cancellation still waiting (not agreed, not withdrawn).
    "unsettled": """
        SELECT COUNT(*) FROM oms.orders AS o WHERE o.trade_status = 30
           OR o.trade_no IN (SELECT r.trade_no FROM oms.refunds AS r
                             WHERE r.type = 1 AND r.status IN (20, 30, 40))""",
}
FLOW_KEYS = tuple(_FLOW_QUERIES)


def count_flows(conn: sqlite3.Connection) -> dict[str, int | None]:
    """report.json's `flows` (`_FLOW_QUERIES`); None where a table is missing (an older run,
    a damaged database): the invariants report those."""
    flows: dict[str, int | None] = {}
    for key, sql in _FLOW_QUERIES.items():
        try:
            flows[key] = int(conn.execute(sql).fetchone()[0] or 0)
        except sqlite3.Error:
            flows[key] = None
    return flows


def count_orders(conn: sqlite3.Connection) -> dict[str, int]:
    """created, at_wms, shipped, invoiced, delivered, completed, cancelled and backlog, each
    one SQL query.

    A count whose tables do not exist (yet) is 0: this is polled for live progress while the
    fakes create and write their files; the invariants are what report missing tables.
    """
    counts: dict[str, int] = {}
    for key, sql in _COUNT_QUERIES.items():
        try:
            row = conn.execute(sql).fetchone()
        except sqlite3.Error:
            counts[key] = 0
            continue
        counts[key] = int(row[0] or 0)
    return counts


def percentile(sorted_values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile of ascending values: the smallest value with >= pct % at or below."""
    if not sorted_values:
        raise ValueError("percentile of no values")
    rank = max(1, math.ceil(pct / 100.0 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


@dataclass(frozen=True)
class LatencyStats:
    """Wall-second latency of one flow; the percentiles are None when nothing was measured."""

    count: int
    p50: float | None
    p95: float | None
    p99: float | None
    max: float | None

    @classmethod
    def of(cls, values: Sequence[float]) -> LatencyStats:
        ordered = sorted(values)
        if not ordered:
            return cls(0, None, None, None, None)
        return cls(
            count=len(ordered),
            p50=percentile(ordered, 50),
            p95=percentile(ordered, 95),
            p99=percentile(ordered, 99),
            max=ordered[-1],
        )

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


# Each query yields (trade_no, seconds). One sample per trade: the first delivery order counts
# for paid_to_wms (a retried create does not make an order faster), the first delivered one
# for the shipment flows; the ERP side is done when the later of its two documents is audited.
LATENCY_QUERIES: dict[str, str] = {
    "paid_to_wms": f"""
        WITH {DO_TRADE_CTE},
        first_do AS (
            SELECT trade_no, MIN(created_wall) AS created_wall FROM do_trade
            WHERE trade_no IS NOT NULL AND created_wall IS NOT NULL GROUP BY trade_no
        )
        SELECT o.trade_no, f.created_wall - o.paid_wall
        FROM first_do AS f JOIN oms.orders AS o ON o.trade_no = f.trade_no
        WHERE o.paid_wall IS NOT NULL""",
    "shipped_to_oms": f"""
        WITH {DO_TRADE_CTE},
        delivered AS (
            SELECT trade_no, MIN(delivered_wall) AS delivered_wall FROM do_trade
            WHERE trade_no IS NOT NULL AND status = 'DELIVERED' AND delivered_wall IS NOT NULL
            GROUP BY trade_no
        )
        SELECT o.trade_no, o.shipped_wall - d.delivered_wall
        FROM delivered AS d JOIN oms.orders AS o ON o.trade_no = d.trade_no
        WHERE o.shipped_wall IS NOT NULL""",
    "shipped_to_erp": f"""
        WITH {DO_TRADE_CTE},
        delivered AS (
            SELECT trade_no, MIN(delivered_wall) AS delivered_wall FROM do_trade
            WHERE trade_no IS NOT NULL AND status = 'DELIVERED' AND delivered_wall IS NOT NULL
            GROUP BY trade_no
        ),
        -- Per bill number and customer: numbers are per owner, so another owner's bill under
        -- the trade's number is not the trade's (as in the audited checks).
        audited AS (
            SELECT bill_no, customer_number, form_id, MIN(audited_wall) AS audited_wall
            FROM erp.documents
            WHERE document_status = 'C' AND audited_wall IS NOT NULL
              AND form_id IN ('{SALES_OUTSTOCK}', '{RECEIVABLE}')
            GROUP BY bill_no, customer_number, form_id
        ),
        booked AS (
            SELECT bill_no, customer_number, MAX(audited_wall) AS audited_wall FROM audited
            GROUP BY bill_no, customer_number HAVING COUNT(*) = 2
        )
        SELECT d.trade_no, b.audited_wall - d.delivered_wall
        FROM delivered AS d JOIN oms.orders AS o ON o.trade_no = d.trade_no
        JOIN booked AS b ON b.bill_no = d.trade_no AND b.customer_number = o.shop_no""",
    # A cancelled trade that reached the WMS: from the OMS's cancellation until the last of
    # its delivery orders is cancelled there. A trade with a delivery order still live has
    # not completed the flow (cancelled_not_shipped judges it).
    "cancel_to_wms": f"""
        WITH {DO_TRADE_CTE}
        SELECT o.trade_no, MAX(d.canceled_wall) - o.cancelled_wall
        FROM oms.orders AS o JOIN do_trade AS t ON t.trade_no = o.trade_no
        JOIN wms.delivery_orders AS d ON d.delivery_order_id = t.delivery_order_id
        WHERE o.trade_status = 5 AND o.cancelled_wall IS NOT NULL
        GROUP BY o.trade_no HAVING COUNT(*) = COUNT(d.canceled_wall)""",
    # A return (by refund_no): from the WMS's return confirmation to its red receivable
    # audited (reported; no objective).
    "return_to_refund": f"""
    WITH {RETURN_DOCUMENTS_CTE}
    SELECT a.refund_no, MIN(d.audited_wall) - MIN(i.confirmed_wall)
    FROM agreed_returns AS a
    JOIN wms.inbound_orders AS i ON i.kind = 'returnorder' AND i.status = 'FULFILLED'
        AND i.owner_code = a.owner_code AND i.express_code = a.logistics_no
    JOIN return_documents AS d ON d.refund_no = a.refund_no AND d.form_id = '{RECEIVABLE}'
    WHERE d.audited_wall IS NOT NULL AND i.confirmed_wall IS NOT NULL
    GROUP BY a.refund_no""",
    # A buyer's refund before shipment (type 1) of a trade whose parcel the connector asked
    # the carrier to intercept: from the request (its first history row, status 20) to the
    # first interception the carrier accepted for one of the trade's waybills. Reported,
    # not judged: a parcel's interception has no objective of its own.
    "cancel_to_intercept": """
        WITH asked AS (
            SELECT r.trade_no, MIN(e.wall_time) AS asked_wall
            FROM oms.refunds AS r JOIN oms.events AS e
              ON e.entity = r.refund_no AND e.kind = 'state' AND e.operation = 'refund'
             AND e.outcome = '20'
            WHERE r.type = 1 AND r.status <> 10
            GROUP BY r.trade_no
        )
        SELECT a.trade_no, MIN(i.requested_wall) - a.asked_wall
        FROM asked AS a
        JOIN carrier.waybills AS w ON w.order_code = a.trade_no
        JOIN carrier.intercepts AS i ON i.logistic_code = w.logistic_code
        GROUP BY a.trade_no""",
}


def latency_samples(conn: sqlite3.Connection, flow: str) -> list[tuple[str, float]]:
    """(trade_no, wall seconds) for every trade that completed `flow`; raises sqlite3.Error."""
    rows = conn.execute(LATENCY_QUERIES[flow]).fetchall()
    return [(str(row[0]), float(row[1])) for row in rows if row[1] is not None]


def compute_latencies(conn: sqlite3.Connection) -> tuple[dict[str, LatencyStats], dict[str, str]]:
    """Stats for every flow, and the errors of flows that could not be measured (empty stats)."""
    stats: dict[str, LatencyStats] = {}
    errors: dict[str, str] = {}
    for flow in FLOWS:
        try:
            values = [seconds for _, seconds in latency_samples(conn, flow)]
        except sqlite3.Error as exc:
            errors[flow] = str(exc)
            values = []
        stats[flow] = LatencyStats.of(values)
    return stats, errors
