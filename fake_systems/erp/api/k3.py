"""Kingdee K3 Cloud WebAPI on the shared pipeline: AuthService logins and the
DynamicFormService calls of a session, at `/<stub>` and `/k3cloud/<stub>`.

The stub `Kingdee.BOS.WebApi.ServicesStub.<Service>.<Op>.common.kdsvc` names the operation
(case-insensitive, as IIS is). Logins need no session and open one (the cookie); form calls
need it (else MsgCode 1), or the official SDKs' signed headers instead (`k3_headers`).
Every answer is HTTP 200 JSON in the operation's own shape, refusals included; requests
are read by `k3_requests`, answers written by `k3_answers`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import APIRouter, Request
from starlette.requests import cookie_parser
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp

from fake_systems.common.app import make_app
from fake_systems.common.credentials import K3Credentials
from fake_systems.common.faults import FaultRule
from fake_systems.common.pipeline import (
    Call,
    Caller,
    Inbound,
    Pipeline,
    Protocol,
    WireError,
)
from fake_systems.common.scope import OwnerScope
from fake_systems.erp.api import k3_headers
from fake_systems.erp.api.k3_answers import (
    INTERNAL_ERROR,
    error_body,
    error_status,
    internal_error,
    json_answer,
    login_failure,
    login_success,
    response_status,
    view_object,
)
from fake_systems.erp.api.k3_requests import (
    AUTH_OPS,
    BATCH_OPS,
    FORM_OPS,
    MAX_ENTRIES_PER_CALL,
    UNKNOWN,
    FormCall,
    entity_of,
    flag,
    form_request,
    login_fields,
    lower,
    numbers,
    operation_of,
    paging_int,
    parameter_error,
    read_form_call,
    stub_of,
)
from fake_systems.erp.models import (
    MSG_CALL_LIMIT,
    MSG_NETWORK_CONTROL,
    MSG_NO_DATA,
    MSG_SESSION_LOST,
    MSG_TOO_LARGE,
    K3Error,
    MsgCode,
    OperationResult,
)
from fake_systems.erp.service import ErpService
from fake_systems.erp.sessions import SIGN_TOLERANCE_SECONDS, LoginFailed

# Names tests and benchmarks read here.
__all__ = ["MAX_BODY_BYTES", "MAX_ENTRIES_PER_CALL", "K3Protocol", "create_app", "form_request"]

SESSION_COOKIE = "kdservice-sessionid"
ASPNET_COOKIE = "ASP.NET_SessionId"
# Bodies above this are refused unread (IIS's maxRequestLength plays this part in K3).
MAX_BODY_BYTES = 2 * 1024 * 1024
GATEWAY_TIMEOUT = b"<html><body><h1>504 Gateway Time-out</h1></body></html>"
AUTH = frozenset(AUTH_OPS.values())  # the logins and Logout: no session needed
LOGINS = AUTH - {"Logout"}
FORMS = frozenset(FORM_OPS.values())


def _outcome(result: OperationResult) -> str:
    """The history outcome of a batch: ok, partial, or the first failure's MsgCode."""
    if result.is_success:
        return "ok"
    return "partial" if result.successes else f"msgcode:{int(result.msg_code)}"


def session_id(headers: Mapping[str, str]) -> str | None:
    """K3's SDKs send the session both as the cookie and as a header of the same name."""
    cookies = cookie_parser(headers.get("cookie", ""))
    return cookies.get(SESSION_COOKIE) or headers.get(SESSION_COOKIE) or cookies.get(ASPNET_COOKIE)


