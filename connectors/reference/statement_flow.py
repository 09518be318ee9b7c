"""Bank statements: each closed day's camt.053 fetched once, checked to close (opening +
credits - debits = closing, opening = the previous day's closing), its bank fees (entries of
sub-family CHRG) booked in K3 as one audited GL_VOUCHER (借 6603 财务费用, 贷 1002 银行存款),
and the statement recorded in the connector's state.

Each day is a row of `bank_statements`, moved on durably:
  fetched  the statement closes and chains; its fees (`fees`, JSON) are still to book
  booked   its fees are booked (the voucher, FBillNo = the statement's Id, is audited), or it
           had none
  parked   it does not close or chain (logged: the bank's data needs a person), or the ERP
           refused its voucher for good
A day is over when the simulated date has passed it; the first day is the account's first
statement (the one whose ElctrncSeqNb is 1, found from today's). Booking is idempotent by bill
number (the voucher is looked for before it is saved), so a restart never books a day twice.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import time
from collections import Counter
from datetime import date, timedelta
from typing import Any

from connectors.reference.clients.bank import BankClient, Statement, StatementEntry
from connectors.reference.clients.k3 import K3Client
from connectors.reference.clients.oms import OmsClient
from connectors.reference.money import cents_to_text
from connectors.reference.retry import RetryPolicy, StepError, repeat_until_stopped
from connectors.reference.store import StateStore

log = logging.getLogger("connectors.reference")

VOUCHER = "GL_VOUCHER"
ACCOUNT_BOOK = "001"  # the merchant's account book (docs/DECISIONS.md, "Bank fees")
FINANCE_COSTS = "6603"  # 财务费用 (its 手续费 sub-account is not in the fake's chart)
BANK_DEPOSITS = "1002"  # 银行存款
ROUND_SECONDS = 1.0  # a day closes every 4.3 wall seconds at 20,000x
MAX_DAYS_PER_ROUND = 31

SCHEMA = """
CREATE TABLE IF NOT EXISTS bank_statements (
    booking_date  TEXT PRIMARY KEY,
    statement_id  TEXT NOT NULL,     -- Stmt/Id = the fee voucher's FBillNo
    opening_cents INTEGER NOT NULL,
    closing_cents INTEGER NOT NULL,
    credit_cents  INTEGER NOT NULL,
    debit_cents   INTEGER NOT NULL,
    entries       INTEGER NOT NULL,
    fee_cents     INTEGER NOT NULL,
    fees          TEXT NOT NULL,     -- JSON [[entry_ref, cents, remittance], ...]
    status        TEXT NOT NULL,     -- fetched, booked, parked
    reason        TEXT,
    attempts      INTEGER NOT NULL DEFAULT 0,
    next_wall     REAL NOT NULL DEFAULT 0,
    fetched_wall  REAL NOT NULL
);
"""


def fee_voucher(row: sqlite3.Row | dict[str, Any]) -> dict[str, Any]:
    """The day's bank fees as one voucher: a 财务费用 debit per fee, the bank account credited
    with their total."""
    fees = json.loads(row["fees"])
    total = sum(int(cents) for _, cents, _ in fees)
    return {
        "FBillNo": row["statement_id"],
        "FDate": row["booking_date"],
        "FAccountBookID": {"FNumber": ACCOUNT_BOOK},
        "FNote": row["statement_id"],
        "FEntity": [
            *(
                {
                    "FEXPLANATION": f"银行手续费 {ref} {remittance}".strip(),
                    "FACCOUNTID": {"FNumber": FINANCE_COSTS},
                    "FDEBIT": cents_to_text(int(cents)),
                    "FCREDIT": "0",
                }
                for ref, cents, remittance in fees
            ),
            {
                "FEXPLANATION": f"银行手续费 {row['statement_id']}",
                "FACCOUNTID": {"FNumber": BANK_DEPOSITS},
                "FDEBIT": "0",
                "FCREDIT": cents_to_text(total),
            },
        ],
    }


class StatementFlow:
    """Fetches each closed day's statement once, checks it, books its fees."""

    def __init__(
        self,
        store: StateStore,
        oms: OmsClient,
        erp: K3Client,
        bank: BankClient,
        policy: RetryPolicy,
    ) -> None:
        self.store = store
        self.conn = store.conn
        self.conn.executescript(SCHEMA)
        self.oms = oms
        self.erp = erp
        self.bank = bank
        self.policy = policy
        self.stats: Counter[str] = Counter()
        self._first_day: date | None = None

    async def run(self, stop: asyncio.Event) -> None:
        """Rounds until `stop`: a failed round waits for the next (graded, when it repeats)."""
        await repeat_until_stopped(
            stop, ROUND_SECONDS, self.round, "bank statements round", self.policy
        )

    async def round(self) -> None:
        """Fetch the days closed since the last one recorded, then book their fees."""
        today = (await self.oms.clock()).now.date()
        day = await self.next_day(today)
        for _ in range(MAX_DAYS_PER_ROUND):
            if day >= today:
                break
            await self.fetch(day)
            day += timedelta(days=1)
        rows = self.conn.execute(
            "SELECT * FROM bank_statements WHERE status = 'fetched' AND next_wall <= ?"
            " ORDER BY booking_date",
            (time.time(),),
        ).fetchall()
        for row in rows:
            try:
                await self.book(row)
            except StepError as error:
                self._failed(row, error)

    async def next_day(self, today: date) -> date:
        """The first day not recorded: after the last recorded, else the account's first."""
        (last,) = self.conn.execute("SELECT MAX(booking_date) FROM bank_statements").fetchone()
        if last is not None:
            return date.fromisoformat(last) + timedelta(days=1)
        if self._first_day is None:
            # ElctrncSeqNb counts the account's daily statements from 1: today's tells the first.
            current = await self.bank.statement(today)
            self._first_day = today - timedelta(days=max(current.sequence_number, 1) - 1)
        return self._first_day

    def fees_of(self, statement: Statement) -> list[StatementEntry]:
        """The statement's bank fees: its debits of sub-family CHRG (a variant's hook)."""
        return [e for e in statement.entries if e.is_charge and not e.credit]

    async def fetch(self, day: date) -> None:
        """Fetch one closed day's statement, check it, record it (fees still to book)."""
        statement = await self.bank.statement(day)
        previous = self.conn.execute(
            "SELECT closing_cents FROM bank_statements WHERE booking_date = ?",
            ((day - timedelta(days=1)).isoformat(),),
        ).fetchone()
        reason = None
        if not statement.closes:
            reason = "opening + credits - debits is not the closing balance"
        elif previous is not None and previous[0] != statement.opening_cents:
            reason = "the opening balance is not the previous day's closing"
        fees = self.fees_of(statement)
        status = "parked" if reason else ("fetched" if fees else "booked")
        self.conn.execute(
            "INSERT OR IGNORE INTO bank_statements (booking_date, statement_id, opening_cents,"
            " closing_cents, credit_cents, debit_cents, entries, fee_cents, fees, status, reason,"
            " fetched_wall) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                day.isoformat(),
                statement.statement_id,
                statement.opening_cents,
                statement.closing_cents,
                statement.credit_cents,
                statement.debit_cents,
                len(statement.entries),
                sum(e.amount_cents for e in fees),
                json.dumps([[e.entry_ref, e.amount_cents, e.remittance] for e in fees]),
                status,
                reason,
                time.time(),
            ),
        )
        self.stats["bank_statements_fetched"] += 1
        if reason:
            self.stats["bank_statements_parked"] += 1
            log.error("bank statement %s parked: %s", statement.statement_id, reason)

    async def book(self, row: sqlite3.Row) -> None:
        """The day's fees as one audited voucher (looked for first: never saved twice)."""
        await self.erp.post_audited(VOUCHER, fee_voucher(row))
        self._set(str(row["booking_date"]), "booked")
        self.stats["bank_fees_booked"] += 1

    def _set(self, day: str, status: str, attempts: int = 0, next_wall: float = 0) -> None:
        self.conn.execute(
            "UPDATE bank_statements SET status = ?, attempts = ?, next_wall = ?"
            " WHERE booking_date = ?",
            (status, attempts, next_wall, day),
        )

    def _failed(self, row: sqlite3.Row, error: StepError) -> None:
        """The graded retries: try again later, or park it (logged) once they are spent."""
        day, attempts = str(row["booking_date"]), int(row["attempts"]) + 1
        delay = self.policy.delay_for(attempts, error)
        if delay is None:
            self._set(day, "parked", attempts)
            self.stats["bank_statements_parked"] += 1
            log.error("bank fees of %s parked after %d attempt(s): %s", day, attempts, error)
            return
        self._set(day, "fetched", attempts, time.time() + delay)
        log.warning("bank fees of %s failed (%d): %s", day, attempts, error)
