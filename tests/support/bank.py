"""Bank test helpers: the connector's and a tenant's credentials, a TOTP login, pain.001
messages, validation against the official XSDs."""

from __future__ import annotations

import functools
from datetime import date

import httpx
import xmlschema
from lxml import etree

from fake_systems.bank import totp
from fake_systems.bank.iso_xml import SCHEMA_DIR, render_pain001
from fake_systems.bank.models import CreditTransfer, PaymentInstruction, PaymentMessage
from fake_systems.common.credentials import BankCredentials
from simulator.clock import ManualClock
from tests.support.site import Site

SEED = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"  # base32 of the RFC 6238 SHA-1 key "1234567890" x2
CREDENTIALS = BankCredentials(
    account="6222000011112222", username="treasury", password="pw-1", totp_seed=SEED
)
TENANT = BankCredentials(
    account="6222000033334444", username="treasury-owner-a", password="pw-a", owners=("OWNER-A",)
)
PATH = "/iso20022/camt.053/statements"
PAIN001 = "/iso20022/pain.001"
PAIN002 = "/iso20022/pain.002/"
LOGIN = "/iso20022/login"


async def session(
    client: httpx.AsyncClient, clock: ManualClock, credentials: BankCredentials = CREDENTIALS
) -> dict[str, str]:
    """Log in with the current TOTP code; the headers of a bearer session."""
    token = (await client.send(login_request(client, clock, credentials))).json()["session_token"]
    return {"Authorization": f"Bearer {token}"}


def login_request(
    client: httpx.AsyncClient, clock: ManualClock, credentials: BankCredentials = CREDENTIALS
) -> httpx.Request:
    """A login with the password and the current TOTP code, not sent."""
    body = {
        "account": credentials.account,
        "password": credentials.password,
        "otp": totp.totp(credentials.totp_seed, clock.wall()),
    }
    return client.build_request("POST", LOGIN, json=body)


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


# ---------------------------------------------------------------- one valid request per operation
# Each builds what its operation needs on `site` (a session, a payment), then the request the
# connector's treasury user sends; tests/support/operations.py holds the table of them.


def _payment(site: Site, msg_id: str) -> bytes:
    """A pain.001 paying one supplier from the connector's account."""
    return render_pain001(
        message(msg_id, transfer(f"E2E-{msg_id}"), debtor=site.credentials.bank.account)
    )


async def valid_login(site: Site) -> httpx.Request:
    """login with the password and the current TOTP code."""
    return login_request(site.clients["bank"], site.clock, site.credentials.bank)


async def valid_pain001(site: Site) -> httpx.Request:
    """pain.001: one credit transfer."""
    client = site.clients["bank"]
    auth = await session(client, site.clock, site.credentials.bank)
    return client.build_request("POST", PAIN001, content=_payment(site, "LOST-P1"), headers=auth)


async def valid_pain002(site: Site) -> httpx.Request:
    """pain.002: the status report of a pain.001 the bank took."""
    client = site.clients["bank"]
    auth = await session(client, site.clock, site.credentials.bank)
    await client.post(PAIN001, content=_payment(site, "LOST-P2"), headers=auth)
    return client.build_request("GET", PAIN002 + "LOST-P2", headers=auth)


async def valid_camt053(site: Site) -> httpx.Request:
    """camt.053: the connector's account statement of the run's first day."""
    client = site.clients["bank"]
    auth = await session(client, site.clock, site.credentials.bank)
    params = {"account": site.credentials.bank.account, "date": "2026-11-10"}
    return client.build_request("GET", PATH, params=params, headers=auth)
