"""ISO 20022 over REST on the shared pipeline, with a direct-connect login; errors as Berlin
Group (NextGenPSD2) JSON with their HTTP statuses.

`POST /iso20022/login` (account + password + TOTP) opens a bearer session; with it the
connector sends pain.001 credit transfers, reads their pain.002 status and fetches camt.053
day statements. A pain.001 is validated against the official XSD of its version in the
parse step (in a worker thread when the body is big) and answered by the pain.002 of the
same release. Every request is recorded as `api_in` under its message name (`unknown` for
a path or method the bank does not serve), refusals with their error code; passwords,
one-time codes and tokens never reach the history. Credit notices (camt.054) are pushed by
`notices`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any
from urllib.parse import quote

import orjson
from fastapi import APIRouter, Request
from fastapi.exceptions import RequestValidationError
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp

from fake_systems.bank import iso_xml
from fake_systems.bank.api.notices import send_credit_notices
from fake_systems.bank.iso_xml import ACCOUNT_MAX, ID_MAX, render_camt053, render_pain002
from fake_systems.bank.models import (
    REJECTED,
    STATUS_BY_CODE,
    BankError,
    CredentialsInvalid,
    MessageStatus,
    PaymentMessage,
    Session,
    TokenInvalid,
    TransferStatus,
    UnknownAccount,
)
from fake_systems.bank.service import SESSION_SECONDS, BankService
from fake_systems.common.app import make_app
from fake_systems.common.credentials import BankCredentials
from fake_systems.common.faults import FaultRule
from fake_systems.common.pipeline import (
    Call,
    Caller,
    Inbound,
    Pipeline,
    Protocol,
    WireError,
    retry_after,
)
from fake_systems.common.signing import constant_time_equal
from fake_systems.common.storage import transaction
from fake_systems.common.wire import WireValueError, check_text

# Names tests read here.
__all__ = ["MAX_BODY_BYTES", "STATUS_BY_CODE", "Iso20022Protocol", "create_app"]

DATE_PATTERN = re.compile(r"^\d{4}-\d{2}-\d{2}$")
MAX_BODY_BYTES = 1_048_576  # 1 MiB: about 3,000 transfers in one pain.001
LOGIN_FIELDS = ("account", "password", "otp")
XML = "application/xml; charset=utf-8"
WWW_AUTHENTICATE = 'Bearer realm="ecomock-bank"'
ROOT = "/iso20022/"
PAIN002 = f"{ROOT}pain.002/"
UNKNOWN = "unknown"
# (HTTP method, path) → operation; pain.002 is every GET under PAIN002.
OPERATIONS = {
    ("POST", f"{ROOT}login"): "login",
    ("POST", f"{ROOT}pain.001"): "pain.001",
    ("GET", f"{ROOT}camt.053/statements"): "camt.053",
}
# The reason a `rejected` fault gives unless told: ISO's BankSystemProcessingError, "cannot
# be processed due to technical issues at the bank side" (research notes §2.5).
REJECT_REASON = "FF10"
# Methods served under ROOT (HEAD comes with GET, and answers 405 as OPTIONS does).
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]


def error_response(code: str, text: str, status: int | None = None) -> Response:
    """`{"tppMessages": [{"category": "ERROR", "code": …, "text": …}]}` with the code's status."""
    body = {"tppMessages": [{"category": "ERROR", "code": code, "text": text}]}
    status = status or STATUS_BY_CODE[code]
    headers = None
    if code in ("TOKEN_INVALID", "TOKEN_EXPIRED"):
        headers = {"WWW-Authenticate": f'{WWW_AUTHENTICATE}, error="invalid_token"'}
    return Response(
        orjson.dumps(body), status_code=status, media_type="application/json", headers=headers
    )


