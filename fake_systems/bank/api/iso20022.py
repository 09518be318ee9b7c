"""ISO 20022 adapter: camt.053 day statements over HTTP Basic auth, errors as Berlin Group JSON."""

from __future__ import annotations

import base64
import binascii
import re
import uuid
from datetime import date
from xml.sax.saxutils import escape

import orjson
from fastapi import APIRouter, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.types import ASGIApp

from fake_systems.bank.models import BankError, Entry, Statement, UnknownAccount
from fake_systems.bank.service import BankService
from fake_systems.common.app import make_app
from fake_systems.common.credentials import BankCredentials
from fake_systems.common.money import cents_to_text
from fake_systems.common.signing import constant_time_equal

CAMT053_NS = "urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"
OPERATION = "camt.053"
DATE_PATTERN = re.compile(r"^\d{4}-\d{2}-\d{2}$")
REMITTANCE_MAX = 140  # Ustrd is Max140Text
WWW_AUTHENTICATE = 'Basic realm="ecomock-bank", charset="UTF-8"'

# Error code -> HTTP status, as NextGenPSD2 (Berlin Group) bank APIs answer.
STATUS_BY_CODE = {
    "FORMAT_ERROR": 400,
    "PSU_CREDENTIALS_INVALID": 401,
    "RESOURCE_UNKNOWN": 404,
    "SERVICE_UNAVAILABLE": 503,
}


def error_response(code: str, text: str) -> Response:
    """`{"tppMessages": [{"category": "ERROR", "code": …, "text": …}]}` with the code's status."""
    body = {"tppMessages": [{"category": "ERROR", "code": code, "text": text}]}
    status = STATUS_BY_CODE[code]
    headers = {"WWW-Authenticate": WWW_AUTHENTICATE} if status == 401 else None
    return Response(
        orjson.dumps(body), status_code=status, media_type="application/json", headers=headers
    )


