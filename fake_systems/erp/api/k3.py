"""Kingdee K3 Cloud WebAPI adapter: AuthService login and DynamicFormService calls over the ERP."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.types import ASGIApp

from fake_systems.common.app import make_app, parse_off_loop, read_body_limited
from fake_systems.common.credentials import K3Credentials
from fake_systems.common.wire import (
    MAX_CODE_CHARS,
    WireValueError,
    check_text,
    load_json,
    parse_int,
)
from fake_systems.erp.models import (
    MSG_NO_DATA,
    MSG_NO_FORMID,
    MSG_SESSION_LOST,
    MSG_TOO_COMPLEX,
    MSG_TOO_LARGE,
    ErrorItem,
    K3Error,
    LoginResult,
    MsgCode,
    OperationResult,
    SuccessEntity,
)
from fake_systems.erp.service import ErpService, LoginFailed

SESSION_COOKIE = "kdservice-sessionid"
ASPNET_COOKIE = "ASP.NET_SessionId"
STUB = re.compile(
    r"^Kingdee\.BOS\.WebApi\.ServicesStub\.(\w+)\.(\w+)\.common\.kdsvc$", re.IGNORECASE
)
# Operations by lower-cased service and name, answering with their canonical spelling.
AUTH_OPS = {op.lower(): op for op in ("ValidateUser", "LoginByAppSecret", "LoginBySign", "Logout")}
# Each login's positional `parameters`, as K3's SDKs send them.
LOGIN_PARAMETERS = {
    "ValidateUser": ("acctid", "username", "password", "lcid"),
    "LoginByAppSecret": ("acctid", "username", "appid", "appsecret", "lcid"),
    "LoginBySign": ("acctid", "username", "appid", "timestamp", "sign", "lcid"),
}
FORM_OPS = {
    op.lower(): op
    for op in (
        "Save",
        "BatchSave",
        "Submit",
        "Audit",
        "UnAudit",
        "Delete",
        "View",
        "ExecuteBillQuery",
    )
}
# Bodies above this are refused unread (IIS's maxRequestLength plays this part in K3).
MAX_BODY_BYTES = 2 * 1024 * 1024
# Entries (rows of a model's entry lists) in one Save or BatchSave: validating them runs on
# the event loop every fake shares, so their number bounds how long one call may hold it.
MAX_ENTRIES_PER_CALL = 1000
# Strings in a call: codes (bill numbers, FNumber, form ids) and queries have their own
# bounds, every other string is free text; none may carry control characters.
CODE_KEYS = frozenset({"fbillno", "fnumber", "number", "numbers", "formid", "id", "ids", "fid"})
QUERY_KEYS = frozenset({"fieldkeys", "filterstring", "orderstring"})
MAX_QUERY_CHARS = 4000
MAX_FREE_TEXT_CHARS = 2000
MAX_INT32 = 2**31 - 1  # StartRow, Limit, TopRowCount and lcid are C# ints in K3
BATCH_OPS = {"Submit", "Audit", "UnAudit", "Delete"}
CHINA_TIME_ZONE = {
    "OffsetTicks": 288_000_000_000,
    "StandardName": "(UTC+08:00)北京，重庆，香港，乌鲁木齐",
}
GATEWAY_TIMEOUT = b"<html><body><h1>504 Gateway Time-out</h1></body></html>"


def _json(body: Any) -> Response:
    # K3 answers every outcome, failures included, with HTTP 200.
    return Response(
        orjson.dumps(body), status_code=200, media_type="application/json; charset=utf-8"
    )


def response_status(
    *,
    errors: Sequence[ErrorItem] = (),
    successes: Sequence[SuccessEntity] = (),
    msg_code: int = 0,
) -> dict[str, Any]:
    """The `ResponseStatus` object of every DynamicFormService answer."""
    failed = bool(errors)
    return {
        "ErrorCode": 500 if failed else 0,
        "IsSuccess": not failed,
        "Errors": [error.wire() for error in errors],
        "SuccessEntitys": [entity.wire() for entity in successes],
        "SuccessMessages": [],
        "MsgCode": int(msg_code),
    }


def error_status(error: K3Error) -> dict[str, Any]:
    return response_status(errors=error.errors, msg_code=error.msg_code)


def query_error(error: K3Error) -> list[list[dict[str, Any]]]:
    """ExecuteBillQuery has no Result envelope: its errors come wrapped in the 2-D array."""
    return [[{"Result": {"ResponseStatus": error_status(error)}}]]


def _error_body(op: str, error: K3Error) -> Any:
    if op == "ExecuteBillQuery":
        return query_error(error)
    if op == "Save":
        return {
            "Result": {
                "ResponseStatus": error_status(error),
                "Id": "",
                "Number": "",
                "NeedReturnData": [],
            }
        }
    if op == "View":
        return {"Result": {"ResponseStatus": error_status(error), "Result": None}}
    return {"Result": {"ResponseStatus": error_status(error)}}


def internal_error(exc: Exception) -> K3Error:
    """Unforeseen failures: named by type only, so no detail of the fake leaks."""
    return K3Error(MsgCode.OK, [ErrorItem(f"服务端内部错误：{type(exc).__name__}")])


def login_failure(message: str) -> dict[str, Any]:
    """ValidateUser's refusal: LoginResultType 0, no context, the reason in `Message`."""
    return {
        "Message": message,
        "MessageCode": "",
        "LoginResultType": 0,
        "Context": None,
        "KDSVCSessionId": None,
        "FormId": None,
        "RedirectFormParam": None,
        "FormInputObject": None,
        "ErrorStackTrace": None,
        "Lcid": 0,
        "AccessToken": None,
        "KdAccessResult": None,
        "IsSuccessByAPI": False,
    }


