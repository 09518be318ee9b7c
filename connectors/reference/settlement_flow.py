"""Platform settlements: a signed camt.054 credit → the OMS's settlement bill → a K3 receipt
bill (AR_RECEIVEBILL) writing off the receivables it settles, commissions as handling charges,
and the bill reconciled: a difference at or over the seeds' thresholds flagged in `FREMARK`.

The notice is booked before it is acknowledged: a failure answers 503 and the bank sends the
notice again on its retry schedule, so a credit is never acknowledged unbooked. Booking is
idempotent by bill number (the settlement number), so a notice that comes twice books once.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from lxml import etree
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from connectors.reference.clients.k3 import K3Client
from connectors.reference.clients.oms import OmsClient
from connectors.reference.clients.qimen import parse_xml
from connectors.reference.money import cents_to_text, to_cents
from connectors.reference.retry import StepError

log = logging.getLogger("connectors.reference")

SIGNATURE_HEADER = "Bank-Signature"
TOLERANCE_SECONDS = 300  # Stripe's: a signature older or newer than this is refused
RECEIPT = "AR_RECEIVEBILL"
RECEIVABLE = "AR_receivable"
SETTLEMENT_SEARCH = "ecomock.Settlement.search"
TELEGRAPHIC_TRANSFER = "JSFS04_SYS"  # K3's 电汇 settle type
SALES_RECEIPT = "SFKYT01_SYS"  # K3's 销售收款 purpose
CNY = "PRE001"
ADJUSTMENT_COMMENT = "platform adjustment"
# The seeds' reconciliation thresholds: a difference at or over either needs approval.
APPROVAL_CENTS = 50_000  # 500 CNY
APPROVAL_SHARE_DIVISOR = 200  # 0.5 % = 1/200: |difference| x 200 >= expected
NEEDS_APPROVAL = "对账差异需审批"  # the receipt's FREMARK starts so when flagged
WITHIN_TOLERANCE = "对账差异在容差内"


def needs_approval(difference_cents: int, expected_cents: int) -> bool:
    """Whether a reconciliation difference is at or over either threshold: >= 500 CNY, or
    >= 0.5 % of what was expected (any difference on nothing expected)."""
    size = abs(difference_cents)
    return size >= APPROVAL_CENTS or (
        size > 0 and size * APPROVAL_SHARE_DIVISOR >= abs(expected_cents)
    )


def reconciliation_remark(
    expected_cents: int,
    bill_cents: int,
    credit_cents: int,
    flag: Callable[[int, int], bool] = needs_approval,
) -> str | None:
    """The receipt's FREMARK for a settlement: what the ERP's receivables settle (net of
    refunds and commission) against the platform's bill and the bank credit; None when all
    three agree. The difference is the bank's (what came in) less the ERP's expectation."""
    difference = credit_cents - expected_cents
    if difference == 0 and bill_cents == credit_cents:
        return None
    head = NEEDS_APPROVAL if flag(difference, expected_cents) else WITHIN_TOLERANCE
    share = Decimal(abs(difference) * 100) / Decimal(max(abs(expected_cents), 1))
    return (
        f"{head}: 应收净额 {cents_to_text(expected_cents)}, 平台结算 {cents_to_text(bill_cents)},"
        f" 银行到账 {cents_to_text(credit_cents)}, 差异 {cents_to_text(difference)}"
        f" ({share.quantize(Decimal('0.01'))} %)"
    )


def signature_ok(header: str | None, body: bytes, secret: str, now: float) -> bool:
    """Whether `Bank-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "t.body")>` is the
    bank's and fresh (within 300 s of `now`)."""
    if not header or not secret:
        return False
    parts = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    stamp, sent = parts.get("t", ""), parts.get("v1", "")
    if not stamp.isdigit() or abs(now - int(stamp)) > TOLERANCE_SECONDS:
        return False
    mac = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(mac, sent)


@dataclass(frozen=True)
class Credit:
    """The parts of a camt.054 entry the connector acts on."""

    entry_ref: str
    amount_cents: int
    credit: bool
    end_to_end_id: str


def _text(node: etree._Element, path: str) -> str | None:
    found = node.find(path)
    return None if found is None or found.text is None else found.text.strip()


def parse_camt054(body: bytes) -> Credit:
    """Read the first entry of a camt.054; ValueError if a required part is missing."""
    root = parse_xml(body)
    for element in root.iter():  # the namespace is the version's: match on local names
        if isinstance(element.tag, str):
            element.tag = etree.QName(element).localname
    entry = root.find(".//Ntry")
    if entry is None:
        raise ValueError("no Ntry")
    ref = _text(entry, "NtryRef") or _text(entry, "AcctSvcrRef")
    amount = _text(entry, "Amt")
    direction = _text(entry, "CdtDbtInd")
    end_to_end = _text(entry, ".//Refs/EndToEndId")
    if not ref or amount is None or direction not in ("CRDT", "DBIT") or not end_to_end:
        raise ValueError("an Ntry without NtryRef, Amt, CdtDbtInd or EndToEndId")
    return Credit(ref, to_cents(amount), direction == "CRDT", end_to_end)


