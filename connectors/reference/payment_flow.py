"""Supplier payments: payables due → one pain.001 each → its pain.002 → a K3 payment bill
(AP_PAYBILL) writing the payable off, once the bank has settled the payment (ACSC).

Each payable is a row of `payments` in the connector's state, moved on durably:
  due      found audited and due in the ERP (FENDDATE_H <= today, simulated)
  sent     the bank has the pain.001 (MsgId `PAY-<payable>`, EndToEndId and remittance = the
           payable's bill number): its report is fetched until final
  settled  ACSC: the bank booked the debit (`entry_ref`); the payment bill is next
  booked   the AP_PAYBILL (FBillNo = the payable's number) is audited
  rejected RJCT: nothing is booked, the payable stays open in the ERP (logged, `reason` kept;
           paying it again waits for the supplier's new account, which no scenario plays)
Every step is idempotent: a resent MsgId is the first payment again, a payment bill is
looked for before it is saved, so a retried fetch or a restart never pays nor books twice.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections import Counter
from datetime import datetime
from typing import Any

from connectors.reference.clients.bank import BankClient, Transfer, TransferStatus
from connectors.reference.clients.k3 import K3Client
from connectors.reference.clients.oms import OmsClient
from connectors.reference.money import cents_to_text, to_cents
from connectors.reference.retry import PermanentError, RetryPolicy, StepError, repeat_until_stopped
from connectors.reference.store import StateStore

log = logging.getLogger("connectors.reference")

PAYABLE, PAYMENT, SUPPLIER = "AP_Payable", "AP_PAYBILL", "BD_Supplier"
PURCHASE_PAYMENT_BILL = "FKDLX01_SYS"  # K3's 采购业务付款单 bill type
TELEGRAPHIC_TRANSFER = "JSFS04_SYS"  # K3's 电汇 settle type
PURCHASE_PAYMENT = "SFKYT08_SYS"  # K3's 采购付款 purpose (unverified number)
CNY = "PRE001"
ORG = "100"
QUERY_PAGE = 2000
MAX_QUERY_PAGES = 100
# Wall seconds between two rounds (finding payables due, moving each payment on).
ROUND_SECONDS = 1.0
UNFINISHED = ("due", "sent", "settled")

SCHEMA = """
CREATE TABLE IF NOT EXISTS payments (
    payable_no       TEXT PRIMARY KEY,  -- the AP_Payable's FBillNo = the EndToEndId
    supplier         TEXT NOT NULL,
    amount_cents     INTEGER NOT NULL,
    due_date         TEXT NOT NULL,
    msg_id           TEXT NOT NULL,
    status           TEXT NOT NULL,     -- due, sent, settled, booked, rejected, parked
    reason           TEXT,              -- the bank's rejection reason (RJCT)
    entry_ref        TEXT,              -- the bank's debit entry (ACSC)
    paid_date        TEXT,              -- the simulated date it was sent
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_wall        REAL NOT NULL DEFAULT 0,
    found_wall       REAL NOT NULL
);
"""


def payment_bill(payment: sqlite3.Row | dict[str, Any], supplier_account: str) -> dict[str, Any]:
    """The AP_PAYBILL of a settled payment: one entry paying the payable's amount by wire,
    written off against the payable in full."""
    amount = cents_to_text(int(payment["amount_cents"]))
    return {
        "FBillNo": payment["payable_no"],
        "FBillTypeID": {"FNumber": PURCHASE_PAYMENT_BILL},
        "FDATE": payment["paid_date"],
        "FCONTACTUNITTYPE": "BD_Supplier",
        "FCONTACTUNIT": {"FNumber": payment["supplier"]},
        "FRECTUNITTYPE": "BD_Supplier",
        "FRECTUNIT": {"FNumber": payment["supplier"]},
        "FCURRENCYID": {"FNumber": CNY},
        "FSETTLEORGID": {"FNumber": ORG},
        "FPAYORGID": {"FNumber": ORG},
        "FNote": payment["entry_ref"],
        "FPAYBILLENTRY": [
            {
                "FSETTLETYPEID": {"FNumber": TELEGRAPHIC_TRANSFER},
                "FPURPOSEID": {"FNumber": PURCHASE_PAYMENT},
                "FPAYTOTALAMOUNTFOR": amount,
                "FREALPAYAMOUNTFOR_D": amount,
                "FOPPOSITEBANKACCOUNT": supplier_account,
                "FCOMMENT": payment["payable_no"],
            }
        ],
        "FPAYBILLSRCENTRY": [
            {
                "FSOURCETYPE": PAYABLE,
                "FSRCBILLNO": payment["payable_no"],
                "FREALPAYAMOUNT_S": amount,
            }
        ],
    }


class PaymentFlow:
    """Finds payables due, pays each once through the bank, books what the bank settled."""

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
        self._suppliers: dict[str, tuple[str, str]] = {}  # number → (name, bank account)

    async def run(self, stop: asyncio.Event) -> None:
        """Rounds until `stop`: a failed round waits for the next."""
        await repeat_until_stopped(stop, ROUND_SECONDS, self.round, "payments round")

    async def round(self) -> None:
        """Find the payables due now, then move every unfinished payment on."""
        now = (await self.oms.clock()).now
        await self.find_due(now)
        rows = self.conn.execute(
            "SELECT * FROM payments WHERE status IN (?, ?, ?) AND next_wall <= ?"
            " ORDER BY due_date, payable_no",
            (*UNFINISHED, time.time()),
        ).fetchall()
        for row in rows:
            try:
                await self.advance(row, now)
            except StepError as error:
                self._failed(row, error)

    async def find_due(self, now: datetime) -> int:
        """Note every audited payable due by today (simulated) not noted yet."""
        today = now.date().isoformat()
        entries: list[list[Any]] = []
        for page in range(MAX_QUERY_PAGES):
            rows = await self.erp.execute_bill_query(
                PAYABLE,
                "FBillNo,FSUPPLIERID.FNumber,FALLAMOUNTFOR,FENDDATE_H",
                f"FDocumentStatus='C' and FENDDATE_H<='{today}'",
                page * QUERY_PAGE,
                QUERY_PAGE,
            )
            entries.extend(rows)
            if len(rows) < QUERY_PAGE:
                break
        added = 0
        with self.store._transaction():
            for bill_no, supplier, amount, due in entries:
                cents = to_cents(amount)
                if cents <= 0:
                    continue  # a red payable is no debt to pay
                added += self.conn.execute(
                    "INSERT OR IGNORE INTO payments (payable_no, supplier, amount_cents,"
                    " due_date, msg_id, status, found_wall) VALUES (?, ?, ?, ?, ?, 'due', ?)",
                    (str(bill_no), str(supplier), cents, str(due), f"PAY-{bill_no}", time.time()),
                ).rowcount
        self.stats["payables_due"] += added
        return added

    async def supplier(self, number: str) -> tuple[str, str]:
        """A supplier's name and the bank account it is paid to (BD_Supplier's FBankCode)."""
        if number not in self._suppliers:
            escaped = number.replace("'", "''")
            rows = await self.erp.execute_bill_query(
                SUPPLIER, "FNumber,FName,FBankCode", f"FNumber='{escaped}'", 0, 1
            )
            if not rows or not rows[0][2]:
                raise PermanentError("erp", f"supplier {number} has no bank account")
            self._suppliers[number] = (str(rows[0][1]), str(rows[0][2]))
        return self._suppliers[number]

    async def advance(self, row: sqlite3.Row, now: datetime) -> None:
        """One payment as far as it goes now."""
        payable = str(row["payable_no"])
        if row["status"] == "due":
            name, account = await self.supplier(str(row["supplier"]))
            transfer = Transfer(payable, int(row["amount_cents"]), name, account, payable)
            report = await self.bank.send_transfers(row["msg_id"], now.date(), now, transfer)
            self._set(payable, status="sent", paid_date=now.date().isoformat())
            self.stats["payments_sent"] += 1
            await self.on_report(row, report.get(payable), fetched=0)
            row = self._row(payable)
        fetched = 0
        while row["status"] == "sent":
            fetched += 1
            report = await self.bank.status(row["msg_id"])
            status = report.get(payable)
            if status is None or not status.final:
                await self.on_report(row, status, fetched)
                return  # the next round fetches it again
            if status.status == "RJCT":
                await self.on_rejected(row, status)
                return
            self._set(payable, status="settled", entry_ref=status.entry_ref)
            row = self._row(payable)
        if row["status"] == "settled":
            await self.book(row)

    async def on_report(
        self, row: sqlite3.Row, status: TransferStatus | None, fetched: int
    ) -> None:
        """A report that is not final yet: nothing to do but fetch it again later."""

    async def on_rejected(self, row: sqlite3.Row, status: TransferStatus) -> None:
        """The bank refused the payment: book nothing, leave the payable open, say so."""
        self._set(str(row["payable_no"]), status="rejected", reason=status.reason)
        self.stats["payments_rejected"] += 1
        log.warning(
            "payment of %s rejected by the bank (%s): the payable stays open",
            row["payable_no"],
            status.reason,
        )

    async def book(self, row: sqlite3.Row) -> None:
        """The settled payment's AP_PAYBILL, audited (looked for first: never saved twice)."""
        _, account = await self.supplier(str(row["supplier"]))
        await self.erp.post_audited(PAYMENT, payment_bill(row, account))
        self._set(str(row["payable_no"]), status="booked")
        self.stats["payments_booked"] += 1

    def _row(self, payable: str) -> sqlite3.Row:
        row: sqlite3.Row = self.conn.execute(
            "SELECT * FROM payments WHERE payable_no = ?", (payable,)
        ).fetchone()
        return row

    def _set(self, payable: str, **values: Any) -> None:
        columns = ", ".join(f"{name} = ?" for name in values)
        self.conn.execute(
            f"UPDATE payments SET {columns}, attempts = 0, next_wall = 0 WHERE payable_no = ?",
            (*values.values(), payable),
        )

    def _failed(self, row: sqlite3.Row, error: StepError) -> None:
        """The graded retries: try again later, or park it (logged) once they are spent."""
        attempts = int(row["attempts"]) + 1
        delay = self.policy.delay_for(attempts, error)
        if delay is None:
            self.conn.execute(
                "UPDATE payments SET status = 'parked', attempts = ? WHERE payable_no = ?",
                (attempts, row["payable_no"]),
            )
            log.error("payment of %s parked after %d attempt(s): %s", row[0], attempts, error)
            self.stats["payments_parked"] += 1
            return
        self.conn.execute(
            "UPDATE payments SET attempts = ?, next_wall = ? WHERE payable_no = ?",
            (attempts, time.time() + delay, row["payable_no"]),
        )
        log.warning("payment of %s failed (%d): %s", row["payable_no"], attempts, error)