def login_success(result: LoginResult, credentials: K3Credentials) -> dict[str, Any]:
    return {
        "Message": None,
        "MessageCode": "CheckPasswordPolicy",
        "LoginResultType": 1,
        "Context": {
            "UserLocale": "zh-CN",
            "LogLocale": "zh-CN",
            "DBid": result.acct_id,
            "DatabaseType": 3,
            "SessionId": result.session_id,
            "UseLanguages": [{"LocaleId": 2052, "LocaleName": "中文(简体/中国)", "Alias": "CN"}],
            "UserId": result.user_id,
            "UserName": result.username,
            "CustomName": "ecomock",
            "DisplayVersion": "8.2.0.ecomock",
            "DataCenterName": f"ecomock {credentials.acct_id}",
            "UserToken": result.user_token,
            "CurrentOrganizationInfo": {
                "ID": 1,
                "AcctOrgType": "1",
                "Name": "ecomock 总部",
                "FunctionIds": [101, 102, 103, 104, 107, 108, 109, 110, 111, 112, 113, 114],
            },
            "IsCH_ZH_AutoTrans": False,
            "ClientType": 32,
            "WeiboAuthInfo": None,
            "UTimeZone": CHINA_TIME_ZONE,
            "STimeZone": CHINA_TIME_ZONE,
            "GDCID": "",
            "Gsid": None,
            "TRLevel": 0,
            "ProductEdition": 0,
            "DataCenterNumber": credentials.acct_id,
        },
        "KDSVCSessionId": result.session_id,
        "FormId": None,
        "RedirectFormParam": None,
        "FormInputObject": None,
        "ErrorStackTrace": None,
        "Lcid": result.lcid,
        "AccessToken": None,
        "KdAccessResult": None,
        "IsSuccessByAPI": True,
    }


def _parameter_error(message: str, field_name: str | None = None) -> K3Error:
    return K3Error.one(MsgCode.PARAMETER_ERROR, message, field_name)


def _loads(raw: bytes | str) -> Any:
    try:
        return load_json(raw)
    except orjson.JSONDecodeError as exc:
        raise _parameter_error("请求数据不是合法的JSON格式") from exc
    except WireValueError:
        raise _parameter_error(MSG_TOO_COMPLEX) from None


def _lower(mapping: Mapping[str, Any]) -> dict[str, Any]:
    return {str(key).lower(): value for key, value in mapping.items()}


def _as_data(value: Any) -> dict[str, Any]:
    """`data` arrives as an object or, from K3's own SDKs, as a JSON string of one."""
    if isinstance(value, str):
        if not value.strip():
            raise _parameter_error(MSG_NO_DATA, "data")
        value = _loads(value)
    if value is None:
        raise _parameter_error(MSG_NO_DATA, "data")
    if not isinstance(value, Mapping):
        raise _parameter_error("接口参数data格式不正确，应为JSON对象", "data")
    return dict(value)


