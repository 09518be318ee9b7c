"""Bank ISO 20022 adapter: camt.053 documents behind a session, and its error answers."""

from __future__ import annotations

import base64
from decimal import Decimal

import pytest
from lxml import etree

from tests.support.bank import CREDENTIALS, PATH, session

NS = {"c": "urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"}

pytestmark = pytest.mark.anyio


@pytest.fixture
async def auth(client, clock) -> dict[str, str]:
    return await session(client, clock)


def parse(content: bytes) -> etree._Element:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
    return etree.fromstring(content, parser)


def balance(stmt: etree._Element, code: str) -> Decimal:
    (bal,) = stmt.xpath(f"c:Bal[c:Tp/c:CdOrPrtry/c:Cd='{code}']", namespaces=NS)
    amount = Decimal(bal.findtext("c:Amt", namespaces=NS))
    assert bal.find("c:Amt", NS).get("Ccy") == "CNY"
    return amount if bal.findtext("c:CdtDbtInd", namespaces=NS) == "CRDT" else -amount


async def test_statement_document_balances_and_carries_the_entries(client, bank, clock, auth):
    clock.advance(3600)  # 21:00, still 2026-11-10
    bank.book(1_234_500, "CRDT", "SETTLE-TM-A-1110", "天猫结算 2026-11-10")
    bank.book(1_999, "DBIT", "FEE-1110", "手续费")
    clock.advance(4 * 3600)  # 2026-11-11 01:00
    bank.book(700, "CRDT", "LATE", "next day")

    response = await client.get(
        PATH, params={"account": CREDENTIALS.account, "date": "2026-11-10"}, headers=auth
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/xml")
    root = parse(response.content)
    assert root.tag == "{urn:iso:std:iso:20022:tech:xsd:camt.053.001.08}Document"
    (stmt,) = root.xpath("c:BkToCstmrStmt/c:Stmt", namespaces=NS)
    assert root.xpath("c:BkToCstmrStmt/c:GrpHdr/c:MsgId/text()", namespaces=NS)
    assert stmt.findtext("c:Id", namespaces=NS) == "STMT-6222000011112222-20261110"
    assert stmt.findtext("c:ElctrncSeqNb", namespaces=NS) == "1"
    assert stmt.findtext("c:Acct/c:Id/c:Othr/c:Id", namespaces=NS) == CREDENTIALS.account
    assert stmt.findtext("c:Acct/c:Ccy", namespaces=NS) == "CNY"

    opening, closing = balance(stmt, "OPBD"), balance(stmt, "CLBD")
    assert opening == Decimal("1000000.00")
    entries = stmt.findall("c:Ntry", NS)
    assert len(entries) == 2
    net = Decimal(0)
    for entry in entries:
        amount = Decimal(entry.findtext("c:Amt", namespaces=NS))
        net += amount if entry.findtext("c:CdtDbtInd", namespaces=NS) == "CRDT" else -amount
        assert entry.findtext("c:Sts/c:Cd", namespaces=NS) == "BOOK"
        assert entry.findtext("c:BookgDt/c:Dt", namespaces=NS) == "2026-11-10"
    assert opening + net == closing == Decimal("1012325.01")
    first = entries[0]
    assert first.findtext("c:Amt", namespaces=NS) == "12345.00"
    assert (
        first.findtext("c:NtryDtls/c:TxDtls/c:Refs/c:EndToEndId", namespaces=NS)
        == "SETTLE-TM-A-1110"
    )
    assert (
        first.findtext("c:NtryDtls/c:TxDtls/c:RmtInf/c:Ustrd", namespaces=NS)
        == "天猫结算 2026-11-10"
    )
    assert stmt.findtext("c:TxsSummry/c:TtlNtries/c:NbOfNtries", namespaces=NS) == "2"
    assert stmt.findtext("c:TxsSummry/c:TtlCdtNtries/c:Sum", namespaces=NS) == "12345.00"
    assert stmt.findtext("c:TxsSummry/c:TtlDbtNtries/c:Sum", namespaces=NS) == "19.99"

    next_day = await client.get(
        PATH, params={"account": CREDENTIALS.account, "date": "2026-11-11"}, headers=auth
    )
    (stmt2,) = parse(next_day.content).xpath("c:BkToCstmrStmt/c:Stmt", namespaces=NS)
    assert balance(stmt2, "OPBD") == closing
    assert balance(stmt2, "CLBD") == closing + Decimal("7.00")
    assert stmt2.findtext("c:ElctrncSeqNb", namespaces=NS) == "2"


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer not-a-session"},
        {"Authorization": "Bearer "},
        {"Authorization": "Basic " + base64.b64encode(b"treasury:pw-1").decode()},
    ],
)
async def test_requests_without_a_session_are_401(client, bank, headers):
    # A bad date too: the session is checked first and the answer tells nothing else.
    response = await client.get(
        PATH, params={"account": CREDENTIALS.account, "date": "bad"}, headers=headers
    )
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer realm=")
    (message,) = response.json()["tppMessages"]
    assert (message["category"], message["code"]) == ("ERROR", "TOKEN_INVALID")
    (outcome,) = bank.ctx.conn.execute(
        "SELECT outcome FROM events WHERE kind = 'api_in'"
    ).fetchone()
    assert outcome == "TOKEN_INVALID"


