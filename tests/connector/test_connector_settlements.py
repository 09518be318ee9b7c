"""The reference connector books settlements: a signed camt.054 credit → the OMS bill → one
audited receipt bill (per order: commission as handling charge, the receivable written off in
full), once however often the notice comes; a forged or stale notice books nothing; the two
faulty variants change exactly one thing."""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from connectors.faulty.books_commission_as_revenue import BooksCommissionAsRevenueFlow
from connectors.faulty.flags_by_amount_only import FlagsByAmountOnlyFlow
from connectors.faulty.rounds_with_floats import RoundsWithFloatsFlow
from connectors.faulty.writes_off_twice import WritesOffTwiceFlow
from connectors.reference.clients.http import HttpClient
from connectors.reference.clients.oms import OmsClient
from connectors.reference.settlement_flow import (
    NEEDS_APPROVAL,
    RECEIPT,
    WITHIN_TOLERANCE,
    SettlementFlow,
    needs_approval,
    parse_camt054,
    receipt_model,
    signature_ok,
)
from tests.support.connector import OMS_SECRET, Peers4, k3_client

SECRET = "whsec_test"
NUMBER = "ST20261111-DY-A"
CAMT054 = (
    "<?xml version='1.0' encoding='UTF-8'?>\n"
    '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.054.001.08"><BkToCstmrDbtCdtNtfctn>'
    "<GrpHdr><MsgId>C54-BK1</MsgId><CreDtTm>2026-11-11T04:00:00</CreDtTm></GrpHdr><Ntfctn>"
    "<Id>NTFN-BK1</Id><CreDtTm>2026-11-11T04:00:00</CreDtTm><Acct><Id><Othr>"
    "<Id>6222000011112222</Id></Othr></Id><Ccy>CNY</Ccy></Acct><Ntry><NtryRef>BK1</NtryRef>"
    '<Amt Ccy="CNY">{amount}</Amt><CdtDbtInd>{direction}</CdtDbtInd><Sts><Cd>BOOK</Cd></Sts>'
    "<BookgDt><Dt>2026-11-11</Dt></BookgDt><AcctSvcrRef>BK1</AcctSvcrRef><NtryDtls><TxDtls>"
    f"<Refs><EndToEndId>{NUMBER}</EndToEndId></Refs></TxDtls></NtryDtls></Ntry></Ntfctn>"
    "</BkToCstmrDbtCdtNtfctn></Document>"
)


def notice(amount: str = "131.54", direction: str = "CRDT") -> bytes:
    return CAMT054.format(amount=amount, direction=direction).encode()


def signed(body: bytes, secret: str = SECRET, at: float | None = None) -> str:
    stamp = int(time.time() if at is None else at)
    mac = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={stamp},v1={mac}"


def bill() -> dict[str, Any]:
    """Two orders: 100.00 (5.00 commission) and 59.90 of which 19.90 refunded (2.00), and a
    penalty of 1.46: 131.54 net."""
    return {
        "settlement_no": NUMBER,
        "shop_no": "DY-A",
        "settle_amount": 131.54,
        "adjust_amount": -1.46,
        "adjust_reason": "平台扣款",
        "pay_time": "2026-11-11 04:00:00",
        "detail_list": [
            {"trade_no": "T1", "send_amount": 100.0, "refund_amount": 0, "commission": 5.0},
            {"trade_no": "T2", "send_amount": 59.9, "refund_amount": 19.9, "commission": 2.0},
        ],
    }


def with_bill(peers: Peers4) -> None:
    answer = {"status": 0, "data": {"total_count": 1, "order": [bill()]}}
    peers.script("ecomock.Settlement.search", *[httpx.Response(200, json=answer)] * 3)


def app(flow: SettlementFlow) -> httpx.AsyncClient:
    asgi = Starlette(routes=[flow.route()])
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=asgi), base_url="http://c")


def make_flow(http: HttpClient, kind: type[SettlementFlow] = SettlementFlow) -> SettlementFlow:
    oms = OmsClient(http, "http://oms", "sid", "key", OMS_SECRET)
    return kind(oms, k3_client(http), SECRET)


async def send(client: httpx.AsyncClient, body: bytes, header: str | None) -> int:
    headers = {"Content-Type": "application/xml"}
    if header is not None:
        headers["Bank-Signature"] = header
    return (await client.post("/bank/notice", content=body, headers=headers)).status_code


