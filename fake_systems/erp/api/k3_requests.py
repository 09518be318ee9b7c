"""Reading K3 WebAPI requests: the service stub of a path, login parameters, the
DynamicFormService envelope, strict strings, the entry limit and the history's entity.

Everything here is pure (no service, no database), so the pipeline may run it in a worker
thread for big bodies.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

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
    MSG_TOO_COMPLEX,
    K3Error,
    MsgCode,
)
from fake_systems.erp.sessions import LoginFailed

STUB = re.compile(
    r"^Kingdee\.BOS\.WebApi\.ServicesStub\.(\w+)\.(\w+)\.common\.kdsvc$", re.IGNORECASE
)
# The usual prefix in front of the stub; any other is no K3 path.
PREFIX = "k3cloud"
# Operations by lower-cased name, answering with their canonical spelling.
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
BATCH_OPS = {"Submit", "Audit", "UnAudit", "Delete"}
# Entries (rows of a model's entry lists) in one Save or BatchSave: validating them runs on
# the event loop every fake shares, so their number bounds how long one call may hold it.
MAX_ENTRIES_PER_CALL = 1000
# Strings in a call: codes (bill numbers, FNumber, form ids) and queries have their own
# bounds, every other string is free text; none may carry control characters.
CODE_KEYS = frozenset({"fbillno", "fnumber", "number", "numbers", "formid", "id", "ids", "fid"})
QUERY_KEYS = frozenset({"fieldkeys", "filterstring", "orderstring"})
MAX_QUERY_CHARS = 4000
# `FBillNo='X'` and nothing else: the history names such a query after bill X.
ONE_BILL_FILTER = re.compile(r"^\s*FBillNo\s*=\s*'([^']{1,200})'\s*$", re.IGNORECASE)
MAX_FREE_TEXT_CHARS = 2000
MAX_INT32 = 2**31 - 1  # StartRow, Limit, TopRowCount and lcid are C# ints in K3
UNKNOWN = "unknown"  # the history's operation for a path K3 does not serve
MSG_LOGIN_NOT_JSON = "登录参数不是合法的JSON格式"


def stub_of(path: str) -> str:
    """The service stub a path names: `/<stub>` or `/k3cloud/<stub>` (any other prefix kept,
    so that it names no service)."""
    prefix, _, stub = path.lstrip("/").rpartition("/")
    return stub if not prefix or prefix.lower() == PREFIX else f"{prefix}/{stub}"


def operation_of(path: str) -> str:
    """The canonical operation a path names (`ValidateUser`, `Save`, …), or UNKNOWN."""
    match = STUB.match(stub_of(path))
    if match is None:
        return UNKNOWN
    service, op = match.group(1).lower(), match.group(2).lower()
    if service == "authservice":
        return AUTH_OPS.get(op, UNKNOWN)
    if service == "dynamicformservice":
        return FORM_OPS.get(op, UNKNOWN)
    return UNKNOWN


def parameter_error(message: str, field_name: str | None = None) -> K3Error:
    return K3Error.one(MsgCode.PARAMETER_ERROR, message, field_name)


def loads(raw: bytes | str) -> Any:
    """JSON with the shared depth and size bounds; MsgCode 8 otherwise."""
    try:
        return load_json(raw)
    except orjson.JSONDecodeError as exc:
        raise parameter_error("请求数据不是合法的JSON格式") from exc
    except WireValueError:
        raise parameter_error(MSG_TOO_COMPLEX) from None


def lower(mapping: Mapping[str, Any]) -> dict[str, Any]:
    return {str(key).lower(): value for key, value in mapping.items()}


def _as_data(value: Any) -> dict[str, Any]:
    """`data` arrives as an object or, from K3's own SDKs, as a JSON string of one."""
    if isinstance(value, str):
        if not value.strip():
            raise parameter_error(MSG_NO_DATA, "data")
        value = loads(value)
    if value is None:
        raise parameter_error(MSG_NO_DATA, "data")
    if not isinstance(value, Mapping):
        raise parameter_error("接口参数data格式不正确，应为JSON对象", "data")
    return dict(value)


def form_request(body: Any, op: str) -> tuple[str | None, dict[str, Any]]:
    """(formid, data) from `{"formid", "data"}` or `{"parameters": [formid, data]}`, where
    `parameters` may be the JSON text of the array and `data` the JSON text of the object.

    ExecuteBillQuery takes only data (`{"data"}`, `{"parameters": [data]}` or the bare object)
    and carries its form id inside as `FormId`.
    """
    if not isinstance(body, Mapping):
        raise parameter_error("请求数据格式不正确，应为JSON对象")
    fields = lower(body)
    parameters = fields.get("parameters")
    if isinstance(parameters, str):
        # The classic envelope ({"format", "useragent", "rid", "parameters", "timestamp", "v"})
        # carries the parameters array as JSON text.
        parameters = loads(parameters)
    if op == "ExecuteBillQuery":
        if isinstance(parameters, list) and parameters:
            data = _as_data(parameters[0])
        elif "data" in fields:
            data = _as_data(fields["data"])
        elif "formid" in fields:
            data = dict(body)
        else:
            raise parameter_error(MSG_NO_DATA, "data")
        return lower(data).get("formid"), data
    if isinstance(parameters, list):
        if len(parameters) < 2:
            raise parameter_error(MSG_NO_DATA, "data")
        return parameters[0], _as_data(parameters[1])
    if "data" not in fields:
        raise parameter_error(MSG_NO_DATA, "data")
    return fields.get("formid"), _as_data(fields["data"])


