"""The ERP fake's vocabulary: K3 document statuses, message codes, form specs, results, errors."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum
from typing import Any

from fake_systems.common.pipeline import WireError
from fake_systems.common.scope import OwnerScope


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
    NETWORK_CONTROL = 13  # 网控冲突: another user holds the record (the `busy` fault)
    CALL_LIMIT = 14  # 调用限制 (the `rate_limited` fault)


# The K3 texts the fake answers with; clients often match on them, so they live in one place.
MSG_SESSION_LOST = "会话信息已丢失，请重新登录"
# The names of MsgCode 13 and 14 in Kingdee's list; their real messages are not public
# (docs/protocols/research/issue10-fault-sources.md §2.3), so the names stand for them.
MSG_NETWORK_CONTROL = "网控冲突"
MSG_CALL_LIMIT = "调用限制"
MSG_AUDITED_NO_CHANGE = "单据已审核，不允许修改"
MSG_SUBMITTED_NO_CHANGE = "单据已提交，不允许修改"
MSG_LOGIN_FAILED = "用户名或密码错误！"
MSG_NO_DATA = "接口参数data不能为空"
MSG_NO_FORMID = "接口参数formid不能为空"
MSG_FORM_NOT_FOUND = "业务对象不存在"
MSG_APP_FAILED = "第三方系统登录授权验证失败：应用ID或应用密钥不正确"
MSG_SIGN_FAILED = "第三方系统登录授权验证失败：签名不正确"
MSG_SIGN_STALE = "第三方系统登录授权验证失败：时间戳已过期"
MSG_SIGN_REPLAYED = "第三方系统登录授权验证失败：签名已使用"
MSG_TOO_LARGE = "请求数据超过最大长度限制"
MSG_TOO_COMPLEX = "请求数据的嵌套层数或数据项数超过限制"  # ecomock's own (wire.load_json)


@dataclass(frozen=True)
class Partner:
    """The header basedata a bill belongs to (customer, supplier or account book) and its owner."""

    kind: str  # "customer" | "supplier" | "book": which master table holds the number
    key: str  # lower-cased field key
    field: str  # the key as K3 spells it, for FieldName in errors
    label: str  # the Chinese field name in messages
    property: str  # the property name in a View answer


@dataclass(frozen=True)
class FormSpec:
    """Where a bill form keeps what the fake checks: lower-cased field keys and their labels.

    `lines` says what an entry is: "goods" (material, quantity, price, amount, stock),
    "receipt" (settlement type and amount, no material) or "voucher" (account, debit, credit).
    """

    form_id: str
    bill_prefix: str
    partner: Partner
    entity_key: str
    entity_field: str
    entity_label: str
    entity_property: str  # the entry list's name in a View answer
    lines: str = "goods"
    material_field: str = "FMaterialID"
    qty_key: str = ""
    qty_label: str = ""
    qty_property: str = ""
    amount_key: str = ""
    amount_label: str = "价税合计"
    amount_property: str = ""
    stock_key: str | None = None
    stock_required: bool = False
    # Count gains and losses book a difference one way: their quantity must be above 0.
    positive_qty: bool = False
    org_keys: tuple[str, ...] = ()
    currency_keys: tuple[str, ...] = ()


_CUSTOMER = Partner("customer", "fcustomerid", "FCustomerID", "客户", "CustomerID")
_SUPPLIER = Partner("supplier", "fsupplierid", "FSupplierID", "供应商", "SupplierID")

SAL_OUTSTOCK = FormSpec(
    form_id="SAL_OUTSTOCK",
    bill_prefix="XSCKD",
    partner=_CUSTOMER,
    entity_key="fentity",
    entity_field="FEntity",
    entity_label="明细信息",
    entity_property="SAL_OUTSTOCKENTRY",
    qty_key="frealqty",
    qty_label="实发数量",
    qty_property="RealQty",
    amount_key="fallamount",
    amount_property="AllAmount",
    stock_key="fstockid",
    org_keys=("fsaleorgid", "fstockorgid"),
    currency_keys=("fsettlecurrid",),
)

# 销售退货单: goods a customer sends back, each entry linked to the SAL_OUTSTOCK it returns
# (fake_systems/erp/returns.py).
SAL_RETURNSTOCK = FormSpec(
    form_id="SAL_RETURNSTOCK",
    bill_prefix="XSTHD",
    partner=Partner("customer", "fretcustid", "FRetcustId", "退货客户", "RetcustId"),
    entity_key="fentity",
    entity_field="FEntity",
    entity_label="明细信息",
    entity_property="SAL_RETURNSTOCKENTRY",
    qty_key="frealqty",
    qty_label="实退数量",
    qty_property="RealQty",
    amount_key="fallamount",
    amount_property="AllAmount",
    stock_key="fstockid",
    org_keys=("fsaleorgid", "fstockorgid"),
    currency_keys=("fsettlecurrid",),
)

AR_RECEIVABLE = FormSpec(
    form_id="AR_receivable",
    bill_prefix="AR",
    partner=Partner("customer", "fcustomerid", "FCUSTOMERID", "客户", "CUSTOMERID"),
    entity_key="fentitydetail",
    entity_field="FEntityDetail",
    entity_label="明细",
    entity_property="AP_PAYABLEENTRY",
    material_field="FMATERIALID",
    qty_key="fpriceqty",
    qty_label="计价数量",
    qty_property="PriceQty",
    amount_key="fallamountfor",
    amount_property="ALLAMOUNTFOR",
    org_keys=("fsettleorgid", "fsaleorgid"),
    currency_keys=("fcurrencyid",),
)

AP_PAYABLE = FormSpec(
    form_id="AP_Payable",
    bill_prefix="AP",
    partner=Partner("supplier", "fsupplierid", "FSUPPLIERID", "供应商", "SUPPLIERID"),
    entity_key="fentitydetail",
    entity_field="FEntityDetail",
    entity_label="明细",
    entity_property="AP_PAYABLEENTRY",
    material_field="FMATERIALID",
    qty_key="fpriceqty",
    qty_label="计价数量",
    qty_property="PriceQty",
    amount_key="fallamountfor",
    amount_property="ALLAMOUNTFOR",
    org_keys=("fsettleorgid", "fpurchaseorgid"),
    currency_keys=("fcurrencyid",),
)

STK_INSTOCK = FormSpec(
    form_id="STK_InStock",
    bill_prefix="CGRK",
    partner=_SUPPLIER,
    entity_key="finstockentry",
    entity_field="FInStockEntry",
    entity_label="明细信息",
    entity_property="InStockEntry",
    qty_key="frealqty",
    qty_label="实收数量",
    qty_property="RealQty",
    amount_key="fallamount",
    amount_property="AllAmount",
    stock_key="fstockid",
    stock_required=True,
    org_keys=("fstockorgid", "fpurchaseorgid"),
    currency_keys=("fsettlecurrid",),
)

# 采购订单: what the business orders from a supplier; its stock-ins link to it
# (fake_systems/erp/purchasing.py). The warehouse is required on every entry (ecomock's rule:
# the WMS needs it to expect the goods).
PUR_PURCHASEORDER = FormSpec(
    form_id="PUR_PurchaseOrder",
    bill_prefix="CGDD",
    partner=_SUPPLIER,
    entity_key="fpoorderentry",
    entity_field="FPOOrderEntry",
    entity_label="明细信息",
    entity_property="POOrderEntry",
    qty_key="fqty",
    qty_label="采购数量",
    qty_property="Qty",
    amount_key="fallamount",
    amount_property="AllAmount",
    stock_key="fstockid",
    stock_required=True,
    org_keys=("fpurchaseorgid",),
    currency_keys=("fsettlecurrid",),
)

# 采购退料单: goods the business sends back to a supplier, each entry linked to the stock-in
# (STK_InStock) that received them (fake_systems/erp/purchasing.py). Field keys as public K3
# integrations send them (FPURMRBENTRY, FRMREALQTY, FStockId, FSupplierID); the bill prefix is
# ecomock's (docs/protocols/erp.md).
PUR_MRB = FormSpec(
    form_id="PUR_MRB",
    bill_prefix="CGTL",
    partner=Partner("supplier", "fsupplierid", "FSupplierID", "供应商", "SupplierID"),
    entity_key="fpurmrbentry",
    entity_field="FPURMRBENTRY",
    entity_label="明细信息",
    entity_property="PURMRBENTRY",
    qty_key="frmrealqty",
    qty_label="实退数量",
    qty_property="RMREALQTY",
    amount_key="fallamount",
    amount_property="AllAmount",
    stock_key="fstockid",
    stock_required=True,
    positive_qty=True,
    org_keys=("fstockorgid", "fpurchaseorgid", "frequireorgid"),
    currency_keys=("fsettlecurrid",),
)

# Two-step transfers (分步式调出单 / 分步式调入单, fake_systems/erp/transfers.py): the
# header's partner is the stock organisation (no customer or supplier; owner: none), each
# entry moves units at one warehouse: out of `FSrcStockID`, into `FDestStockID`. Field keys
# as public K3 integrations send them (FSTKTRSOUTENTRY / FSTKTRSINENTRY, FQty,
# FPathLossQty); the bill prefixes are ecomock's (docs/protocols/erp.md).
STK_TRANSFEROUT = FormSpec(
    form_id="STK_TRANSFEROUT",
    bill_prefix="FBDC",
    partner=Partner("org", "fstockoutorgid", "FStockOutOrgID", "调出库存组织", "StockOutOrgID"),
    entity_key="fstktrsoutentry",
    entity_field="FSTKTRSOUTENTRY",
    entity_label="明细信息",
    entity_property="STKTRSOUTENTRY",
    qty_key="fqty",
    qty_label="调出数量",
    qty_property="Qty",
    amount_key="famount",
    amount_property="Amount",
    stock_key="fsrcstockid",
    stock_required=True,
)

STK_TRANSFERIN = FormSpec(
    form_id="STK_TRANSFERIN",
    bill_prefix="FBDR",
    partner=Partner("org", "fstockorgid", "FStockOrgID", "调入库存组织", "StockOrgID"),
    entity_key="fstktrsinentry",
    entity_field="FSTKTRSINENTRY",
    entity_label="明细信息",
    entity_property="STKTRSINENTRY",
    qty_key="fqty",
    qty_label="调入数量",
    qty_property="Qty",
    amount_key="famount",
    amount_property="Amount",
    stock_key="fdeststockid",
    stock_required=True,
)

# Count gains and losses (盘盈单 / 盘亏单): what a stock count found over or under the books,
# per material and warehouse (`FStockId`, required). The partner is the stock organisation
# (`FStockOrgId`; owner: none), the quantity the gain (`FGainQty`) or the loss (`FLossQty`),
# each entry's `FCountQty` / `FAcctQty` kept only in the Model; field keys as public K3
# integrations send them (FBillEntry, FBillTypeID PY01_SYS / PK01_SYS); the bill prefixes
# are ecomock's (docs/protocols/erp.md).
_STOCK_ORG = Partner("org", "fstockorgid", "FStockOrgId", "库存组织", "StockOrgId")
STK_STOCKCOUNTGAIN = FormSpec(
    form_id="STK_StockCountGain",
    bill_prefix="PY",
    partner=_STOCK_ORG,
    entity_key="fbillentry",
    entity_field="FBillEntry",
    entity_label="明细信息",
    entity_property="BillEntry",
    qty_key="fgainqty",
    qty_label="盘盈数量",
    qty_property="GainQty",
    amount_key="famount",
    amount_label="金额",
    amount_property="Amount",
    stock_key="fstockid",
    stock_required=True,
    positive_qty=True,
)

STK_STOCKCOUNTLOSS = FormSpec(
    form_id="STK_StockCountLoss",
    bill_prefix="PK",
    partner=_STOCK_ORG,
    entity_key="fbillentry",
    entity_field="FBillEntry",
    entity_label="明细信息",
    entity_property="BillEntry",
    qty_key="flossqty",
    qty_label="盘亏数量",
    qty_property="LossQty",
    amount_key="famount",
    amount_label="金额",
    amount_property="Amount",
    stock_key="fstockid",
    stock_required=True,
    positive_qty=True,
)

AR_RECEIVEBILL = FormSpec(
    form_id="AR_RECEIVEBILL",
    bill_prefix="SKD",
    partner=Partner("customer", "fcontactunit", "FCONTACTUNIT", "往来单位", "CONTACTUNIT"),
    entity_key="freceivebillentry",
    entity_field="FRECEIVEBILLENTRY",
    entity_label="收款单明细",
    entity_property="RECEIVEBILLENTRY",
    lines="receipt",
    amount_key="frectotalamountfor",
    amount_label="应收金额",
    amount_property="RECTOTALAMOUNTFOR",
    org_keys=("fsettleorgid", "fpayorgid"),
    currency_keys=("fcurrencyid",),
)

# 付款单: a payment to a supplier, its entries like a receipt bill's, written off against
# payables (fake_systems/erp/receipts.py).
AP_PAYBILL = FormSpec(
    form_id="AP_PAYBILL",
    bill_prefix="FKD",
    partner=Partner("supplier", "fcontactunit", "FCONTACTUNIT", "往来单位", "CONTACTUNIT"),
    entity_key="fpaybillentry",
    entity_field="FPAYBILLENTRY",
    entity_label="付款单明细",
    entity_property="PAYBILLENTRY",
    lines="receipt",
    amount_key="fpaytotalamountfor",
    amount_label="应付金额",
    amount_property="PAYTOTALAMOUNTFOR",
    org_keys=("fsettleorgid", "fpayorgid", "fpurchaseorgid"),
    currency_keys=("fcurrencyid",),
)

GL_VOUCHER = FormSpec(
    form_id="GL_VOUCHER",
    bill_prefix="JZ",
    partner=Partner("book", "faccountbookid", "FAccountBookID", "账簿", "AccountBookID"),
    entity_key="fentity",
    entity_field="FEntity",
    entity_label="凭证分录",
    entity_property="FEntity",
    lines="voucher",
    currency_keys=("fcurrencyid",),
)

# Bill forms the fake keeps documents for, by lower-cased form id (K3 ignores the case).
BILL_FORMS: dict[str, FormSpec] = {
    spec.form_id.lower(): spec
    for spec in (
        SAL_OUTSTOCK,
        SAL_RETURNSTOCK,
        AR_RECEIVABLE,
        AP_PAYABLE,
        STK_INSTOCK,
        PUR_PURCHASEORDER,
        PUR_MRB,
        AR_RECEIVEBILL,
        AP_PAYBILL,
        GL_VOUCHER,
        STK_TRANSFEROUT,
        STK_TRANSFERIN,
        STK_STOCKCOUNTGAIN,
        STK_STOCKCOUNTLOSS,
    )
}
# Master-data forms, all queryable with ExecuteBillQuery; BD_MATERIAL and BD_Customer writable.
MASTER_FORMS: dict[str, str] = {
    "bd_material": "BD_MATERIAL",
    "bd_customer": "BD_Customer",
    "bd_supplier": "BD_Supplier",
    "bd_stock": "BD_STOCK",
    "org_organizations": "ORG_Organizations",
    "bd_currency": "BD_Currency",
    "bd_account": "BD_Account",
    "bd_accountbook": "BD_AccountBook",
}

ORG_NUMBER = "100"
CURRENCIES: tuple[tuple[str, str, str], ...] = (
    ("PRE001", "人民币", "CNY"),
    ("PRE002", "香港元", "HKD"),
    ("PRE003", "欧元", "EUR"),
    ("PRE007", "美元", "USD"),
)
# Accounts a voucher may post to (BD_Account, a small slice of the Chinese chart of accounts).
ACCOUNTS: tuple[tuple[str, str], ...] = (
    ("1002", "银行存款"),
    ("1122", "应收账款"),
    ("1405", "库存商品"),
    ("2202", "应付账款"),
    ("2221", "应交税费"),
    ("6001", "主营业务收入"),
    ("6401", "主营业务成本"),
    ("6603", "财务费用"),
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


class K3Error(WireError):
    """A refused request as K3 reports it: a MsgCode and one or more errors; the history
    records it as `msgcode:<n>`."""

    def __init__(self, msg_code: MsgCode, errors: list[ErrorItem]) -> None:
        super().__init__(f"msgcode:{int(msg_code)}", "; ".join(e.message for e in errors))
        self.msg_code = msg_code
        self.errors = errors

    def __str__(self) -> str:
        return self.message

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
    owners: tuple[str, ...] = ()


@dataclass(frozen=True)
class Session:
    """A live session: whose it is and which owners' data it may touch (() = every owner)."""

    session_id: str
    username: str
    owners: tuple[str, ...]

    @property
    def scope(self) -> OwnerScope:
        return OwnerScope.of(self.owners)


@dataclass(frozen=True)
class BillView:
    """One bill as View reads it, before the adapter names its properties as K3 does."""

    spec: FormSpec
    row: Mapping[str, Any]  # the `documents` row
    partner_id: int | None
    partner_name: str | None
    # `document_entries` rows in order, with the material's `fmaterialid` and `name`
    entries: tuple[Mapping[str, Any], ...]
