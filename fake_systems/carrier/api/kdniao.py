"""Kdniao (快递鸟) adapter: form-posted, DataSign-checked requests over the carrier.

1007 / 1147 (create / cancel waybill), ecomock's 1816 (intercept) and ecomock's 1950 (fee
statements, 对账单) at /api/EOrderService,
1008 subscribe at /api/dist, 1002 instant tracking and 2002 number recognition at
/Ebusiness/EbusinessOrderHandle.aspx.
Every EBusinessID the carrier issued is its own merchant account, checked against its own
api key; a request only sees the waybills of its account.

What this protocol is, for the shared pipeline (fake_systems/common/pipeline.py): the codec
(a form envelope around RequestData JSON), the authentication (EBusinessID and DataSign),
and per path the RequestTypes it serves (`PATHS`). Pushes (101, 102) are kdniao_push.py's.
"""

from __future__ import annotations

import html
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any
from urllib.parse import parse_qsl, unquote

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp

from fake_systems.carrier import statements
from fake_systems.carrier.api import kdniao_push
from fake_systems.carrier.api.kdniao_push import tracking_to_wire
from fake_systems.carrier.models import (
    MSG_QUERY_LIMIT_SECOND,
    RESULT_ALREADY_ORDERED,
    RESULT_BAD_SIGN,
    RESULT_FORMAT,
    RESULT_MISSING_PARAMETER,
    RESULT_OTHER,
    RESULT_QUERY_LIMIT,
    RESULT_SUCCESS,
    RESULT_USER,
    SHIPPERS,
    STATE_NO_TRACE,
    Address,
    CarrierError,
)
from fake_systems.carrier.service import CarrierService
from fake_systems.common.app import make_app
from fake_systems.common.credentials import KdniaoCredentials
from fake_systems.common.faults import FaultRule
from fake_systems.common.money import cents_to_text
from fake_systems.common.pipeline import (
    UNPARSED_BODY_PREFIX,
    Call,
    Caller,
    Handler,
    Inbound,
    Pipeline,
    Protocol,
    WireError,
)
from fake_systems.common.scope import OwnerScope
from fake_systems.common.signing import constant_time_equal, kdniao_data_sign
from fake_systems.common.wire import (
    MAX_CODE_CHARS,
    MAX_TEXT_CHARS,
    WireValueError,
    check_text,
    load_json,
)
from simulator.clock import format_qimen_time

SYSTEM = "carrier"
ENVELOPE_FIELDS = ("RequestData", "EBusinessID", "RequestType", "DataSign")
NO_TRACE_REASON = "暂无轨迹信息"
SYSTEM_ERROR_REASON = "系统错误，请稍后重试"
MSG_UNKNOWN_ACCOUNT = "EBusinessID 不存在或未开通接口"
# Largest form body read (bytes). A 1007 with a long Commodity list is a few KB; Kdniao's own
# limit is not published (see docs/protocols/carrier.md).
MAX_BODY_BYTES = 256 * 1024
MAX_PARCELS = 999  # 1007 Quantity: the fake's bound (Kdniao publishes none)

# A method gets the service, the decoded RequestData and the caller's account, and answers
# the success body (or raises WireError, or a CarrierError the protocol translates).
Method = Callable[[CarrierService, dict[str, Any], KdniaoCredentials], dict[str, Any]]


class RecognitionRefusal(WireError):
    """A 2002 failure: `Code` (not `ResultCode`), `LogisticCode` and an empty `Shippers`
    (misu99/kdniao `response/recognise_response.go`)."""

    def __init__(self, code: str, message: str, logistic_code: str) -> None:
        super().__init__(code, message)
        self.logistic_code = logistic_code


@dataclass(frozen=True)
class Envelope:
    """A request's form fields, and its RequestData's JSON value or the refusal that earns."""

    fields: dict[str, str]
    data: Any = None  # None when RequestData is missing or empty

    @property
    def complete(self) -> bool:
        return all(self.fields.get(name) for name in ENVELOPE_FIELDS)


def read_envelope(raw: bytes) -> Envelope:
    """The form and its RequestData JSON, before anything is trusted; pure, so the pipeline
    reads big bodies off the event loop. WireError(103) if the form is not UTF-8."""
    try:
        fields = dict(parse_qsl(raw.decode("utf-8"), keep_blank_values=True))
    except (UnicodeDecodeError, ValueError) as exc:
        raise WireError(RESULT_FORMAT, "请求不是 UTF-8 表单") from exc
    request_data = fields.get("RequestData")
    if not request_data:
        return Envelope(fields)
    try:
        data: Any = load_json(request_data)
    except ValueError:  # malformed, too deep or too large
        data = WireError(RESULT_FORMAT, "RequestData 格式有误")
    return Envelope(fields, data)


