"""A bank client written from the public descriptions only (RFC 6238 / RFC 4226 for the
dynamic token, the ISO 20022 pain.001 / pain.002 / camt.053 message structure, Stripe's
webhook signature scheme): nothing is imported from the fake but its app, so the fake and
its own helpers cannot agree on a mistake unnoticed."""

from __future__ import annotations

import base64
import hashlib
import hmac
import struct
import xml.etree.ElementTree as ET
from decimal import Decimal

import httpx
import pytest

from fake_systems.bank.api.iso20022 import create_app
from fake_systems.bank.api.notices import send_credit_notices
from fake_systems.bank.service import BankService
from fake_systems.common.credentials import BankCredentials
from tests.support.pushes import mock_sender

pytestmark = pytest.mark.anyio

# RFC 6238 appendix B's SHA-1 key, "12345678901234567890", written in base32 by hand.
SEED = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
CREDENTIALS = BankCredentials(
    account="6222000011112222", username="treasury", password="pw-1", totp_seed=SEED
)
PAIN001_NS = "urn:iso:std:iso:20022:tech:xsd:pain.001.001.03"
# A pain.001.001.03 is answered with the status report of the same release, pain.002.001.03.
PAIN002 = "{urn:iso:std:iso:20022:tech:xsd:pain.002.001.03}"
CAMT053 = "{urn:iso:std:iso:20022:tech:xsd:camt.053.001.08}"


