"""Purchasing's source-bill links: a stock-in (STK_InStock) entry names its purchase order,
a payable (AP_Payable) entry the stock-in it pays for, and K3's rules on them at Save.

- A link is optional (K3 saves a stock-in or payable without a source), but when an entry
  names one (`FSrcBillNo` on STK_InStock with `FSrcBillTypeId` PUR_PurchaseOrder, the default;
  `FSourceBillNo` on AP_Payable with `FSOURCETYPE` STK_InStock, the default), the source must
  be an audited bill of that form of the same supplier (and cargo owner), and the entry's
  material one of the source's.
- Quantities are not capped by the source: K3 allows over-receipt by a tolerance a business
  sets per material (采购超收), which the fake does not keep.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from typing import Any

from fake_systems.erp.fields import lower_keys, text
from fake_systems.erp.models import DocumentStatus, ErrorItem, FormSpec, K3Error, MsgCode
from fake_systems.erp.returns import Link
from fake_systems.erp.validation import BillLine

PURCHASE_ORDER = "PUR_PurchaseOrder"
INSTOCK = "STK_InStock"
PAYABLE = "AP_Payable"
# Per linking form: (its source form, the entry's source-number key and its K3 field name,
# the source-type key and its field name, the source form's label in messages).
SOURCES = {
    INSTOCK: (
        PURCHASE_ORDER,
        "fsrcbillno",
        "FSrcBillNo",
        "fsrcbilltypeid",
        "FSrcBillTypeId",
        "采购订单",
    ),
    PAYABLE: (
        INSTOCK,
        "fsourcebillno",
        "FSourceBillNo",
        "fsourcetype",
        "FSOURCETYPE",
        "采购入库单",
    ),
}


def check_links(
    conn: sqlite3.Connection,
    spec: FormSpec,
    fields: Mapping[str, Any],
    entries: Sequence[BillLine],
    supplier: str,
    owner: str | None,
) -> list[Link]:
    """The purchase links a stock-in's or payable's entries declare, after K3's rules on
    them; [] for other bills. Raises K3Error (MsgCode 11, every error at once)."""
    if spec.form_id not in SOURCES:
        return []
    source_form, number_key, number_field, type_key, type_field, label = SOURCES[spec.form_id]
    rows = [lower_keys(row) for row in fields.get(spec.entity_key) or []]
    errors: list[ErrorItem] = []
    links: list[Link] = []
    for seq, (row, entry) in enumerate(zip(rows, entries, strict=True), start=1):
        where = f"{spec.entity_label}第{seq}行："
        source = text(row.get(number_key))
        if not source:
            continue
        kind = text(row.get(type_key)) or source_form
        if kind != source_form:
            errors.append(ErrorItem(f"{where}源单类型[{kind}]不是{label}", type_field))
            continue
        found = conn.execute(
            "SELECT fid, document_status, supplier_number FROM documents"
            " WHERE form_id = ? AND bill_no = ? AND owner_code IS ?",
            (source_form, source, owner),
        ).fetchone()
        if found is None or found["supplier_number"] != supplier:
            errors.append(ErrorItem(f"{where}源单[{source}]不存在或不属于该供应商", number_field))
            continue
        if found["document_status"] != DocumentStatus.AUDITED:
            errors.append(ErrorItem(f"{where}源单[{source}]未审核，不允许关联", number_field))
            continue
        has_material = conn.execute(
            "SELECT 1 FROM document_entries WHERE fid = ? AND material_number IS ?",
            (found["fid"], entry.material_number),
        ).fetchone()
        if has_material is None:
            errors.append(
                ErrorItem(f"{where}物料[{entry.material_number}]不在源单[{source}]中", number_field)
            )
            continue
        links.append(Link(seq, source_form, source))
    if errors:
        raise K3Error(MsgCode.VALIDATION_FAILED, errors)
    return links
