"""The bank fake's domain: accounts, logins with a dynamic token, credit transfers, statements."""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import re
import secrets
import sqlite3
from collections.abc import Callable, Generator, Sequence
from datetime import date, datetime, time, timedelta
from typing import Any, Literal

import simpy

from fake_systems.bank import totp
from fake_systems.bank.models import (
    ACCOUNT_CHARGES,
    DIRECTIONS,
    PAYMENT_FLOW,
    REASON_BAD_ACCOUNT,
    REASON_BLOCKED,
    REASON_CLOSED,
    REASON_NO_FUNDS,
    REJECTED,
    TRANSFER_CHARGES,
    BankError,
    CredentialsInvalid,
    CreditNotice,
    Direction,
    Entry,
    MessageStatus,
    PaymentMessage,
    PaymentUnknown,
    Session,
    Statement,
    StatementNotAvailable,
    TokenExpired,
    TokenInvalid,
    TransferStatus,
    UnknownAccount,
)
from fake_systems.common.context import SystemContext
from fake_systems.common.credentials import BankCredentials
from fake_systems.common.scope import OwnerScope
from fake_systems.common.signing import constant_time_equal
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
    booked_wall   REAL NOT NULL,
    bank_tx_code  TEXT NOT NULL DEFAULT ''  -- BkTxCd Domain/Family/SubFamily; '' a transfer's
);
CREATE INDEX IF NOT EXISTS entries_account_date ON entries(account, booking_date);
-- The camt.053 statements served, as last served (a closed day's never changes): what the
-- judge checks closes and chains, and how often each was fetched.
CREATE TABLE IF NOT EXISTS statements_served (
    account       TEXT NOT NULL,
    booking_date  TEXT NOT NULL,
    statement_id  TEXT NOT NULL,
    opening_cents INTEGER NOT NULL,
    credit_cents  INTEGER NOT NULL,
    debit_cents   INTEGER NOT NULL,
    closing_cents INTEGER NOT NULL,
    entries       INTEGER NOT NULL,
    final         INTEGER NOT NULL,  -- 1: served once the day was over
    served        INTEGER NOT NULL,
    served_sim    TEXT NOT NULL,
    PRIMARY KEY (account, booking_date)
);
-- Only a hash of each bearer token is kept: the database is handed out with the report.
CREATE TABLE IF NOT EXISTS sessions (
    token_hash    TEXT PRIMARY KEY,
    account       TEXT NOT NULL REFERENCES accounts(account),
    created_wall  REAL NOT NULL,
    expires_wall  REAL NOT NULL
);
-- The last TOTP time step used per account: a step is accepted once (RFC 6238 5.2).
CREATE TABLE IF NOT EXISTS otp_steps (
    account       TEXT PRIMARY KEY REFERENCES accounts(account),
    last_counter  INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS payment_messages (
    account        TEXT NOT NULL REFERENCES accounts(account),
    msg_id         TEXT NOT NULL,
    message_name   TEXT NOT NULL,
    created        TEXT NOT NULL,
    nb_of_txs      INTEGER NOT NULL,
    ctrl_sum_cents INTEGER NOT NULL,
    received_sim   TEXT NOT NULL,
    received_wall  REAL NOT NULL,
    PRIMARY KEY (account, msg_id)
);
-- Which payments a message carried; a resent EndToEndId points at the first payment.
CREATE TABLE IF NOT EXISTS message_transactions (
    account       TEXT NOT NULL,
    msg_id        TEXT NOT NULL,
    seq           INTEGER NOT NULL,
    pmt_inf_id    TEXT NOT NULL,
    instr_id      TEXT,
    end_to_end_id TEXT NOT NULL,
    PRIMARY KEY (account, msg_id, seq)
);
CREATE TABLE IF NOT EXISTS payments (
    account          TEXT NOT NULL REFERENCES accounts(account),
    end_to_end_id    TEXT NOT NULL,
    msg_id           TEXT NOT NULL,
    amount_cents     INTEGER NOT NULL CHECK (amount_cents > 0),
    currency         TEXT NOT NULL,
    creditor_name    TEXT NOT NULL,
    creditor_account TEXT NOT NULL,
    remittance       TEXT NOT NULL,
    requested_date   TEXT NOT NULL,
    status           TEXT NOT NULL,
    reason           TEXT,
    entry_ref        TEXT,
    created_sim      TEXT NOT NULL,
    updated_sim      TEXT NOT NULL,
    PRIMARY KEY (account, end_to_end_id)
);
-- Creditor accounts known to be closed (AC04) or blocked (AC06).
CREATE TABLE IF NOT EXISTS creditor_accounts (
    account TEXT PRIMARY KEY,
    state   TEXT NOT NULL CHECK (state IN ('closed', 'blocked'))
);
"""

DEFAULT_OPENING_CENTS = 100_000_000  # 1,000,000.00 CNY
CURRENCY = "CNY"
SESSION_SECONDS = 1800  # wall seconds a session lasts from login (absolute, not sliding)
# Simulated seconds from one status to the next: RCVD -> ACTC -> ACCP -> ACSP -> ACSC.
STATUS_DELAYS: tuple[float, ...] = (5.0, 30.0, 60.0, 300.0)
# A transfer's charge by amount (cents up to, fee cents), the PBOC-guided schedule for
# corporate inter-bank transfers most Chinese banks publish (docs/DECISIONS.md, "Bank fees");
# above the last tier 0.002 % of the amount, at most 200 CNY.
TRANSFER_FEE_TIERS: tuple[tuple[int, int], ...] = (
    (1_000_000, 500),  # up to 10,000 CNY: 5 CNY
    (10_000_000, 1_000),  # up to 100,000 CNY: 10 CNY
    (50_000_000, 1_500),  # up to 500,000 CNY: 15 CNY
    (100_000_000, 2_000),  # up to 1,000,000 CNY: 20 CNY
)
TRANSFER_FEE_MAX_CENTS = 20_000
# Creditor accounts that always answer as closed / blocked (a sandbox's magic numbers).
SANDBOX_CREDITORS = {"6222000000000004": "closed", "6222000000000006": "blocked"}
# A creditor account the bank can route: 8-32 digits (Chinese accounts) or IBAN-shaped.
_CREDITOR_ACCOUNT = re.compile(r"[0-9]{8,32}|[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}")
CreditorState = Literal["closed", "blocked"]

logger = logging.getLogger(__name__)


def transfer_fee_cents(amount_cents: int) -> int:
    """The bank's charge for one executed outgoing transfer of `amount_cents`."""
    for up_to, fee in TRANSFER_FEE_TIERS:
        if amount_cents <= up_to:
            return fee
    # 0.002 % = 1/50,000, rounded half up to the fen, capped.
    return min((amount_cents + 25_000) // 50_000, TRANSFER_FEE_MAX_CENTS)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class BankService:
    """A bank holding CNY accounts: one per issued credential (the connector's and each owner's).

    Logins take account + password + a TOTP code and open a bearer session; pain.001 credit
    transfers move RCVD -> ACTC -> ACCP -> ACSP -> ACSC over simulated time (a SimPy process
    per payment) or end RJCT with AC01 / AC04 / AC06 / AM04, booking a DBIT on ACSC; credits
    booked on the connector's account are notified (a CreditNotice event, which the
    protocol side renders as a signed camt.054 push).

    LIMITATIONS (what the fake does not imitate):
    - One currency (CNY), booking date = value date, no pending (PDNG) entries, no camt.052;
      a statement for today shows today so far.
    - Creditor accounts are external: a transfer to another account of this bank is not
      credited there. Closed / blocked creditors are the sandbox numbers and those marked
      with `mark_creditor_account()`; any other well-formed account number is valid, but for
      the seeded share of payments (`set_closed_share`) answered AC04 whatever the account
      (a creditor's bank would refuse every later payment to a closed account alike).
    - A rejection comes at the creditor check (after ACTC), never later: no payment is
      returned (camt.054 DBIT reversed) after it was booked.
    - A resent MsgId returns the first message's report whatever the resend contains; a
      known EndToEndId in a new message is the first payment again (content not compared).
    - No login lockout after failed attempts, no logout, no session refresh; one TOTP step
      opens at most one session per account (RFC 6238 forbids reuse).
    - Payments in flight are not resumed after a process restart (state lives in one run).
    - `book()` does not de-duplicate by EndToEndId: the caller decides what is booked.
    - No statement pagination (StmtPgntn) and no batch entries: one Ntry per booking.
    - camt.054 notices are pushed for credits on the connector's account only.
    - Fees (`set_fees`, off by default): a charge per executed transfer (TRANSFER_FEE_TIERS)
      booked as its own DBIT entry (BkTxCd PMNT/ICDT/CHRG, EndToEndId the transfer's) right
      after the transfer, and a monthly account-management charge (ACMT/MDOP/CHRG) on the
      connector's account only, at China midnight of the given day of the month. No fee for
      a rejected transfer, no fee on credits, no VAT invoice, no fee waivers or discounts,
      and a fee is booked even when it overdraws the account.
    """

    def __init__(
        self,
        ctx: SystemContext,
        credentials: BankCredentials,
        opening_cents: int = DEFAULT_OPENING_CENTS,
        tenants: Sequence[BankCredentials] = (),
    ) -> None:
        self.ctx = ctx
        self.credentials = credentials
        self.opening_cents = opening_cents
        self.env: simpy.Environment = ctx.clock.env
        # Where the connector wants its credits notified; None: no notices.
        self.notification_callback_url: str | None = None
        # Who renders and sends the notices: the protocol side (api/notices.py) when its app
        # is built; the service itself never writes a protocol's document.
        self.credit_notices: Callable[[CreditNotice], None] | None = None
        # The share of payments the creditor's bank refuses as a closed account (AC04), drawn
        # per EndToEndId from `closed_seed`: a scenario's (set_closed_share), none by default.
        self.closed_share = 0.0
        self.closed_seed = ""
        # Bank fees (set_fees): none by default, so runs without them book as before.
        self.transfer_fees = False
        self.account_fee_cents = 0
        self.account_fee_day = 1
        self._logins: dict[str, BankCredentials] = {}
        for issued in (credentials, *tenants):
            self._logins[issued.account] = issued

    def today(self) -> date:
        """The simulated booking date (China time)."""
        return self.ctx.clock.now().astimezone(CHINA).date()

    def setup(self, world: World | None = None) -> None:
        """Create the tables and open an account per issued credential (idempotent)."""
        conn = self.ctx.conn
        conn.executescript(SCHEMA)
        with transaction(conn):
            for issued in self._logins.values():
                self.open_account(issued)
            conn.executemany(
                "INSERT OR IGNORE INTO creditor_accounts (account, state) VALUES (?, ?)",
                SANDBOX_CREDITORS.items(),
            )

    def open_account(self, credentials: BankCredentials) -> None:
        """Open the account of one issued credential and let it log in (idempotent)."""
        self._logins[credentials.account] = credentials
        self.ctx.conn.execute(
            "INSERT OR IGNORE INTO accounts (account, currency, opening_cents, opened_date,"
            " owner) VALUES (?, ?, ?, ?, ?)",
            (
                credentials.account,
                CURRENCY,
                self.opening_cents,
                self.today().isoformat(),
                credentials.username,
            ),
        )

    def mark_creditor_account(self, account: str, state: CreditorState) -> None:
        """From now on transfers to `account` are rejected AC04 (closed) or AC06 (blocked)."""
        self.ctx.conn.execute(
            "INSERT OR REPLACE INTO creditor_accounts (account, state) VALUES (?, ?)",
            (account, state),
        )

    def set_closed_share(self, share: float, seed: str) -> None:
        """From now on a `share` of payments is rejected AC04 (the creditor's account closed),
        which ones drawn per EndToEndId from `seed`: the same id gets the same answer in
        every run of the seed, whatever else is paid."""
        if not 0.0 <= share <= 1.0:
            raise ValueError(f"share must be within [0, 1], not {share!r}")
        self.closed_share = share
        self.closed_seed = seed

    def set_fees(
        self, transfer_fees: bool, account_fee_cents: int = 0, account_fee_day: int = 1
    ) -> None:
        """From now on charge each executed transfer (`transfer_fees`) and, when
        `account_fee_cents` > 0, the connector's account every month at China midnight of
        `account_fee_day` (1-28)."""
        if account_fee_cents < 0 or not 1 <= account_fee_day <= 28:
            raise ValueError("account_fee_cents must be >= 0 and account_fee_day in 1..28")
        self.transfer_fees = transfer_fees
        self.account_fee_cents = account_fee_cents
        self.account_fee_day = account_fee_day
        if account_fee_cents:
            self.env.process(self._account_fees())

    def _account_fees(self) -> Generator[simpy.Event, Any, None]:
        """The monthly account-management charge, for as long as the world runs."""
        while True:
            now = self.ctx.clock.now().astimezone(CHINA)
            due = datetime.combine(now.date().replace(day=self.account_fee_day), time(), CHINA)
            if due <= now:
                following = now.date().replace(day=1) + timedelta(days=32)
                due = datetime.combine(following.replace(day=self.account_fee_day), time(), CHINA)
            yield self.env.timeout((due - now).total_seconds())
            self.book(
                self.account_fee_cents,
                "DBIT",
                "NOTPROVIDED",
                f"账户管理费 {due:%Y-%m}",
                bank_tx_code=ACCOUNT_CHARGES,
            )

    def _drawn_closed(self, end_to_end_id: str) -> bool:
        if self.closed_share <= 0.0:
            return False
        digest = hashlib.sha256(f"{self.closed_seed}\x00{end_to_end_id}".encode()).digest()
        return int.from_bytes(digest[:8], "big") / 2**64 < self.closed_share

    # ----------------------------------------------------------------- sessions

    def login(self, account: str, password: str, otp: str) -> Session:
        """A session for account + password + the current TOTP code (wall time, ±1 step).

        Raises CredentialsInvalid (reason account, password, otp or otp_replayed); a refused
        login changes nothing.
        """
        issued = self._logins.get(account)
        if issued is None:
            raise CredentialsInvalid("account")
        if not constant_time_equal(password, issued.password):
            raise CredentialsInvalid("password")
        now = self.ctx.clock.wall()
        counter = totp.matching_counter(issued.totp_seed, otp, now)
        if counter is None:
            raise CredentialsInvalid("otp")
        conn = self.ctx.conn
        with transaction(conn):
            row = conn.execute(
                "SELECT last_counter FROM otp_steps WHERE account = ?", (account,)
            ).fetchone()
            if row is not None and counter <= row[0]:
                raise CredentialsInvalid("otp_replayed")
            conn.execute(
                "INSERT INTO otp_steps (account, last_counter) VALUES (?, ?)"
                " ON CONFLICT (account) DO UPDATE SET last_counter = excluded.last_counter",
                (account, counter),
            )
            token = secrets.token_urlsafe(32)
            session = Session(token, account, now + SESSION_SECONDS)
            conn.execute(
                "DELETE FROM sessions WHERE account = ? AND expires_wall <= ?", (account, now)
            )
            conn.execute(
                "INSERT INTO sessions (token_hash, account, created_wall, expires_wall)"
                " VALUES (?, ?, ?, ?)",
                (token_hash(token), account, now, session.expires_wall),
            )
            self.ctx.history.record("state", "session", "OPEN", account)
        return session

    def scope_of(self, account: str) -> OwnerScope:
        """Whose money an account holds: its credential's owners (the connector's: every
        owner). The bank scopes by account; this says which owners that account stands for."""
        issued = self._logins.get(account)
        return OwnerScope.of(issued.owners) if issued is not None else OwnerScope(frozenset())

    def end_session(self, token: str) -> None:
        """Forget a session (the bank dropped it): its token opens nothing any more."""
        self.ctx.conn.execute("DELETE FROM sessions WHERE token_hash = ?", (token_hash(token),))

    def session_account(self, token: str) -> str:
        """The account a bearer token opens; TokenInvalid if unknown, TokenExpired if old."""
        row = self.ctx.conn.execute(
            "SELECT account, expires_wall FROM sessions WHERE token_hash = ?", (token_hash(token),)
        ).fetchone()
        if row is None:
            raise TokenInvalid("no such session; log in first")
        if self.ctx.clock.wall() >= row["expires_wall"]:
            raise TokenExpired("the session has expired; log in again")
        return str(row["account"])

    # ---------------------------------------------------------------- transfers

    def submit(self, account: str, message: PaymentMessage) -> MessageStatus:
        """Take a pain.001 for `account`, idempotent on MsgId and on EndToEndId.

        A known MsgId returns its report (`is_new` False) and changes nothing. Raises
        BankError for a message inconsistent in itself, UnknownAccount when a PmtInf names
        a debtor account other than `account`.
        """
        conn = self.ctx.conn
        if self._message_row(account, message.msg_id) is not None:
            return self.payment_report(account, message.msg_id)
        self._check(account, message)
        now_sim = format_qimen_time(self.ctx.clock.now())
        started: list[str] = []
        with transaction(conn):
            conn.execute(
                "INSERT INTO payment_messages (account, msg_id, message_name, created, nb_of_txs,"
                " ctrl_sum_cents, received_sim, received_wall) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    account,
                    message.msg_id,
                    message.message_name,
                    message.created,
                    message.nb_of_txs,
                    sum(t.amount_cents for t in message.transfers),
                    now_sim,
                    self.ctx.clock.wall(),
                ),
            )
            seq = 0
            for instruction in message.instructions:
                for transfer in instruction.transfers:
                    seq += 1
                    conn.execute(
                        "INSERT INTO message_transactions (account, msg_id, seq, pmt_inf_id,"
                        " instr_id, end_to_end_id) VALUES (?, ?, ?, ?, ?, ?)",
                        (
                            account,
                            message.msg_id,
                            seq,
                            instruction.pmt_inf_id,
                            transfer.instr_id,
                            transfer.end_to_end_id,
                        ),
                    )
                    inserted = conn.execute(
                        "INSERT OR IGNORE INTO payments (account, end_to_end_id, msg_id,"
                        " amount_cents, currency, creditor_name, creditor_account, remittance,"
                        " requested_date, status, created_sim, updated_sim)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (
                            account,
                            transfer.end_to_end_id,
                            message.msg_id,
                            transfer.amount_cents,
                            transfer.currency,
                            transfer.creditor_name,
                            transfer.creditor_account,
                            transfer.remittance,
                            instruction.requested_date.isoformat(),
                            PAYMENT_FLOW[0],
                            now_sim,
                            now_sim,
                        ),
                    ).rowcount
                    if inserted:
                        started.append(transfer.end_to_end_id)
                        self.ctx.history.record(
                            "state",
                            "payment",
                            PAYMENT_FLOW[0],
                            transfer.end_to_end_id,
                            {"account": account, "msg_id": message.msg_id},
                        )
        for end_to_end_id in started:
            self.env.process(self._progress(account, end_to_end_id))
        return dataclasses.replace(self.payment_report(account, message.msg_id), is_new=True)

    def _check(self, account: str, message: PaymentMessage) -> None:
        transfers = message.transfers
        if message.nb_of_txs != len(transfers):
            raise BankError(
                f"GrpHdr/NbOfTxs is {message.nb_of_txs} but the message has {len(transfers)}"
            )
        total = sum(t.amount_cents for t in transfers)
        if message.ctrl_sum_cents is not None and message.ctrl_sum_cents != total:
            raise BankError("GrpHdr/CtrlSum is not the sum of the InstdAmt")
        seen: set[str] = set()
        for transfer in transfers:
            if transfer.end_to_end_id in seen:
                raise BankError(f"EndToEndId {transfer.end_to_end_id} appears twice")
            seen.add(transfer.end_to_end_id)
        for instruction in message.instructions:
            # Accounts of other customers are as unknown as accounts that do not exist.
            if not constant_time_equal(instruction.debtor_account, account):
                raise UnknownAccount(f"unknown debtor account {instruction.debtor_account}")

    def payment_report(self, account: str, msg_id: str) -> MessageStatus:
        """The current status of every transaction of one pain.001; PaymentUnknown if none."""
        message = self._message_row(account, msg_id)
        if message is None:
            raise PaymentUnknown(f"no payment message {msg_id}")
        rows = self.ctx.conn.execute(
            "SELECT t.pmt_inf_id, t.instr_id, t.end_to_end_id, p.amount_cents, p.currency,"
            " p.status, p.reason, p.entry_ref FROM message_transactions t JOIN payments p"
            " ON p.account = t.account AND p.end_to_end_id = t.end_to_end_id"
            " WHERE t.account = ? AND t.msg_id = ? ORDER BY t.seq",
            (account, msg_id),
        ).fetchall()
        return MessageStatus(
            msg_id=msg_id,
            message_name=message["message_name"],
            created=message["created"],
            nb_of_txs=message["nb_of_txs"],
            ctrl_sum_cents=message["ctrl_sum_cents"],
            transactions=tuple(TransferStatus(*row) for row in rows),
        )

    def _message_row(self, account: str, msg_id: str) -> sqlite3.Row | None:
        row: sqlite3.Row | None = self.ctx.conn.execute(
            "SELECT * FROM payment_messages WHERE account = ? AND msg_id = ?", (account, msg_id)
        ).fetchone()
        return row

    def _progress(self, account: str, end_to_end_id: str) -> Generator[simpy.Event, Any, None]:
        """One payment's life: technical checks, creditor checks, funds, settlement."""
        to_actc, to_accp, to_acsp, to_acsc = STATUS_DELAYS
        yield self.env.timeout(to_actc)
        self._set_status(account, end_to_end_id, "ACTC")
        yield self.env.timeout(to_accp)
        payment = self._payment_row(account, end_to_end_id)
        reason = self._creditor_reason(payment["creditor_account"])
        if reason is None and self._drawn_closed(end_to_end_id):
            reason = REASON_CLOSED
        if reason is not None:
            self._set_status(account, end_to_end_id, REJECTED, reason)
            return
        self._set_status(account, end_to_end_id, "ACCP")
        # Executed on the requested date at the earliest (China midnight).
        start = datetime.combine(date.fromisoformat(payment["requested_date"]), time(), CHINA)
        not_before = (start - self.ctx.clock.now()).total_seconds()
        yield self.env.timeout(max(to_acsp, not_before))
        with transaction(self.ctx.conn):
            if payment["amount_cents"] > self._available_cents(account):
                self._set_status(account, end_to_end_id, REJECTED, REASON_NO_FUNDS)
                return
            self._set_status(account, end_to_end_id, "ACSP")
        yield self.env.timeout(to_acsc)
        with transaction(self.ctx.conn):
            entry = self.book(
                payment["amount_cents"],
                "DBIT",
                end_to_end_id,
                payment["remittance"],
                account=account,
            )
            self._set_status(account, end_to_end_id, "ACSC", entry_ref=entry.entry_ref)
            if self.transfer_fees:
                self.book(
                    transfer_fee_cents(payment["amount_cents"]),
                    "DBIT",
                    end_to_end_id,
                    f"汇划手续费 {end_to_end_id}",
                    account=account,
                    bank_tx_code=TRANSFER_CHARGES,
                )

    def _creditor_reason(self, creditor_account: str) -> str | None:
        if not _CREDITOR_ACCOUNT.fullmatch(creditor_account):
            return REASON_BAD_ACCOUNT
        row = self.ctx.conn.execute(
            "SELECT state FROM creditor_accounts WHERE account = ?", (creditor_account,)
        ).fetchone()
        if row is None:
            return None
        return REASON_CLOSED if row["state"] == "closed" else REASON_BLOCKED

    def _available_cents(self, account: str) -> int:
        """Booked balance less what payments in settlement (ACSP) have reserved."""
        (reserved,) = self.ctx.conn.execute(
            "SELECT COALESCE(SUM(amount_cents), 0) FROM payments"
            " WHERE account = ? AND status = 'ACSP'",
            (account,),
        ).fetchone()
        return self.balance_cents(account) - int(reserved)

    def _payment_row(self, account: str, end_to_end_id: str) -> sqlite3.Row:
        row: sqlite3.Row = self.ctx.conn.execute(
            "SELECT * FROM payments WHERE account = ? AND end_to_end_id = ?",
            (account, end_to_end_id),
        ).fetchone()
        return row

    def _set_status(
        self,
        account: str,
        end_to_end_id: str,
        status: str,
        reason: str | None = None,
        entry_ref: str | None = None,
    ) -> None:
        with transaction(self.ctx.conn):
            self.ctx.conn.execute(
                "UPDATE payments SET status = ?, reason = ?, entry_ref = ?, updated_sim = ?"
                " WHERE account = ? AND end_to_end_id = ?",
                (
                    status,
                    reason,
                    entry_ref,
                    format_qimen_time(self.ctx.clock.now()),
                    account,
                    end_to_end_id,
                ),
            )
            self.ctx.history.record(
                "state",
                "payment",
                status,
                end_to_end_id,
                {"account": account, "reason": reason, "entry_ref": entry_ref},
            )

    # ------------------------------------------------------------------ entries

    def book(
        self,
        amount_cents: int,
        direction: Direction,
        end_to_end_id: str,
        remittance: str,
        account: str | None = None,
        bank_tx_code: str = "",
    ) -> Entry:
        """Book one entry today on `account` (default: the connector's). Amount is positive;
        `bank_tx_code` (Domain/Family/SubFamily) is a transfer's by default.

        A credit on the connector's account is notified (a CreditNotice to `credit_notices`)
        when `notification_callback_url` is set. Raises ValueError for a non-positive amount or
        an unknown direction, UnknownAccount for an account the bank does not hold.
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
                " end_to_end_id, remittance, booked_sim, booked_wall, bank_tx_code)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
                    bank_tx_code,
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
                    **({"bank_tx_code": bank_tx_code} if bank_tx_code else {}),
                },
            )
        entry = Entry(
            entry_ref,
            account,
            booking_date,
            amount_cents,
            direction,
            end_to_end_id,
            remittance,
            bank_tx_code,
        )
        if direction == "CRDT" and account == self.credentials.account:
            self._notify_credit(entry)
        return entry

    def _notify_credit(self, entry: Entry) -> None:
        """Tell the notices' listener of a credit, if its holder gave a callback URL."""
        url = self.notification_callback_url
        if not url:
            return
        if self.credit_notices is None:
            logger.warning("credit %s not notified: nothing renders notices", entry.entry_ref)
            return
        self.credit_notices(CreditNotice(entry, CURRENCY, url))

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
                bank_tx_code=r["bank_tx_code"],
            )
            for r in self.ctx.conn.execute(
                "SELECT entry_ref, amount_cents, direction, end_to_end_id, remittance,"
                " bank_tx_code FROM entries WHERE account = ? AND booking_date = ? ORDER BY rowid",
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

    def serve_statement(self, account: str, booking_date: date) -> Statement:
        """`statement()`, recorded in `statements_served` as served (final once the day is
        over): the judge checks what the bank said, not only what it booked."""
        statement = self.statement(account, booking_date)
        self.ctx.conn.execute(
            "INSERT INTO statements_served (account, booking_date, statement_id, opening_cents,"
            " credit_cents, debit_cents, closing_cents, entries, final, served, served_sim)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?)"
            " ON CONFLICT (account, booking_date) DO UPDATE SET"
            " opening_cents = excluded.opening_cents, credit_cents = excluded.credit_cents,"
            " debit_cents = excluded.debit_cents, closing_cents = excluded.closing_cents,"
            " entries = excluded.entries, final = excluded.final, served = served + 1,"
            " served_sim = excluded.served_sim",
            (
                account,
                booking_date.isoformat(),
                statement.statement_id,
                statement.opening_cents,
                statement.credit_cents,
                statement.debit_cents,
                statement.closing_cents,
                len(statement.entries),
                int(booking_date < self.today()),
                format_qimen_time(self.ctx.clock.now()),
            ),
        )
        return statement

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
