"""Supplier payments: every payment the bank executed pays one payable, once, for its amount,
to its supplier's account, and is booked as one audited payment bill (AP_PAYBILL) writing
that payable off by the same amount; a rejected payment is booked as nothing.

A payment traces to a payable by its EndToEndId, else its remittance (RmtInf/Ustrd), being
the payable's bill number (docs/CONTRACT.md, "Supplier payments"); a payment bill traces to a
payment by its bill number being the EndToEndId, or its note the bank's debit entry.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from contract_tests.evidence import InvariantResult, history, rows_result, table_in_run, yuan

PAYABLE, PAYMENT = "AP_Payable", "AP_PAYBILL"
SETTLED, REJECTED = "ACSC", "RJCT"

DESCRIPTIONS = {
    "payments_match_payables": (
        "every payment the bank executed (ACSC) pays one audited payable, once, for its"
        " amount, to the supplier's account, and is booked as exactly one audited AP_PAYBILL"
        " writing that payable off by the amount paid; no payment bill without an executed"
        " payment; a rejected payment (RJCT) is not booked as paid"
    ),
}


@dataclass
class Row:
    """One entity judged: a bank payment (final), or a payment bill no payment explains."""

    entity: str
    status: str | None = None
    reason: str | None = None
    amount_cents: int | None = None
    creditor_account: str | None = None
    payable: dict[str, Any] | None = None
    bills: list[dict[str, Any]] = field(default_factory=list)
    paid_times: int = 0
    orphan_bill: dict[str, Any] | None = None


def _rows(conn: sqlite3.Connection) -> list[Row]:
    if not table_in_run(conn, "bank", "payments"):
        return []  # a run from before the bank kept payments: nothing to judge
    payables = {
        r["bill_no"]: dict(r)
        for r in conn.execute(
            "SELECT d.bill_no, d.amount_cents, d.supplier_number,"
            " (SELECT s.bank_account FROM erp.bd_supplier AS s"
            "  WHERE s.number = d.supplier_number) AS bank_account"
            " FROM erp.documents AS d WHERE d.form_id = ? AND d.document_status = 'C'",
            (PAYABLE,),
        )
    }
    bills = [
        dict(r)
        for r in conn.execute(
            "SELECT d.fid, d.bill_no, d.note, d.amount_cents, d.supplier_number,"
            " (SELECT GROUP_CONCAT(w.source_bill_no || ':' || w.amount_cents)"
            "  FROM erp.write_offs AS w WHERE w.fid = d.fid) AS write_offs"
            " FROM erp.documents AS d WHERE d.form_id = ? AND d.document_status = 'C'"
            " ORDER BY d.fid",
            (PAYMENT,),
        )
    ]
    payments = conn.execute(
        "SELECT end_to_end_id, remittance, amount_cents, creditor_account, status, reason,"
        " entry_ref FROM bank.payments WHERE status IN (?, ?) ORDER BY end_to_end_id",
        (SETTLED, REJECTED),
    ).fetchall()

    def payable_of(payment: sqlite3.Row) -> str | None:
        for key in (payment["end_to_end_id"], payment["remittance"]):
            if key in payables:
                return str(key)
        return None

    paid = Counter(payable_of(p) for p in payments if p["status"] == SETTLED)
    explained: set[int] = set()
    rows = []
    for p in payments:
        number = payable_of(p)
        traced = [
            b
            for b in bills
            if b["bill_no"] == p["end_to_end_id"]
            or (p["entry_ref"] is not None and b["note"] == p["entry_ref"])
        ]
        explained.update(b["fid"] for b in traced)
        rows.append(
            Row(
                entity=p["end_to_end_id"],
                status=p["status"],
                reason=p["reason"],
                amount_cents=p["amount_cents"],
                creditor_account=p["creditor_account"],
                payable=payables.get(number) if number else None,
                bills=traced,
                paid_times=paid[number] if number else 0,
            )
        )
    rows += [Row(entity=b["bill_no"], orphan_bill=b) for b in bills if b["fid"] not in explained]
    return rows


def _written_off(bill: dict[str, Any], payable: str) -> int:
    """What a payment bill writes off of `payable`, in cents."""
    total = 0
    for part in (bill["write_offs"] or "").split(","):
        source, _, cents = part.rpartition(":")
        if source == payable and cents:
            total += int(cents)
    return total


def problems(row: Row) -> list[str]:
    """What is wrong with one payment (or unexplained payment bill)."""
    if row.orphan_bill is not None:
        return ["payment bill without an executed payment"]
    if row.status == REJECTED:
        return ["rejected payment booked as paid"] if row.bills else []
    found = []
    payable = row.payable
    if payable is None:
        found.append("payment matches no payable")
    else:
        if row.amount_cents != payable["amount_cents"]:
            found.append("amount differs from the payable")
        if row.paid_times > 1:
            found.append("payable paid more than once")
        if payable["bank_account"] and row.creditor_account != payable["bank_account"]:
            found.append("paid to another account than the supplier's")
    if not row.bills:
        found.append("executed payment not booked")
    elif len(row.bills) > 1:
        found.append("payment booked more than once")
    elif payable is not None and (
        row.bills[0]["amount_cents"] != row.amount_cents
        or _written_off(row.bills[0], payable["bill_no"]) != row.amount_cents
    ):
        found.append("payment bill differs from the payment")
    return found


def payments_match_payables(
    conn: sqlite3.Connection, objectives: Mapping[str, float]
) -> InvariantResult:
    rows = _rows(conn)

    def example(row: Row, kinds: list[str]) -> dict[str, Any]:
        payable = row.payable or {}
        bills = row.bills or ([row.orphan_bill] if row.orphan_bill else [])
        return {
            "entity": row.entity,
            "payable": payable.get("bill_no"),
            "problem": "; ".join(kinds),
            "expected": {
                "payment": yuan(payable["amount_cents"]) if payable else "one payable's",
                "to": payable.get("bank_account"),
                "audited AP_PAYBILL": "none" if row.status == REJECTED else 1,
            },
            "observed": {
                "bank status": f"{row.status or 'no payment'} {row.reason or ''}".strip(),
                "paid": None if row.amount_cents is None else yuan(row.amount_cents),
                "to": row.creditor_account,
                "executed payments for the payable": row.paid_times,
                "audited AP_PAYBILL (bill, amount, write-offs)": [
                    f"{b['bill_no']} {yuan(b['amount_cents'])} {b['write_offs'] or 'none'}"
                    for b in bills
                ]
                or "none",
            },
            "history": history(
                conn,
                ("bank", "erp"),
                (row.entity, payable.get("bill_no"), *(b["bill_no"] for b in bills)),
            ),
        }

    return rows_result(
        "payments_match_payables",
        DESCRIPTIONS["payments_match_payables"],
        rows,
        problems,
        example,
    )


CHECKS = (payments_match_payables,)
