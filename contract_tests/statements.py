"""Bank statements: every closed day's camt.053 closes and chains, and the ERP agrees with it
(credits = the settlement receipts booked, debits = the payments booked + the fees booked);
and report.json's `payments` section, the money of the run in one place.

A day is closed when the bank's history has moved past it (its last row's simulated date is
later): the run's drain and settle phases wait for the fees of such days to be booked
(`bank_fees_unbooked`), so the judge never asks for a day the connector had no time for.
An entry is booked in the ERP by an audited bill that names it: a receipt bill
(AR_RECEIVEBILL) or payment bill (AP_PAYBILL) whose note is the entry reference or whose bill
number is the EndToEndId, a fee voucher (GL_VOUCHER) whose bill number or note is the
statement's Id (docs/CONTRACT.md, "Bank statements").
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from contract_tests.evidence import InvariantResult, history, rows_result, table_in_run, yuan
from contract_tests.metrics import CHARGE, CLOSED_BEFORE

RECEIPT, PAYMENT, VOUCHER = "AR_RECEIVEBILL", "AP_PAYBILL", "GL_VOUCHER"
BANK_DEPOSITS = "1002"  # the voucher lines crediting the bank account

DESCRIPTIONS = {
    "bank_statements_close": (
        "every closed day's camt.053 closes (opening + credits - debits = closing, opening ="
        " the previous day's closing) and agrees with the ERP: its credits are the settlement"
        " receipts booked (audited AR_RECEIVEBILL, money received), its debits the payments"
        " booked (audited AP_PAYBILL) plus its fees booked (an audited GL_VOUCHER named after"
        " the statement)"
    ),
}


# What the ERP books of each entry: the audited bills naming it (each bill counted once).
_BOOKED = f"""
    SELECT e.entry_ref,
        (SELECT COALESCE(SUM(d.amount_cents - COALESCE(
                    (SELECT SUM(r.handling_cents) FROM erp.receipt_entries AS r
                     WHERE r.fid = d.fid), 0)), 0)
         FROM erp.documents AS d
         WHERE d.form_id = CASE e.direction WHEN 'CRDT' THEN '{RECEIPT}' ELSE '{PAYMENT}' END
           AND d.document_status = 'C'
           AND (d.note = e.entry_ref OR d.bill_no = e.end_to_end_id)) AS booked_cents,
        (SELECT GROUP_CONCAT(d.bill_no) FROM erp.documents AS d
         WHERE d.form_id = CASE e.direction WHEN 'CRDT' THEN '{RECEIPT}' ELSE '{PAYMENT}' END
           AND d.document_status = 'C'
           AND (d.note = e.entry_ref OR d.bill_no = e.end_to_end_id)) AS bills
    FROM bank.entries AS e
    WHERE e.account = ? AND e.booking_date = ? AND e.bank_tx_code NOT LIKE '{CHARGE}'"""


def statement_id(account: str, day: str) -> str:
    """The bank's Stmt/Id of an account's day (fake_systems/bank/models.py)."""
    return f"STMT-{account}-{day.replace('-', '')}"


@dataclass
class Day:
    """One account's closed day: the bank's figures, what it served, what the ERP booked."""

    account: str
    day: str
    opening_cents: int = 0
    credit_cents: int = 0
    debit_cents: int = 0
    fee_cents: int = 0
    served: dict[str, Any] | None = None
    receipts_cents: int = 0
    payments_cents: int = 0
    vouchers: list[tuple[str, int]] = field(default_factory=list)
    unbooked: list[str] = field(default_factory=list)  # entries no audited bill books in full

    @property
    def entity(self) -> str:
        return statement_id(self.account, self.day)

    @property
    def closing_cents(self) -> int:
        return self.opening_cents + self.credit_cents - self.debit_cents

    @property
    def fees_booked_cents(self) -> int:
        return sum(cents for _, cents in self.vouchers)


def _days(conn: sqlite3.Connection) -> list[Day]:
    if not table_in_run(conn, "bank", "statements_served"):
        return []  # a run from before the bank kept its fees and statements: nothing to judge
    openings = dict(conn.execute("SELECT account, opening_cents FROM bank.accounts").fetchall())
    totals = conn.execute(
        "SELECT account, booking_date,"
        " SUM(CASE direction WHEN 'CRDT' THEN amount_cents ELSE 0 END),"
        " SUM(CASE direction WHEN 'DBIT' THEN amount_cents ELSE 0 END),"
        f" SUM(CASE WHEN direction = 'DBIT' AND bank_tx_code LIKE '{CHARGE}'"
        "     THEN amount_cents ELSE 0 END)"
        f" FROM bank.entries WHERE booking_date < {CLOSED_BEFORE}"
        " GROUP BY account, booking_date ORDER BY account, booking_date"
    ).fetchall()
    served = {
        (r["account"], r["booking_date"]): dict(r)
        for r in conn.execute(
            "SELECT * FROM bank.statements_served WHERE final = 1"
            f" AND booking_date < {CLOSED_BEFORE}"
        )
    }
    days: dict[tuple[str, str], Day] = {}
    for account, day, credits, debits, fees in totals:
        days[(account, day)] = Day(account, day, 0, credits, debits, fees)
    for key in served:
        days.setdefault(key, Day(*key))
    result = []
    for key in sorted(days):
        item = days[key]
        (before,) = conn.execute(
            "SELECT COALESCE(SUM(CASE direction WHEN 'CRDT' THEN amount_cents"
            " ELSE -amount_cents END), 0) FROM bank.entries"
            " WHERE account = ? AND booking_date < ?",
            key,
        ).fetchone()
        item.opening_cents = int(openings.get(item.account, 0)) + int(before)
        item.served = served.get(key)
        for entry_ref, booked, bills in conn.execute(_BOOKED, key):
            direction, cents = conn.execute(
                "SELECT direction, amount_cents FROM bank.entries WHERE entry_ref = ?",
                (entry_ref,),
            ).fetchone()
            if direction == "CRDT":
                item.receipts_cents += int(booked)
            else:
                item.payments_cents += int(booked)
            if int(booked) != cents:
                item.unbooked.append(f"{entry_ref} {direction} {yuan(cents)}: {bills or 'none'}")
        item.vouchers = [
            (str(bill), int(cents or 0))
            for bill, cents in conn.execute(
                "SELECT d.bill_no, (SELECT SUM(l.credit_cents) FROM erp.document_entries AS l"
                f"  WHERE l.fid = d.fid AND l.account_number = '{BANK_DEPOSITS}')"
                f" FROM erp.documents AS d WHERE d.form_id = '{VOUCHER}'"
                " AND d.document_status = 'C' AND (d.bill_no = ? OR d.note = ?)",
                (item.entity, item.entity),
            )
        ]
        result.append(item)
    return result


def problems(day: Day) -> list[str]:
    """What is wrong with one closed day."""
    found = []
    served = day.served
    if served is not None:
        if (
            served["opening_cents"] + served["credit_cents"] - served["debit_cents"]
            != served["closing_cents"]
        ):
            found.append("statement does not close")
        if served["opening_cents"] != day.opening_cents:
            found.append("opening is not the previous day's closing")
        if (served["credit_cents"], served["debit_cents"]) != (day.credit_cents, day.debit_cents):
            found.append("statement differs from the bank's entries")
    if day.receipts_cents != day.credit_cents:
        found.append("credits differ from the receipt bills booked")
    if day.payments_cents != day.debit_cents - day.fee_cents:
        found.append("debits differ from the payment bills booked")
    if day.fee_cents and not day.vouchers:
        found.append("fees not booked")
    elif day.fees_booked_cents != day.fee_cents:
        found.append("fees booked differ from the bank's")
    return found


def bank_statements_close(
    conn: sqlite3.Connection, objectives: Mapping[str, float]
) -> InvariantResult:
    days = _days(conn)

    def example(day: Day, kinds: list[str]) -> dict[str, Any]:
        served = day.served or {}
        return {
            "entity": day.entity,
            "problem": "; ".join(kinds),
            "expected": {
                "opening": yuan(day.opening_cents),
                "closing": yuan(day.closing_cents),
                "credits": yuan(day.credit_cents),
                "debits": yuan(day.debit_cents),
                "of which fees": yuan(day.fee_cents),
            },
            "observed": {
                "served (opening, credits, debits, closing)": [
                    yuan(served.get(k))
                    for k in ("opening_cents", "credit_cents", "debit_cents", "closing_cents")
                ]
                if served
                else "never fetched",
                "receipt bills (money received)": yuan(day.receipts_cents),
                "payment bills": yuan(day.payments_cents),
                "fee vouchers": [f"{bill} {yuan(cents)}" for bill, cents in day.vouchers] or "none",
                "entries not booked in full": day.unbooked[:10],
            },
            "history": history(conn, ("bank", "erp"), (day.account, day.entity)),
        }

    return rows_result(
        "bank_statements_close",
        DESCRIPTIONS["bank_statements_close"],
        days,
        problems,
        example,
    )


CHECKS = (bank_statements_close,)


def _one(conn: sqlite3.Connection, sql: str) -> tuple[Any, ...]:
    try:
        row = conn.execute(sql).fetchone()
    except sqlite3.Error:
        return (None,)
    return tuple(row) if row is not None else (None,)


def _counted(conn: sqlite3.Connection, sql: str) -> dict[str, int | None]:
    count, cents = (*_one(conn, sql), None)[:2]
    return {
        "count": None if count is None else int(count),
        "cents": None if cents is None else int(cents),
    }


def money_summary(conn: sqlite3.Connection) -> dict[str, Any]:
    """report.json's `payments` section: what the platforms billed and paid, the bank's
    credits, debits and fees, the supplier payments by outcome, the statements fetched, and
    what the ERP wrote off; each figure one query over the fakes (None when a table is
    missing)."""
    charge = f"bank_tx_code LIKE '{CHARGE}'"
    return {
        "settlements_billed": _counted(
            conn,
            "SELECT COUNT(*), SUM(net_cents) FROM oms.settlements",
        ),
        "settlements_paid": _counted(
            conn,
            "SELECT COUNT(*), SUM(net_cents) FROM oms.settlements WHERE status = 'paid'",
        ),
        "bank_credits": _counted(
            conn, "SELECT COUNT(*), SUM(amount_cents) FROM bank.entries WHERE direction = 'CRDT'"
        ),
        "bank_debits": _counted(
            conn, "SELECT COUNT(*), SUM(amount_cents) FROM bank.entries WHERE direction = 'DBIT'"
        ),
        "bank_fees": _counted(
            conn,
            "SELECT COUNT(*), SUM(amount_cents) FROM bank.entries"
            f" WHERE direction = 'DBIT' AND {charge}",
        ),
        "fees_booked": _counted(
            conn,
            "SELECT COUNT(*), SUM(l.credit_cents) FROM erp.documents AS d"
            " JOIN erp.document_entries AS l ON l.fid = d.fid"
            f" AND l.account_number = '{BANK_DEPOSITS}'"
            f" WHERE d.form_id = '{VOUCHER}' AND d.document_status = 'C'",
        ),
        "payments_submitted": _counted(
            conn, "SELECT COUNT(*), SUM(amount_cents) FROM bank.payments"
        ),
        "payments_settled": _counted(
            conn, "SELECT COUNT(*), SUM(amount_cents) FROM bank.payments WHERE status = 'ACSC'"
        ),
        "payments_rejected": _counted(
            conn, "SELECT COUNT(*), SUM(amount_cents) FROM bank.payments WHERE status = 'RJCT'"
        ),
        "statements_fetched": _one(
            conn,
            "SELECT COUNT(*) FROM bank.statements_served WHERE final = 1",
        )[0],
        "receivables_written_off": _counted(
            conn,
            "SELECT COUNT(DISTINCT w.source_bill_no), SUM(w.amount_cents)"
            " FROM erp.write_offs AS w JOIN erp.documents AS d ON d.fid = w.fid"
            f" WHERE d.form_id = '{RECEIPT}' AND d.document_status = 'C'",
        ),
        "payables_written_off": _counted(
            conn,
            "SELECT COUNT(DISTINCT w.source_bill_no), SUM(w.amount_cents)"
            " FROM erp.write_offs AS w JOIN erp.documents AS d ON d.fid = w.fid"
            f" WHERE d.form_id = '{PAYMENT}' AND d.document_status = 'C'",
        ),
    }