class K3Protocol(Protocol):
    """The K3 WebAPI's codec, session scheme and operations over an ErpService."""

    system = "erp"
    max_body_bytes = MAX_BODY_BYTES
    gateway = "iis"  # K3 Cloud runs on IIS: a stopped application pool answers HTTP.sys's 503

    def __init__(self, service: ErpService, credentials: K3Credentials) -> None:
        self.service = service
        self.credentials = credentials
        self.operations = {
            "ValidateUser": self.login,
            "LoginByAppSecret": self.login,
            "LoginBySign": self.login,
            "Logout": self.logout,
            "Save": self.save,
            "BatchSave": self.batch_save,
            **{op: self.batch for op in BATCH_OPS},
            "View": self.view,
            "ExecuteBillQuery": self.query,
        }

    # ------------------------------------------------------------------ the pipeline's stages

    def operation_of(self, call: Call) -> str:
        return operation_of(call.inbound.path)

    def parse(self, inbound: Inbound) -> Any:
        op = operation_of(inbound.path)
        if op in LOGINS:
            return login_fields(op, inbound.body)
        if op in FORMS:
            return read_form_call(inbound.body, op)
        return None  # Logout and unknown services read no body

    def authenticate(self, call: Call) -> Caller:
        if call.operation not in FORMS:
            return Caller("anonymous")  # logins open a session; unknown paths need none
        headers = call.inbound.headers
        if k3_headers.signed(headers):
            # The official SDKs sign every call and never log in: the headers alone decide,
            # even beside a session cookie (the Java SDK sends both).
            ctx = self.service.ctx
            proven = k3_headers.verify(
                headers,
                call.inbound.path,
                self.service.app_user,
                lambda sent: ctx.stale_by(sent, SIGN_TOLERANCE_SECONDS, call.operation) is not None,
            )
            user = proven.user
            return Caller(user.username, OwnerScope.of(user.owners), proven)
        session = self.service.session(session_id(headers))
        if session is None:
            raise K3Error.one(MsgCode.CONTEXT_LOST, MSG_SESSION_LOST)
        return Caller(session.username, session.scope, session)

    def decode(self, call: Call) -> Any:
        parsed = call.parsed
        if isinstance(parsed, FormCall):
            if parsed.error is not None or parsed.data is None:
                raise parsed.error or parameter_error(MSG_NO_DATA, "data")
            call.entity = entity_of(call.operation, parsed.data)
        elif isinstance(parsed, dict):  # a login's fields
            call.entity = parsed["username"]
        return parsed

    def encode(self, call: Call, result: Any) -> Response:
        if call.operation == "Logout":
            return json_answer(True)
        if call.operation not in LOGINS:
            return json_answer(result)
        response = json_answer(login_success(result, self.credentials))
        response.headers.append("set-cookie", f"{SESSION_COOKIE}={result.session_id}; path=/")
        response.headers.append(
            "set-cookie", f"{ASPNET_COOKIE}={result.session_id}; path=/; HttpOnly"
        )
        return response

    def encode_error(self, call: Call, error: WireError) -> Response:
        if call.operation in AUTH:
            return json_answer(login_failure(error.message))
        if not isinstance(error, K3Error):
            error = parameter_error(error.message)
        return json_answer(error_body(call.operation, error))

    def transient_refusal(self, call: Call, rule: FaultRule) -> Response | WireError | None:
        """MsgCode 13 (网控冲突) for `busy`, 14 (调用限制) for `rate_limited` (a login's
        refusal for the logins); `session_expired` ends the caller's session and answers
        MsgCode 1 会话信息已丢失，请重新登录 (a form call's; a login has no session to lose)."""
        if rule.kind == "busy":
            return K3Error.one(MsgCode.NETWORK_CONTROL, MSG_NETWORK_CONTROL)
        if rule.kind == "rate_limited":
            return K3Error.one(MsgCode.CALL_LIMIT, MSG_CALL_LIMIT)
        if rule.kind == "session_expired":
            if call.operation not in FORMS:
                return None
            # The session really ends: the next call on it is refused too (a storm, when
            # the rate is high); a caller proven by signed headers has none to end.
            self.service.logout(session_id(call.inbound.headers))
            return K3Error.one(MsgCode.CONTEXT_LOST, MSG_SESSION_LOST)
        return super().transient_refusal(call, rule)

    def too_large(self, call: Call) -> WireError:
        if call.operation in AUTH:
            return LoginFailed(MSG_TOO_LARGE)
        return parameter_error(MSG_TOO_LARGE)

    def unknown_operation(self, call: Call) -> WireError:
        return parameter_error(f"服务[{stub_of(call.inbound.path)}]不存在")

    def internal_error(self, call: Call, error: Exception) -> WireError:
        if call.operation in AUTH:
            return WireError(f"internal:{type(error).__name__}", INTERNAL_ERROR)
        return internal_error(error)

    def history_payload(self, call: Call) -> Any:
        """The request body as sent once the caller is known; a login's fields without the
        password, app secret and signature; the path of an unknown service."""
        if call.operation == UNKNOWN:
            return {"path": call.inbound.path[:200]}
        if call.caller is None:
            return None
        parsed = call.parsed
        if isinstance(parsed, FormCall):
            return parsed.payload
        if isinstance(parsed, dict):
            return {k: v for k, v in parsed.items() if k not in ("password", "appsecret", "sign")}
        return None

    def lost_response(self, call: Call) -> Response:
        """A proxy in front of IIS timing out: the work is done, the answer lost."""
        return Response(GATEWAY_TIMEOUT, status_code=504, media_type="text/html")

    # ------------------------------------------------------------------ operations

    def login(self, call: Call) -> Any:
        """ValidateUser, LoginByAppSecret, LoginBySign: LoginFailed with K3's message."""
        fields = call.data
        if call.operation == "ValidateUser":
            return self.service.login(
                fields["acctid"], fields["username"], fields["password"], fields["lcid"]
            )
        if call.operation == "LoginByAppSecret":
            return self.service.login_by_app_secret(
                fields["acctid"],
                fields["username"],
                fields["appid"],
                fields["appsecret"],
                fields["lcid"],
            )
        return self.service.login_by_sign(
            fields["acctid"],
            fields["username"],
            fields["appid"],
            fields["timestamp"],
            fields["sign"],
            fields["lcid"],
        )

    def logout(self, call: Call) -> Any:
        self.service.logout(session_id(call.inbound.headers))

    def save(self, call: Call) -> Any:
        form: FormCall = call.data
        fields = lower(form.data or {})
        result = self.service.save(
            str(form.form_id),
            fields.get("model"),
            auto_submit_audit=flag(fields.get("isautosubmitandaudit")),
            scope=call.scope,
        )
        saved = result.successes[0]
        call.entity = saved.number
        return {
            "Result": {
                "ResponseStatus": response_status(successes=result.successes),
                "Id": saved.id,
                "Number": saved.number,
                "NeedReturnData": [{}],
            }
        }

    def batch_save(self, call: Call) -> Any:
        form: FormCall = call.data
        fields = lower(form.data or {})
        result = self.service.batch_save(
            str(form.form_id),
            fields.get("model"),
            auto_submit_audit=flag(fields.get("isautosubmitandaudit")),
            scope=call.scope,
        )
        call.outcome = _outcome(result)
        status = response_status(
            errors=result.errors, successes=result.successes, msg_code=result.msg_code
        )
        return {
            "Result": {
                "ResponseStatus": status,
                "NeedReturnData": [{} for _ in result.successes],
            }
        }

    def batch(self, call: Call) -> Any:
        """Submit, Audit, UnAudit, Delete by `Numbers` or `Ids`: partial success by DIndex."""
        form: FormCall = call.data
        fields = lower(form.data or {})
        method = getattr(self.service, call.operation.lower())
        result: OperationResult = method(
            str(form.form_id),
            numbers(fields.get("numbers")),
            fields.get("ids"),
            scope=call.scope,
        )
        call.outcome = _outcome(result)
        status = response_status(
            errors=result.errors, successes=result.successes, msg_code=result.msg_code
        )
        return {"Result": {"ResponseStatus": status}}

    def view(self, call: Call) -> Any:
        form: FormCall = call.data
        fields = lower(form.data or {})
        number = fields.get("number")
        bill = self.service.view(
            str(form.form_id), str(number) if number else None, fields.get("id"), scope=call.scope
        )
        call.entity = bill.row["bill_no"]
        return {"Result": {"ResponseStatus": response_status(), "Result": view_object(bill)}}

    def query(self, call: Call) -> Any:
        """ExecuteBillQuery: a bare 2-D array of rows."""
        form: FormCall = call.data
        fields = lower(form.data or {})
        keys = fields.get("fieldkeys")
        if isinstance(keys, list):
            keys = ",".join(str(key) for key in keys)
        filter_string = fields.get("filterstring") or ""
        order_string = fields.get("orderstring") or ""
        if (
            not isinstance(keys, str)
            or not isinstance(filter_string, str)
            or not isinstance(order_string, str)
        ):
            raise parameter_error("参数FieldKeys、FilterString、OrderString应为字符串", "FieldKeys")
        return self.service.execute_bill_query(
            str(form.form_id),
            keys,
            filter_string,
            order_string,
            start_row=paging_int(fields.get("startrow"), "StartRow"),
            limit=paging_int(fields.get("limit"), "Limit"),
            top_row_count=paging_int(fields.get("toprowcount"), "TopRowCount"),
            scope=call.scope,
        )

    # ------------------------------------------------------------------ outside the pipeline

    def on_unrouted(self, request: Request, status: int) -> Response:
        """A path or HTTP method K3 does not serve: its unknown-service answer, with `status`."""
        name = f"{request.method} {request.url.path.lstrip('/')}"[:200]
        self.service.ctx.history.record(
            "api_in",
            UNKNOWN,
            f"msgcode:{int(MsgCode.PARAMETER_ERROR)}",
            None,
            {"path": name},
        )
        error = parameter_error(f"服务[{name}]不存在")
        answer = json_answer({"Result": {"ResponseStatus": error_status(error)}})
        answer.status_code = status
        return answer

    def on_error(self, request: Request, exc: Exception) -> Response:
        """Anything unforeseen outside the pipeline still answers in K3's format."""
        op = operation_of(request.url.path)
        self.service.ctx.history.record("api_in", op, f"internal:{type(exc).__name__}")
        if op in AUTH:
            return json_answer(login_failure(INTERNAL_ERROR))
        return json_answer(error_body(op, internal_error(exc)))


def create_app(
    service: ErpService, credentials: K3Credentials, tenants: Sequence[K3Credentials] = ()
) -> ASGIApp:
    """The ERP's ASGI app: the K3 WebAPI at `/` and `/k3cloud/`, plus the `/_fake/` surface.

    `credentials` are the connector's (every owner); `tenants` are further K3 users, each
    bound to its `owners` scope. All of them can log in.
    """
    service.add_users([credentials, *tenants])
    protocol = K3Protocol(service, credentials)
    pipeline = Pipeline(protocol, service.ctx)
    router = APIRouter()
    for path in ("/{stub}", "/{prefix}/{stub}"):
        router.routes.append(Route(path, endpoint=pipeline, methods=["POST"]))
    return make_app(
        "erp",
        service.ctx.clock,
        service.ctx.conn,
        [router],
        protocol.on_error,
        on_unrouted=protocol.on_unrouted,
    )