@pytest.mark.parametrize(
    ("params", "status", "code"),
    [
        ({"account": "6222999999999999", "date": "2026-11-10"}, 404, "RESOURCE_UNKNOWN"),
        ({"account": CREDENTIALS.account, "date": "2026-11-11"}, 404, "RESOURCE_UNKNOWN"),
        ({"account": CREDENTIALS.account, "date": "2026-11-09"}, 404, "RESOURCE_UNKNOWN"),
        ({"account": CREDENTIALS.account, "date": "2026-13-01"}, 400, "FORMAT_ERROR"),
        ({"account": CREDENTIALS.account, "date": "20261110"}, 400, "FORMAT_ERROR"),
        ({"account": CREDENTIALS.account, "date": "2026-02-30"}, 400, "FORMAT_ERROR"),
        ({"account": CREDENTIALS.account}, 400, "FORMAT_ERROR"),
        ({"date": "2026-11-10"}, 400, "FORMAT_ERROR"),
    ],
)
async def test_request_errors(client, bank, params, status, code, auth):
    response = await client.get(PATH, params=params, headers=auth)
    assert response.status_code == status
    (message,) = response.json()["tppMessages"]
    assert (message["category"], message["code"]) == ("ERROR", code)
    assert message["text"]
    (outcome,) = bank.ctx.conn.execute(
        "SELECT outcome FROM events WHERE kind = 'api_in' AND operation = 'camt.053'"
    ).fetchone()
    assert outcome == code


async def test_password_is_not_written_to_the_history(client, bank, auth):
    await client.get(
        PATH, params={"account": CREDENTIALS.account, "date": "2026-11-10"}, headers=auth
    )
    payloads = [r[0] for r in bank.ctx.conn.execute("SELECT payload FROM events").fetchall()]
    token = auth["Authorization"].split()[1]
    secrets = ("pw-1", token, CREDENTIALS.totp_seed, CREDENTIALS.webhook_secret)
    assert payloads and all(s not in (p or "") for p in payloads for s in secrets)


async def test_odd_texts_are_escaped_and_the_document_stays_well_formed(client, bank, auth):
    bank.book(100, "CRDT", 'E2E<&>"1', "A&B <tag> \"quoted\" 'single'\x01 " + "长" * 200)
    response = await client.get(
        PATH, params={"account": CREDENTIALS.account, "date": "2026-11-10"}, headers=auth
    )
    (entry,) = parse(response.content).xpath("//c:Ntry", namespaces=NS)
    assert entry.findtext("c:NtryDtls/c:TxDtls/c:Refs/c:EndToEndId", namespaces=NS) == 'E2E<&>"1'
    remittance = entry.findtext("c:NtryDtls/c:TxDtls/c:RmtInf/c:Ustrd", namespaces=NS)
    assert remittance.startswith("A&B <tag> \"quoted\" 'single' 长")
    assert len(remittance) == 140  # the control character dropped, then cut to Max140Text