def _json(body: dict[str, Any], status: int = 200) -> Response:
    # Kdniao answers every outcome, failures included, with HTTP 200 and a JSON body (only a
    # path or method it does not have gets 404 or 405, still with its JSON).
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


def failure(ebusiness_id: str, result_code: str, reason: str) -> dict[str, Any]:
    return {
        "EBusinessID": ebusiness_id,
        "Success": False,
        "ResultCode": result_code,
        "Reason": reason,
    }


def _required(
    data: dict[str, Any], *names: str, where: str = "", limit: int = MAX_CODE_CHARS
) -> list[str]:
    """The values of required fields of `data` (the object at `where`, e.g. "Sender."), as
    text; WireError(101) naming the first one missing."""
    values = []
    for name in names:
        value = data.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            raise WireError(RESULT_MISSING_PARAMETER, f"缺少必要参数: {where}{name}")
        values.append(_as_text(value, f"{where}{name}", limit))
    return values


def _optional_text(data: dict[str, Any], name: str, limit: int = MAX_CODE_CHARS) -> str:
    value = data.get(name)
    if value is None:
        return ""
    return _as_text(value, name, limit)


def _as_text(value: Any, name: str, limit: int = MAX_CODE_CHARS) -> str:
    """A field as stripped text: a string without control characters and at most `limit`
    characters, or a whole number written without quotes (never a JSON true/false);
    WireError(103) otherwise."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str):
        raise WireError(RESULT_FORMAT, f"{name} 格式有误")
    try:
        return check_text(value, limit).strip()
    except WireValueError:
        raise WireError(
            RESULT_FORMAT, f"{name} 格式有误：不得含控制字符，长度不超过 {limit}"
        ) from None


def _object(data: dict[str, Any], name: str) -> dict[str, Any]:
    """A required JSON object field: WireError(101) if missing, (103) if not an object."""
    value = data.get(name)
    if value is None:
        raise WireError(RESULT_MISSING_PARAMETER, f"缺少必要参数: {name}")
    if not isinstance(value, dict):
        raise WireError(RESULT_FORMAT, f"{name} 格式有误")
    return value


def _address(data: dict[str, Any], name: str) -> Address:
    """1007's Sender or Receiver: Name, Tel or Mobile (one of them), ProvinceName, CityName,
    ExpAreaName and Address are required (misu99/kdniao `request/order_request.go`)."""
    party = _object(data, name)
    _required(
        party,
        *("Name", "ProvinceName", "CityName", "ExpAreaName", "Address"),
        where=f"{name}.",
        limit=MAX_TEXT_CHARS,
    )
    if not (_optional_text(party, "Tel") or _optional_text(party, "Mobile")):
        raise WireError(RESULT_MISSING_PARAMETER, f"缺少必要参数: {name}.Tel 或 {name}.Mobile")
    return Address(
        province=_optional_text(party, "ProvinceName", MAX_TEXT_CHARS),
        city=_optional_text(party, "CityName", MAX_TEXT_CHARS),
        area=_optional_text(party, "ExpAreaName", MAX_TEXT_CHARS),
    )


def _commodity(data: dict[str, Any]) -> None:
    """1007's Commodity: a non-empty list, each item with its GoodsName."""
    goods = data.get("Commodity")
    if goods is None or goods == []:
        raise WireError(RESULT_MISSING_PARAMETER, "缺少必要参数: Commodity")
    if not isinstance(goods, list) or not all(isinstance(item, dict) for item in goods):
        raise WireError(RESULT_FORMAT, "Commodity 格式有误")
    for item in goods:
        _required(item, "GoodsName", where="Commodity.", limit=MAX_TEXT_CHARS)


def _positive_count(data: dict[str, Any], name: str) -> int:
    """A required whole number of at least 1 (a JSON number or its digits as a string)."""
    (value,) = _required(data, name)
    if not value.isascii() or not value.isdigit() or not 1 <= int(value) <= MAX_PARCELS:
        raise WireError(RESULT_FORMAT, f"{name} 格式有误：1 到 {MAX_PARCELS} 的整数")
    return int(value)


def _wants(data: dict[str, Any], name: str) -> bool:
    """A "0"/"1" switch that clients send as a string or a number."""
    return data.get(name) in ("1", 1)