def basic_credentials(header: str | None) -> tuple[str, str] | None:
    """(username, password) from an `Authorization: Basic …` header, None if absent or garbled."""
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "basic" or not token:
        return None
    try:
        decoded = base64.b64decode(token.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    username, sep, password = decoded.partition(":")
    return (username, password) if sep else None


# XML 1.0 forbids these characters even escaped; remittance text must not break the document.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")

# Statements can hold a busy day's bookings, so the document is written from templates (about
# ten times faster than building an lxml tree); every variable text goes through `_text`.
_BALANCE = (
    '<Bal><Tp><CdOrPrtry><Cd>{code}</Cd></CdOrPrtry></Tp><Amt Ccy="{ccy}">{amount}</Amt>'
    "<CdtDbtInd>{indicator}</CdtDbtInd><Dt><Dt>{day}</Dt></Dt></Bal>"
)
_ENTRY = (
    '<Ntry><NtryRef>{ref}</NtryRef><Amt Ccy="{ccy}">{amount}</Amt>'
    "<CdtDbtInd>{direction}</CdtDbtInd><Sts><Cd>BOOK</Cd></Sts>"
    "<BookgDt><Dt>{day}</Dt></BookgDt><ValDt><Dt>{day}</Dt></ValDt>"
    "<AcctSvcrRef>{ref}</AcctSvcrRef>"
    "<BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>{family}</Cd><SubFmlyCd>DMCT</SubFmlyCd></Fmly>"
    "</Domn></BkTxCd>"
    "<NtryDtls><TxDtls><Refs><EndToEndId>{e2e}</EndToEndId></Refs>"
    "<RmtInf><Ustrd>{remittance}</Ustrd></RmtInf></TxDtls></NtryDtls></Ntry>"
)


def _text(value: str) -> str:
    return escape(_NOT_XML.sub("", value), {'"': "&quot;"})


def _indicator(cents: int) -> str:
    return "CRDT" if cents >= 0 else "DBIT"


def _balance(code: str, cents: int, ccy: str, day: str) -> str:
    return _BALANCE.format(
        code=code, ccy=ccy, amount=cents_to_text(abs(cents)), indicator=_indicator(cents), day=day
    )


def _entry(entry: Entry, ccy: str, day: str) -> str:
    return _ENTRY.format(
        ref=_text(entry.entry_ref),
        ccy=ccy,
        amount=cents_to_text(entry.amount_cents),
        direction=entry.direction,
        day=day,
        family="RCDT" if entry.direction == "CRDT" else "ICDT",
        e2e=_text(entry.end_to_end_id or "NOTPROVIDED"),
        remittance=_text(_NOT_XML.sub("", entry.remittance)[:REMITTANCE_MAX]),
    )


def render_camt053(statement: Statement, created: str) -> bytes:
    """The statement as a camt.053.001.08 document; `created` is the ISO CreDtTm."""
    ccy = _text(statement.currency)
    day = statement.booking_date.isoformat()
    credits = sum(1 for x in statement.entries if x.direction == "CRDT")
    net = statement.credit_cents - statement.debit_cents
    message_id = f"C53{statement.booking_date:%Y%m%d}{uuid.uuid4().hex[:20]}"
    parts = [
        "<?xml version='1.0' encoding='UTF-8'?>\n",
        f'<Document xmlns="{CAMT053_NS}"><BkToCstmrStmt>',
        f"<GrpHdr><MsgId>{message_id}</MsgId><CreDtTm>{_text(created)}</CreDtTm></GrpHdr>",
        f"<Stmt><Id>{_text(statement.statement_id)}</Id>",
        f"<ElctrncSeqNb>{statement.sequence_number}</ElctrncSeqNb>",
        f"<CreDtTm>{_text(created)}</CreDtTm>",
        f"<Acct><Id><Othr><Id>{_text(statement.account)}</Id></Othr></Id><Ccy>{ccy}</Ccy></Acct>",
        _balance("OPBD", statement.opening_cents, ccy, day),
        _balance("CLBD", statement.closing_cents, ccy, day),
        "<TxsSummry><TtlNtries>",
        f"<NbOfNtries>{len(statement.entries)}</NbOfNtries>",
        f"<Sum>{cents_to_text(statement.credit_cents + statement.debit_cents)}</Sum>",
        f"<TtlNetNtry><Amt>{cents_to_text(abs(net))}</Amt>",
        f"<CdtDbtInd>{_indicator(net)}</CdtDbtInd></TtlNetNtry></TtlNtries>",
        f"<TtlCdtNtries><NbOfNtries>{credits}</NbOfNtries>",
        f"<Sum>{cents_to_text(statement.credit_cents)}</Sum></TtlCdtNtries>",
        f"<TtlDbtNtries><NbOfNtries>{len(statement.entries) - credits}</NbOfNtries>",
        f"<Sum>{cents_to_text(statement.debit_cents)}</Sum></TtlDbtNtries></TxsSummry>",
        *(_entry(entry, ccy, day) for entry in statement.entries),
        "</Stmt></BkToCstmrStmt></Document>",
    ]
    return "".join(parts).encode()


class Iso20022Adapter:
    """Serves statements to the connector; every request is recorded as `api_in` camt.053."""

    def __init__(self, service: BankService, credentials: BankCredentials) -> None:
        self.service = service
        self.credentials = credentials
        self.ctx = service.ctx

    def router(self) -> APIRouter:
        router = APIRouter(tags=["iso20022"])

        @router.get(
            "/iso20022/camt.053/statements",
            summary="camt.053 statement of one account for one booking date",
        )
        async def statements(request: Request) -> Response:
            return self.statement(request)

        return router

    def _authorised(self, request: Request) -> bool:
        given = basic_credentials(request.headers.get("authorization"))
        if given is None:
            return False
        username_ok = constant_time_equal(given[0], self.credentials.username)
        password_ok = constant_time_equal(given[1], self.credentials.password)
        return username_ok and password_ok

    def statement(self, request: Request) -> Response:
        account = request.query_params.get("account", "")
        day = request.query_params.get("date", "")
        payload = {"account": account, "date": day}
        try:
            if not self._authorised(request):
                self._record("PSU_CREDENTIALS_INVALID", account, payload)
                return error_response("PSU_CREDENTIALS_INVALID", "invalid or missing credentials")
            if not account or not day:
                raise BankError("query parameters account and date are required")
            if not DATE_PATTERN.match(day):
                raise BankError(f"date must be YYYY-MM-DD, not {day!r}")
            try:
                booking_date = date.fromisoformat(day)
            except ValueError as exc:
                raise BankError(f"no such date {day!r}") from exc
            if not constant_time_equal(account, self.credentials.account):
                # Accounts of other customers are as unknown as accounts that do not exist.
                raise UnknownAccount(f"unknown account {account}")
            statement = self.service.statement(account, booking_date)
        except BankError as error:
            self._record(error.code, account, payload)
            return error_response(error.code, error.text)
        self._record("ok", account, payload)
        if self.ctx.faults.hits(self.ctx.name, OPERATION, "lost_response"):
            self.ctx.history.record("fault", OPERATION, "lost_response", account)
            return Response(b"Gateway Timeout", status_code=504, media_type="text/plain")
        created = self.ctx.clock.now().isoformat(timespec="seconds")
        return Response(
            render_camt053(statement, created), media_type="application/xml; charset=utf-8"
        )

    def _record(self, outcome: str, account: str, payload: dict[str, str]) -> None:
        self.ctx.history.record("api_in", OPERATION, outcome, account or None, payload)


def create_app(service: BankService, credentials: BankCredentials) -> ASGIApp:
    """The bank's ASGI app: the ISO 20022 statement endpoint plus the /_fake/ control routes."""
    adapter = Iso20022Adapter(service, credentials)

    def on_error(request: Request, exc: Exception) -> Response:
        service.ctx.history.record(
            "api_in",
            OPERATION,
            "error",
            None,
            {"path": request.url.path, "error": type(exc).__name__},
        )
        if isinstance(exc, RequestValidationError):
            return error_response("FORMAT_ERROR", "malformed request")
        return error_response("SERVICE_UNAVAILABLE", "the service is temporarily unavailable")

    return make_app("bank", service.ctx.clock, service.ctx.conn, [adapter.router()], on_error)
