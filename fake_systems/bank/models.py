"""The bank fake's vocabulary: entries, statements, sessions, credit transfers, refusals."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Literal

from fake_systems.common.pipeline import WireError

Direction = Literal["CRDT", "DBIT"]
DIRECTIONS: frozenset[str] = frozenset({"CRDT", "DBIT"})

# ISO 20022 bank transaction codes (ExternalBankTransaction{Domain,Family,SubFamily}1Code):
# a credit transfer received / issued, the charges of an issued transfer, and the account's
# own charges (account management, miscellaneous debit operations).
RECEIVED_TRANSFER = "PMNT/RCDT/DMCT"
ISSUED_TRANSFER = "PMNT/ICDT/DMCT"
CHARGES = "CHRG"
TRANSFER_CHARGES = "PMNT/ICDT/CHRG"
ACCOUNT_CHARGES = "ACMT/MDOP/CHRG"


@dataclass(frozen=True)
class Entry:
    """One booked entry (camt.053 Ntry); `amount_cents` is positive, `direction` gives the sign."""

    entry_ref: str
    account: str
    booking_date: date
    amount_cents: int
    direction: Direction
    end_to_end_id: str
    remittance: str
    # ISO bank transaction code Domain/Family/SubFamily; "" for a transfer's own by direction.
    bank_tx_code: str = ""

    @property
    def tx_code(self) -> str:
        """The entry's BkTxCd: its own, else a received or issued credit transfer's."""
        if self.bank_tx_code:
            return self.bank_tx_code
        return RECEIVED_TRANSFER if self.direction == "CRDT" else ISSUED_TRANSFER

    @property
    def is_charge(self) -> bool:
        """A bank fee: sub-family CHRG (charges), whatever the domain."""
        return self.tx_code.rsplit("/", 1)[-1] == CHARGES

    @property
    def signed_cents(self) -> int:
        return self.amount_cents if self.direction == "CRDT" else -self.amount_cents


@dataclass(frozen=True)
class Statement:
    """One account's statement for one booking date: opening + credits - debits = closing."""

    account: str
    currency: str
    booking_date: date
    sequence_number: int
    opening_cents: int
    entries: tuple[Entry, ...]

    @property
    def credit_cents(self) -> int:
        return sum(e.amount_cents for e in self.entries if e.direction == "CRDT")

    @property
    def debit_cents(self) -> int:
        return sum(e.amount_cents for e in self.entries if e.direction == "DBIT")

    @property
    def closing_cents(self) -> int:
        return self.opening_cents + self.credit_cents - self.debit_cents

    @property
    def statement_id(self) -> str:
        return f"STMT-{self.account}-{self.booking_date:%Y%m%d}"


# pain.002 transaction statuses in the order a payment passes them; RJCT may end any step.
PAYMENT_FLOW: tuple[str, ...] = ("RCVD", "ACTC", "ACCP", "ACSP", "ACSC")
REJECTED = "RJCT"
FINAL_STATUSES = frozenset({"ACSC", REJECTED})
# ISO external status reason codes the fake gives with RJCT.
REASON_BAD_ACCOUNT = "AC01"  # IncorrectAccountNumber
REASON_CLOSED = "AC04"  # ClosedAccountNumber
REASON_BLOCKED = "AC06"  # BlockedAccount
REASON_NO_FUNDS = "AM04"  # InsufficientFunds


@dataclass(frozen=True)
class Session:
    """A logged-in session: the bearer `token` opens `account` until `expires_wall` (Unix)."""

    token: str
    account: str
    expires_wall: float


@dataclass(frozen=True)
class CreditTransfer:
    """One CdtTrfTxInf of a pain.001."""

    end_to_end_id: str
    instr_id: str | None
    amount_cents: int
    currency: str
    creditor_name: str
    creditor_account: str
    remittance: str


@dataclass(frozen=True)
class PaymentInstruction:
    """One PmtInf: a debtor account, a requested execution date and its transfers."""

    pmt_inf_id: str
    requested_date: date
    debtor_account: str
    transfers: tuple[CreditTransfer, ...]


@dataclass(frozen=True)
class PaymentMessage:
    """A pain.001 CstmrCdtTrfInitn as read off the wire (`ctrl_sum_cents` None when absent)."""

    msg_id: str
    message_name: str  # e.g. pain.001.001.09
    created: str
    nb_of_txs: int
    ctrl_sum_cents: int | None
    instructions: tuple[PaymentInstruction, ...]

    @property
    def transfers(self) -> tuple[CreditTransfer, ...]:
        return tuple(t for i in self.instructions for t in i.transfers)


@dataclass(frozen=True)
class TransferStatus:
    """One transaction of a status report (pain.002 TxInfAndSts)."""

    pmt_inf_id: str
    instr_id: str | None
    end_to_end_id: str
    amount_cents: int
    currency: str
    status: str
    reason: str | None
    entry_ref: str | None


@dataclass(frozen=True)
class MessageStatus:
    """A pain.001's status report; `is_new` is False when the message was a resend."""

    msg_id: str
    message_name: str
    created: str
    nb_of_txs: int
    ctrl_sum_cents: int
    transactions: tuple[TransferStatus, ...]
    is_new: bool = False

    @property
    def group_status(self) -> str:
        """One status for all; PART when some are rejected; else the least advanced."""
        statuses = {t.status for t in self.transactions}
        if len(statuses) == 1:
            return statuses.pop()
        if REJECTED in statuses:
            return "PART"
        return min(statuses, key=PAYMENT_FLOW.index)


@dataclass(frozen=True)
class CreditNotice:
    """Domain event: a credit was booked on an account whose holder asked to be told, at
    `url`; the protocol side renders it (camt.054), signs it and pushes it."""

    entry: Entry
    currency: str
    url: str


# Error code -> HTTP status, as NextGenPSD2 (Berlin Group) bank APIs answer.
STATUS_BY_CODE = {
    "FORMAT_ERROR": 400,
    "PSU_CREDENTIALS_INVALID": 401,
    "TOKEN_INVALID": 401,
    "TOKEN_EXPIRED": 401,
    "RESOURCE_UNKNOWN": 404,
    "SERVICE_INVALID": 405,
    "ACCESS_EXCEEDED": 429,
    "SERVICE_UNAVAILABLE": 503,
}


class BankError(WireError):
    """A refusal: its Berlin Group `code` and the HTTP status that code answers with."""

    code = "FORMAT_ERROR"

    def __init__(self, text: str) -> None:
        code = type(self).code
        super().__init__(code, text, http_status=STATUS_BY_CODE[code])
        self.text = text

    def __str__(self) -> str:
        return self.text


class CredentialsInvalid(BankError):
    """Login refused; `reason` (account, password, otp, otp_replayed) goes to the history only."""

    code = "PSU_CREDENTIALS_INVALID"

    def __init__(self, reason: str) -> None:
        # One text whatever failed: the answer must not tell which factor was right.
        super().__init__("invalid account, password or one-time password")
        self.reason = reason


class TokenInvalid(BankError):
    code = "TOKEN_INVALID"


class TokenExpired(BankError):
    code = "TOKEN_EXPIRED"


class UnknownAccount(BankError):
    code = "RESOURCE_UNKNOWN"


class StatementNotAvailable(BankError):
    code = "RESOURCE_UNKNOWN"


class PaymentUnknown(BankError):
    code = "RESOURCE_UNKNOWN"