def test_signatures_are_the_banks_and_fresh() -> None:
    body = notice()
    now = time.time()
    assert signature_ok(signed(body, at=now), body, SECRET, now)
    assert not signature_ok(signed(body, "whsec_other", at=now), body, SECRET, now)
    assert not signature_ok(signed(body, at=now), body + b" ", SECRET, now)
    assert not signature_ok(signed(body, at=now - 301), body, SECRET, now)
    assert not signature_ok(None, body, SECRET, now)
    assert not signature_ok(signed(body, at=now), body, "", now)  # no secret: trust nothing


def test_a_camt054_entry_is_read() -> None:
    credit = parse_camt054(notice())
    assert (credit.entry_ref, credit.amount_cents, credit.credit) == ("BK1", 13154, True)
    assert credit.end_to_end_id == NUMBER
    with pytest.raises(ValueError, match="no Ntry"):
        parse_camt054(b"<Document/>")


def test_the_receipt_writes_each_order_off_with_its_commission_as_handling_charge() -> None:
    model = receipt_model(bill(), parse_camt054(notice()))
    assert (model["FBillNo"], model["FNote"], model["FCONTACTUNIT"]) == (
        NUMBER,
        "BK1",
        {"FNumber": "DY-A"},
    )
    legs = [
        (leg["FRECTOTALAMOUNTFOR"], leg["FHANDLINGCHARGEFOR"], leg["FREALRECAMOUNTFOR"])
        for leg in model["FRECEIVEBILLENTRY"]
    ]
    assert legs == [
        ("100.00", "5.00", "95.00"),
        ("40.00", "2.00", "38.00"),
        ("-1.46", "0.00", "-1.46"),
    ]
    assert [leg["FCOMMENT"] for leg in model["FRECEIVEBILLENTRY"][:2]] == ["T1", "T2"]
    offs = [(w["FSRCBILLNO"], w["FREALRECAMOUNT"]) for w in model["FRECEIVEBILLSRCENTITY"]]
    assert offs == [("T1", "100.00"), ("T2", "40.00")]
    # The money received over the legs is the credit.
    received = sum(float(leg["FREALRECAMOUNTFOR"]) for leg in model["FRECEIVEBILLENTRY"])
    assert round(received, 2) == 131.54


def test_the_receipt_flags_a_difference_at_or_over_a_threshold() -> None:
    # 133.00 settled for the orders (less commission), 131.54 credited: 1.46 short, 1.10 %.
    model = receipt_model(bill(), parse_camt054(notice()))
    assert model["FREMARK"] == (
        f"{NEEDS_APPROVAL}: 应收净额 133.00, 平台结算 131.54, 银行到账 131.54, 差异 -1.46 (1.10 %)"
    )
    # 0.53 short is 0.40 %: under both thresholds, said so but not flagged.
    small = {**bill(), "adjust_amount": -0.53, "settle_amount": 132.47}
    model = receipt_model(small, parse_camt054(notice("132.47")))
    assert model["FREMARK"].startswith(f"{WITHIN_TOLERANCE}: ")
    # Nothing to reconcile: no remark at all.
    agreed = {**bill(), "adjust_amount": 0, "settle_amount": 133.0}
    assert "FREMARK" not in receipt_model(agreed, parse_camt054(notice("133.00")))


@pytest.mark.parametrize(
    ("difference", "expected", "flagged"),
    [
        (500, 100_000, True),  # 0.5 % exactly: at the threshold
        (499, 100_000, False),
        (-500, 100_000, True),  # a penalty as much as a subsidy
        (50_000, 100_000_000, True),  # 500 CNY exactly, 0.05 %
        (49_999, 100_000_000, False),
        (1, 0, True),  # anything on nothing
        (0, 0, False),
    ],
)
def test_the_thresholds_are_inclusive(difference: int, expected: int, flagged: bool) -> None:
    assert needs_approval(difference, expected) is flagged


@pytest.mark.anyio
async def test_faulty_flags_by_amount_only_leaves_a_share_difference_unflagged(
    peers: Peers4, http: HttpClient
) -> None:
    with_bill(peers)
    flow = make_flow(http, FlagsByAmountOnlyFlow)
    async with app(flow) as client:
        body = notice()
        assert await send(client, body, signed(body)) == 200
    # 1.10 % of the bill, under 500 CNY: the seeds want it approved, the variant does not.
    assert peers.models[(RECEIPT, NUMBER)]["FREMARK"].startswith(f"{WITHIN_TOLERANCE}: ")
    assert flow.needs_approval(50_000, 100_000_000)  # 500 CNY it still flags


