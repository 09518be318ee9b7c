"""Writing K3 WebAPI answers: ResponseStatus, each operation's envelope and error shape, the
login answers, and a bill under K3's property names (View)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
from starlette.responses import Response

from fake_systems.common.credentials import K3Credentials
from fake_systems.erp.models import (
    BillView,
    ErrorItem,
    K3Error,
    LoginResult,
    MsgCode,
    SuccessEntity,
)
from fake_systems.erp.query import money_out

CHINA_TIME_ZONE = {
    "OffsetTicks": 288_000_000_000,
    "StandardName": "(UTC+08:00)北京，重庆，香港，乌鲁木齐",
}
INTERNAL_ERROR = "服务端内部错误"


def json_answer(body: Any) -> Response:
    """K3 answers every outcome, failures included, with HTTP 200 and JSON."""
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


def error_body(op: str, error: K3Error) -> Any:
    """A refusal in the shape of `op`'s answer (Save, View and ExecuteBillQuery have theirs)."""
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


def internal_error(failure: BaseException | None = None) -> K3Error:
    """A bug of the fake: named by its type only, so no detail of the fake leaks; recorded
    as `internal:<type>`."""
    name = type(failure).__name__ if failure is not None else ""
    error = K3Error(
        MsgCode.OK, [ErrorItem(f"{INTERNAL_ERROR}：{name}" if name else INTERNAL_ERROR)]
    )
    error.code = f"internal:{name}" if name else "internal"
    return error


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
    """A login's answer: the context of the session opened (its id is also the cookie)."""
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


def view_object(view: BillView) -> dict[str, Any]:
    """A bill under K3 property names (docs/protocols/erp.md, View)."""
    spec, row = view.spec, view.row
    entries = []
    for entry in view.entries:
        item: dict[str, Any] = {"Id": entry["entry_id"], "Seq": entry["seq"]}
        if spec.lines == "voucher":
            item["ACCOUNTID"] = {"Number": entry["account_number"]}
            item["DEBIT"] = money_out(entry["debit_cents"])
            item["CREDIT"] = money_out(entry["credit_cents"])
        elif spec.lines == "receipt":
            item[spec.amount_property] = money_out(entry["amount_cents"])
        else:
            item["MaterialID"] = {
                "Id": entry["fmaterialid"],
                "Number": entry["material_number"],
                "Name": entry["name"],
            }
            item[spec.qty_property] = entry["qty"]
            item["TaxPrice"] = money_out(entry["price_cents"])
            item[spec.amount_property] = money_out(entry["amount_cents"])
            if spec.stock_key:
                item["StockID"] = (
                    {"Number": entry["stock_number"]} if entry["stock_number"] else None
                )
        entries.append(item)
    return {
        "Id": row["fid"],
        "BillNo": row["bill_no"],
        "DocumentStatus": row["document_status"],
        "FormId": spec.form_id,
        "Date": row["bill_date"],
        "Note": row["note"],
        spec.partner.property: {
            "Id": view.partner_id,
            "Number": row[f"{spec.partner.kind}_number"],
            "Name": view.partner_name,
        },
        "OrgNumber": row["org_number"],
        "CurrencyNumber": row["currency_number"],
        "TotalAmount": money_out(row["amount_cents"]),
        "CreateDate": row["saved_sim"],
        "ModifyDate": row["modified_sim"],
        "SubmitDate": row["submitted_sim"],
        "ApproveDate": row["audited_sim"],
        spec.entity_property: entries,
        "Model": orjson.loads(row["model"]),
    }