def _sign_matches(sent: str, expected: str) -> bool:
    """Accept the plain base64 and the two ways clients garble it on its way through a form."""
    candidates = {sent, sent.replace(" ", "+"), unquote(sent)}
    return any(constant_time_equal(candidate, expected) for candidate in candidates)


class KdniaoProtocol(Protocol):
    """One Kdniao path for the pipeline: the envelope, the account's DataSign, and the
    RequestTypes that path serves (another type answers 105, as Kdniao does)."""

    system = SYSTEM
    max_body_bytes = MAX_BODY_BYTES

    def __init__(
        self,
        service: CarrierService,
        accounts: Sequence[KdniaoCredentials],
        methods: Mapping[str, Method],
    ) -> None:
        self.service = service
        self.accounts = accounts
        self.operations: dict[str, Handler] = {
            request_type: self._operation(method) for request_type, method in methods.items()
        }
        # The history's name for a call whose RequestType is not known yet: every type served.
        self.served = "/".join(methods)

    def _operation(self, method: Method) -> Handler:
        """The pipeline's handler for one RequestType: the domain's refusals keep their code."""

        def handle(call: Call) -> dict[str, Any]:
            try:
                return method(self.service, call.data, call.caller.credential)  # type: ignore[union-attr]
            except CarrierError as exc:
                raise WireError(exc.result_code, exc.reason) from exc

        return handle

    def _account(self, ebusiness_id: str) -> KdniaoCredentials | None:
        found = None
        for account in self.accounts:  # every one compared: no early exit to time
            if constant_time_equal(ebusiness_id, account.ebusiness_id):
                found = account
        return found

    def parse(self, inbound: Inbound) -> Any:
        return read_envelope(inbound.body)

    def operation_of(self, call: Call) -> str:
        envelope = call.parsed
        if isinstance(envelope, Envelope) and envelope.complete:
            return envelope.fields["RequestType"]
        return self.served

    def authenticate(self, call: Call) -> Caller:
        """Envelope complete (101), account known (104), DataSign (102), DataType (103)."""
        envelope = call.parsed
        if isinstance(envelope, WireError):
            raise envelope  # without a readable form there is nobody to authenticate
        fields = envelope.fields
        missing = [name for name in ENVELOPE_FIELDS if not fields.get(name)]
        if missing:
            raise WireError(RESULT_MISSING_PARAMETER, f"缺少必要参数: {', '.join(missing)}")
        account = self._account(fields["EBusinessID"])
        if account is None:
            raise WireError(RESULT_USER, MSG_UNKNOWN_ACCOUNT)
        expected = kdniao_data_sign(fields["RequestData"], account.api_key)
        if not _sign_matches(fields["DataSign"], expected):
            raise WireError(RESULT_BAD_SIGN, "DataSign 验证失败")
        if fields.get("DataType", "2") != "2":
            raise WireError(RESULT_FORMAT, "DataType 只支持 2 (JSON)")
        return Caller(account.ebusiness_id, OwnerScope.of(account.owners), account)

    def decode(self, call: Call) -> dict[str, Any]:
        data = call.parsed.data
        if isinstance(data, WireError):
            raise data
        if not isinstance(data, dict):
            raise WireError(RESULT_FORMAT, "RequestData 格式有误")
        call.entity = _entity(data)
        return data

    def encode(self, call: Call, result: Any) -> Response:
        return _json(result)

    def encode_error(self, call: Call, error: WireError) -> Response:
        envelope = call.parsed
        sent_id = envelope.fields.get("EBusinessID", "") if isinstance(envelope, Envelope) else ""
        if isinstance(error, RecognitionRefusal):
            return _json(
                {
                    "EBusinessID": sent_id,
                    "Success": False,
                    "LogisticCode": error.logistic_code,
                    "Code": error.code,
                    "Reason": error.message,
                    "Shippers": [],
                }
            )
        return _json(failure(sent_id, error.code, error.message))

    def transient_refusal(self, call: Call, rule: FaultRule) -> Response | WireError | None:
        """105 with the system-error reason (`busy`: Kdniao documents no "busy" code), 405
        超出查询次数限制 (`rate_limited`), 104 for the account (`session_expired`: Kdniao
        has no session; an account it no longer accepts is refused so)."""
        if rule.kind == "busy":
            return WireError(RESULT_OTHER, SYSTEM_ERROR_REASON)
        if rule.kind == "rate_limited":
            return WireError(RESULT_QUERY_LIMIT, MSG_QUERY_LIMIT_SECOND)
        if rule.kind == "session_expired":
            return WireError(RESULT_USER, MSG_UNKNOWN_ACCOUNT)
        return super().transient_refusal(call, rule)

    def too_large(self, call: Call) -> WireError:
        return WireError(RESULT_FORMAT, f"请求报文超过 {MAX_BODY_BYTES} 字节")

    def unknown_operation(self, call: Call) -> WireError:
        return WireError(RESULT_OTHER, f"该地址不支持 RequestType {call.operation}")

    def internal_error(self, call: Call, error: Exception) -> WireError:
        return WireError(RESULT_OTHER, SYSTEM_ERROR_REASON)

    def history_payload(self, call: Call) -> Any:
        """RequestData as decoded once the caller is proven, else as sent (cut short)."""
        if call.data is not None:
            return {"RequestData": call.data, **call.record}
        envelope = call.parsed
        sent = envelope.fields.get("RequestData", "") if isinstance(envelope, Envelope) else ""
        return {"RequestData": sent[:UNPARSED_BODY_PREFIX], **call.record}

    def lost_response(self, call: Call) -> Response:
        return Response(b"Gateway Timeout", status_code=504, media_type="text/plain")


