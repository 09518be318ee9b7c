"""One valid, signed request per protocol operation of every fake, and what each real system
answers when the same request comes again: the table the every-route tests walk.

The builders live beside their protocol's signer in tests/support/<system>.py, so a protocol
change is made there once; this module only names them per operation.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
from lxml import etree

from tests.support import bank, carrier, erp, oms, wms
from tests.support.site import Site

Builder = Callable[[Site], Awaitable[httpx.Request]]


@dataclass(frozen=True)
class Valid:
    """How to build a valid request of one operation, and how the real system answers it
    again: `duplicate` is the code the repeat gets (`code_of`), `same` whether its answer is
    the first one's (an idempotent read or write), not just a like one (a new session)."""

    build: Builder
    duplicate: str
    same: bool = False


def _oms_code(response: httpx.Response) -> str:
    """`status` of /openapi; of /router/qm, the inner answer's status or TOP's error code."""
    body = response.json()
    if "response" in body:
        return str(body["response"]["status"])
    if "error_response" in body:
        return str(body["error_response"]["code"])
    return str(body["status"])


def _wms_code(response: httpx.Response) -> str:
    return str(etree.fromstring(response.content).findtext("code"))


def _erp_code(response: httpx.Response) -> str:
    """A login's LoginResultType (its Message when refused), a form call's IsSuccess (the
    first error's MsgCode when refused); "ok" for the bare answers (Logout, a query)."""
    body: Any = orjson.loads(response.content)
    if isinstance(body, dict) and "LoginResultType" in body:
        result = body["LoginResultType"]
        return str(result) if result == 1 else str(body["Message"])
    if isinstance(body, dict) and "Result" in body:
        status = body["Result"]["ResponseStatus"]
        return "ok" if status["IsSuccess"] else str(status["MsgCode"])
    return "ok"


def _carrier_code(response: httpx.Response) -> str:
    body = response.json()
    return str(body.get("ResultCode", body["Success"]))


def _bank_code(response: httpx.Response) -> str:
    if response.status_code < 400:
        return str(response.status_code)
    return str(response.json()["tppMessages"][0]["code"])


# Each protocol's answer, reduced to the code a client branches on.
CODE_OF: dict[str, Callable[[httpx.Response], str]] = {
    "oms": _oms_code,
    "wms": _wms_code,
    "erp": _erp_code,
    "carrier": _carrier_code,
    "bank": _bank_code,
}

# The codes of an answered request (the first of its kind) per protocol.
ANSWERED: dict[str, frozenset[str]] = {
    "oms": frozenset({"0"}),
    "wms": frozenset({"0"}),
    "erp": frozenset({"1", "ok"}),
    "carrier": frozenset({"100", "True"}),
    "bank": frozenset({"200", "201"}),
}