def bearer_token(header: str | None) -> str:
    """The token of an `Authorization: Bearer …` header; TokenInvalid if absent or garbled."""
    scheme, _, token = (header or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise TokenInvalid("an Authorization: Bearer <session_token> header is required")
    return token.strip()


def login_fields(body: bytes) -> dict[str, str]:
    """`{"account", "password", "otp"}`, all strings, nothing else; BankError otherwise."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BankError("the body must be a JSON object") from exc
    if not isinstance(data, dict):
        raise BankError("the body must be a JSON object")
    unknown = sorted(set(data) - set(LOGIN_FIELDS))
    if unknown:
        raise BankError(f"unknown field {unknown[0]!r}")
    for name in LOGIN_FIELDS:
        value = data.get(name)
        if not isinstance(value, str) or not value:
            raise BankError(f"{name} must be a non-empty string")
        if len(value) > 128:
            raise BankError(f"{name} is longer than 128 characters")
    return {name: data[name] for name in LOGIN_FIELDS}


def _identifier(value: str, name: str, max_chars: int) -> str:
    """A message id or account from the path or query, as ISO 20022 bounds them (Max35Text,
    34 characters) and without control characters; FORMAT_ERROR otherwise."""
    try:
        return check_text(value, max_chars)
    except WireValueError as exc:
        raise BankError(f"{name} {exc}") from None


def rejection(message: PaymentMessage, reason: str, now: datetime) -> bytes:
    """The pain.002 refusing every transaction of `message` with `reason`, kept nowhere."""
    refused = tuple(
        TransferStatus(
            instruction.pmt_inf_id,
            transfer.instr_id,
            transfer.end_to_end_id,
            transfer.amount_cents,
            transfer.currency,
            REJECTED,
            reason,
            None,
        )
        for instruction in message.instructions
        for transfer in instruction.transfers
    )
    report = MessageStatus(
        message.msg_id,
        message.message_name,
        message.created,
        message.nb_of_txs,
        sum(t.amount_cents for t in refused),
        refused,
    )
    return render_pain002(report, now.isoformat(timespec="seconds"))


def operation_of(method: str, path: str) -> str:
    """The operation a request names, or UNKNOWN."""
    if method == "GET" and path.startswith(PAIN002):
        return "pain.002"
    return OPERATIONS.get((method, path), UNKNOWN)


class Iso20022Protocol(Protocol):
    """Login, pain.001 / pain.002 and camt.053 for the connector and each owner's treasurer."""

    system = "bank"
    max_body_bytes = MAX_BODY_BYTES
    # ACCESS_EXCEEDED is a 429 with Retry-After, as a gateway's is.
    waiting_refusals = frozenset({"http_429", "rate_limited"})

    def __init__(self, service: BankService) -> None:
        self.service = service
        self.ctx = service.ctx
        self.operations = {
            "login": self.login,
            "pain.001": self.pain001,
            "pain.002": self.pain002,
            "camt.053": self.statement,
        }

    # ------------------------------------------------------------------ the pipeline's stages

    def operation_of(self, call: Call) -> str:
        return operation_of(call.inbound.http_method, call.inbound.path)

    def parse(self, inbound: Inbound) -> Any:
        op = operation_of(inbound.http_method, inbound.path)
        if op == "login":
            return login_fields(inbound.body)
        if op == "pain.001":
            return iso_xml.parse_pain001(inbound.body)
        return None

    def authenticate(self, call: Call) -> Caller:
        if call.operation in ("login", UNKNOWN):
            return Caller("anonymous")
        token = bearer_token(call.inbound.headers.get("authorization"))
        account = self.service.session_account(token)
        return Caller(account, self.service.scope_of(account), account)

    def decode(self, call: Call) -> Any:
        if call.operation == "login":
            call.entity = call.parsed["account"]
        elif call.operation == "pain.001":
            call.entity = call.parsed.msg_id
            call.record["transactions"] = len(call.parsed.transfers)
        elif call.operation == "pain.002":
            call.entity = _identifier(call.inbound.path[len(PAIN002) :], "MsgId", ID_MAX)
            return call.entity
        elif call.operation == "camt.053":
            return self._statement_query(call)
        return call.parsed

    def _statement_query(self, call: Call) -> tuple[str, date]:
        query = call.inbound.query
        account = query.get("account", "")
        day = query.get("date", "")[:40]
        if not account or not day:
            raise BankError("query parameters account and date are required")
        account = _identifier(account, "account", ACCOUNT_MAX)
        call.entity = account
        call.record.update({"account": account, "date": day})
        if not DATE_PATTERN.match(day):
            raise BankError(f"date must be YYYY-MM-DD, not {day!r}")
        try:
            return account, date.fromisoformat(day)
        except ValueError as exc:
            raise BankError(f"no such date {day!r}") from exc

    def encode(self, call: Call, result: Any) -> Response:
        created = self.ctx.clock.now().isoformat(timespec="seconds")
        if isinstance(result, Session):
            body = {
                "session_token": result.token,
                "token_type": "Bearer",
                "expires_in": SESSION_SECONDS,
                "account": result.account,
            }
            return Response(orjson.dumps(body), media_type="application/json")
        if isinstance(result, MessageStatus):
            if call.operation == "pain.002":
                return Response(render_pain002(result, created), media_type=XML)
            return Response(
                render_pain002(result, created),
                status_code=201 if result.is_new else 200,
                media_type=XML,
                headers={"Location": PAIN002 + quote(result.msg_id, safe="")},
            )
        return Response(render_camt053(result, created), media_type=XML)

    def encode_error(self, call: Call, error: WireError) -> Response:
        return error_response(error.code, error.message, error.http_status)

    def too_large(self, call: Call) -> WireError:
        return WireError(
            "FORMAT_ERROR", f"the body is larger than {MAX_BODY_BYTES} bytes", http_status=413
        )

    def unknown_operation(self, call: Call) -> WireError:
        # HEAD reaches the pipeline with GET; like OPTIONS, it is a method the bank lacks.
        code = "SERVICE_INVALID" if call.inbound.http_method == "HEAD" else "RESOURCE_UNKNOWN"
        path = call.inbound.path[:200]
        message = f"no operation {call.inbound.http_method} {path}"
        return WireError(code, message, http_status=STATUS_BY_CODE[code])

    def internal_error(self, call: Call, error: Exception) -> WireError:
        call.record["error"] = type(error).__name__  # for the history, never the answer
        return WireError(
            "SERVICE_UNAVAILABLE", "the service is temporarily unavailable", http_status=503
        )

    def history_payload(self, call: Call) -> Any:
        """What the bank notes of a request: never a body (passwords, codes), only the
        session's account, sizes, ids and the outcome's details."""
        if call.operation == UNKNOWN:
            return {"path": call.inbound.path[:200], **call.record}
        payload: dict[str, Any] = {}
        if call.caller is not None and call.caller.credential is not None:
            payload["session_account"] = call.caller.credential
            if call.operation == "pain.001":
                payload["bytes"] = len(call.inbound.body)
        payload.update(call.record)
        return payload or None

    def lost_response(self, call: Call) -> Response:
        return Response(b"Gateway Timeout", status_code=504, media_type="text/plain")

    def transient_refusal(self, call: Call, rule: FaultRule) -> Response | WireError | None:
        """503 SERVICE_UNAVAILABLE (`busy`), 429 ACCESS_EXCEEDED with `Retry-After`
        (`rate_limited`), the session dropped and 401 TOKEN_INVALID (`session_expired`,
        not on a login), a pain.001 refused whole as a pain.002 RJCT with `reason`
        (`rejected`; nothing is kept, so the same MsgId may be sent again)."""
        if rule.kind == "busy":
            return WireError(
                "SERVICE_UNAVAILABLE", "the service is temporarily unavailable", http_status=503
            )
        if rule.kind == "rate_limited":
            response = error_response("ACCESS_EXCEEDED", "too many requests; try again later")
            response.headers["Retry-After"] = str(retry_after(rule))
            return response
        if rule.kind == "session_expired":
            if call.operation not in ("pain.001", "pain.002", "camt.053"):
                return None
            self.service.end_session(bearer_token(call.inbound.headers.get("authorization")))
            return TokenInvalid("no such session; log in first")
        if rule.kind == "rejected":
            if call.operation != "pain.001":
                return None
            reason = str(rule.params.get("reason", REJECT_REASON))
            return Response(rejection(call.data, reason, self.ctx.clock.now()), media_type=XML)
        return super().transient_refusal(call, rule)

    # ------------------------------------------------------------------ operations

    def login(self, call: Call) -> Session:
        fields = call.data
        try:
            return self.service.login(fields["account"], fields["password"], fields["otp"])
        except CredentialsInvalid as error:
            call.record["reason"] = error.reason  # which factor failed: for the history only
            raise

    def pain001(self, call: Call) -> MessageStatus:
        assert call.caller is not None
        report = self.service.submit(call.caller.credential, call.data)
        call.record["resend"] = not report.is_new
        return report

    def pain002(self, call: Call) -> MessageStatus:
        assert call.caller is not None
        return self.service.payment_report(call.caller.credential, call.data)

    def statement(self, call: Call) -> Any:
        assert call.caller is not None
        account, booking_date = call.data
        if not constant_time_equal(account, call.caller.credential):
            # Accounts of other customers are as unknown as accounts that do not exist.
            raise UnknownAccount(f"unknown account {account}")
        return self.service.serve_statement(account, booking_date)


def create_app(
    service: BankService,
    credentials: BankCredentials,
    tenants: Sequence[BankCredentials] = (),
) -> ASGIApp:
    """The bank's ASGI app; opens an account for `credentials` and each of `tenants`
    (idempotent), each able to log in and see its own account only; from now on the credit
    notices of the service go out as signed camt.054 pushes."""
    with transaction(service.ctx.conn):
        for issued in (credentials, *tenants):
            service.open_account(issued)
    send_credit_notices(service)
    protocol = Iso20022Protocol(service)
    router = APIRouter()
    router.routes.append(
        Route(f"{ROOT}{{rest:path}}", endpoint=Pipeline(protocol, service.ctx), methods=METHODS)
    )

    def on_error(request: Request, exc: Exception) -> Response:
        service.ctx.history.record(
            "api_in",
            request.url.path.rsplit("/", 1)[-1][:40],
            "error",
            None,
            {"path": request.url.path, "error": type(exc).__name__},
        )
        if isinstance(exc, RequestValidationError):
            return error_response("FORMAT_ERROR", "malformed request")
        return error_response("SERVICE_UNAVAILABLE", "the service is temporarily unavailable")

    def on_unrouted(request: Request, status: int) -> Response:
        path = request.url.path[:200]
        code = "SERVICE_INVALID" if status == 405 else "RESOURCE_UNKNOWN"
        service.ctx.history.record("api_in", UNKNOWN, code, None, {"path": path})
        return error_response(code, f"no operation {request.method} {path}")

    return make_app(
        "bank",
        service.ctx.clock,
        service.ctx.conn,
        [router],
        on_error,
        on_unrouted=on_unrouted,
    )