def form_request(body: Any, op: str) -> tuple[str | None, dict[str, Any]]:
    """(formid, data) from `{"formid", "data"}` or `{"parameters": [formid, data]}`.

    ExecuteBillQuery takes only data (`{"data"}`, `{"parameters": [data]}` or the bare object)
    and carries its form id inside as `FormId`.
    """
    if not isinstance(body, Mapping):
        raise _parameter_error("请求数据格式不正确，应为JSON对象")
    fields = _lower(body)
    parameters = fields.get("parameters")
    if op == "ExecuteBillQuery":
        if isinstance(parameters, list) and parameters:
            data = _as_data(parameters[0])
        elif "data" in fields:
            data = _as_data(fields["data"])
        elif "formid" in fields:
            data = dict(body)
        else:
            raise _parameter_error(MSG_NO_DATA, "data")
        return _lower(data).get("formid"), data
    if isinstance(parameters, list):
        if len(parameters) < 2:
            raise _parameter_error(MSG_NO_DATA, "data")
        return parameters[0], _as_data(parameters[1])
    if "data" not in fields:
        raise _parameter_error(MSG_NO_DATA, "data")
    return fields.get("formid"), _as_data(fields["data"])


def _int(value: Any, name: str, default: int = 0) -> int:
    if value is None or value == "":
        return default
    try:
        return parse_int(value, 0, MAX_INT32)
    except WireValueError:
        raise _parameter_error(f"参数{name}格式不正确", name) from None


def _check_strings(value: Any, key: str = "") -> None:
    """Every string in a call's data, by the kind of its key (the nearest object key): no
    control characters, codes at most MAX_CODE_CHARS, queries MAX_QUERY_CHARS, free text
    MAX_FREE_TEXT_CHARS (with line breaks allowed). K3Error (MsgCode 8) names the key."""
    pending: list[tuple[str, Any]] = [(key, value)]
    while pending:
        name, item = pending.pop()
        if isinstance(item, dict):
            pending.extend((str(child_key), child) for child_key, child in item.items())
        elif isinstance(item, list):
            pending.extend((name, child) for child in item)
        elif isinstance(item, str):
            limit, multiline = _text_rule(name.lower())
            if len(item) > limit:
                raise _parameter_error(f"字段[{name[:40]}]的值超过最大长度{limit}", name)
            try:
                check_text(item, limit, multiline=multiline)
            except WireValueError:
                raise _parameter_error(f"字段[{name[:40]}]的值包含非法的控制字符", name) from None


def _text_rule(key: str) -> tuple[int, bool]:
    """(longest, line breaks allowed) for a string under `key` (lower-cased)."""
    if key in CODE_KEYS:
        return MAX_CODE_CHARS, False
    if key in QUERY_KEYS:
        return MAX_QUERY_CHARS, True
    return MAX_FREE_TEXT_CHARS, True


def _check_entries(op: str, data: Mapping[str, Any]) -> None:
    """Refuse a Save or BatchSave whose models hold more than MAX_ENTRIES_PER_CALL entries."""
    if op not in ("Save", "BatchSave"):
        return
    model = _lower(data).get("model")
    models = model if isinstance(model, list) else [model]
    entries = sum(
        len(rows)
        for item in models
        if isinstance(item, Mapping)
        for rows in item.values()
        if isinstance(rows, list)
    )
    if entries > MAX_ENTRIES_PER_CALL:
        raise _parameter_error(
            f"单次请求的分录行数{entries}超过上限{MAX_ENTRIES_PER_CALL}", "Model"
        )


@dataclass
class FormCall:
    """A DynamicFormService body as read before the service sees it."""

    payload: Any  # as sent, for the history
    form_id: Any = None
    data: dict[str, Any] | None = None
    error: K3Error | None = None  # the refusal, when the payload parsed but is refused


