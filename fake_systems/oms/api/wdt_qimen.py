"""旺店通's Qimen custom scenario (奇门自定义场景): `POST /router/qm`, the way to Taobao/Tmall.

`/openapi` never returns Taobao-family trades (QJB-DOCS queryWithDetail 注意事项); 旺店通
serves them through Qimen, behind the Taobao gateway, as custom methods named
`wdt.<module>.<class>.<method>` in lower case. A request is a TOP form post signed twice:
the gateway's Qimen sign with the integrator's Qimen app secret, and inside it `wdt_sign`
with the 旺店通 secret (PyPI `wdtqm` `WdtQimenSDK.call_api`; DENO-WAYWAKE `src/qimen/`).
The fake plays gateway and 旺店通 in one; see docs/protocols/oms.md.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qsl

import orjson
from fastapi.responses import Response

from fake_systems.common.credentials import OmsCredentials
from fake_systems.common.faults import FaultRule
from fake_systems.common.pipeline import Call, Caller, Handler, Inbound, Protocol, WireError
from fake_systems.common.scope import OwnerScope
from fake_systems.common.signing import constant_time_equal, qimen_sign, wdt_split_appsecret
from fake_systems.common.wire import WireValueError, load_json, parse_int
from fake_systems.oms.api.wdt import (
    MAX_BODY_BYTES,
    MAX_INTEGER,
    MSG_ARG_TYPE,
    MSG_SIGN,
    Pager,
    trade_page,
)
from fake_systems.oms.models import TAOBAO_FAMILY, OmsError
from fake_systems.oms.service import OmsService
from simulator.clock import parse_qimen_time

QIMEN_PATH = "/router/qm"
METHOD_TRADE_QUERY = "wdt.sales.tradequery.querywithdetail"
TIMESTAMP_TOLERANCE = timedelta(minutes=10)  # TOP's window (unverified for Qimen custom)
# The gateway's own parameters: signed by the Qimen sign, left out of `wdt_sign`.
GATEWAY_PARAMS = frozenset(
    {"app_key", "method", "timestamp", "v", "sign_method", "format", "target_app_key",
     "wdt3_customer_id", "sign", "session", "partner_id", "simplify"}
)  # fmt: skip
REQUIRED = ("app_key", "method", "timestamp", "sign", "target_app_key", "wdt3_customer_id")
WDT_REQUIRED = ("wdt_appkey", "wdt_salt", "wdt_sign", "datetime")
JSON_HEADERS = {"content-type": "application/json; charset=utf-8"}

# TOP gateway error codes (unverified for Qimen custom: TOP's general table).
TOP_MISSING_ARGUMENTS = 40
TOP_INVALID_APP_KEY = 29
TOP_INVALID_SIGNATURE = 25
TOP_INVALID_TIMESTAMP = 31
TOP_INVALID_METHOD = 22
TOP_APP_CALL_LIMITED = 7  # research notes §2.1 (TOP-ERR-CSDN, TOP-FAQ7)
TOP_REMOTE_SERVICE_ERROR = 15
TOP_MESSAGES = {
    TOP_MISSING_ARGUMENTS: "Missing required arguments",
    TOP_INVALID_APP_KEY: "Invalid app Key",
    TOP_INVALID_SIGNATURE: "Invalid signature",
    TOP_INVALID_TIMESTAMP: "Invalid timestamp",
    TOP_INVALID_METHOD: "Invalid method",
    TOP_APP_CALL_LIMITED: "App Call Limited",
    TOP_REMOTE_SERVICE_ERROR: "Remote Service Error",
}
WDT_ERROR = "wdt"  # prefix of a 旺店通-level refusal's WireError code: `wdt:<status>`


def serialize_for_wdt_sign(value: Any, out: list[str]) -> None:
    """wdtqm's `serialize_value_for_signature`: keys sorted, each key then its value; a
    string that is JSON is read and serialized the same way; lists keep their objects."""
    if isinstance(value, dict):
        for key, item in sorted(value.items()):
            if key in ("wdt3_customer_id", "wdt_sign", "target_app_key") or item is None:
                continue
            out.append(key)
            if isinstance(item, bool):
                out.append(str(item).lower())
            elif isinstance(item, int | float):
                out.append(str(item))
            elif isinstance(item, str):
                parsed = _json_or_none(item)
                if parsed is None:
                    out.append(item)
                else:
                    serialize_for_wdt_sign(parsed, out)
            else:
                serialize_for_wdt_sign(item, out)
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, dict):
                serialize_for_wdt_sign(item, out)
    else:
        out.append(str(value))


def _json_or_none(text: str) -> Any:
    trimmed = text.strip()
    if not (
        (trimmed.startswith("{") and trimmed.endswith("}"))
        or (trimmed.startswith("[") and trimmed.endswith("]"))
    ):
        return None
    try:
        return load_json(trimmed)
    except (orjson.JSONDecodeError, WireValueError):
        return None


def wdt_custom_sign(secret: str, fields: dict[str, str]) -> str:
    """`wdt_sign`: md5(secret + serialized fields (with `method`) + secret), lower hex."""
    out: list[str] = []
    serialize_for_wdt_sign(fields, out)
    return hashlib.md5(f"{secret}{''.join(out)}{secret}".encode()).hexdigest()


def _answer(payload: dict[str, Any]) -> Response:
    return Response(content=orjson.dumps(payload), headers=JSON_HEADERS)


class WdtQimenProtocol(Protocol):
    """`POST /router/qm` for the pipeline: the Qimen custom route to Taobao-family trades."""

    system = "oms"
    max_body_bytes = MAX_BODY_BYTES
    gateway = "tengine"  # the Qimen router is Alibaba's, behind its nginx fork

    def __init__(
        self, service: OmsService, credentials: OmsCredentials, tenants: Sequence[OmsCredentials]
    ) -> None:
        self.service = service
        self.clock = service.ctx.clock
        self.grants = {grant.qimen_app_key: grant for grant in (credentials, *tenants)}
        self.operations: dict[str, Handler] = {METHOD_TRADE_QUERY: self._trade_query}

    def parse(self, inbound: Inbound) -> Any:
        try:
            return dict(parse_qsl(inbound.body.decode("utf-8"), keep_blank_values=True))
        except UnicodeDecodeError:
            raise WireError(TOP_MISSING_ARGUMENTS, "body is not UTF-8") from None

    def operation_of(self, call: Call) -> str:
        form = call.parsed if isinstance(call.parsed, dict) else {}
        return str(form.get("method") or call.inbound.query.get("method") or "unknown")

    def authenticate(self, call: Call) -> Caller:
        """The gateway's checks (app, Qimen sign, timestamp), then 旺店通's (customer id,
        appkey, salt, wdt_sign)."""
        if isinstance(call.parsed, WireError):
            raise call.parsed
        form: dict[str, str] = {**call.inbound.query, **call.parsed}
        missing = [name for name in REQUIRED if not form.get(name)]
        if missing:
            raise WireError(TOP_MISSING_ARGUMENTS, f"missing {', '.join(missing)}")
        grant = self.grants.get(form["app_key"])
        if grant is None or form["target_app_key"] != grant.qimen_target_app_key:
            raise WireError(TOP_INVALID_APP_KEY, TOP_MESSAGES[TOP_INVALID_APP_KEY])
        if not constant_time_equal(form["sign"].upper(), qimen_sign(grant.qimen_secret, form, "")):
            raise WireError(TOP_INVALID_SIGNATURE, TOP_MESSAGES[TOP_INVALID_SIGNATURE])
        try:
            sent = parse_qimen_time(form["timestamp"])
        except ValueError:
            raise WireError(TOP_INVALID_TIMESTAMP, TOP_MESSAGES[TOP_INVALID_TIMESTAMP]) from None
        # TOP timestamps are Beijing wall time, checked against the gateway's own clock.
        tolerance = TIMESTAMP_TOLERANCE.total_seconds()
        if self.service.ctx.stale_by(sent.timestamp(), tolerance, call.operation) is not None:
            raise WireError(TOP_INVALID_TIMESTAMP, TOP_MESSAGES[TOP_INVALID_TIMESTAMP])
        # Past the gateway: 旺店通 checks its own credential and `wdt_sign`.
        secret, salt = wdt_split_appsecret(grant.app_secret)
        if (
            any(not form.get(name) for name in WDT_REQUIRED)
            or not constant_time_equal(form["wdt3_customer_id"], grant.sid)
            or not constant_time_equal(form["wdt_appkey"], grant.app_key)
            or not constant_time_equal(form["wdt_salt"], salt)
        ):
            raise WireError(f"{WDT_ERROR}:1", "app auth fail")
        fields = {k: v for k, v in form.items() if k not in GATEWAY_PARAMS or k == "method"}
        if not constant_time_equal(form["wdt_sign"].lower(), wdt_custom_sign(secret, fields)):
            raise WireError(f"{WDT_ERROR}:1", MSG_SIGN)
        return Caller(f"qimen:{grant.app_key}", OwnerScope.of(grant.owners), grant)

    def decode(self, call: Call) -> dict[str, str]:
        form: dict[str, str] = call.parsed
        return form

    def _trade_query(self, call: Call) -> dict[str, Any]:
        """`wdt.sales.tradequery.querywithdetail`: the queryWithDetail of Taobao-family shops."""
        form: dict[str, str] = call.data
        params = _json_or_none(form.get("params", "") or "{}")
        pager = _json_or_none(form.get("pager", "") or "{}")
        if not isinstance(params, dict) or not isinstance(pager, dict):
            raise WireError(f"{WDT_ERROR}:1", MSG_ARG_TYPE)
        try:
            page = Pager(
                parse_int(pager.get("page_size", 40), -MAX_INTEGER, MAX_INTEGER),
                parse_int(pager.get("page_no", 0), -MAX_INTEGER, MAX_INTEGER),
                True,
            )
        except WireValueError:
            raise WireError(f"{WDT_ERROR}:1", MSG_ARG_TYPE) from None
        try:
            return trade_page(self.service, params, page, call.scope, platforms=TAOBAO_FAMILY)
        except OmsError as exc:
            raise WireError(f"{WDT_ERROR}:100", str(exc)) from exc
        except WireError as error:
            raise WireError(f"{WDT_ERROR}:{error.code}", error.message) from error

    def encode(self, call: Call, result: Any) -> Response:
        return _answer({"response": {"status": 0, "data": result}})

    def encode_error(self, call: Call, error: WireError) -> Response:
        if error.code.startswith(f"{WDT_ERROR}:"):
            status = int(error.code.split(":", 1)[1])
            return _answer({"response": {"status": status, "message": error.message}})
        return _answer(
            {"error_response": {"code": int(error.code), "msg": error.message, "sub_msg": ""}}
        )

    def transient_refusal(self, call: Call, rule: FaultRule) -> Response | WireError | None:
        """TOP's error_response: 15 Remote Service Error (`busy`), 7 App Call Limited
        (`rate_limited`), 25 Invalid signature (`session_expired`: no session on TOP's
        signed calls)."""
        code = {
            "busy": TOP_REMOTE_SERVICE_ERROR,
            "rate_limited": TOP_APP_CALL_LIMITED,
            "session_expired": TOP_INVALID_SIGNATURE,
        }.get(rule.kind)
        if code is None:
            return super().transient_refusal(call, rule)
        return WireError(code, TOP_MESSAGES[code])

    def too_large(self, call: Call) -> WireError:
        return WireError(TOP_MISSING_ARGUMENTS, "body too large")

    def unknown_operation(self, call: Call) -> WireError:
        return WireError(TOP_INVALID_METHOD, TOP_MESSAGES[TOP_INVALID_METHOD])

    def internal_error(self, call: Call, error: Exception) -> WireError:
        return WireError(f"{WDT_ERROR}:99", "其他错误")