@pytest.mark.anyio
async def test_a_notice_is_booked_once_however_often_it_comes(
    peers: Peers4, http: HttpClient
) -> None:
    with_bill(peers)
    flow = make_flow(http)
    async with app(flow) as client:
        body = notice()
        assert await send(client, body, signed(body)) == 200
        assert await send(client, body, signed(body)) == 200
    assert [op for op in peers.ops("erp") if op != "ExecuteBillQuery"] == [
        "LoginBySign",
        "Save",
        "Submit",
        "Audit",
    ]
    assert peers.bills[(RECEIPT, NUMBER)] == "C"
    # The bill is pulled for each notice; the second finds the receipt audited already.
    assert peers.ops("oms") == ["ecomock.Settlement.search"] * 2


@pytest.mark.anyio
async def test_a_forged_stale_or_malformed_notice_books_nothing(
    peers: Peers4, http: HttpClient
) -> None:
    with_bill(peers)
    async with app(make_flow(http)) as client:
        body = notice()
        assert await send(client, body, None) == 401
        assert await send(client, body, signed(body, "whsec_forged")) == 401
        assert await send(client, body, signed(body, at=time.time() - 600)) == 401
        assert await send(client, b"<Document/>", signed(b"<Document/>")) == 400
        # A debit is our own payment: acknowledged, not a settlement.
        debit = notice(direction="DBIT")
        assert await send(client, debit, signed(debit)) == 200
    assert peers.calls == []


@pytest.mark.anyio
async def test_a_notice_not_booked_is_not_acknowledged(peers: Peers4, http: HttpClient) -> None:
    refusal = {"status": 100, "message": "结算单[X]不存在"}
    peers.script("ecomock.Settlement.search", httpx.Response(200, json=refusal))
    async with app(make_flow(http)) as client:
        body = notice()
        # The bank sends it again later: nothing is lost by refusing now.
        assert await send(client, body, signed(body)) == 503
    assert "Save" not in peers.ops("erp")


@pytest.mark.anyio
async def test_faulty_commission_as_revenue_books_no_handling_charge(
    peers: Peers4, http: HttpClient
) -> None:
    with_bill(peers)
    async with app(make_flow(http, BooksCommissionAsRevenueFlow)) as client:
        body = notice()
        assert await send(client, body, signed(body)) == 200
    model = peers.models[(RECEIPT, NUMBER)]
    legs = [
        (leg["FRECTOTALAMOUNTFOR"], leg["FHANDLINGCHARGEFOR"]) for leg in model["FRECEIVEBILLENTRY"]
    ]
    assert legs == [("95.00", "0.00"), ("38.00", "0.00"), ("-1.46", "0.00")]
    # Its write-offs are the reference's: the receivables still cleared in full.
    offs = [w["FREALRECAMOUNT"] for w in model["FRECEIVEBILLSRCENTITY"]]
    assert offs == ["100.00", "40.00"]


@pytest.mark.anyio
async def test_faulty_writes_off_twice_saves_a_twin_receipt(
    peers: Peers4, http: HttpClient
) -> None:
    with_bill(peers)
    async with app(make_flow(http, WritesOffTwiceFlow)) as client:
        body = notice()
        assert await send(client, body, signed(body)) == 200
    assert (
        peers.models[(RECEIPT, f"{NUMBER}-2")]["FRECEIVEBILLSRCENTITY"]
        == (peers.models[(RECEIPT, NUMBER)]["FRECEIVEBILLSRCENTITY"])
    )
    assert [op for op in peers.ops("erp") if op == "Save"] == ["Save", "Save"]


@pytest.mark.anyio
async def test_faulty_rounds_with_floats_books_some_commissions_a_cent_short(
    peers: Peers4, http: HttpClient
) -> None:
    # A commission of 0.29 is 28.999… cents as a binary float: truncated, it loses a cent.
    answer = {"status": 0, "data": {"total_count": 1, "order": [bill()]}}
    answer["data"]["order"][0]["detail_list"][1]["commission"] = 0.29  # type: ignore[index]
    peers.script("ecomock.Settlement.search", *[httpx.Response(200, json=answer)] * 3)
    async with app(make_flow(http, RoundsWithFloatsFlow)) as client:
        body = notice()
        assert await send(client, body, signed(body)) == 200
    legs = peers.models[(RECEIPT, NUMBER)]["FRECEIVEBILLENTRY"]
    assert [(leg["FHANDLINGCHARGEFOR"], leg["FREALRECAMOUNTFOR"]) for leg in legs] == [
        ("5.00", "95.00"),  # 5.0 * 100 is exact
        ("0.28", "39.72"),  # the reference books 0.29 and 39.71
        ("0.00", "-1.46"),
    ]
    reference = receipt_model(answer["data"]["order"][0], parse_camt054(notice()))  # type: ignore[index]
    assert reference["FRECEIVEBILLENTRY"][1]["FHANDLINGCHARGEFOR"] == "0.29"