VALID: dict[str, dict[str, Valid]] = {
    "oms": {
        oms.QUERY: Valid(oms.valid_query, "0", same=True),
        oms.TAOBAO_QUERY: Valid(oms.valid_taobao_query, "0", same=True),
        # The write-backs repeat as no-ops ("changed": false), a push as a change; a
        # repeated acknowledgement names a record no longer pending (status 0, an error text).
        oms.SHIP: Valid(oms.valid_ship, "0"),
        oms.TRACE: Valid(oms.valid_trace, "0"),
        oms.SYNC_ACK: Valid(oms.valid_sync_ack, "0"),
        oms.PUSH: Valid(oms.valid_push, "0"),
        oms.PUSH_OLD: Valid(oms.valid_push_old, "0"),
        oms.REFUNDS: Valid(oms.valid_refunds, "0", same=True),
        # A settled refund confirmed again is a no-op ("changed": false).
        oms.RETURN_CONFIRM: Valid(oms.valid_return_confirm, "0"),
        oms.SYNC_LIST: Valid(oms.valid_sync_list, "0", same=True),
        oms.STOCK: Valid(oms.valid_stock, "0"),  # a second count: a new pd_no
        # The same state pushed again: the same goods id.
        oms.GOODS: Valid(oms.valid_goods, "0", same=True),
        oms.SHOPS: Valid(oms.valid_shops, "0", same=True),
        oms.WAREHOUSES: Valid(oms.valid_warehouses, "0", same=True),
        oms.SETTLEMENTS: Valid(oms.valid_settlements, "0", same=True),
    },
    "wms": {
        "deliveryorder.create": Valid(wms.valid_create, "0"),
        "deliveryorder.batchcreate": Valid(wms.valid_batch, "0"),
        "deliveryorder.query": Valid(wms.valid_query, "0", same=True),
        "order.cancel": Valid(wms.valid_cancel, "0", same=True),
        # An add of an existing item code is refused; the creates find their order again.
        "singleitem.synchronize": Valid(wms.valid_item, "ITEM_EXIST"),
        "inventory.query": Valid(wms.valid_inventory, "0", same=True),
        "entryorder.create": Valid(wms.valid_entry, "0"),
        "entryorder.query": Valid(wms.valid_entry_query, "0", same=True),
        "returnorder.create": Valid(wms.valid_return, "0"),
        "returnorder.query": Valid(wms.valid_return_query, "0", same=True),
        "transferorder.create": Valid(wms.valid_transfer, "0"),
        "stockout.create": Valid(wms.valid_stockout, "0"),
    },
    "erp": {
        # A login opens another session; a signature is used once.
        "ValidateUser": Valid(erp.valid_validate_user, "1"),
        "LoginByAppSecret": Valid(erp.valid_app_secret, "1"),
        "LoginBySign": Valid(erp.valid_sign, "第三方系统登录授权验证失败：签名已使用"),
        "Logout": Valid(erp.valid_logout, "ok", same=True),
        # MsgCode 11: 违反字段唯一性要求 (the bill number exists); 12: 已提交 / 已审核 /
        # 未审核 (the bill is past that step); 10: the deleted bill no longer exists.
        "Save": Valid(erp.valid_save, "11"),
        "BatchSave": Valid(erp.valid_batch_save, "11"),
        "Submit": Valid(erp.valid_submit, "12"),
        "Audit": Valid(erp.valid_audit, "12"),
        "UnAudit": Valid(erp.valid_unaudit, "12"),
        "Delete": Valid(erp.valid_delete, "10"),
        "View": Valid(erp.valid_view, "ok", same=True),
        "ExecuteBillQuery": Valid(erp.valid_query, "ok", same=True),
    },
    "bank": {
        # A one-time password works once: the repeat is refused like a wrong one.
        "login": Valid(bank.valid_login, "PSU_CREDENTIALS_INVALID"),
        # A known MsgId: its report again, 200 instead of 201, nothing booked twice.
        "pain.001": Valid(bank.valid_pain001, "200"),
        "pain.002": Valid(bank.valid_pain002, "200", same=True),
        "camt.053": Valid(bank.valid_camt053, "200", same=True),
    },
    "carrier": {
        # 106: 该订单号已下单成功, the same waybill again; 105: 该运单已取消.
        "1007": Valid(carrier.valid_waybill, "106"),
        "1147": Valid(carrier.valid_cancel, "105"),
        # A repeated interception answers the request's status again (still `requested`).
        "1816": Valid(carrier.valid_intercept, "100", same=True),
        # A read: the same statements again.
        "1950": Valid(carrier.valid_statements, "100", same=True),
        "1008": Valid(carrier.valid_subscribe, "True", same=True),
        "8008": Valid(carrier.valid_subscribe_plus, "True", same=True),
        "1002": Valid(carrier.valid_track, "True", same=True),
        "8001": Valid(carrier.valid_track_plus, "True", same=True),
        "2002": Valid(carrier.valid_recognise, "True", same=True),
    },
}
