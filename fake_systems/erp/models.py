"""The ERP fake's vocabulary: K3 document statuses, message codes, form specs, results, errors."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum, StrEnum
from typing import Any


class DocumentStatus(StrEnum):
    """K3 `FDocumentStatus`: Save → A, Submit → B, Audit → C, UnAudit → D."""

    DRAFT = "Z"
    CREATED = "A"
    IN_REVIEW = "B"
    AUDITED = "C"
    REREVIEW = "D"


class MsgCode(IntEnum):
    """K3 `ResponseStatus.MsgCode` values the fake answers with."""

    OK = 0
    CONTEXT_LOST = 1
    NO_PERMISSION = 2
    PARAMETER_ERROR = 8
    FIELD_MISSING = 9
    NOT_FOUND = 10
    VALIDATION_FAILED = 11
    NOT_OPERABLE = 12


# The K3 texts the fake answers with; clients often match on them, so they live in one place.
MSG_SESSION_LOST = "会话信息已丢失，请重新登录"
MSG_AUDITED_NO_CHANGE = "单据已审核，不允许修改"
MSG_SUBMITTED_NO_CHANGE = "单据已提交，不允许修改"
MSG_LOGIN_FAILED = "用户名或密码错误！"
MSG_NO_DATA = "接口参数data不能为空"
MSG_NO_FORMID = "接口参数formid不能为空"
MSG_FORM_NOT_FOUND = "业务对象不存在"


@dataclass(frozen=True)
class FormSpec:
    """Where a bill form keeps what the fake checks: lower-cased field keys and their labels."""

    form_id: str
    bill_prefix: str
    customer_key: str
    customer_field: str  # the key as K3 spells it, for FieldName in errors
    material_field: str
    entity_key: str
    entity_field: str
    entity_label: str
    entity_property: str  # the entry list's name in a View answer
    customer_property: str
    qty_key: str
    qty_property: str
    amount_key: str
    amount_property: str
    stock_key: str | None


SAL_OUTSTOCK = FormSpec(
    form_id="SAL_OUTSTOCK",
    bill_prefix="XSCKD",
    customer_key="fcustomerid",
    customer_field="FCustomerID",
    material_field="FMaterialID",
    entity_key="fentity",
    entity_field="FEntity",
    entity_label="明细信息",
    entity_property="SAL_OUTSTOCKENTRY",
    customer_property="CustomerID",
    qty_key="frealqty",
    qty_property="RealQty",
    amount_key="fallamount",
    amount_property="AllAmount",
    stock_key="fstockid",
)

AR_RECEIVABLE = FormSpec(
    form_id="AR_receivable",
    bill_prefix="AR",
    customer_key="fcustomerid",
    customer_field="FCUSTOMERID",
    material_field="FMATERIALID",
    entity_key="fentitydetail",
    entity_field="FEntityDetail",
    entity_label="明细",
    entity_property="AP_PAYABLEENTRY",
    customer_property="CUSTOMERID",
    qty_key="fpriceqty",
    qty_property="PriceQty",
    amount_key="fallamountfor",
    amount_property="ALLAMOUNTFOR",
    stock_key=None,
)

# Bill forms the fake keeps documents for, by lower-cased form id (K3 ignores the case).
BILL_FORMS: dict[str, FormSpec] = {
    spec.form_id.lower(): spec for spec in (SAL_OUTSTOCK, AR_RECEIVABLE)
}
# Master-data forms: queryable with ExecuteBillQuery, not writable through the API.
MASTER_FORMS: dict[str, str] = {
    "bd_material": "BD_MATERIAL",
    "bd_customer": "BD_Customer",
    "bd_stock": "BD_STOCK",
    "org_organizations": "ORG_Organizations",
    "bd_currency": "BD_Currency",
}

ORG_NUMBER = "100"
CURRENCIES: tuple[tuple[str, str, str], ...] = (
    ("PRE001", "人民币", "CNY"),
    ("PRE002", "香港元", "HKD"),
    ("PRE003", "欧元", "EUR"),
    ("PRE007", "美元", "USD"),
)


@dataclass(frozen=True)
class ErrorItem:
    """One entry of `ResponseStatus.Errors`."""

    message: str
    field_name: str | None = None
    dindex: int = 0

    def wire(self) -> dict[str, Any]:
        return {"FieldName": self.field_name, "Message": self.message, "DIndex": self.dindex}


@dataclass(frozen=True)
class SuccessEntity:
    """One entry of `ResponseStatus.SuccessEntitys`."""

    id: int
    number: str
    dindex: int = 0

    def wire(self) -> dict[str, Any]:
        return {"Id": self.id, "Number": self.number, "DIndex": self.dindex}


class K3Error(Exception):
    """A refused request as K3 reports it: a MsgCode and one or more errors."""

    def __init__(self, msg_code: MsgCode, errors: list[ErrorItem]) -> None:
        super().__init__("; ".join(e.message for e in errors))
        self.msg_code = msg_code
        self.errors = errors

    @classmethod
    def one(cls, msg_code: MsgCode, message: str, field_name: str | None = None) -> K3Error:
        return cls(msg_code, [ErrorItem(message, field_name)])


@dataclass
class OperationResult:
    """What Save, Submit, Audit and UnAudit did: successes and, for batches, per-item errors."""

    successes: list[SuccessEntity] = field(default_factory=list)
    errors: list[ErrorItem] = field(default_factory=list)
    msg_code: MsgCode = MsgCode.OK

    @property
    def is_success(self) -> bool:
        return not self.errors


@dataclass(frozen=True)
class LoginResult:
    """A successful ValidateUser: the session to send back as the `kdservice-sessionid` cookie."""

    session_id: str
    user_id: int
    username: str
    acct_id: str
    lcid: int
    user_token: str
