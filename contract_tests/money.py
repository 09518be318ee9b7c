"""Platform settlements: each settled order's money conserved, each receivable written off
once and in full, each bank credit booked as one receipt bill, each difference at or over the
seeds' reconciliation thresholds flagged on it.

A settled order is a line of a settlement bill the platform paid (OMS `settlements` status
paid). Receipt bills (`AR_RECEIVEBILL`) belong to a settlement by bill number or note (the
bank entry) and to its shop as customer; a receipt leg belongs to an order by its comment
(`FCOMMENT` = trade_no), a write-off to a receivable by its source bill number.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from typing import Any

from contract_tests.evidence import InvariantResult, history, rows_result, yuan
from contract_tests.metrics import ERP_TRADE_DOCUMENTS_CTE, RECEIVABLE
from simulator.scenario import needs_approval

RECEIPT = "AR_RECEIVEBILL"
# Where the connector says it flagged a difference for approval: its receipt bill's FREMARK
# starts so (docs/CONTRACT.md).
NEEDS_APPROVAL = "对账差异需审批"

DESCRIPTIONS = {
    "settlement_conserved": (
        "per order a platform settled and paid: audited receivables net of audited red"
        " receivables (receivable - refunds) = what the platform settled for it + the"
        " commission booked as an expense (the receipt's handling charge), to the cent"
    ),
    "receivable_written_off_once": (
        "every receivable is written off by at most one receipt bill, and once its order is"
        " settled and paid, written off in full (receivable net of refunds) by audited ones"
    ),
    "bank_credits_booked": (
        "every settlement the platform paid is one bank credit of its net amount and exactly"
        " one audited receipt bill whose money received equals that credit"
    ),
    "reconciliation_flags_differences": (
        "every settlement paid and booked: its receipt bill's FREMARK flags the difference"
        " between the bank credit and what the platform settled for its orders (receivables"
        " net of refunds and commission) for approval exactly when it is at or over either of"
        " the seeds' thresholds (>= 500 CNY or >= 0.5 %), and never below both"
    ),
}

# The lines of paid settlement bills; per order its audited receivables and red receivables,
# and its audited receipt legs (commission booked, money received) and write-offs.
_SETTLED = f"""WITH {ERP_TRADE_DOCUMENTS_CTE},
    settled AS (
        SELECT s.settlement_no, s.shop_no, s.owner_code, s.entry_ref, l.trade_no,
               l.paid_cents, l.refund_cents, l.commission_cents, l.settled_cents
        FROM oms.settlements AS s JOIN oms.settlement_lines AS l
            ON l.settlement_no = s.settlement_no
        WHERE s.status = 'paid'
    ),
    receipts AS (
        SELECT d.fid, d.bill_no, d.document_status, d.customer_number, d.owner_code
        FROM erp.documents AS d WHERE d.form_id = '{RECEIPT}'
    ),
    blue AS (
        SELECT trade_no, SUM(amount_cents) AS cents, GROUP_CONCAT(bill_no) AS bills
        FROM trade_documents WHERE form_id = '{RECEIVABLE}' AND document_status = 'C'
        GROUP BY trade_no
    ),
    red AS (
        SELECT t.trade_no, SUM(e.amount_cents) AS cents
        FROM (SELECT DISTINCT trade_no, bill_no FROM trade_documents
              WHERE form_id = '{RECEIVABLE}') AS t
        JOIN erp.document_links AS k ON k.source_bill_no = t.bill_no
            AND k.source_form_id = '{RECEIVABLE}'
        JOIN erp.documents AS r ON r.fid = k.fid AND r.document_status = 'C'
            AND r.form_id = '{RECEIVABLE}' AND r.amount_cents < 0
        JOIN erp.document_entries AS e ON e.fid = k.fid AND e.seq = k.seq
        GROUP BY t.trade_no
    ),
    legs AS (
        SELECT e.comment AS trade_no, p.customer_number,
               SUM(e.handling_cents) AS commission_cents, SUM(e.real_cents) AS received_cents
        FROM erp.receipt_entries AS e JOIN receipts AS p ON p.fid = e.fid
        WHERE p.document_status = 'C' GROUP BY e.comment, p.customer_number
    ),
    written AS (
        SELECT w.source_bill_no, p.customer_number,
               SUM(CASE WHEN p.document_status = 'C' THEN w.amount_cents ELSE 0 END)
                   AS audited_cents,
               COUNT(DISTINCT p.fid) AS receipts,
               GROUP_CONCAT(DISTINCT p.bill_no || ' (' || p.document_status || ')') AS bills
        FROM erp.write_offs AS w JOIN receipts AS p ON p.fid = w.fid
        GROUP BY w.source_bill_no, p.customer_number
    )"""


def _net(row: sqlite3.Row) -> int:
    """An order's audited receivables net of its audited red receivables."""
    return int(row["receivable_cents"] + row["red_cents"])


