"""Purchasing's source-bill links: a stock-in (STK_InStock) entry names its purchase order,
a purchase return (PUR_MRB, 采购退料单) entry the stock-in it sends back, a payable
(AP_Payable) entry the stock-in it pays for (a red payable's negative entry: the purchase
return it takes back), and K3's rules on them at Save.

- A link is optional (K3 saves a stock-in or payable without a source), but when an entry
  names one (`FSrcBillNo` on STK_InStock with `FSrcBillTypeId` PUR_PurchaseOrder, the default;
  `FSourceBillNo` on AP_Payable with `FSOURCETYPE` STK_InStock, the default), the source must
  be an audited bill of that form of the same supplier (and cargo owner), and the entry's
  material one of the source's.
- Stock-in quantities are not capped by the source: K3 allows over-receipt by a tolerance a
  business sets per material (采购超收), which the fake does not keep. A purchase return's are:
  per stock-in and material, every purchase return linked to it (any status, this one's
  other version aside) sends back at most what the stock-in received.
- A payable entry with a negative amount (红字应付单) names a purchase return (`FSOURCETYPE`
  PUR_MRB, the default for a negative entry); its red entries together take back at most the
  return's amount. A positive entry may not name a purchase return, nor a negative one a
  stock-in (ecomock's rule: K3 also reverses a stock-in by a red stock-in, which the fake
  does not keep).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from typing import Any

from fake_systems.erp.fields import lower_keys, text
from fake_systems.erp.models import DocumentStatus, ErrorItem, FormSpec, K3Error, MsgCode
from fake_systems.erp.query import money_out
from fake_systems.erp.returns import Link
from fake_systems.erp.validation import BillLine

PURCHASE_ORDER = "PUR_PurchaseOrder"
INSTOCK = "STK_InStock"
PAYABLE = "AP_Payable"
PURCHASE_RETURN = "PUR_MRB"
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
    PURCHASE_RETURN: (
        INSTOCK,
        "fsrcbillno",
        "FSrcBillNo",
        "fsrcbilltypeid",
        "FSrcBillTypeId",
        "采购入库单",
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
    fid: int | None = None,
) -> list[Link]:
    """The purchase links a stock-in's, purchase return's or payable's entries declare, after
    K3's rules on them; [] for other bills. `fid`: the bill saved anew (its own links do not
    count against a cap). Raises K3Error (MsgCode 11, every error at once)."""
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
        expected, expected_label = source_form, label
        if spec.form_id == PAYABLE and entry.amount_cents < 0:
            expected, expected_label = PURCHASE_RETURN, "采购退料单"
        kind = text(row.get(type_key)) or expected
        if kind != expected:
            errors.append(ErrorItem(f"{where}源单类型[{kind}]不是{expected_label}", type_field))
            continue
        found = conn.execute(
            "SELECT fid, document_status, supplier_number FROM documents"
            " WHERE form_id = ? AND bill_no = ? AND owner_code IS ?",
            (kind, source, owner),
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
        links.append(Link(seq, kind, source))
    if not errors and spec.form_id == PURCHASE_RETURN:
        errors = _over_received(conn, links, entries, owner, fid)
    if not errors and spec.form_id == PAYABLE:
        errors = _over_returned(conn, links, entries, owner, fid)
    if errors:
        raise K3Error(MsgCode.VALIDATION_FAILED, errors)
    return links


def _over_received(
    conn: sqlite3.Connection,
    links: Sequence[Link],
    entries: Sequence[BillLine],
    owner: str | None,
    fid: int | None,
) -> list[ErrorItem]:
    """A purchase return sending back more of a material than its stock-in received, over
    every purchase return of that stock-in (the message is ecomock's, unverified)."""
    wanted: dict[tuple[str, str], int] = {}
    for link in links:
        entry = entries[link.seq - 1]
        key = (link.source_bill_no, entry.material_number or "")
        wanted[key] = wanted.get(key, 0) + entry.qty
    errors: list[ErrorItem] = []
    for (source, material), qty in sorted(wanted.items()):
        received, returned = conn.execute(
            "SELECT (SELECT COALESCE(SUM(e.qty), 0) FROM documents AS d"
            "   JOIN document_entries AS e ON e.fid = d.fid WHERE d.form_id = ?"
            "   AND d.bill_no = ? AND d.owner_code IS ? AND e.material_number = ?),"
            " (SELECT COALESCE(SUM(e.qty), 0) FROM document_links AS l"
            "   JOIN documents AS d ON d.fid = l.fid"
            "   JOIN document_entries AS e ON e.fid = l.fid AND e.seq = l.seq"
            "   WHERE d.form_id = ? AND l.source_bill_no = ? AND d.owner_code IS ?"
            "   AND e.material_number = ? AND d.fid IS NOT ?)",
            (INSTOCK, source, owner, material, PURCHASE_RETURN, source, owner, material, fid),
        ).fetchone()
        if returned + qty > received:
            errors.append(
                ErrorItem(
                    f"物料[{material}]的实退数量[{qty}]超过源单[{source}]的可退数量"
                    f"[{max(received - returned, 0)}]",
                    "FRMREALQTY",
                )
            )
    return errors


def _over_returned(
    conn: sqlite3.Connection,
    links: Sequence[Link],
    entries: Sequence[BillLine],
    owner: str | None,
    fid: int | None,
) -> list[ErrorItem]:
    """Red payables taking back more than their purchase return's amount, over every red
    payable of that return (the message is ecomock's, unverified)."""
    wanted: dict[str, int] = {}
    for link in links:
        if link.source_form_id == PURCHASE_RETURN:
            amount = entries[link.seq - 1].amount_cents
            wanted[link.source_bill_no] = wanted.get(link.source_bill_no, 0) - amount
    errors: list[ErrorItem] = []
    for source, amount in sorted(wanted.items()):
        returned, taken = conn.execute(
            "SELECT d.amount_cents, (SELECT COALESCE(-SUM(e.amount_cents), 0)"
            "  FROM document_links AS l JOIN documents AS r ON r.fid = l.fid"
            "  JOIN document_entries AS e ON e.fid = l.fid AND e.seq = l.seq"
            "  WHERE r.form_id = ? AND l.source_form_id = ? AND l.source_bill_no = d.bill_no"
            "  AND r.owner_code IS ? AND r.fid IS NOT ?)"
            " FROM documents AS d WHERE d.form_id = ? AND d.bill_no = ? AND d.owner_code IS ?",
            (PAYABLE, PURCHASE_RETURN, owner, fid, PURCHASE_RETURN, source, owner),
        ).fetchone()
        if taken + amount > returned:
            errors.append(
                ErrorItem(
                    f"红字金额[{money_out(amount)}]超过源单[{source}]的可红冲金额"
                    f"[{money_out(max(returned - taken, 0))}]",
                    "FALLAMOUNTFOR",
                )
            )
    return errors