# -- the RequestTypes ------------------------------------------------------------------------


def _create_waybill(
    service: CarrierService, data: dict[str, Any], account: KdniaoCredentials
) -> dict[str, Any]:
    """1007: every field Kdniao marks required is checked before anything is issued."""
    order_code, shipper_code, _pay_type, _exp_type = _required(
        data, "OrderCode", "ShipperCode", "PayType", "ExpType"
    )
    sender, receiver = _address(data, "Sender"), _address(data, "Receiver")
    _positive_count(data, "Quantity")
    _commodity(data)
    waybill = service.create_waybill(
        order_code, shipper_code, sender=sender, receiver=receiver, account=account.ebusiness_id
    )
    order = {
        "OrderCode": waybill.order_code,
        "ShipperCode": waybill.shipper_code,
        "LogisticCode": waybill.logistic_code,
        "MarkDestination": waybill.mark_destination,
        "SortingCode": waybill.sorting_code,
    }
    answer = {
        "EBusinessID": account.ebusiness_id,
        "Success": True,
        "ResultCode": RESULT_SUCCESS if waybill.created else RESULT_ALREADY_ORDERED,
        "Reason": "" if waybill.created else "该订单号已下单成功",
        "UniquerRequestNumber": str(uuid.uuid4()),
        "Order": order,
    }
    if _wants(data, "IsReturnPrintTemplate"):
        answer["PrintTemplate"] = print_template(order)
    return answer


def print_template(order: dict[str, str]) -> str:
    """面单打印模板 (the label to print) as an HTML string: a stand-in carrying the waybill's
    fields, not a carrier's real template."""
    rows = "".join(
        f'<div class="{name}">{html.escape(order[name])}</div>'
        for name in ("ShipperCode", "LogisticCode", "MarkDestination", "SortingCode", "OrderCode")
    )
    return f'<!DOCTYPE html><html><head><meta charset="UTF-8"></head><body>{rows}</body></html>'


def _cancel(
    service: CarrierService, data: dict[str, Any], account: KdniaoCredentials
) -> dict[str, Any]:
    shipper_code, order_code, exp_no = _required(data, "ShipperCode", "OrderCode", "ExpNo")
    service.cancel_waybill(shipper_code, order_code, exp_no, account.ebusiness_id)
    return {
        "EBusinessID": account.ebusiness_id,
        "Success": True,
        "ResultCode": RESULT_SUCCESS,
        "Reason": "",
    }


# ecomock's interception RequestType (Kdniao publishes none; docs/protocols/carrier.md) and
# the one InterceptType served: 2 退回 (return to sender), as SF's and JD's interception APIs
# call it; 1 转寄 (to a new address) is refused.
INTERCEPT_REQUEST_TYPE = "1816"
INTERCEPT_RETURN = "2"