def _order_history(conn: sqlite3.Connection, row: sqlite3.Row) -> list[dict[str, Any]]:
    return history(conn, ("oms", "erp", "bank"), (row["trade_no"], row["settlement_no"]))


def settlement_conserved(
    conn: sqlite3.Connection, objectives: Mapping[str, float]
) -> InvariantResult:
    rows = conn.execute(
        _SETTLED
        + """
        SELECT s.*, COALESCE(b.cents, 0) AS receivable_cents, COALESCE(r.cents, 0) AS red_cents,
               COALESCE(g.commission_cents, 0) AS booked_commission_cents,
               g.received_cents
        FROM settled AS s
        LEFT JOIN blue AS b ON b.trade_no = s.trade_no
        LEFT JOIN red AS r ON r.trade_no = s.trade_no
        LEFT JOIN legs AS g ON g.trade_no = s.trade_no AND g.customer_number = s.shop_no
        ORDER BY s.settlement_no, s.trade_no"""
    ).fetchall()

    def problems(row: sqlite3.Row) -> list[str]:
        booked = row["booked_commission_cents"]
        if _net(row) == row["settled_cents"] + booked:
            return []
        if booked == 0 and row["commission_cents"]:
            return ["commission not booked as an expense"]
        if booked != row["commission_cents"]:
            return ["commission booked differs from the platform's"]
        return ["receivable net of refunds differs from the settlement"]

    def example(row: sqlite3.Row, kinds: list[str]) -> dict[str, Any]:
        booked = row["booked_commission_cents"]
        return {
            "entity": row["trade_no"],
            "settlement_no": row["settlement_no"],
            "problem": "; ".join(kinds),
            "expected": {
                "receivable - refunds": yuan(row["settled_cents"] + booked),
                "settled": yuan(row["settled_cents"]),
                "commission (platform)": yuan(row["commission_cents"]),
            },
            "observed": {
                "receivable - refunds": yuan(_net(row)),
                "receivable": yuan(row["receivable_cents"]),
                "red receivables": yuan(row["red_cents"]),
                "commission booked as expense": yuan(booked),
                "received for it": yuan(row["received_cents"]),
            },
            "history": _order_history(conn, row),
        }

    return rows_result(
        "settlement_conserved", DESCRIPTIONS["settlement_conserved"], rows, problems, example
    )


