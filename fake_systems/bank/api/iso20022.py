"""ISO 20022 adapter with a direct-connect login: errors as Berlin Group (NextGenPSD2) JSON.

`POST /iso20022/login` (account + password + TOTP) opens a bearer session; with it the
connector sends pain.001 credit transfers, reads their pain.002 status and fetches camt.053
day statements. Every request is recorded as `api_in` under its message name, refusals with
their error code; passwords, one-time codes and tokens never reach the history.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence
from datetime import date
from typing import Any
from urllib.parse import quote

import orjson
from fastapi import APIRouter, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.types import ASGIApp

from fake_systems.bank import iso_xml
from fake_systems.bank.iso_xml import ACCOUNT_MAX, ID_MAX, render_camt053, render_pain002
from fake_systems.bank.models import (
    BankError,
    CredentialsInvalid,
    PaymentUnknown,
    TokenInvalid,
    UnknownAccount,
)
from fake_systems.bank.service import SESSION_SECONDS, BankService
from fake_systems.common.app import make_app, parse_off_loop, read_body_limited
from fake_systems.common.credentials import BankCredentials
from fake_systems.common.signing import constant_time_equal
from fake_systems.common.storage import transaction
from fake_systems.common.wire import WireValueError, check_text

DATE_PATTERN = re.compile(r"^\d{4}-\d{2}-\d{2}$")
MAX_BODY_BYTES = 1_048_576  # 1 MiB: about 3,000 transfers in one pain.001
LOGIN_FIELDS = ("account", "password", "otp")
XML = "application/xml; charset=utf-8"
WWW_AUTHENTICATE = 'Bearer realm="ecomock-bank"'

# Error code -> HTTP status, as NextGenPSD2 (Berlin Group) bank APIs answer.
STATUS_BY_CODE = {
    "FORMAT_ERROR": 400,
    "PSU_CREDENTIALS_INVALID": 401,
    "TOKEN_INVALID": 401,
    "TOKEN_EXPIRED": 401,
    "RESOURCE_UNKNOWN": 404,
    "SERVICE_INVALID": 405,
    "SERVICE_UNAVAILABLE": 503,
}


class BodyTooLarge(BankError):
    """More than MAX_BODY_BYTES: FORMAT_ERROR, but with HTTP 413."""

    status = 413


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


async def read_body(request: Request, limit: int = MAX_BODY_BYTES) -> bytes:
    """The request body, refused as soon as it passes `limit` bytes (declared or streamed)."""
    body = await read_body_limited(request, limit)
    if body is None:
        raise BodyTooLarge(f"the body is larger than {limit} bytes")
    return body


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


Handler = Callable[[Request, dict[str, Any]], Awaitable[Response]]


class Iso20022Adapter:
    """Login, pain.001 / pain.002 and camt.053 for the connector and each owner's treasurer."""

    def __init__(self, service: BankService) -> None:
        self.service = service
        self.ctx = service.ctx

    def router(self) -> APIRouter:
        router = APIRouter(tags=["iso20022"])

        @router.post("/iso20022/login", summary="Open a session: account + password + TOTP")
        async def login(request: Request) -> Response:
            return await self._serve("login", request, self.login)

        @router.post("/iso20022/pain.001", summary="Send a pain.001 credit transfer initiation")
        async def pain001(request: Request) -> Response:
            return await self._serve("pain.001", request, self.pain001)

        @router.get("/iso20022/pain.002/{msg_id:path}", summary="pain.002 status of a pain.001")
        async def pain002(request: Request) -> Response:
            return await self._serve("pain.002", request, self.pain002)

        @router.get(
            "/iso20022/camt.053/statements",
            summary="camt.053 statement of one account for one booking date",
        )
        async def statements(request: Request) -> Response:
            return await self._serve("camt.053", request, self.statement)

        @router.api_route(
            "/iso20022/{rest:path}",
            methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            include_in_schema=False,
        )
        async def unknown(request: Request) -> Response:
            # Wrong paths and methods get the bank's error too, not the framework's.
            return await self._serve("unknown", request, self.unknown)

        return router

    async def _serve(self, operation: str, request: Request, handler: Handler) -> Response:
        """Run `handler`; record the request (its `note` filled by the handler) either way."""
        note: dict[str, Any] = {}
        try:
            response = await handler(request, note)
        except BankError as error:
            if isinstance(error, CredentialsInvalid):
                note["reason"] = error.reason  # which factor failed: for the history only
            self._record(operation, error.code, note)
            return error_response(error.code, error.text, getattr(error, "status", None))
        self._record(operation, "ok", note)
        if self.ctx.faults.hits(self.ctx.name, operation, "lost_response"):
            self.ctx.history.record("fault", operation, "lost_response", note.get("entity"))
            return Response(b"Gateway Timeout", status_code=504, media_type="text/plain")
        return response

    def _record(self, operation: str, outcome: str, note: dict[str, Any]) -> None:
        payload = {k: v for k, v in note.items() if k != "entity"}
        self.ctx.history.record("api_in", operation, outcome, note.get("entity"), payload or None)

    def _session_account(self, request: Request, note: dict[str, Any]) -> str:
        account = self.service.session_account(bearer_token(request.headers.get("authorization")))
        note["session_account"] = account
        return account

    def _created(self) -> str:
        return self.ctx.clock.now().isoformat(timespec="seconds")

    async def login(self, request: Request, note: dict[str, Any]) -> Response:
        fields = login_fields(await read_body(request))
        note["entity"] = fields["account"]
        session = self.service.login(fields["account"], fields["password"], fields["otp"])
        body = {
            "session_token": session.token,
            "token_type": "Bearer",
            "expires_in": SESSION_SECONDS,
            "account": session.account,
        }
        return Response(orjson.dumps(body), media_type="application/json")

    async def pain001(self, request: Request, note: dict[str, Any]) -> Response:
        account = self._session_account(request, note)
        body = await read_body(request)
        note["bytes"] = len(body)
        message = await parse_off_loop(iso_xml.parse_pain001, body)
        note["entity"] = message.msg_id
        note["transactions"] = len(message.transfers)
        report = self.service.submit(account, message)
        note["resend"] = not report.is_new
        return Response(
            render_pain002(report, self._created()),
            status_code=201 if report.is_new else 200,
            media_type=XML,
            headers={"Location": "/iso20022/pain.002/" + quote(report.msg_id, safe="")},
        )

    async def pain002(self, request: Request, note: dict[str, Any]) -> Response:
        account = self._session_account(request, note)
        msg_id = _identifier(request.path_params["msg_id"], "MsgId", ID_MAX)
        note["entity"] = msg_id
        report = self.service.payment_report(account, msg_id)
        return Response(render_pain002(report, self._created()), media_type=XML)

    async def unknown(self, request: Request, note: dict[str, Any]) -> Response:
        note["path"] = request.url.path[:200]
        raise PaymentUnknown(f"no operation {request.method} {request.url.path[:200]}")

    async def statement(self, request: Request, note: dict[str, Any]) -> Response:
        own = self._session_account(request, note)
        account = request.query_params.get("account", "")
        day = request.query_params.get("date", "")[:40]
        if not account or not day:
            raise BankError("query parameters account and date are required")
        account = _identifier(account, "account", ACCOUNT_MAX)
        note.update({"entity": account, "account": account, "date": day})
        if not DATE_PATTERN.match(day):
            raise BankError(f"date must be YYYY-MM-DD, not {day!r}")
        try:
            booking_date = date.fromisoformat(day)
        except ValueError as exc:
            raise BankError(f"no such date {day!r}") from exc
        if not constant_time_equal(account, own):
            # Accounts of other customers are as unknown as accounts that do not exist.
            raise UnknownAccount(f"unknown account {account}")
        statement = self.service.statement(account, booking_date)
        return Response(render_camt053(statement, self._created()), media_type=XML)


def create_app(
    service: BankService,
    credentials: BankCredentials,
    tenants: Sequence[BankCredentials] = (),
) -> ASGIApp:
    """The bank's ASGI app; opens an account for `credentials` and each of `tenants`
    (idempotent), each able to log in and see its own account only."""
    with transaction(service.ctx.conn):
        for issued in (credentials, *tenants):
            service.open_account(issued)
    adapter = Iso20022Adapter(service)

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
        service.ctx.history.record("api_in", "unknown", code, None, {"path": path})
        return error_response(code, f"no operation {request.method} {path}")

    return make_app(
        "bank",
        service.ctx.clock,
        service.ctx.conn,
        [adapter.router()],
        on_error,
        on_unrouted=on_unrouted,
    )
