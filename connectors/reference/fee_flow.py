"""Carrier fees: each closed fee statement (Kdniao, ecomock's RequestType 1950) → one audited
K3 payable (AP_Payable, a 费用应付单) to the express company, for the statement's total.

Each statement is a row of `fee_statements` in the connector's state:
  found   listed by the carrier, not booked yet
  booked  its AP_Payable (FBillNo = the statement number) is audited
  parked  refused for good (its lines do not add up to its total, or the ERP refused it)
Booking is idempotent by bill number (the payable is looked for before it is saved), so a
statement listed again, a retried round or a restart never books twice. The payable has one
entry per fee type and zone (费用项目 运输费, FPriceQty = its parcels, the amount their
fees): a handful of entries rather than one per waybill, which the statement itself keeps.
The supplier is the BD_Supplier named as the carrier names the express company.
The payment flow then pays the payable when it falls due, like any other.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections import Counter
from typing import Any

from connectors.reference.clients.k3 import K3Client
from connectors.reference.clients.kdniao import KdniaoClient
from connectors.reference.money import cents_to_text, to_cents
from connectors.reference.retry import PermanentError, RetryPolicy, StepError, repeat_until_stopped
from connectors.reference.store import StateStore

log = logging.getLogger("connectors.reference")

PAYABLE, SUPPLIER = "AP_Payable", "BD_Supplier"
FREIGHT_COST_ITEM = "FY001"  # the ERP's 费用项目 运输费 (docs/DECISIONS.md: unverified)
ORG = "100"
PAGE = 100
MAX_PAGES = 1000
ROUND_SECONDS = 2.0  # statements close a day or a month apart: no hurry

SCHEMA = """
CREATE TABLE IF NOT EXISTS fee_statements (
    statement_no  TEXT PRIMARY KEY,  -- the carrier's number = the AP_Payable's FBillNo
    shipper_name  TEXT NOT NULL,
    close_date    TEXT NOT NULL,     -- the payable's FDate
    total_cents   INTEGER NOT NULL,
    line_count    INTEGER NOT NULL,
    status        TEXT NOT NULL,     -- found, booked, parked
    attempts      INTEGER NOT NULL DEFAULT 0,
    next_wall     REAL NOT NULL DEFAULT 0,
    found_wall    REAL NOT NULL
);
"""


class FeeFlow:
    """Lists the carrier's closed fee statements, books each once as a payable."""

    def __init__(
        self, store: StateStore, carrier: KdniaoClient, erp: K3Client, policy: RetryPolicy
    ) -> None:
        self.store = store
        self.conn = store.conn
        self.conn.executescript(SCHEMA)
        self.carrier = carrier
        self.erp = erp
        self.policy = policy
        self.stats: Counter[str] = Counter()
        self._suppliers: dict[str, str] = {}  # express company name → supplier number

    async def run(self, stop: asyncio.Event) -> None:
        """Rounds until `stop`: a failed round waits for the next."""
        await repeat_until_stopped(stop, ROUND_SECONDS, self.round, "fee statements round")

    async def round(self) -> None:
        """Note the statements not seen yet, then book every one found."""
        await self.find()
        rows = self.conn.execute(
            "SELECT * FROM fee_statements WHERE status = 'found' AND next_wall <= ?"
            " ORDER BY statement_no",
            (time.time(),),
        ).fetchall()
        for row in rows:
            try:
                await self.book(row)
            except StepError as error:
                self._failed(row, error)

    async def find(self) -> int:
        """Every closed statement of the account, noted once."""
        headers: list[dict[str, Any]] = []
        for page in range(1, MAX_PAGES + 1):
            answer = await self.carrier.statements(page, PAGE)
            listed = answer.get("Statements") or []
            headers += listed
            if len(listed) < PAGE or len(headers) >= int(answer.get("Total") or 0):
                break
        added = 0
        with self.store._transaction():
            for header in headers:
                added += self.conn.execute(
                    "INSERT OR IGNORE INTO fee_statements (statement_no, shipper_name,"
                    " close_date, total_cents, line_count, status, found_wall)"
                    " VALUES (?, ?, ?, ?, ?, 'found', ?)",
                    (
                        str(header["StatementNo"]),
                        str(header["ShipperName"]),
                        str(header["CloseTime"])[:10],
                        to_cents(header["TotalFee"]),
                        int(header["LineCount"]),
                        time.time(),
                    ),
                ).rowcount
        self.stats["fee_statements_found"] += added
        return added

    async def lines(self, number: str) -> list[dict[str, Any]]:
        """All of a statement's lines, page by page."""
        lines: list[dict[str, Any]] = []
        for page in range(1, MAX_PAGES + 1):
            answer = await self.carrier.statement_lines(number, page, PAGE)
            got = answer.get("Lines") or []
            lines += got
            if len(got) < PAGE:
                break
        return lines

    async def supplier(self, name: str) -> str:
        """The express company's supplier number (BD_Supplier by FName)."""
        if name not in self._suppliers:
            escaped = name.replace("'", "''")
            rows = await self.erp.execute_bill_query(
                SUPPLIER, "FNumber", f"FName='{escaped}'", 0, 1
            )
            if not rows:
                raise PermanentError("erp", f"no supplier named {name}")
            self._suppliers[name] = str(rows[0][0])
        return self._suppliers[name]

    def fee_of(self, line: dict[str, Any]) -> int:
        """What one line costs, in cents: the carrier's fee for it."""
        return to_cents(line["Fee"])

    def payable(
        self, row: sqlite3.Row, supplier: str, lines: list[dict[str, Any]]
    ) -> dict[str, Any]:
        """The statement's AP_Payable: an entry per fee type and zone."""
        groups: dict[tuple[str, str], list[int]] = {}
        for line in lines:
            groups.setdefault((str(line["FeeType"]), str(line["Zone"])), []).append(
                self.fee_of(line)
            )
        return {
            "FBillNo": row["statement_no"],
            "FDate": row["close_date"],
            "FNote": row["statement_no"],
            "FSUPPLIERID": {"FNumber": supplier},
            "FSETTLEORGID": {"FNumber": ORG},
            "FPURCHASEORGID": {"FNumber": ORG},
            "FEntityDetail": [
                {
                    "FCOSTID": {"FNumber": FREIGHT_COST_ITEM},
                    "FPriceQty": len(fees),
                    "FALLAMOUNTFOR": cents_to_text(sum(fees)),
                }
                for _, fees in sorted(groups.items())
            ],
        }

    async def book(self, row: sqlite3.Row) -> None:
        """Check the statement adds up, then bring its payable to audited."""
        number = str(row["statement_no"])
        lines = await self.lines(number)
        if len(lines) != row["line_count"] or sum(to_cents(line["Fee"]) for line in lines) != int(
            row["total_cents"]
        ):
            raise PermanentError("carrier", f"statement {number}: lines do not add up")
        supplier = await self.supplier(str(row["shipper_name"]))
        await self.erp.post_audited(PAYABLE, self.payable(row, supplier, lines))
        self._set(number, "booked")
        self.stats["fee_statements_booked"] += 1

    def _set(self, number: str, status: str, attempts: int = 0, next_wall: float = 0) -> None:
        self.conn.execute(
            "UPDATE fee_statements SET status = ?, attempts = ?, next_wall = ?"
            " WHERE statement_no = ?",
            (status, attempts, next_wall, number),
        )

    def _failed(self, row: sqlite3.Row, error: StepError) -> None:
        """The graded retries: try again later, or park it (logged) once they are spent."""
        number, attempts = str(row["statement_no"]), int(row["attempts"]) + 1
        delay = self.policy.delay_for(attempts, error)
        if delay is None:
            self._set(number, "parked", attempts)
            self.stats["fee_statements_parked"] += 1
            log.error("fee statement %s parked after %d attempt(s): %s", number, attempts, error)
            return
        self._set(number, "found", attempts, time.time() + delay)
        log.warning("fee statement %s failed (%d): %s", number, attempts, error)