def receivable_written_off_once(
    conn: sqlite3.Connection, objectives: Mapping[str, float]
) -> InvariantResult:
    # Every audited receivable of a trade that is settled or written off at all.
    rows = conn.execute(
        _SETTLED
        + """,
        receivables AS (
            SELECT DISTINCT t.trade_no, t.bill_no, o.shop_no, o.src_tid
            FROM trade_documents AS t JOIN oms.orders AS o ON o.trade_no = t.trade_no
            WHERE t.form_id = 'AR_receivable' AND t.document_status = 'C'
        )
        SELECT v.trade_no, v.bill_no, v.src_tid, s.settlement_no,
               COALESCE(b.cents, 0) + COALESCE(r.cents, 0) AS open_before_cents,
               COALESCE(w.audited_cents, 0) AS written_cents,
               COALESCE(w.receipts, 0) AS receipts, w.bills
        FROM receivables AS v
        LEFT JOIN settled AS s ON s.trade_no = v.trade_no
        LEFT JOIN blue AS b ON b.trade_no = v.trade_no
        LEFT JOIN red AS r ON r.trade_no = v.trade_no
        LEFT JOIN written AS w ON w.source_bill_no = v.bill_no AND w.customer_number = v.shop_no
        WHERE s.trade_no IS NOT NULL OR w.source_bill_no IS NOT NULL
        ORDER BY v.trade_no"""
    ).fetchall()

    def problems(row: sqlite3.Row) -> list[str]:
        found = []
        if row["receipts"] > 1:
            found.append("written off by more than one receipt bill")
        if row["written_cents"] > row["open_before_cents"]:
            found.append("written off beyond its amount")
        elif row["settlement_no"] is not None and row["written_cents"] < row["open_before_cents"]:
            found.append("settled but not written off in full")
        return found

    def example(row: sqlite3.Row, kinds: list[str]) -> dict[str, Any]:
        return {
            "entity": row["trade_no"],
            "receivable": row["bill_no"],
            "settlement_no": row["settlement_no"],
            "problem": "; ".join(kinds),
            "expected": {"receipt bills": 1, "written off": yuan(row["open_before_cents"])},
            "observed": {
                "receipt bills": row["bills"] or "none",
                "written off (audited)": yuan(row["written_cents"]),
            },
            "history": history(
                conn,
                ("oms", "erp"),
                (row["trade_no"], row["settlement_no"], *(row["bills"] or "").split(",")),
            ),
        }

    return rows_result(
        "receivable_written_off_once",
        DESCRIPTIONS["receivable_written_off_once"],
        rows,
        problems,
        example,
    )


def bank_credits_booked(
    conn: sqlite3.Connection, objectives: Mapping[str, float]
) -> InvariantResult:
    rows = conn.execute(
        """
        WITH receipts AS (
            SELECT d.fid, d.bill_no, d.note, d.customer_number, d.amount_cents
                   - (SELECT COALESCE(SUM(e.handling_cents), 0) FROM erp.receipt_entries AS e
                      WHERE e.fid = d.fid) AS received_cents
            FROM erp.documents AS d
            WHERE d.form_id = 'AR_RECEIVEBILL' AND d.document_status = 'C'
        )
        SELECT s.settlement_no, s.shop_no, s.net_cents, s.entry_ref,
               (SELECT COUNT(*) FROM bank.entries AS b WHERE b.entry_ref = s.entry_ref
                  AND b.direction = 'CRDT' AND b.end_to_end_id = s.settlement_no) AS credits,
               (SELECT b.amount_cents FROM bank.entries AS b
                  WHERE b.entry_ref = s.entry_ref) AS credit_cents,
               (SELECT COUNT(*) FROM receipts AS p WHERE p.customer_number = s.shop_no
                  AND (p.bill_no = s.settlement_no OR p.note = s.entry_ref)) AS receipts,
               (SELECT GROUP_CONCAT(p.bill_no || ' ' || p.received_cents) FROM receipts AS p
                  WHERE p.customer_number = s.shop_no
                  AND (p.bill_no = s.settlement_no OR p.note = s.entry_ref)) AS bills,
               (SELECT SUM(p.received_cents) FROM receipts AS p
                  WHERE p.customer_number = s.shop_no
                  AND (p.bill_no = s.settlement_no OR p.note = s.entry_ref)) AS received_cents
        FROM oms.settlements AS s WHERE s.status = 'paid'
        ORDER BY s.settlement_no"""
    ).fetchall()

    def problems(row: sqlite3.Row) -> list[str]:
        found = []
        if row["credits"] != 1 or row["credit_cents"] != row["net_cents"]:
            found.append("bank credit differs from the settlement")
        if row["receipts"] == 0:
            found.append("no audited receipt bill")
        elif row["receipts"] > 1:
            found.append("more than one audited receipt bill")
        elif row["received_cents"] != row["credit_cents"]:
            found.append("receipt differs from the bank credit")
        return found

    def example(row: sqlite3.Row, kinds: list[str]) -> dict[str, Any]:
        return {
            "entity": row["settlement_no"],
            "problem": "; ".join(kinds),
            "expected": {
                "bank credit": yuan(row["net_cents"]),
                "audited receipt bills": 1,
                "received": yuan(row["net_cents"]),
            },
            "observed": {
                "bank credit": f"{row['entry_ref']} {yuan(row['credit_cents'])}",
                "audited receipt bills (bill, received cents)": row["bills"] or "none",
            },
            "history": history(
                conn, ("oms", "bank", "erp"), (row["settlement_no"], row["entry_ref"])
            ),
        }

    return rows_result(
        "bank_credits_booked", DESCRIPTIONS["bank_credits_booked"], rows, problems, example
    )