def _intercept(
    service: CarrierService, data: dict[str, Any], account: KdniaoCredentials
) -> dict[str, Any]:
    """1816 (ecomock's): stop the parcel and return it to the sender; the outcome follows
    as tracking (413 intercepted, 406 back with the sender)."""
    shipper_code, logistic_code = _required(data, "ShipperCode", "LogisticCode")
    intercept_type = _optional_text(data, "InterceptType") or INTERCEPT_RETURN
    if intercept_type != INTERCEPT_RETURN:
        raise WireError(RESULT_FORMAT, "InterceptType 格式有误：只支持 2 (退回)")
    status = service.intercept(
        shipper_code,
        logistic_code,
        _optional_text(data, "OrderCode"),
        _optional_text(data, "Reason", MAX_TEXT_CHARS),
        account.ebusiness_id,
    )
    return {
        "EBusinessID": account.ebusiness_id,
        "Success": True,
        "ResultCode": RESULT_SUCCESS,
        "Reason": "",
        "LogisticCode": logistic_code,
        "InterceptStatus": status,
    }


# ecomock's fee-statement RequestType (Kdniao publishes no 对账单 API; docs/protocols/carrier.md):
# without StatementNo a page of the account's closed statements, with it a page of its lines.
STATEMENT_REQUEST_TYPE = "1950"
MAX_PAGE_SIZE = 100


def _page(data: dict[str, Any]) -> tuple[int, int]:
    """PageIndex (from 1, default 1) and PageSize (1..100, default 100): WireError(103)."""
    index, size = 1, MAX_PAGE_SIZE
    if data.get("PageIndex") is not None:
        index = _positive_count(data, "PageIndex")
    if data.get("PageSize") is not None:
        size = _positive_count(data, "PageSize")
        if size > MAX_PAGE_SIZE:
            raise WireError(RESULT_FORMAT, f"PageSize 格式有误：1 到 {MAX_PAGE_SIZE} 的整数")
    return index, size


def _statement_header(row: Any) -> dict[str, Any]:
    name = SHIPPERS[row["shipper_code"]].name if row["shipper_code"] in SHIPPERS else ""
    return {
        "StatementNo": row["statement_no"],
        "ShipperCode": row["shipper_code"],
        "ShipperName": name,
        "PeriodStart": row["period_start"],
        "PeriodEnd": row["period_end"],
        "CloseTime": row["closed_sim"],
        "TotalFee": cents_to_text(row["total_cents"]),
        "LineCount": row["line_count"],
    }


def _statements(
    service: CarrierService, data: dict[str, Any], account: KdniaoCredentials
) -> dict[str, Any]:
    """1950 (ecomock's): the account's closed fee statements, or one statement's lines."""
    index, size = _page(data)
    offset = (index - 1) * size
    answer: dict[str, Any] = {
        "EBusinessID": account.ebusiness_id,
        "Success": True,
        "ResultCode": RESULT_SUCCESS,
        "Reason": "",
        "PageIndex": index,
        "PageSize": size,
    }
    number = _optional_text(data, "StatementNo")
    conn = service.ctx.conn
    if not number:
        total, rows = statements.statements(conn, account.ebusiness_id, offset, size)
        answer.update(Total=total, Statements=[_statement_header(row) for row in rows])
        return answer
    header = statements.statement(conn, account.ebusiness_id, number)
    if header is None:
        raise WireError(RESULT_OTHER, f"对账单不存在: {number}")
    answer.update(_statement_header(header))
    answer["Total"] = header["line_count"]
    answer["Lines"] = [
        {
            "LogisticCode": line["logistic_code"],
            "FeeType": line["kind"],
            "Weight": f"{line['weight_grams'] // 1000}.{line['weight_grams'] % 1000:03d}",
            "SenderProvince": line["sender_province"],
            "ReceiverProvince": line["receiver_province"],
            "Zone": line["zone"],
            "Fee": cents_to_text(line["fee_cents"]),
            "EventTime": line["event_sim"],
        }
        for line in statements.lines(conn, number, offset, size)
    ]
    return answer


def _subscribe(
    service: CarrierService,
    data: dict[str, Any],
    account: KdniaoCredentials,
    value_added: bool = False,
) -> dict[str, Any]:
    """1008 (pushes 101) or, `value_added`, 8008 (pushes 102)."""
    shipper_code, logistic_code = _required(data, "ShipperCode", "LogisticCode")
    service.subscribe(
        shipper_code,
        logistic_code,
        _optional_text(data, "OrderCode"),
        account.ebusiness_id,
        value_added=value_added,
    )
    return {
        "EBusinessID": account.ebusiness_id,
        "UpdateTime": format_qimen_time(service.ctx.clock.now()),
        "Success": True,
        "Reason": "",
    }


