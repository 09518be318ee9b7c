"""The bank fake's domain: the connector's account, booked entries and camt.053 day statements."""

from __future__ import annotations

import sqlite3
from datetime import date

from fake_systems.bank.models import (
    DIRECTIONS,
    Direction,
    Entry,
    Statement,
    StatementNotAvailable,
    UnknownAccount,
)
from fake_systems.common.context import SystemContext
from fake_systems.common.credentials import BankCredentials
from fake_systems.common.storage import transaction
from simulator.clock import CHINA, format_qimen_time
from simulator.world import World

SCHEMA = """
CREATE TABLE IF NOT EXISTS accounts (
    account       TEXT PRIMARY KEY,
    currency      TEXT NOT NULL,
    opening_cents INTEGER NOT NULL,
    opened_date   TEXT NOT NULL,
    owner         TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS entries (
    entry_ref     TEXT PRIMARY KEY,
    account       TEXT NOT NULL REFERENCES accounts(account),
    booking_date  TEXT NOT NULL,
    amount_cents  INTEGER NOT NULL CHECK (amount_cents > 0),
    direction     TEXT NOT NULL CHECK (direction IN ('CRDT', 'DBIT')),
    end_to_end_id TEXT NOT NULL,
    remittance    TEXT NOT NULL,
    booked_sim    TEXT NOT NULL,
    booked_wall   REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS entries_account_date ON entries(account, booking_date);
"""

DEFAULT_OPENING_CENTS = 100_000_000  # 1,000,000.00 CNY
CURRENCY = "CNY"


class BankService:
    """A bank holding the connector's CNY account; books entries and reports day statements.

    LIMITATIONS (what the fake does not imitate):
    - One currency (CNY), booking date = value date, no pending (PDNG) entries and no
      intraday camt.052 / notification camt.054; a statement for today shows today so far.
    - No pain.001 payment initiation or pain.002 status yet; entries come from `book()`
      (settlements and fees driven by the simulator).
    - No overdraft limits: debits are booked whatever the balance.
    - `book()` does not de-duplicate by EndToEndId: the caller decides what is booked.
    - No statement pagination (StmtPgntn) and no batch entries: one Ntry per booking.
    """

    def __init__(
        self,
        ctx: SystemContext,
        credentials: BankCredentials,
        opening_cents: int = DEFAULT_OPENING_CENTS,
    ) -> None:
        self.ctx = ctx
        self.credentials = credentials
        self.opening_cents = opening_cents

    def today(self) -> date:
        """The simulated booking date (China time)."""
        return self.ctx.clock.now().astimezone(CHINA).date()

    def setup(self, world: World | None = None) -> None:
        """Create the tables and open the connector's account (idempotent)."""
        conn = self.ctx.conn
        conn.executescript(SCHEMA)
        with transaction(conn):
            conn.execute(
                "INSERT OR IGNORE INTO accounts (account, currency, opening_cents, opened_date,"
                " owner) VALUES (?, ?, ?, ?, ?)",
                (
                    self.credentials.account,
                    CURRENCY,
                    self.opening_cents,
                    self.today().isoformat(),
                    self.credentials.username,
                ),
            )

    def book(
        self,
        amount_cents: int,
        direction: Direction,
        end_to_end_id: str,
        remittance: str,
        account: str | None = None,
    ) -> Entry:
        """Book one entry today on `account` (default: the connector's). Amount is positive.

        Raises ValueError for a non-positive amount or an unknown direction, UnknownAccount
        for an account the bank does not hold.
        """
        if isinstance(amount_cents, bool) or not isinstance(amount_cents, int) or amount_cents <= 0:
            raise ValueError(f"amount_cents must be a positive integer, not {amount_cents!r}")
        if direction not in DIRECTIONS:
            raise ValueError(f"direction must be CRDT or DBIT, not {direction!r}")
        account = account or self.credentials.account
        conn = self.ctx.conn
        booking_date = self.today()
        with transaction(conn):
            if self._account_row(account) is None:
                raise UnknownAccount(f"unknown account {account}")
            (number,) = conn.execute("SELECT COALESCE(MAX(rowid), 0) + 1 FROM entries").fetchone()
            entry_ref = f"BK{booking_date:%Y%m%d}{number:08d}"
            conn.execute(
                "INSERT INTO entries (entry_ref, account, booking_date, amount_cents, direction,"
                " end_to_end_id, remittance, booked_sim, booked_wall)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    entry_ref,
                    account,
                    booking_date.isoformat(),
                    amount_cents,
                    direction,
                    end_to_end_id,
                    remittance,
                    format_qimen_time(self.ctx.clock.now()),
                    self.ctx.clock.wall(),
                ),
            )
            self.ctx.history.record(
                "state",
                "entry",
                "BOOK",
                entry_ref,
                {
                    "account": account,
                    "amount_cents": amount_cents,
                    "direction": direction,
                    "end_to_end_id": end_to_end_id,
                },
            )
        return Entry(
            entry_ref, account, booking_date, amount_cents, direction, end_to_end_id, remittance
        )

    def has_account(self, account: str) -> bool:
        return self._account_row(account) is not None

    def balance_cents(self, account: str | None = None) -> int:
        """The booked balance now."""
        account = account or self.credentials.account
        row = self._account_row(account)
        if row is None:
            raise UnknownAccount(f"unknown account {account}")
        return int(row["opening_cents"]) + self._net_before(account, None)

    def statement(self, account: str, booking_date: date) -> Statement:
        """The camt.053 content for one account and booking date.

        Raises UnknownAccount, or StatementNotAvailable for a date before the account was
        opened or after today (simulated).
        """
        row = self._account_row(account)
        if row is None:
            raise UnknownAccount(f"unknown account {account}")
        opened = date.fromisoformat(row["opened_date"])
        if booking_date < opened:
            raise StatementNotAvailable(f"account {account} was opened on {opened.isoformat()}")
        if booking_date > self.today():
            raise StatementNotAvailable(f"no statement for {booking_date.isoformat()} yet")
        day = booking_date.isoformat()
        opening = int(row["opening_cents"]) + self._net_before(account, day)
        entries = tuple(
            Entry(
                entry_ref=r["entry_ref"],
                account=account,
                booking_date=booking_date,
                amount_cents=r["amount_cents"],
                direction=r["direction"],
                end_to_end_id=r["end_to_end_id"],
                remittance=r["remittance"],
            )
            for r in self.ctx.conn.execute(
                "SELECT entry_ref, amount_cents, direction, end_to_end_id, remittance"
                " FROM entries WHERE account = ? AND booking_date = ? ORDER BY rowid",
                (account, day),
            )
        )
        return Statement(
            account=account,
            currency=row["currency"],
            booking_date=booking_date,
            sequence_number=(booking_date - opened).days + 1,
            opening_cents=opening,
            entries=entries,
        )

    def _account_row(self, account: str) -> sqlite3.Row | None:
        row: sqlite3.Row | None = self.ctx.conn.execute(
            "SELECT * FROM accounts WHERE account = ?", (account,)
        ).fetchone()
        return row

    def _net_before(self, account: str, day: str | None) -> int:
        """Credits minus debits booked before `day` (all of them when `day` is None)."""
        sql = (
            "SELECT COALESCE(SUM(CASE direction WHEN 'CRDT' THEN amount_cents"
            " ELSE -amount_cents END), 0) FROM entries WHERE account = ?"
        )
        params: tuple[str, ...] = (account,)
        if day is not None:
            sql += " AND booking_date < ?"
            params = (account, day)
        (net,) = self.ctx.conn.execute(sql, params).fetchone()
        return int(net)