def _remarks(models: str | None) -> list[str]:
    """The FREMARK of each receipt model (K3 field names are case-insensitive)."""
    found = []
    for model in json.loads(models or "[]"):
        fields = {str(key).lower(): value for key, value in (model or {}).items()}
        found.append(str(fields.get("fremark") or ""))
    return found


def reconciliation_flags_differences(
    conn: sqlite3.Connection, objectives: Mapping[str, float]
) -> InvariantResult:
    # Expected: what the platform settled for the bill's orders (the receivables it writes off
    # less the commission, settlement_conserved's); observed at the bank: the credit itself.
    # A settlement without an audited receipt bill is bank_credits_booked's, not judged here.
    rows = conn.execute(
        """
        WITH receipts AS (
            SELECT d.bill_no, d.note, d.customer_number, d.model
            FROM erp.documents AS d
            WHERE d.form_id = 'AR_RECEIVEBILL' AND d.document_status = 'C'
        )
        SELECT s.settlement_no, s.shop_no, s.net_cents, s.entry_ref,
               (SELECT COALESCE(SUM(l.settled_cents), 0) FROM oms.settlement_lines AS l
                  WHERE l.settlement_no = s.settlement_no) AS expected_cents,
               (SELECT b.amount_cents FROM bank.entries AS b WHERE b.entry_ref = s.entry_ref
                  AND b.direction = 'CRDT') AS credit_cents,
               (SELECT GROUP_CONCAT(p.bill_no) FROM receipts AS p
                  WHERE p.customer_number = s.shop_no
                  AND (p.bill_no = s.settlement_no OR p.note = s.entry_ref)) AS bills,
               (SELECT json_group_array(json(p.model)) FROM receipts AS p
                  WHERE p.customer_number = s.shop_no
                  AND (p.bill_no = s.settlement_no OR p.note = s.entry_ref)) AS models
        FROM oms.settlements AS s WHERE s.status = 'paid'
        ORDER BY s.settlement_no"""
    ).fetchall()
    judged = [row for row in rows if row["bills"]]

    def difference(row: sqlite3.Row) -> int:
        return int((row["credit_cents"] or 0) - row["expected_cents"])

    def flagged(row: sqlite3.Row) -> bool:
        return any(remark.startswith(NEEDS_APPROVAL) for remark in _remarks(row["models"]))

    def problems(row: sqlite3.Row) -> list[str]:
        expected = needs_approval(difference(row), row["expected_cents"])
        if expected and not flagged(row):
            return ["difference at or over a threshold not flagged"]
        if flagged(row) and not expected:
            return ["flagged below both thresholds"]
        return []

    def example(row: sqlite3.Row, kinds: list[str]) -> dict[str, Any]:
        gap = difference(row)
        share = abs(gap) * 100 / max(abs(row["expected_cents"]), 1)
        return {
            "entity": row["settlement_no"],
            "settlement_no": row["settlement_no"],
            "problem": "; ".join(kinds),
            "expected": {
                "flagged": needs_approval(gap, row["expected_cents"]),
                "settled for the orders (receivables - refunds - commission)": yuan(
                    row["expected_cents"]
                ),
                "bank credit": yuan(row["credit_cents"]),
                "difference": yuan(gap),
                "difference share": f"{share:.2f} %",
            },
            "observed": {
                "flagged": flagged(row),
                "receipt bills": row["bills"],
                "FREMARK": [remark for remark in _remarks(row["models"]) if remark] or None,
            },
            "history": history(
                conn, ("oms", "bank", "erp"), (row["settlement_no"], row["entry_ref"])
            ),
        }

    return rows_result(
        "reconciliation_flags_differences",
        DESCRIPTIONS["reconciliation_flags_differences"],
        judged,
        problems,
        example,
    )


CHECKS = (
    settlement_conserved,
    receivable_written_off_once,
    bank_credits_booked,
    reconciliation_flags_differences,
)
