"""Bank credit transfers: pain.001 in, pain.002 status over simulated time, camt.054 pushes."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import replace
from datetime import date

import httpx
import pytest
from lxml import etree

from fake_systems.bank.api.iso20022 import MAX_BODY_BYTES
from fake_systems.bank.api.notices import send_credit_notices
from fake_systems.bank.iso_xml import render_pain001
from fake_systems.bank.service import STATUS_DELAYS, BankService
from fake_systems.common.faults import NO_FAULTS, FaultInjector, FaultRule
from tests.support.bank import CREDENTIALS, PAIN001, TENANT, message, session, transfer
from tests.support.pushes import mock_sender

P2 = {"p": "urn:iso:std:iso:20022:tech:xsd:pain.002.001.10"}
C54 = {"c": "urn:iso:std:iso:20022:tech:xsd:camt.054.001.08"}
OPENING = 100_000_000
SETTLED = sum(STATUS_DELAYS) + 4  # past every step (see the +1 below)

pytestmark = pytest.mark.anyio


def report(content: bytes) -> tuple[str, dict[str, tuple[str, str | None, str | None]]]:
    """(GrpSts, {OrgnlEndToEndId: (TxSts, reason, AcctSvcrRef)}) of a pain.002 of either
    version (.10 answers a pain.001.001.09, .03 a pain.001.001.03)."""
    root = etree.fromstring(content)
    ns = {"p": etree.QName(root).namespace}
    group = root.findtext("p:CstmrPmtStsRpt/p:OrgnlGrpInfAndSts/p:GrpSts", namespaces=ns)
    txs = {
        tx.findtext("p:OrgnlEndToEndId", namespaces=ns): (
            tx.findtext("p:TxSts", namespaces=ns),
            tx.findtext("p:StsRsnInf/p:Rsn/p:Cd", namespaces=ns),
            tx.findtext("p:AcctSvcrRef", namespaces=ns),
        )
        for tx in root.iterfind(".//p:TxInfAndSts", ns)
    }
    return group, txs


async def status(
    client, auth, msg_id: str
) -> tuple[str, dict[str, tuple[str, str | None, str | None]]]:
    response = await client.get(f"/iso20022/pain.002/{msg_id}", headers=auth)
    assert response.status_code == 200
    return report(response.content)


def debits(bank: BankService) -> list[tuple[str, int]]:
    rows = bank.ctx.conn.execute(
        "SELECT end_to_end_id, amount_cents FROM entries WHERE direction = 'DBIT' ORDER BY rowid"
    ).fetchall()
    return [(r[0], r[1]) for r in rows]


def payment_tables(bank: BankService) -> tuple[int, int, int]:
    return tuple(  # type: ignore[return-value]
        bank.ctx.conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
        for t in ("payment_messages", "message_transactions", "payments")
    )


async def test_a_transfer_moves_through_every_status_and_books_a_debit(client, bank, clock, auth):
    sent = await client.post(
        PAIN001,
        content=render_pain001(message("M1", transfer("E1"), transfer("E2", 100))),
        headers=auth,
    )
    assert sent.status_code == 201
    assert sent.headers["content-type"].startswith("application/xml")
    assert sent.headers["location"] == "/iso20022/pain.002/M1"
    root = etree.fromstring(sent.content)
    group = root.find("p:CstmrPmtStsRpt/p:OrgnlGrpInfAndSts", P2)
    assert group.findtext("p:OrgnlMsgId", namespaces=P2) == "M1"
    assert group.findtext("p:OrgnlMsgNmId", namespaces=P2) == "pain.001.001.09"
    assert group.findtext("p:OrgnlNbOfTxs", namespaces=P2) == "2"
    assert group.findtext("p:OrgnlCtrlSum", namespaces=P2) == "124.45"
    assert report(sent.content) == (
        "RCVD",
        {"E1": ("RCVD", None, None), "E2": ("RCVD", None, None)},
    )
    assert root.findtext(".//p:TxInfAndSts/p:OrgnlInstrId", namespaces=P2) == "I-E1"

    seen = []
    for delay in STATUS_DELAYS:
        clock.advance(delay + 1)  # SimPy leaves events due exactly at `until` for later
        grp, txs = await status(client, auth, "M1")
        seen.append(grp)
        assert txs["E1"][0] == txs["E2"][0] == grp
    assert seen == ["ACTC", "ACCP", "ACSP", "ACSC"]
    _, txs = await status(client, auth, "M1")
    assert [e2e for e2e, _ in debits(bank)] == ["E1", "E2"]
    refs = {
        r[0]: r[1] for r in bank.ctx.conn.execute("SELECT end_to_end_id, entry_ref FROM entries")
    }
    assert txs["E1"] == ("ACSC", None, refs["E1"])
    assert bank.balance_cents() == OPENING - 12_345 - 100
    history = bank.ctx.conn.execute(
        "SELECT outcome FROM events WHERE kind = 'state' AND operation = 'payment'"
        " AND entity = 'E1' ORDER BY seq"
    ).fetchall()
    assert [r[0] for r in history] == ["RCVD", "ACTC", "ACCP", "ACSP", "ACSC"]


async def test_a_resent_msg_id_returns_the_same_status_and_books_nothing_twice(
    client, bank, clock, auth
):
    body = render_pain001(message("M1", transfer("E1")))
    assert (await client.post(PAIN001, content=body, headers=auth)).status_code == 201
    again = await client.post(PAIN001, content=body, headers=auth)
    assert again.status_code == 200
    assert report(again.content) == ("RCVD", {"E1": ("RCVD", None, None)})
    clock.advance(SETTLED)
    # A resend after settlement, even with other content, is the first message again.
    changed = render_pain001(message("M1", transfer("E1", 99_999), transfer("E9")))
    late = await client.post(PAIN001, content=changed, headers=auth)
    assert late.status_code == 200
    grp, txs = report(late.content)
    assert (grp, list(txs)) == ("ACSC", ["E1"])
    assert debits(bank) == [("E1", 12_345)]
    assert payment_tables(bank) == (1, 1, 1)
    outcomes = bank.ctx.conn.execute(
        "SELECT outcome, payload FROM events WHERE operation = 'pain.001' ORDER BY seq"
    ).fetchall()
    assert [r[0] for r in outcomes] == ["ok", "ok", "ok"]
    assert ['"resend":true' in r[1] for r in outcomes] == [False, True, True]


async def test_a_known_end_to_end_id_in_a_new_message_is_the_same_payment(
    client, bank, clock, auth
):
    await client.post(PAIN001, content=render_pain001(message("M1", transfer("E1"))), headers=auth)
    clock.advance(SETTLED)
    second = await client.post(
        PAIN001, content=render_pain001(message("M2", transfer("E1"), transfer("E2"))), headers=auth
    )
    assert second.status_code == 201
    grp, txs = report(second.content)
    assert (grp, txs["E1"][0], txs["E2"][0]) == ("RCVD", "ACSC", "RCVD")  # least advanced
    clock.advance(SETTLED)
    assert [e2e for e2e, _ in debits(bank)] == ["E1", "E2"]
    assert (await status(client, auth, "M2"))[0] == "ACSC"


@pytest.mark.parametrize(
    ("creditor", "reason"),
    [
        ("12AB", "AC01"),  # not an account number
        ("6222000000000004", "AC04"),  # the sandbox's closed account
        ("6222000000000006", "AC06"),  # the sandbox's blocked account
    ],
)
async def test_creditor_problems_reject_the_transaction(
    client, bank, clock, auth, creditor, reason
):
    body = render_pain001(message("M1", transfer("BAD", creditor=creditor), transfer("GOOD")))
    await client.post(PAIN001, content=body, headers=auth)
    clock.advance(SETTLED)
    grp, txs = await status(client, auth, "M1")
    assert grp == "PART"
    assert txs["BAD"] == ("RJCT", reason, None)
    assert txs["GOOD"][0] == "ACSC"
    assert [e2e for e2e, _ in debits(bank)] == ["GOOD"]


async def test_marked_creditor_accounts_are_rejected(client, bank, clock, auth):
    bank.mark_creditor_account("6228480099990000", "blocked")
    bank.mark_creditor_account("6228480099991111", "closed")
    body = render_pain001(
        message(
            "M1",
            transfer("B", creditor="6228480099990000"),
            transfer("C", creditor="6228480099991111"),
        )
    )
    await client.post(PAIN001, content=body, headers=auth)
    clock.advance(SETTLED)
    grp, txs = await status(client, auth, "M1")
    assert (grp, txs["B"][1], txs["C"][1]) == ("RJCT", "AC06", "AC04")
    assert debits(bank) == []


async def test_a_seeded_share_of_payments_is_rejected_as_closed_accounts(client, bank, clock, auth):
    bank.set_closed_share(0.25, "seed-1")
    ids = [f"E{n}" for n in range(40)]
    body = render_pain001(message("M1", *(transfer(e2e, 100) for e2e in ids)))
    await client.post(PAIN001, content=body, headers=auth)
    clock.advance(SETTLED)
    _, txs = await status(client, auth, "M1")
    rejected = {e2e for e2e, (sts, reason, _) in txs.items() if (sts, reason) == ("RJCT", "AC04")}
    assert 0 < len(rejected) < len(ids)
    assert {e2e for e2e, _ in debits(bank)} == set(ids) - rejected
    # The draw is the EndToEndId's: another seed rejects others; the same seed, the same ones.
    again = BankService(bank.ctx, CREDENTIALS)
    again.set_closed_share(0.25, "seed-1")
    assert {e2e for e2e in ids if again._drawn_closed(e2e)} == rejected
    again.set_closed_share(0.25, "seed-2")
    assert {e2e for e2e in ids if again._drawn_closed(e2e)} != rejected
    with pytest.raises(ValueError):
        bank.set_closed_share(1.5, "seed-1")
    # The report, fetched again and again, stays the same.
    assert await status(client, auth, "M1") == await status(client, auth, "M1")


async def test_insufficient_funds_counts_payments_already_in_settlement(client, bank, clock, auth):
    six_hundred_k = 60_000_000  # two of these exceed the 1,000,000.00 balance
    body = render_pain001(message("M1", transfer("A", six_hundred_k), transfer("B", six_hundred_k)))
    await client.post(PAIN001, content=body, headers=auth)
    clock.advance(SETTLED)
    grp, txs = await status(client, auth, "M1")
    assert (grp, txs["A"][:2], txs["B"][:2]) == ("PART", ("ACSC", None), ("RJCT", "AM04"))
    assert debits(bank) == [("A", six_hundred_k)]
    assert bank.balance_cents() == OPENING - six_hundred_k


async def test_execution_waits_for_the_requested_date(client, bank, clock, auth):
    body = render_pain001(
        message("M1", transfer("E1"), day=date(2026, 11, 12), version="pain.001.001.03")
    )
    assert (await client.post(PAIN001, content=body, headers=auth)).status_code == 201
    clock.advance(24 * 3600)  # 2026-11-11 20:00
    assert (await status(client, auth, "M1"))[0] == "ACCP"
    clock.advance(4 * 3600 + SETTLED)  # past midnight into the 12th
    assert (await status(client, auth, "M1"))[0] == "ACSC"
    (booked,) = bank.ctx.conn.execute("SELECT booking_date FROM entries").fetchone()
    assert booked == "2026-11-12"


def _mutate(xml: bytes, old: bytes, new: bytes) -> bytes:
    assert old in xml
    return xml.replace(old, new, 1)


GOOD = render_pain001(message("M1", transfer("E1"), transfer("E2")))


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (b"", "empty"),
        (b"<Document", "not well-formed"),
        (b"\xff\xfe<a/>", "invalid UTF-8"),
        (_mutate(GOOD, b"<NbOfTxs>2</NbOfTxs>", b"<NbOfTxs>3</NbOfTxs>"), "NbOfTxs"),
        (_mutate(GOOD, b"<NbOfTxs>2</NbOfTxs>", b"<NbOfTxs>two</NbOfTxs>"), "NbOfTxs type"),
        (_mutate(GOOD, b"<CtrlSum>246.90</CtrlSum>", b"<CtrlSum>246.91</CtrlSum>"), "CtrlSum"),
        (_mutate(GOOD, b"<EndToEndId>E2</EndToEndId>", b"<EndToEndId>E1</EndToEndId>"), "dup E2E"),
        (_mutate(GOOD, b'Ccy="CNY"', b'Ccy="USD"'), "currency"),
        (_mutate(GOOD, b">123.45<", b">123.456<"), "fractions of a fen"),
        (_mutate(GOOD, b">123.45<", b">-1<"), "negative"),
        (_mutate(GOOD, b">123.45<", b">0.00<"), "zero"),
        (_mutate(GOOD, b"<PmtMtd>TRF</PmtMtd>", b"<PmtMtd>CHK</PmtMtd>"), "PmtMtd"),
        (_mutate(GOOD, b"<EndToEndId>E1</EndToEndId>", b""), "missing EndToEndId"),
        (_mutate(GOOD, b"<MsgId>M1</MsgId>", b"<MsgId>" + b"M" * 36 + b"</MsgId>"), "MsgId > 35"),
        (_mutate(GOOD, b"<MsgId>M1</MsgId>", b"<MsgId>M<b/>1</MsgId>"), "element in text"),
        (_mutate(GOOD, b"pain.001.001.09", b"pain.001.001.99"), "namespace"),
        (_mutate(GOOD, b"<Dt>2026-11-10</Dt>", b"<Dt>2026-02-30</Dt>"), "date"),
        (
            _mutate(GOOD, b"<Document", b'<!DOCTYPE d [<!ENTITY x "boom">]><Document'),
            "DTD",
        ),
        (
            _mutate(
                GOOD,
                b"<Document",
                b'<!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]><Document',
            ).replace(b"<Ustrd>PO E1</Ustrd>", b"<Ustrd>&x;</Ustrd>"),
            "external entity",
        ),
    ],
)
async def test_malformed_messages_are_format_errors_and_change_nothing(
    client, bank, auth, body, why
):
    response = await client.post(PAIN001, content=body, headers=auth)
    assert response.status_code == 400, why
    (message_,) = response.json()["tppMessages"]
    assert message_["code"] == "FORMAT_ERROR"
    assert "passwd" not in message_["text"] and "root:" not in message_["text"]
    assert payment_tables(bank) == (0, 0, 0)
    (outcome,) = bank.ctx.conn.execute(
        "SELECT outcome FROM events WHERE operation = 'pain.001'"
    ).fetchone()
    assert outcome == "FORMAT_ERROR"


async def test_an_oversized_body_is_413(client, bank, auth):
    body = GOOD.replace(b"<Ustrd>PO E1</Ustrd>", b"<Ustrd>" + b"x" * MAX_BODY_BYTES + b"</Ustrd>")
    response = await client.post(PAIN001, content=body, headers=auth)
    assert response.status_code == 413
    assert response.json()["tppMessages"][0]["code"] == "FORMAT_ERROR"
    assert payment_tables(bank) == (0, 0, 0)


async def test_paying_from_someone_elses_account_is_refused(client, bank, clock, auth):
    body = render_pain001(message("M1", transfer("E1"), debtor=TENANT.account))
    response = await client.post(PAIN001, content=body, headers=auth)
    assert response.status_code == 404
    assert response.json()["tppMessages"][0]["code"] == "RESOURCE_UNKNOWN"
    assert payment_tables(bank) == (0, 0, 0)


async def test_reports_and_ids_are_per_account(client, bank, clock, auth):
    await client.post(PAIN001, content=render_pain001(message("M1", transfer("E1"))), headers=auth)
    clock.advance(30 * clock.scale)  # the next TOTP step
    tenant = await session(client, clock, TENANT)
    hidden = await client.get("/iso20022/pain.002/M1", headers=tenant)
    assert hidden.status_code == 404
    assert hidden.json()["tppMessages"][0]["code"] == "RESOURCE_UNKNOWN"
    # The tenant's own M1 with the same EndToEndId is a different payment from its account.
    own = render_pain001(message("M1", transfer("E1", 700), debtor=TENANT.account))
    assert (await client.post(PAIN001, content=own, headers=tenant)).status_code == 201
    clock.advance(SETTLED)
    booked = bank.ctx.conn.execute(
        "SELECT account, amount_cents FROM entries WHERE direction = 'DBIT' ORDER BY account"
    ).fetchall()
    assert [tuple(r) for r in booked] == [(CREDENTIALS.account, 12_345), (TENANT.account, 700)]


async def test_unknown_messages_and_missing_sessions(client, bank, auth):
    unknown = await client.get("/iso20022/pain.002/NOPE", headers=auth)
    assert unknown.status_code == 404
    no_session = await client.post(PAIN001, content=GOOD)
    assert no_session.status_code == 401
    assert no_session.json()["tppMessages"][0]["code"] == "TOKEN_INVALID"
    assert (await client.get("/iso20022/pain.002/M1")).status_code == 401
    for method, path in (("GET", "/iso20022/pain.001"), ("POST", "/iso20022/nothing")):
        wrong = await client.request(method, path, headers=auth)
        assert wrong.status_code == 404
        assert wrong.json()["tppMessages"][0]["code"] == "RESOURCE_UNKNOWN"
    assert payment_tables(bank) == (0, 0, 0)


async def test_a_lost_answer_is_safe_to_resend(client, bank, auth):
    bank.ctx.faults = FaultInjector([FaultRule("bank", "pain.001", "lost_response", 1.0)], 0)
    body = render_pain001(message("M1", transfer("E1")))
    assert (await client.post(PAIN001, content=body, headers=auth)).status_code == 504
    bank.ctx.faults = NO_FAULTS
    resent = await client.post(PAIN001, content=body, headers=auth)
    assert resent.status_code == 200
    assert report(resent.content)[0] == "RCVD"
    assert payment_tables(bank) == (1, 1, 1)


def test_render_and_parse_are_inverse():
    from fake_systems.bank.iso_xml import parse_pain001

    for version in ("pain.001.001.03", "pain.001.001.09"):
        original = message("M1", transfer("E1"), transfer("E2", 1), version=version)
        assert parse_pain001(render_pain001(original)) == original
        without_sum = replace(original, ctrl_sum_cents=None)
        assert parse_pain001(render_pain001(without_sum)) == without_sum


# ------------------------------------------------------------------- camt.054 pushes


def verify(secret: str, header: str, body: bytes, now: float, tolerance: int = 300) -> bool:
    """The receiver's check, as a Stripe-style webhook consumer writes it."""
    parts = dict(item.split("=", 1) for item in header.split(","))
    expected = hmac.new(secret.encode(), f"{parts['t']}.".encode() + body, hashlib.sha256)
    fresh = abs(now - int(parts["t"])) <= tolerance
    return fresh and hmac.compare_digest(expected.hexdigest(), parts["v1"])