def rfc6238(seed_b32: str, unix_time: float, step: int = 30, digits: int = 6) -> str:
    """TOTP = HOTP(K, floor(t / 30)); HOTP = dynamic truncation of HMAC-SHA-1 (RFC 4226 5.3)."""
    key = base64.b32decode(seed_b32 + "=" * (-len(seed_b32) % 8))
    mac = hmac.new(key, struct.pack(">Q", int(unix_time) // step), hashlib.sha1).digest()
    offset = mac[19] & 0xF
    binary = (
        (mac[offset] & 0x7F) << 24 | mac[offset + 1] << 16 | mac[offset + 2] << 8 | mac[offset + 3]
    )
    return f"{binary % 10**digits:0{digits}d}"


def pain001(msg_id: str, debtor: str, payments: list[tuple[str, str, str]]) -> bytes:
    """A pain.001.001.03 CstmrCdtTrfInitn as a corporate ERP writes one (e2e, amount, creditor)."""
    total = sum(Decimal(amount) for _, amount, _ in payments)
    txs = "".join(
        f"<CdtTrfTxInf><PmtId><EndToEndId>{e2e}</EndToEndId></PmtId>"
        f'<Amt><InstdAmt Ccy="CNY">{amount}</InstdAmt></Amt>'
        f"<CdtrAgt><FinInstnId><BIC>ICBKCNBJ</BIC></FinInstnId></CdtrAgt>"
        f"<Cdtr><Nm>Supplier {e2e}</Nm></Cdtr>"
        f"<CdtrAcct><Id><Othr><Id>{creditor}</Id></Othr></Id></CdtrAcct>"
        f"<RmtInf><Ustrd>Invoice {e2e}</Ustrd></RmtInf></CdtTrfTxInf>"
        for e2e, amount, creditor in payments
    )
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><Document xmlns="{PAIN001_NS}">'
        "<CstmrCdtTrfInitn><GrpHdr>"
        f"<MsgId>{msg_id}</MsgId><CreDtTm>2026-11-10T20:00:00</CreDtTm>"
        f"<NbOfTxs>{len(payments)}</NbOfTxs><CtrlSum>{total}</CtrlSum>"
        "<InitgPty><Nm>ACME Trading</Nm></InitgPty></GrpHdr>"
        f"<PmtInf><PmtInfId>{msg_id}-1</PmtInfId><PmtMtd>TRF</PmtMtd><BtchBookg>false</BtchBookg>"
        f"<NbOfTxs>{len(payments)}</NbOfTxs><PmtTpInf><InstrPrty>NORM</InstrPrty></PmtTpInf>"
        "<ReqdExctnDt>2026-11-10</ReqdExctnDt><Dbtr><Nm>ACME Trading</Nm></Dbtr>"
        f"<DbtrAcct><Id><Othr><Id>{debtor}</Id></Othr></Id><Ccy>CNY</Ccy></DbtrAcct>"
        "<DbtrAgt><FinInstnId><BIC>CMBCCNBS</BIC></FinInstnId></DbtrAgt><ChrgBr>SLEV</ChrgBr>"
        f"{txs}</PmtInf></CstmrCdtTrfInitn></Document>"
    ).encode()


def test_the_hand_written_totp_meets_the_rfc_vectors():
    assert rfc6238(SEED, 59, digits=8) == "94287082"
    assert rfc6238(SEED, 1111111109, digits=8) == "07081804"
    assert rfc6238(SEED, 2000000000, digits=8) == "69279037"


@pytest.fixture
def bank(make_context, world) -> BankService:
    service = BankService(make_context("bank"), CREDENTIALS)
    service.setup(world)
    return service


async def test_login_pay_follow_and_read_the_statement(bank, clock, asgi_client):
    http = asgi_client(create_app(bank, CREDENTIALS))
    login = await http.post(
        "/iso20022/login",
        json={
            "account": CREDENTIALS.account,
            "password": "pw-1",
            "otp": rfc6238(SEED, clock.wall()),
        },
    )
    assert login.status_code == 200
    headers = {
        "Authorization": "Bearer " + login.json()["session_token"],
        "Content-Type": "application/xml",
    }

    body = pain001(
        "ACME-20261110-1",
        CREDENTIALS.account,
        [("INV-1", "1500.00", "6228480012345678"), ("INV-2", "20.5", "6222000000000004")],
    )
    sent = await http.post("/iso20022/pain.001", content=body, headers=headers)
    assert sent.status_code == 201
    assert sent.headers["location"] == "/iso20022/pain.002/ACME-20261110-1"

    clock.advance(3600)  # an hour is plenty for every status step
    answer = await http.get(sent.headers["location"], headers=headers)
    root = ET.fromstring(answer.content)
    assert root.tag == f"{PAIN002}Document"
    group = root.find(f"{PAIN002}CstmrPmtStsRpt/{PAIN002}OrgnlGrpInfAndSts")
    assert group is not None
    assert group.findtext(f"{PAIN002}OrgnlMsgId") == "ACME-20261110-1"
    assert group.findtext(f"{PAIN002}GrpSts") == "PART"
    statuses = {
        tx.findtext(f"{PAIN002}OrgnlEndToEndId"): (
            tx.findtext(f"{PAIN002}TxSts"),
            tx.findtext(f"{PAIN002}StsRsnInf/{PAIN002}Rsn/{PAIN002}Cd"),
        )
        for tx in root.iter(f"{PAIN002}TxInfAndSts")
    }
    assert statuses == {"INV-1": ("ACSC", None), "INV-2": ("RJCT", "AC04")}

    # Sending the same file again (a lost answer, a restart) pays nothing twice.
    again = await http.post("/iso20022/pain.001", content=body, headers=headers)
    assert again.status_code == 200

    statement = await http.get(
        "/iso20022/camt.053/statements",
        params={"account": CREDENTIALS.account, "date": "2026-11-10"},
        headers=headers,
    )
    stmt = ET.fromstring(statement.content).find(f"{CAMT053}BkToCstmrStmt/{CAMT053}Stmt")
    assert stmt is not None
    entries = stmt.findall(f"{CAMT053}Ntry")
    assert [(e.findtext(f"{CAMT053}Amt"), e.findtext(f"{CAMT053}CdtDbtInd")) for e in entries] == [
        ("1500.00", "DBIT")
    ]
    balances = {
        b.findtext(f"{CAMT053}Tp/{CAMT053}CdOrPrtry/{CAMT053}Cd"): Decimal(
            b.findtext(f"{CAMT053}Amt") or ""
        )
        for b in stmt.findall(f"{CAMT053}Bal")
    }
    assert balances["OPBD"] - Decimal("1500.00") == balances["CLBD"]


def stripe_style_check(secret: str, header: str, body: bytes, now: int) -> bool:
    """Stripe's documented check: HMAC-SHA256(secret, f"{t}.{body}") hex, |now - t| <= 300."""
    fields = dict(part.split("=", 1) for part in header.split(","))
    mac = hmac.new(secret.encode(), fields["t"].encode() + b"." + body, hashlib.sha256)
    return abs(now - int(fields["t"])) <= 300 and hmac.compare_digest(mac.hexdigest(), fields["v1"])


async def test_the_credit_notice_verifies_as_a_stripe_style_webhook(bank, clock):
    got: list[httpx.Request] = []
    bank.ctx.dispatcher.sender = mock_sender(lambda r: got.append(r) or httpx.Response(200))
    bank.notification_callback_url = "http://erp.example/bank-notices"
    send_credit_notices(bank)  # the protocol side renders and signs the service's notices
    bank.book(880_000, "CRDT", "SETTLE-JD-1110", "JD settlement")
    await bank.ctx.dispatcher.drain(5)
    (push,) = got
    signature = push.headers["Bank-Signature"]
    assert stripe_style_check(
        CREDENTIALS.webhook_secret, signature, push.content, int(clock.wall())
    )
    entry = ET.fromstring(push.content).find(
        "{urn:iso:std:iso:20022:tech:xsd:camt.054.001.08}BkToCstmrDbtCdtNtfctn/"
        "{urn:iso:std:iso:20022:tech:xsd:camt.054.001.08}Ntfctn/"
        "{urn:iso:std:iso:20022:tech:xsd:camt.054.001.08}Ntry"
    )
    assert entry is not None
    assert entry.findtext("{urn:iso:std:iso:20022:tech:xsd:camt.054.001.08}Amt") == "8800.00"
