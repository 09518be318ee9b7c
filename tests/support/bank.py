"""Bank test helpers: the connector's and a tenant's credentials, a TOTP login, pain.001
messages, validation against the official XSDs."""

from __future__ import annotations

import functools
from datetime import date

import httpx
import xmlschema
from lxml import etree

from fake_systems.bank import totp
from fake_systems.bank.iso_xml import SCHEMA_DIR
from fake_systems.bank.models import CreditTransfer, PaymentInstruction, PaymentMessage
from fake_systems.common.credentials import BankCredentials
from simulator.clock import ManualClock

SEED = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"  # base32 of the RFC 6238 SHA-1 key "1234567890" x2
CREDENTIALS = BankCredentials(
    account="6222000011112222", username="treasury", password="pw-1", totp_seed=SEED
)
TENANT = BankCredentials(
    account="6222000033334444", username="treasury-owner-a", password="pw-a", owners=("OWNER-A",)
)
PATH = "/iso20022/camt.053/statements"
PAIN001 = "/iso20022/pain.001"


async def session(
    client: httpx.AsyncClient, clock: ManualClock, credentials: BankCredentials = CREDENTIALS
) -> dict[str, str]:
    """Log in with the current TOTP code; the headers of a bearer session."""
    body = {
        "account": credentials.account,
        "password": credentials.password,
        "otp": totp.totp(credentials.totp_seed, clock.wall()),
    }
    token = (await client.post("/iso20022/login", json=body)).json()["session_token"]
    return {"Authorization": f"Bearer {token}"}


def transfer(e2e: str, cents: int = 12_345, creditor: str = "6228480012345678") -> CreditTransfer:
    """One credit transfer of `cents` to `creditor`, with an awkward creditor name."""
    return CreditTransfer(e2e, f"I-{e2e}", cents, "CNY", "供应商 A&B <Ltd>", creditor, f"PO {e2e}")


def message(
    msg_id: str,
    *transfers: CreditTransfer,
    debtor: str = CREDENTIALS.account,
    day: date = date(2026, 11, 10),
    version: str = "pain.001.001.09",
) -> PaymentMessage:
    """A pain.001 message of one payment instruction holding `transfers`."""
    return PaymentMessage(
        msg_id=msg_id,
        message_name=version,
        created="2026-11-10T20:00:00+08:00",
        nb_of_txs=len(transfers),
        ctrl_sum_cents=sum(t.amount_cents for t in transfers),
        instructions=(PaymentInstruction(f"PI-{msg_id}", day, debtor, tuple(transfers)),),
    )


@functools.cache
def _official_schema(version: str) -> xmlschema.XMLSchema:
    return xmlschema.XMLSchema(str(SCHEMA_DIR / f"{version}.xsd"))


def xsd_errors(document: bytes) -> list[str]:
    """What the official XSD of the document's own version (its namespace) finds wrong with
    it, checked with xmlschema: a validator that shares no code with the fake's (lxml)."""
    namespace = etree.QName(etree.fromstring(document)).namespace or ""
    schema = _official_schema(namespace.rsplit(":", 1)[-1])
    return [str(error.reason) for error in schema.iter_errors(document.decode())]