def read_form_call(raw: bytes, op: str) -> FormCall:
    """Everything about a call's body that needs no service: JSON, formid and data, strict
    text, the entry limit. Pure, so big bodies are read off the event loop."""
    payload = _loads(raw) if raw.strip() else None
    try:
        if payload is None:
            raise _parameter_error(MSG_NO_DATA, "data")
        form_id, data = form_request(payload, op)
        if not form_id:
            raise _parameter_error(MSG_NO_FORMID, "formid")
        if isinstance(form_id, str):
            _check_strings(form_id, "FormId")
        _check_strings(data)
        _check_entries(op, data)
    except K3Error as error:
        return FormCall(payload, error=error)
    return FormCall(payload, form_id, data)


def _outcome(result: OperationResult) -> str:
    """The history outcome of a batch: ok, partial, or the first failure's MsgCode."""
    if result.is_success:
        return "ok"
    return "partial" if result.successes else f"msgcode:{int(result.msg_code)}"


def _flag(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1")
    return bool(value)


def _numbers(value: Any) -> list[str]:
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, list):
        return [str(item) for item in value]
    raise _parameter_error("参数Numbers格式不正确", "Numbers")


def _login_fields(op: str, body: Any) -> dict[str, Any]:
    """A login's fields by lower-cased name, from the object form or `{"parameters": [...]}`."""
    if not isinstance(body, Mapping):
        raise LoginFailed("登录参数格式不正确")
    names = LOGIN_PARAMETERS[op]
    fields = _lower(body)
    parameters = fields.get("parameters")
    if isinstance(parameters, str):
        parameters = _loads(parameters)
    if isinstance(parameters, list):
        values = dict(zip(names, [*parameters, *([None] * len(names))], strict=False))
    else:
        values = {name: fields.get(name) for name in names}
    lcid = values.pop("lcid")
    if not all(isinstance(value, str | int) and str(value) for value in values.values()):
        raise LoginFailed("账套ID、用户名和密码不能为空！")
    try:
        lcid_value = parse_int(lcid, 0, MAX_INT32)
    except WireValueError:
        lcid_value = None  # K3 falls back to the user's language
    return {**{name: str(value) for name, value in values.items()}, "lcid": lcid_value}