async def test_credits_are_pushed_as_signed_camt054_and_retries_are_signed_afresh(bank, clock):
    received: list[httpx.Request] = []

    def receiver(request: httpx.Request) -> httpx.Response:
        received.append(request)
        if len(received) == 1:
            clock.wall_now += 400  # the first attempt fails; the retry comes much later
            return httpx.Response(503)
        return httpx.Response(200)

    bank.ctx.dispatcher.sender = mock_sender(receiver)
    bank.ctx.dispatcher.retry_sim_seconds = (0.0,)  # retry at once: no waiting in a test
    bank.notification_callback_url = "http://connector/bank/notify"
    send_credit_notices(bank)  # the protocol side renders and signs the service's notices
    bank.book(500, "DBIT", "FEE", "fee")  # debits are not notified
    entry = bank.book(1_234_500, "CRDT", "SETTLE-TM-A", "天猫结算 <&>")
    bank.book(9, "CRDT", "OTHER", "a second credit")
    await bank.ctx.dispatcher.drain(5)

    first, second = received[0], received[1]
    assert str(first.url) == "http://connector/bank/notify"
    assert first.headers["content-type"].startswith("application/xml")
    t1 = int(first.headers["bank-signature"].split(",")[0][2:])
    t2 = int(second.headers["bank-signature"].split(",")[0][2:])
    assert t2 - t1 == 400
    secret = CREDENTIALS.webhook_secret
    assert verify(secret, second.headers["bank-signature"], second.content, now=t2)
    assert not verify(secret, first.headers["bank-signature"], first.content, now=t2)  # too old
    assert not verify("whsec_wrong", second.headers["bank-signature"], second.content, now=t2)
    assert first.content == second.content
    root = etree.fromstring(second.content)
    ntry = root.find("c:BkToCstmrDbtCdtNtfctn/c:Ntfctn/c:Ntry", C54)
    assert root.findtext("c:BkToCstmrDbtCdtNtfctn/c:GrpHdr/c:MsgId", namespaces=C54) == (
        f"C54-{entry.entry_ref}"
    )
    assert ntry.findtext("c:Amt", namespaces=C54) == "12345.00"
    assert ntry.findtext("c:CdtDbtInd", namespaces=C54) == "CRDT"
    assert ntry.findtext(".//c:EndToEndId", namespaces=C54) == "SETTLE-TM-A"
    assert ntry.findtext(".//c:Ustrd", namespaces=C54) == "天猫结算 <&>"
    pushes = bank.ctx.conn.execute(
        "SELECT entity, outcome FROM events WHERE kind = 'push_out' ORDER BY seq"
    ).fetchall()
    assert [tuple(r) for r in pushes][:2] == [
        (entry.entry_ref, "refused:503"),
        (entry.entry_ref, "ok"),
    ]
    assert len(received) == 3  # the second credit, none for the debit


async def test_no_callback_url_means_no_push(bank):
    sent: list[httpx.Request] = []
    bank.ctx.dispatcher.sender = mock_sender(lambda r: sent.append(r) or httpx.Response(200))
    bank.book(100, "CRDT", "E", "r")
    await bank.ctx.dispatcher.drain(5)
    assert sent == [] and bank.ctx.dispatcher.in_flight == 0