def _query(
    service: CarrierService,
    data: dict[str, Any],
    account: KdniaoCredentials,
    value_added: bool = False,
) -> dict[str, Any]:
    """1002 or, `value_added`, 8001 (with StateEx, Location and trace Location/Action)."""
    shipper_code, logistic_code = _required(data, "ShipperCode", "LogisticCode")
    order_code = _optional_text(data, "OrderCode")
    ebusiness_id = account.ebusiness_id
    service.count_query(ebusiness_id)
    # Another account's waybill answers exactly like a number never seen: no leak.
    tracking = service.tracking(logistic_code, ebusiness_id)
    if tracking is None:
        return {
            "EBusinessID": ebusiness_id,
            "OrderCode": order_code,
            "ShipperCode": shipper_code,
            "LogisticCode": logistic_code,
            "Success": False,
            "State": str(STATE_NO_TRACE),
            "Reason": NO_TRACE_REASON,
            "Traces": [],
        }
    answer = tracking_to_wire(tracking, ebusiness_id, value_added)
    answer["Reason"] = "" if tracking.traces else NO_TRACE_REASON
    return answer


def _recognise(
    service: CarrierService, data: dict[str, Any], account: KdniaoCredentials
) -> dict[str, Any]:
    (logistic_code,) = _required(data, "LogisticCode")
    shippers = service.recognise(logistic_code)
    if not shippers:
        # The Code values are not published: 105 (other) as for the other RequestTypes.
        raise RecognitionRefusal(RESULT_OTHER, "未能识别该单号所属的快递公司", logistic_code)
    return {
        "EBusinessID": account.ebusiness_id,
        "Success": True,
        "LogisticCode": logistic_code,
        "Shippers": [{"ShipperCode": code, "ShipperName": name} for code, name in shippers],
    }


def _entity(data: Any) -> str | None:
    """The waybill a request is about, for the history: the number, else the order."""
    if not isinstance(data, dict):
        return None
    for key in ("LogisticCode", "ExpNo", "OrderCode"):
        value = data.get(key)
        if isinstance(value, str) and value:
            return value
    return None


# Each path and the RequestTypes it serves (8008 and 8001 are the value-added product's).
PATHS: dict[str, dict[str, Method]] = {
    "/api/EOrderService": {
        "1007": _create_waybill,
        "1147": _cancel,
        INTERCEPT_REQUEST_TYPE: _intercept,
        STATEMENT_REQUEST_TYPE: _statements,
    },
    "/api/dist": {"1008": _subscribe, "8008": partial(_subscribe, value_added=True)},
    "/Ebusiness/EbusinessOrderHandle.aspx": {
        "1002": _query,
        "8001": partial(_query, value_added=True),
        "2002": _recognise,
    },
}


def create_app(
    service: CarrierService,
    credentials: KdniaoCredentials,
    tenants: Sequence[KdniaoCredentials] = (),
) -> ASGIApp:
    """The carrier's ASGI app: the Kdniao endpoints plus the shared /_fake/ control routes;
    the service's tracking changes go out as Kdniao 101 pushes from then on.

    `credentials` is the connector's account; each of `tenants` is a further merchant account
    (one per cargo owner) that sees only the waybills it created itself.
    """
    accounts = [credentials, *tenants]
    for account in accounts:
        service.add_account(account)
    kdniao_push.attach(service)
    router = APIRouter()
    for path, methods in PATHS.items():
        pipeline = Pipeline(KdniaoProtocol(service, accounts, methods), service.ctx)
        # Plain ASGI routes: no framework work on the hot path (FastAPI keeps /_fake/).
        router.routes.append(Route(path, endpoint=pipeline, methods=["POST"]))

    def on_error(request: Request, exc: Exception) -> Response:
        # Only what fails outside the pipeline gets here; it still answers as Kdniao does.
        service.ctx.history.record(
            "api_in", request.url.path, RESULT_OTHER, None, {"error": type(exc).__name__}
        )
        return _json(failure(credentials.ebusiness_id, RESULT_OTHER, SYSTEM_ERROR_REASON))

    def on_unrouted(request: Request, status: int) -> Response:
        path = request.url.path[:100]
        reason = f"接口地址不存在: {path}" if status == 404 else f"{path} 只支持 POST"
        service.ctx.history.record("api_in", "unknown", RESULT_OTHER, None, {"path": path})
        return _json(failure("", RESULT_OTHER, reason), status)

    return make_app(
        SYSTEM,
        service.ctx.clock,
        service.ctx.conn,
        [router],
        on_error,
        on_unrouted=on_unrouted,
    )