class K3Adapter:
    """Translates K3 WebAPI requests into ErpService calls and answers as K3 does."""

    def __init__(self, service: ErpService, credentials: K3Credentials) -> None:
        self.service = service
        self.credentials = credentials
        self.history = service.ctx.history

    def router(self) -> APIRouter:
        router = APIRouter(tags=["K3 Cloud WebAPI"])

        @router.post("/{stub}", summary="K3 WebAPI service stub (Kingdee.BOS.WebApi.ServicesStub…)")
        async def stub(stub: str, request: Request) -> Response:
            return await self.handle(stub, request)

        @router.post("/{prefix}/{stub}", summary="The same under the usual /k3cloud/ prefix")
        async def prefixed(prefix: str, stub: str, request: Request) -> Response:
            if prefix.lower() != "k3cloud":
                return self._unknown(f"{prefix}/{stub}")
            return await self.handle(stub, request)

        return router

    async def handle(self, stub: str, request: Request) -> Response:
        match = STUB.match(stub)
        if match is None:
            return self._unknown(stub)
        service_name, op_name = match.group(1).lower(), match.group(2).lower()
        if service_name == "authservice" and op_name in AUTH_OPS:
            op = AUTH_OPS[op_name]
            if op == "Logout":
                self.service.logout(self._session_id(request))
                self.history.record("api_in", "Logout", "ok")
                return _json(True)
            raw = await read_body_limited(request, MAX_BODY_BYTES)
            if raw is None:
                self.history.record("api_in", op, "login_failed")
                return _json(login_failure(MSG_TOO_LARGE))
            return self._login(op, raw)
        if service_name != "dynamicformservice" or op_name not in FORM_OPS:
            return self._unknown(stub)
        op = FORM_OPS[op_name]
        session = self.service.session(self._session_id(request))
        if session is None:
            self.history.record("api_in", op, f"msgcode:{int(MsgCode.CONTEXT_LOST)}", None, None)
            return _json(_error_body(op, K3Error.one(MsgCode.CONTEXT_LOST, MSG_SESSION_LOST)))
        payload: Any = None
        entity: str | None = None
        try:
            raw = await read_body_limited(request, MAX_BODY_BYTES)
            if raw is None:
                raise _parameter_error(MSG_TOO_LARGE)
            call = await parse_off_loop(partial(read_form_call, op=op), raw)
            payload = call.payload
            if call.error is not None or call.data is None:
                raise call.error or _parameter_error(MSG_NO_DATA, "data")
            entity = self._entity(op, call.data)
            body, outcome, entity = self._call(
                op, str(call.form_id), call.data, entity, session.owners
            )
        except K3Error as error:
            self.history.record("api_in", op, f"msgcode:{int(error.msg_code)}", entity, payload)
            return _json(_error_body(op, error))
        except Exception as exc:  # a fake's bug must still look like a K3 answer, not a trace
            self.history.record("api_in", op, f"internal:{type(exc).__name__}", entity, payload)
            return _json(_error_body(op, internal_error(exc)))
        self.history.record("api_in", op, outcome, entity, payload)
        if self.service.ctx.faults.hits(self.service.ctx.name, op, "lost_response"):
            # the work is done and committed; only the answer is lost on the way back
            self.history.record("fault", op, "lost_response", entity)
            return Response(GATEWAY_TIMEOUT, status_code=504, media_type="text/html")
        return _json(body)

    def _call(
        self,
        op: str,
        form_id: str,
        data: dict[str, Any],
        entity: str | None,
        owners: tuple[str, ...],
    ) -> tuple[Any, str, str | None]:
        """Run one DynamicFormService operation: (answer body, history outcome, entity)."""
        fields = _lower(data)
        service = self.service
        if op == "BatchSave":
            saved_batch = service.batch_save(
                form_id,
                fields.get("model"),
                auto_submit_audit=_flag(fields.get("isautosubmitandaudit")),
                owners=owners,
            )
            status = response_status(
                errors=saved_batch.errors,
                successes=saved_batch.successes,
                msg_code=saved_batch.msg_code,
            )
            body: dict[str, Any] = {
                "Result": {
                    "ResponseStatus": status,
                    "NeedReturnData": [{} for _ in saved_batch.successes],
                }
            }
            return body, _outcome(saved_batch), entity
        if op == "Save":
            result = service.save(
                form_id,
                fields.get("model"),
                auto_submit_audit=_flag(fields.get("isautosubmitandaudit")),
                owners=owners,
            )
            saved = result.successes[0]
            body = {
                "Result": {
                    "ResponseStatus": response_status(successes=result.successes),
                    "Id": saved.id,
                    "Number": saved.number,
                    "NeedReturnData": [{}],
                }
            }
            return body, "ok", saved.number
        if op in BATCH_OPS:
            numbers = _numbers(fields.get("numbers"))
            ids = fields.get("ids")
            method = {
                "Submit": service.submit,
                "Audit": service.audit,
                "UnAudit": service.unaudit,
                "Delete": service.delete,
            }[op]
            batch: OperationResult = method(form_id, numbers, ids, owners=owners)
            status = response_status(
                errors=batch.errors, successes=batch.successes, msg_code=batch.msg_code
            )
            return {"Result": {"ResponseStatus": status}}, _outcome(batch), entity
        if op == "View":
            number = fields.get("number")
            document = service.view(
                form_id, str(number) if number else None, fields.get("id"), owners=owners
            )
            return (
                {"Result": {"ResponseStatus": response_status(), "Result": document}},
                "ok",
                document["BillNo"],
            )
        # ExecuteBillQuery
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
            raise _parameter_error(
                "参数FieldKeys、FilterString、OrderString应为字符串", "FieldKeys"
            )
        rows = service.execute_bill_query(
            form_id,
            keys,
            filter_string,
            order_string,
            start_row=_int(fields.get("startrow"), "StartRow"),
            limit=_int(fields.get("limit"), "Limit"),
            top_row_count=_int(fields.get("toprowcount"), "TopRowCount"),
            owners=owners,
        )
        return rows, "ok", entity

    @staticmethod
    def _entity(op: str, data: dict[str, Any]) -> str | None:
        """The business key the history line is about: the bill number(s) or the queried form."""
        fields = _lower(data)
        if op in ("Save", "BatchSave"):
            model = fields.get("model")
            models = model if isinstance(model, list) else [model]
            bill_numbers = [
                str(number)
                for item in models
                if isinstance(item, Mapping)
                for number in [_lower(item).get("fbillno") or _lower(item).get("fnumber")]
                if number
            ]
            return ",".join(bill_numbers)[:200] or None
        if op in BATCH_OPS:
            numbers = fields.get("numbers")
            if isinstance(numbers, list) and numbers:
                return ",".join(str(n) for n in numbers)
            ids = fields.get("ids")
            return str(ids) if ids else None
        if op == "View":
            value = fields.get("number") or fields.get("id")
            return str(value) if value else None
        form_id = fields.get("formid")
        return str(form_id) if form_id else None

    def _login(self, op: str, raw: bytes) -> Response:
        redacted: Any = None
        username: str | None = None
        try:
            body = _loads(raw) if raw.strip() else None
            fields = _login_fields(op, body)
            username = fields["username"]
            # the password, app secret and signature never reach the history
            redacted = {
                key: value
                for key, value in fields.items()
                if key not in ("password", "appsecret", "sign")
            }
            service = self.service
            if op == "ValidateUser":
                result = service.login(
                    fields["acctid"], fields["username"], fields["password"], fields["lcid"]
                )
            elif op == "LoginByAppSecret":
                result = service.login_by_app_secret(
                    fields["acctid"],
                    fields["username"],
                    fields["appid"],
                    fields["appsecret"],
                    fields["lcid"],
                )
            else:
                result = service.login_by_sign(
                    fields["acctid"],
                    fields["username"],
                    fields["appid"],
                    fields["timestamp"],
                    fields["sign"],
                    fields["lcid"],
                )
        except (LoginFailed, K3Error) as error:
            message = str(error) if isinstance(error, LoginFailed) else "登录参数不是合法的JSON格式"
            self.history.record("api_in", op, "login_failed", username, redacted)
            return _json(login_failure(message))
        self.history.record("api_in", op, "ok", username, redacted)
        response = _json(login_success(result, self.credentials))
        response.headers.append("set-cookie", f"{SESSION_COOKIE}={result.session_id}; path=/")
        response.headers.append(
            "set-cookie", f"{ASPNET_COOKIE}={result.session_id}; path=/; HttpOnly"
        )
        return response

    @staticmethod
    def _session_id(request: Request) -> str | None:
        # K3's SDKs send the session both as the cookie and as a header of the same name
        return (
            request.cookies.get(SESSION_COOKIE)
            or request.headers.get(SESSION_COOKIE)
            or request.cookies.get(ASPNET_COOKIE)
        )

    def _unknown(self, stub: str) -> Response:
        self.history.record("api_in", stub[:100], f"msgcode:{int(MsgCode.PARAMETER_ERROR)}")
        error = _parameter_error(f"服务[{stub}]不存在")
        return _json({"Result": {"ResponseStatus": error_status(error)}})

    def on_unrouted(self, request: Request, status: int) -> Response:
        """A path or HTTP method K3 does not serve: its unknown-service answer, with `status`."""
        answer = self._unknown(f"{request.method} {request.url.path.lstrip('/')}"[:200])
        answer.status_code = status
        return answer

    def on_error(self, request: Request, exc: Exception) -> Response:
        """Anything unforeseen still answers in K3's format, never a stack trace."""
        path = request.url.path
        op = next((name for name in FORM_OPS.values() if f".{name.lower()}." in path.lower()), "")
        self.history.record("api_in", op or path[-100:], f"internal:{type(exc).__name__}")
        if "authservice" in path.lower():
            return _json(login_failure("服务端内部错误"))
        return _json(_error_body(op, internal_error(exc)))


def create_app(
    service: ErpService, credentials: K3Credentials, tenants: Sequence[K3Credentials] = ()
) -> ASGIApp:
    """The ERP's ASGI app: the K3 WebAPI at `/` and `/k3cloud/`, plus the `/_fake/` surface.

    `credentials` are the connector's (every owner); `tenants` are further K3 users, each
    bound to its `owners` scope. All of them can log in.
    """
    service.add_users([credentials, *tenants])
    adapter = K3Adapter(service, credentials)
    return make_app(
        "erp",
        service.ctx.clock,
        service.ctx.conn,
        [adapter.router()],
        adapter.on_error,
        on_unrouted=adapter.on_unrouted,
    )
