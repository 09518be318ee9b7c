"""A bill's model checked as K3's save validators do: every error at once, in field order.

The partner (customer, supplier or account book) must be visible to the caller's owner
scope; materials, stocks, accounts, organisations and currencies must exist and be audited;
quantities are whole, amounts exact to the fen and bounded.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from fake_systems.common.money import CENT
from fake_systems.common.scope import OwnerScope
from fake_systems.common.wire import WireValueError, parse_decimal
from fake_systems.erp.fields import basedata_number, lower_keys
from fake_systems.erp.master_data import MasterData
from fake_systems.erp.models import ORG_NUMBER, ErrorItem, FormSpec, K3Error, MsgCode
from fake_systems.erp.query import money_out

# Bounds of entry numbers: an amount, and a quantity times a price, stay below AMOUNT_LIMIT
# yuan, so that a bill of MAX_ENTRIES_PER_CALL entries still sums inside 64-bit cents.
AMOUNT_LIMIT = Decimal(10) ** 12
MAX_QUANTITY = 10**9
MATERIAL_LABEL = "物料编码"
STOCK_LABEL = "仓库"
# 费用项目 a payable entry may name instead of a material (a 费用应付单: freight, fees). K3
# ships preset expense items; these numbers are ecomock's, unverified (docs/DECISIONS.md).
COST_ITEMS = {"FY001": "运输费"}
COST_LABEL = "费用项目编码"
PAYABLE_FORM = "AP_Payable"


@dataclass(frozen=True)
class BillLine:
    """One entry of a bill as stored: goods, a receipt amount or a voucher line."""

    qty: int = 0
    amount_cents: int = 0
    material_number: str | None = None
    price_cents: int | None = None
    stock_number: str | None = None
    account_number: str | None = None
    debit_cents: int | None = None
    credit_cents: int | None = None


class BillValidator:
    """Checks bill models against the master data."""

    def __init__(self, master: MasterData) -> None:
        self.master = master

    def validate(
        self, spec: FormSpec, fields: dict[str, Any], scope: OwnerScope
    ) -> tuple[str, list[BillLine], str, str | None]:
        """All of a model's errors at once, as K3's save validators report them."""
        errors: list[ErrorItem] = []
        partner = self.master.check(
            fields.get(spec.partner.key),
            spec.partner.kind,
            spec.partner.label,
            spec.partner.field,
            errors,
            scope=scope,
        )
        org = ORG_NUMBER
        for key in spec.org_keys:
            if key in fields:
                org = self.master.check(fields[key], "org", "组织", key, errors) or org
        currency = None
        for key in spec.currency_keys:
            if key in fields:
                currency = self.master.check(fields[key], "currency", "币别", key, errors)

        entries: list[BillLine] = []
        rows = fields.get(spec.entity_key)
        if not isinstance(rows, list) or not rows:
            errors.append(
                ErrorItem(
                    f"字段[{spec.entity_label}]是必录字段，至少需要录入一行分录", spec.entity_field
                )
            )
            rows = []
        for index, raw in enumerate(rows, start=1):
            if not isinstance(raw, Mapping):
                errors.append(
                    ErrorItem(f"{spec.entity_label}第{index}行：分录格式不正确", spec.entity_field)
                )
                continue
            check = self._voucher_line if spec.lines == "voucher" else self._entry
            entry = check(spec, f"{spec.entity_label}第{index}行：", lower_keys(raw), errors)
            if entry is not None:
                entries.append(entry)
        if spec.lines == "voucher" and entries and not errors:
            debit = sum(entry.debit_cents or 0 for entry in entries)
            credit = sum(entry.credit_cents or 0 for entry in entries)
            if debit != credit:
                errors.append(
                    ErrorItem(
                        f"凭证借贷不平衡：借方合计{money_out(debit)}，贷方合计{money_out(credit)}",
                        spec.entity_field,
                    )
                )
        if errors:
            raise K3Error(MsgCode.VALIDATION_FAILED, errors)
        assert partner is not None  # a missing partner is an error above
        return partner, entries, org, currency

    @staticmethod
    def money(
        row: dict[str, Any], key: str, label: str, where: str, errors: list[ErrorItem]
    ) -> int | None:
        """An optional money field in cents; None when absent, an error when malformed."""
        if row.get(key) in (None, ""):
            return None
        try:
            amount = parse_decimal(row[key], AMOUNT_LIMIT)
        except WireValueError:
            shown = str(row[key])[:40]
            errors.append(ErrorItem(f"{where}字段[{label}]的值[{shown}]格式不正确", key))
            return None
        return int(amount.quantize(CENT, rounding=ROUND_HALF_UP) * 100)

    def _entry(
        self, spec: FormSpec, where: str, row: dict[str, Any], errors: list[ErrorItem]
    ) -> BillLine | None:
        before = len(errors)
        if spec.lines == "receipt":
            if row.get(spec.amount_key) in (None, ""):
                errors.append(
                    ErrorItem(f"{where}字段[{spec.amount_label}]是必录字段", spec.amount_key)
                )
            amount = self.money(row, spec.amount_key, spec.amount_label, where, errors)
            if len(errors) > before or amount is None:
                return None
            return BillLine(amount_cents=amount)
        # A payable's expense entry (运费 and the like) names a 费用项目 and no material.
        expense = spec.form_id == PAYABLE_FORM and row.get("fmaterialid") in (None, "")
        expense = expense and row.get("fcostid") is not None
        material = (
            self._cost_item(row.get("fcostid"), where, errors)
            if expense
            else self.master.check(
                row.get("fmaterialid"),
                "material",
                MATERIAL_LABEL,
                spec.material_field,
                errors,
                where,
            )
        )
        stock = None
        if spec.stock_key and (spec.stock_required or row.get(spec.stock_key) is not None):
            stock = self.master.check(
                row.get(spec.stock_key), "stock", STOCK_LABEL, "FStockID", errors, where
            )
        qty = 0
        if row.get(spec.qty_key) is None or row.get(spec.qty_key) == "":
            errors.append(ErrorItem(f"{where}字段[{spec.qty_label}]是必录字段", spec.qty_key))
        else:
            try:
                quantity = parse_decimal(row[spec.qty_key], Decimal(MAX_QUANTITY + 1))
                if quantity != quantity.to_integral_value():
                    raise WireValueError("fractional quantity")
                qty = int(quantity)
                if spec.positive_qty and qty <= 0:
                    # ecomock's wording (unverified): K3 books a count difference one way.
                    errors.append(
                        ErrorItem(f"{where}字段[{spec.qty_label}]必须大于0", spec.qty_key)
                    )
            except WireValueError:
                shown = str(row[spec.qty_key])[:40]
                errors.append(
                    ErrorItem(
                        f"{where}字段[{spec.qty_label}]的值[{shown}]不是整数或超出范围"
                        f"（绝对值不超过{MAX_QUANTITY}）",
                        spec.qty_key,
                    )
                )
        price = self.money(row, "ftaxprice", "含税单价", where, errors)
        amount = self.money(row, spec.amount_key, spec.amount_label, where, errors)
        if amount is None and price is not None:
            # K3 computes the amount from quantity and tax-inclusive price when it is left out
            total = parse_decimal(row["ftaxprice"], AMOUNT_LIMIT) * qty
            if abs(total) >= AMOUNT_LIMIT:
                errors.append(
                    ErrorItem(
                        f"{where}字段[{spec.amount_label}]的值超出范围（绝对值小于{AMOUNT_LIMIT}）",
                        spec.amount_key,
                    )
                )
                return None
            amount = int(total.quantize(CENT, rounding=ROUND_HALF_UP) * 100)
        if len(errors) > before or material is None:
            return None
        # An expense entry keeps no material: only goods lines carry one.
        return BillLine(qty, amount or 0, None if expense else material, price, stock)

    @staticmethod
    def _cost_item(value: Any, where: str, errors: list[ErrorItem]) -> str | None:
        """A 费用项目 number among the preset ones, or an error in K3's words."""
        try:
            number = basedata_number(value)
        except ValueError:
            number = None
        if number in COST_ITEMS:
            return number
        shown = str(number if number is not None else value)[:40]
        errors.append(
            ErrorItem(
                f"{where}字段[{COST_LABEL}]的值[{shown}]在基础资料中不存在或未审核", "FCOSTID"
            )
        )
        return None

    def _voucher_line(
        self, spec: FormSpec, where: str, row: dict[str, Any], errors: list[ErrorItem]
    ) -> BillLine | None:
        before = len(errors)
        account = self.master.check(
            row.get("faccountid"), "account", "科目编码", "FACCOUNTID", errors, where
        )
        debit = self.money(row, "fdebit", "借方金额", where, errors) or 0
        credit = self.money(row, "fcredit", "贷方金额", where, errors) or 0
        if len(errors) == before and (debit == 0) == (credit == 0):
            errors.append(ErrorItem(f"{where}借方金额和贷方金额必须且只能录入一个", "FDEBIT"))
        if len(errors) > before or account is None:
            return None
        return BillLine(
            amount_cents=debit or credit,
            account_number=account,
            debit_cents=debit,
            credit_cents=credit,
        )