def receipt_model(
    bill: dict[str, Any],
    credit: Credit,
    commission_cents: Callable[[Any], int] = to_cents,
    flag: Callable[[int, int], bool] = needs_approval,
) -> dict[str, Any]:
    """The AR_RECEIVEBILL of one settlement: per order a leg that settles what the buyer
    paid less refunds, the commission kept as a handling charge (an expense) and the rest
    received, and a write-off of that order's receivable by the same amount; the platform's
    adjustment as a leg of its own (it settles no receivable); the reconciliation of the
    receivables it writes off (less commissions) against the bill and the bank credit in
    `FREMARK`. `commission_cents` reads a line's commission and `flag` decides whether a
    difference needs approval (variants' extension points)."""
    legs: list[dict[str, Any]] = []
    write_offs: list[dict[str, Any]] = []
    for line in bill.get("detail_list") or []:
        gross = to_cents(line["send_amount"]) - to_cents(line["refund_amount"])
        if gross <= 0:
            continue  # refunded in full: nothing open, nothing received
        legs.append(leg(gross, commission_cents(line["commission"]), str(line["trade_no"])))
        write_offs.append(
            {
                "FSRCBILLTYPEID": RECEIVABLE,
                "FSRCBILLNO": line["trade_no"],
                "FREALRECAMOUNT": cents_to_text(gross),
            }
        )
    # What the receivables written off leave once the platform kept its commission.
    expected = sum(to_cents(each["FREALRECAMOUNTFOR"]) for each in legs)
    adjustment = to_cents(bill.get("adjust_amount") or 0)
    if adjustment:
        legs.append(leg(adjustment, 0, f"{ADJUSTMENT_COMMENT}: {bill.get('adjust_reason', '')}"))
    remark = reconciliation_remark(
        expected, to_cents(bill.get("settle_amount") or 0), credit.amount_cents, flag
    )
    return {
        "FBillNo": bill["settlement_no"],
        "FDATE": str(bill.get("pay_time") or bill.get("created") or "")[:10] or None,
        "FCONTACTUNITTYPE": "BD_Customer",
        "FCONTACTUNIT": {"FNumber": bill["shop_no"]},
        "FPAYUNITTYPE": "BD_Customer",
        "FPAYUNIT": {"FNumber": bill["shop_no"]},
        "FCURRENCYID": {"FNumber": CNY},
        "FNote": credit.entry_ref,
        **({"FREMARK": remark} if remark else {}),
        "FRECEIVEBILLENTRY": legs,
        "FRECEIVEBILLSRCENTITY": write_offs,
    }


def leg(gross_cents: int, commission_cents: int, comment: str) -> dict[str, Any]:
    """One FRECEIVEBILLENTRY: settles `gross`, of which the payer kept `commission`."""
    return {
        "FSETTLETYPEID": {"FNumber": TELEGRAPHIC_TRANSFER},
        "FPURPOSEID": {"FNumber": SALES_RECEIPT},
        "FRECTOTALAMOUNTFOR": cents_to_text(gross_cents),
        "FHANDLINGCHARGEFOR": cents_to_text(commission_cents),
        "FREALRECAMOUNTFOR": cents_to_text(gross_cents - commission_cents),
        "FCOMMENT": comment,
    }


class SettlementFlow:
    """Receives the bank's credit notices and books each settlement once."""

    def __init__(self, oms: OmsClient, erp: K3Client, webhook_secret: str) -> None:
        self.oms = oms
        self.erp = erp
        self.webhook_secret = webhook_secret
        self.stats: Counter[str] = Counter()

    def route(self) -> Route:
        return Route("/bank/notice", self.bank_notice, methods=["POST"])

    async def bank_notice(self, request: Request) -> Response:
        body = await request.body()
        header = request.headers.get(SIGNATURE_HEADER)
        if not signature_ok(header, body, self.webhook_secret, time.time()):
            self.stats["bank_notice_forged"] += 1
            return Response("bad signature", status_code=401)
        try:
            credit = parse_camt054(body)
        except ValueError as exc:
            return Response(f"malformed camt.054: {exc}", status_code=400)
        if not credit.credit:
            return Response(status_code=200)  # debits are our own payments: not this flow's
        try:
            await self.book(credit)
        except StepError as exc:
            log.warning("credit %s not booked yet: %s", credit.entry_ref, exc)
            self.stats["bank_notice_failed"] += 1
            return Response("not booked yet", status_code=503)
        self.stats["settlements_booked"] += 1
        return Response(status_code=200)

    async def settlement(self, settlement_no: str) -> dict[str, Any] | None:
        data = await self.oms.call(
            SETTLEMENT_SEARCH, {"settlement_no": settlement_no}, pager=(1, 0)
        )
        bills = (data or {}).get("order") or []
        return bills[0] if bills else None

    async def book(self, credit: Credit) -> None:
        """The settlement the credit pays, booked as one audited receipt bill."""
        bill = await self.settlement(credit.end_to_end_id)
        if bill is None:
            log.warning("credit %s names no settlement", credit.entry_ref)
            self.stats["credits_unknown"] += 1
            return
        await self.post_receipt(bill, credit)

    def needs_approval(self, difference_cents: int, expected_cents: int) -> bool:
        """Whether a settlement's difference is flagged (a variant's extension point)."""
        return needs_approval(difference_cents, expected_cents)

    async def post_receipt(self, bill: dict[str, Any], credit: Credit) -> None:
        await self.erp.post_audited(RECEIPT, receipt_model(bill, credit, flag=self.needs_approval))
