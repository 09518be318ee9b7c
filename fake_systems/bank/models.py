"""The bank fake's vocabulary: booked entries, a day's statement, and the refusals."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Literal

Direction = Literal["CRDT", "DBIT"]
DIRECTIONS: frozenset[str] = frozenset({"CRDT", "DBIT"})


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


class BankError(Exception):
    """A refusal; the adapter maps `code` to an HTTP status and an error body."""

    code = "FORMAT_ERROR"

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


class UnknownAccount(BankError):
    code = "RESOURCE_UNKNOWN"


class StatementNotAvailable(BankError):
    code = "RESOURCE_UNKNOWN"
