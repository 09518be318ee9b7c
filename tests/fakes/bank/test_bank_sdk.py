"""Bank SDK conformance: pain.001 files built by a public library (PyPI `sepaxml`, which
writes pain.001.001.03 and .09 as SEPA integrators send them) go to the fake unchanged;
the fake checks them against the official XSD of their version, answers in the pain.002
of the same release, and its answers pass the official XSDs under a second validator
(`xmlschema`, tests/support/bank.py), so the fake cannot vouch for itself."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import httpx
import pytest
from lxml import etree
from sepaxml import SepaTransfer

from fake_systems.bank import iso_xml
from fake_systems.bank.api.iso20022 import create_app
from fake_systems.bank.iso_xml import render_pain001
from fake_systems.bank.service import STATUS_DELAYS, BankService
from fake_systems.common.context import SystemContext
from fake_systems.common.credentials import BankCredentials
from fake_systems.common.pipeline import OFF_LOOP_BYTES
from simulator.clock import ManualClock
from simulator.world import World
from tests.support.bank import PAIN001, SEED, message, session, transfer, xsd_errors

pytestmark = pytest.mark.anyio

# sepaxml writes IBAN accounts only (DbtrAcct/Id/IBAN), so this account is IBAN-shaped.
IBAN_CREDENTIALS = BankCredentials(
    account="DE89370400440532013000", username="sepa-treasury", password="pw-s", totp_seed=SEED
)
SUPPLIER_IBAN = "DE02120300000000202051"
ISO = "urn:iso:std:iso:20022:tech:xsd:"
ANSWERS = {"pain.001.001.03": "pain.002.001.03", "pain.001.001.09": "pain.002.001.10"}
VERSIONS = sorted(ANSWERS)
SETTLED = sum(STATUS_DELAYS) + 4
DAY = date(2026, 11, 10)  # the simulated day the clock fixture starts on


def sepa_file(
    version: str, *payments: tuple[str, int], bic: bool = True, batch: bool = False
) -> bytes:
    """A pain.001 as sepaxml writes it: (EndToEndId, cents) per payment to the supplier."""
    config: dict[str, Any] = {
        "name": "ACME Trading",
        "IBAN": IBAN_CREDENTIALS.account,
        "batch": batch,
        "currency": "CNY",
    }
    if bic:
        config["BIC"] = "COBADEFFXXX"
    sepa = SepaTransfer(config, schema=version)
    for e2e, cents in payments:
        sepa.add_payment(
            {
                "name": "Supplier",
                "IBAN": SUPPLIER_IBAN,
                "amount": cents,
                "execution_date": DAY,
                "description": f"Invoice {e2e}",
                "endtoend_id": e2e,
            }
        )
    # sepaxml's own check (validate=True) compiles the XSD on every call: check it once here.
    out: bytes = sepa.export(validate=False)
    assert xsd_errors(out) == []
    return out


def without(document: bytes, path: str) -> bytes:
    """`document` less the element at `path` (steps under CstmrCdtTrfInitn, no prefixes)."""
    root = etree.fromstring(document)
    ns = {"p": etree.QName(root).namespace}
    steps = "/".join(f"p:{step}" for step in path.split("/"))
    (node,) = root.xpath(f"p:CstmrCdtTrfInitn/{steps}", namespaces=ns)
    node.getparent().remove(node)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))


def statuses(answer: bytes) -> tuple[str, str | None, dict[str, tuple[str | None, str | None]]]:
    """(namespace version, GrpSts, {OrgnlEndToEndId: (TxSts, reason)}) of a pain.002."""
    root = etree.fromstring(answer)
    namespace = etree.QName(root).namespace or ""
    ns = {"p": namespace}
    group = root.findtext("p:CstmrPmtStsRpt/p:OrgnlGrpInfAndSts/p:GrpSts", namespaces=ns)
    txs = {
        str(tx.findtext("p:OrgnlEndToEndId", namespaces=ns)): (
            tx.findtext("p:TxSts", namespaces=ns),
            tx.findtext("p:StsRsnInf/p:Rsn/p:Cd", namespaces=ns),
        )
        for tx in root.iterfind(".//p:TxInfAndSts", ns)
    }
    return namespace.removeprefix(ISO), group, txs


def stored(bank: BankService) -> list[int]:
    """Rows in the payment tables (messages, their transactions, payments)."""
    return [
        bank.ctx.conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
        for table in ("payment_messages", "message_transactions", "payments")
    ]


@pytest.fixture
def bank(make_context: Callable[[str], SystemContext], world: World) -> BankService:
    service = BankService(make_context("bank"), IBAN_CREDENTIALS)
    service.setup(world)
    return service


@pytest.fixture
def client(
    bank: BankService, asgi_client: Callable[[object], httpx.AsyncClient]
) -> httpx.AsyncClient:
    return asgi_client(create_app(bank, IBAN_CREDENTIALS))


@pytest.fixture
async def auth(client: httpx.AsyncClient, clock: ManualClock) -> dict[str, str]:
    return {**await session(client, clock, IBAN_CREDENTIALS), "Content-Type": "application/xml"}


# ------------------------------------------------------------ accepted, answered in its release


@pytest.mark.parametrize("bic", [True, False], ids=["BIC", "no-BIC"])
@pytest.mark.parametrize("version", VERSIONS)
async def test_a_sepaxml_file_is_paid_and_answered_in_its_own_release(
    client: httpx.AsyncClient,
    bank: BankService,
    clock: ManualClock,
    auth: dict[str, str],
    version: str,
    bic: bool,
) -> None:
    document = sepa_file(version, ("INV-1", 150_000), ("INV-2", 2_050), bic=bic)
    sent = await client.post(PAIN001, content=document, headers=auth)
    assert sent.status_code == 201, sent.text
    assert xsd_errors(sent.content) == []
    answered, group, txs = statuses(sent.content)
    assert answered == ANSWERS[version]
    assert group == "RCVD"
    # pain.002.001.03 has no RCVD per transaction: a received one carries no TxSts yet.
    received = None if version == "pain.001.001.03" else "RCVD"
    assert txs == {"INV-1": (received, None), "INV-2": (received, None)}

    clock.advance(SETTLED)
    report = await client.get(sent.headers["location"], headers=auth)
    assert report.status_code == 200
    assert xsd_errors(report.content) == []
    assert statuses(report.content) == (
        ANSWERS[version],
        "ACSC",
        {"INV-1": ("ACSC", None), "INV-2": ("ACSC", None)},
    )
    assert bank.balance_cents() == 100_000_000 - 152_050


@pytest.mark.parametrize("version", VERSIONS)
async def test_every_status_report_passes_the_official_xsd(
    client: httpx.AsyncClient,
    bank: BankService,
    clock: ManualClock,
    auth: dict[str, str],
    version: str,
) -> None:
    """RCVD, ACTC, ACCP, ACSP, ACSC, RJCT with its reason and PART, at every step."""
    bank.mark_creditor_account(SUPPLIER_IBAN, "closed")
    good = transfer("GOOD", 100, creditor="6228480012345678")
    bad = transfer("BAD", 100, creditor=SUPPLIER_IBAN)
    body = render_pain001(
        message("M-STEPS", good, bad, debtor=IBAN_CREDENTIALS.account, version=version)
    )
    sent = await client.post(PAIN001, content=body, headers=auth)
    assert sent.status_code == 201, sent.text
    seen: set[tuple[str | None, str | None]] = set()
    for delay in (0, *STATUS_DELAYS, 4):
        clock.advance(delay + 1)
        report = await client.get(sent.headers["location"], headers=auth)
        assert xsd_errors(report.content) == []
        answered, group, txs = statuses(report.content)
        assert answered == ANSWERS[version]
        seen |= set(txs.values())
    assert group == "PART"
    assert txs == {"GOOD": ("ACSC", None), "BAD": ("RJCT", "AC04")}
    assert {"ACTC", "ACCP", "ACSP"} <= {status for status, _ in seen}


# ------------------------------------------------------------ refused like a bank refuses


@pytest.mark.parametrize(
    ("path", "named"),
    [
        ("GrpHdr/InitgPty", "InitgPty"),
        ("PmtInf/Dbtr", "Dbtr"),
        ("PmtInf/DbtrAgt", "DbtrAgt"),
    ],
)
@pytest.mark.parametrize("version", VERSIONS)
async def test_a_file_without_a_mandatory_party_is_refused_naming_it(
    client: httpx.AsyncClient,
    bank: BankService,
    auth: dict[str, str],
    version: str,
    path: str,
    named: str,
) -> None:
    document = without(sepa_file(version, ("INV-1", 150_000)), path)
    assert any(named in error for error in xsd_errors(document))  # the XSD's own verdict
    response = await client.post(PAIN001, content=document, headers=auth)
    assert response.status_code == 400
    (error,) = response.json()["tppMessages"]
    assert error["code"] == "FORMAT_ERROR"
    assert named in error["text"] and version in error["text"]
    assert stored(bank) == [0, 0, 0]
    (outcome,) = bank.ctx.conn.execute(
        "SELECT outcome FROM events WHERE operation = 'pain.001'"
    ).fetchone()
    assert outcome == "FORMAT_ERROR"
    # Sent again whole, the same message is new: the refusal kept nothing of it.
    whole = sepa_file(version, ("INV-1", 150_000))
    assert (await client.post(PAIN001, content=whole, headers=auth)).status_code == 201


@pytest.mark.parametrize(
    ("old", "new", "named"),
    [
        (b"<Nm>ACME Trading</Nm></Dbtr>", b"<Nm>ACME Trading</Nm><Foo/></Dbtr>", "Foo"),
        (b"<ChrgBr>SLEV</ChrgBr>", b"<ChrgBr>FREE</ChrgBr>", "ChrgBr"),
        (b"<BtchBookg>false</BtchBookg>", b"<BtchBookg>no</BtchBookg>", "BtchBookg"),
        (b"<Nm>Supplier</Nm>", b"<Nm>" + b"S" * 141 + b"</Nm>", "Nm"),
    ],
)
@pytest.mark.parametrize("version", VERSIONS)
async def test_any_other_schema_violation_is_refused(
    client: httpx.AsyncClient,
    bank: BankService,
    auth: dict[str, str],
    version: str,
    old: bytes,
    new: bytes,
    named: str,
) -> None:
    """Elements the fake does not read are validated all the same, as a bank's XSD check."""
    document = sepa_file(version, ("INV-1", 150_000))
    assert old in document
    document = document.replace(old, new, 1)
    assert xsd_errors(document)
    response = await client.post(PAIN001, content=document, headers=auth)
    assert response.status_code == 400
    (error,) = response.json()["tppMessages"]
    assert error["code"] == "FORMAT_ERROR" and named in error["text"]
    assert stored(bank) == [0, 0, 0]