def paging_int(value: Any, name: str, default: int = 0) -> int:
    """StartRow, Limit, TopRowCount: 0 to 2³¹−1, absent or "" for `default`."""
    if value is None or value == "":
        return default
    try:
        return parse_int(value, 0, MAX_INT32)
    except WireValueError:
        raise parameter_error(f"参数{name}格式不正确", name) from None


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
                raise parameter_error(f"字段[{name[:40]}]的值超过最大长度{limit}", name)
            try:
                check_text(item, limit, multiline=multiline)
            except WireValueError:
                raise parameter_error(f"字段[{name[:40]}]的值包含非法的控制字符", name) from None


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
    model = lower(data).get("model")
    models = model if isinstance(model, list) else [model]
    entries = sum(
        len(rows)
        for item in models
        if isinstance(item, Mapping)
        for rows in item.values()
        if isinstance(rows, list)
    )
    if entries > MAX_ENTRIES_PER_CALL:
        raise parameter_error(f"单次请求的分录行数{entries}超过上限{MAX_ENTRIES_PER_CALL}", "Model")


@dataclass
class FormCall:
    """A DynamicFormService body as read before the service sees it."""

    payload: Any  # as sent, for the history
    form_id: Any = None
    data: dict[str, Any] | None = None
    error: K3Error | None = None  # the refusal, when the payload parsed but is refused


def read_form_call(raw: bytes, op: str) -> FormCall:
    """Everything about a call's body that needs no service: JSON, formid and data, strict
    text, the entry limit. A body that is no JSON at all raises K3Error."""
    payload = loads(raw) if raw.strip() else None
    try:
        if payload is None:
            raise parameter_error(MSG_NO_DATA, "data")
        form_id, data = form_request(payload, op)
        if not form_id:
            raise parameter_error(MSG_NO_FORMID, "formid")
        if isinstance(form_id, str):
            _check_strings(form_id, "FormId")
        _check_strings(data)
        _check_entries(op, data)
    except K3Error as error:
        return FormCall(payload, error=error)
    return FormCall(payload, form_id, data)


def login_fields(op: str, raw: bytes) -> dict[str, Any]:
    """A login's fields by lower-cased name, from the object form or `{"parameters": [...]}`;
    LoginFailed with K3's message when they are missing or malformed."""
    try:
        body = loads(raw) if raw.strip() else None
        if not isinstance(body, Mapping):
            raise LoginFailed("登录参数格式不正确")
        names = LOGIN_PARAMETERS[op]
        fields = lower(body)
        parameters = fields.get("parameters")
        if isinstance(parameters, str):
            parameters = loads(parameters)
    except K3Error:
        raise LoginFailed(MSG_LOGIN_NOT_JSON) from None
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


def flag(value: Any) -> bool:
    """A K3 boolean option: true, "true" or "1"."""
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1")
    return bool(value)


def numbers(value: Any) -> list[str]:
    """`Numbers` as a JSON list or a comma-separated string."""
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, list):
        return [str(item) for item in value]
    raise parameter_error("参数Numbers格式不正确", "Numbers")


def entity_of(op: str, data: Mapping[str, Any]) -> str | None:
    """The business key a history line is about: the bill number(s) or the queried form."""
    fields = lower(data)
    if op in ("Save", "BatchSave"):
        model = fields.get("model")
        models = model if isinstance(model, list) else [model]
        bill_numbers = [
            str(number)
            for item in models
            if isinstance(item, Mapping)
            for number in [lower(item).get("fbillno") or lower(item).get("fnumber")]
            if number
        ]
        return ",".join(bill_numbers)[:200] or None
    if op in BATCH_OPS:
        given = fields.get("numbers")
        if isinstance(given, list) and given:
            return ",".join(str(n) for n in given)
        listed = fields.get("ids")
        return str(listed) if listed else None
    if op == "View":
        value = fields.get("number") or fields.get("id")
        return str(value) if value else None
    if op == "ExecuteBillQuery":
        # A look-up of one bill by its number is about that bill (a connector reading back
        # before it saves again), so a fault on it names the trade; other queries, the form.
        filter_string = fields.get("filterstring")
        one_bill = ONE_BILL_FILTER.match(filter_string) if isinstance(filter_string, str) else None
        if one_bill:
            return one_bill.group(1)
    form_id = fields.get("formid")
    return str(form_id) if form_id else None