@pytest.mark.parametrize(
    ("version", "own", "other"),
    [("pain.001.001.03", b"BIC>", b"BICFI>"), ("pain.001.001.09", b"BICFI>", b"BIC>")],
)
async def test_the_agents_bic_element_is_the_one_of_its_version(
    client: httpx.AsyncClient,
    bank: BankService,
    auth: dict[str, str],
    version: str,
    own: bytes,
    other: bytes,
) -> None:
    """BIC in .03, BICFI from .04 on: a file mixing them up is not valid."""
    document = sepa_file(version, ("INV-1", 150_000))
    assert document.count(b"<" + own) == 1
    swapped = document.replace(b"<" + own, b"<" + other).replace(b"</" + own, b"</" + other)
    response = await client.post(PAIN001, content=swapped, headers=auth)
    assert response.status_code == 400
    assert other.rstrip(b">").decode() in response.json()["tppMessages"][0]["text"]
    assert stored(bank) == [0, 0, 0]


async def test_a_refusal_quotes_no_value_of_the_file(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    """The refusal's text is kept in the history: a name or address must not ride along."""
    secret = b"13800138000 Zhang San"
    document = sepa_file("pain.001.001.09", ("INV-1", 150_000))
    document = document.replace(b">1500.00</CtrlSum>", b">" + secret + b"</CtrlSum>", 1)
    response = await client.post(PAIN001, content=document, headers=auth)
    text = response.json()["tppMessages"][0]["text"]
    assert "CtrlSum" in text and "13800138000" not in text and "Zhang" not in text


# ------------------------------------------------------------ the fake's own renderer


@pytest.mark.parametrize("version", VERSIONS)
def test_the_fakes_own_pain001_carries_its_debtor_agent_and_is_valid(version: str) -> None:
    document = render_pain001(message("M1", transfer("E1"), transfer("E2", 1), version=version))
    assert xsd_errors(document) == []
    root = etree.fromstring(document)
    ns = {"p": f"{ISO}{version}"}
    agent = root.find("p:CstmrCdtTrfInitn/p:PmtInf/p:DbtrAgt/p:FinInstnId", ns)
    assert agent is not None and len(agent) == 1


# ------------------------------------------------------------ cost


async def test_a_big_file_is_validated_off_the_loop_and_schemas_load_once(
    client: httpx.AsyncClient,
    auth: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import threading

    iso_xml.schema.cache_clear()
    loads: list[str] = []
    validations: list[int] = []
    load = iso_xml._Schema.__init__
    validate = iso_xml._Schema.first_error

    def counting_load(self: iso_xml._Schema, version: str) -> None:
        loads.append(version)
        load(self, version)

    def spying_validate(self: iso_xml._Schema, root: Any) -> str | None:
        validations.append(threading.get_ident())
        return validate(self, root)

    monkeypatch.setattr(iso_xml._Schema, "__init__", counting_load)
    monkeypatch.setattr(iso_xml._Schema, "first_error", spying_validate)
    big = sepa_file("pain.001.001.09", *((f"B{i}", 100) for i in range(300)), batch=True, bic=False)
    assert len(big) > OFF_LOOP_BYTES
    broken = without(big, "PmtInf/DbtrAgt")
    assert (await client.post(PAIN001, content=broken, headers=auth)).status_code == 400
    assert (await client.post(PAIN001, content=big, headers=auth)).status_code == 201
    small = sepa_file("pain.001.001.09", ("S1", 100))
    assert (await client.post(PAIN001, content=small, headers=auth)).status_code == 201
    assert loads == ["pain.001.001.09"]
    assert validations[0] != threading.get_ident() and validations[1] != threading.get_ident()
    assert validations[2] == threading.get_ident()  # a small body: no thread hop
