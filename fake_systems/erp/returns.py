"""Sales returns (SAL_RETURNSTOCK) and red receivables (AR_receivable with negative amounts):
the source-bill links K3 keeps on their entries, and K3's rules on them at Save.

- A SAL_RETURNSTOCK entry names the sales outbound it takes back (`FSrcBillNo`, optional
  `FSrcBillTypeID` = SAL_OUTSTOCK) and the stock status the goods come back in
  (`FStockStatusId`: KCZT01_SYS available, KCZT08_SYS defective, ...; available when left out).
  The source must be an audited SAL_OUTSTOCK of the same customer, and per material no more
  may come back, over every return of that outbound, than it shipped.
- An AR_receivable whose entries are negative is a red receivable (红字应收单): each entry names
  the receivable it reverses (`FSourceBillNo`, optional `FSOURCETYPE` = AR_receivable), an
  audited receivable of the same customer, and all its red receivables together take back no
  more than its amount. A receivable mixing signs is refused.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fake_systems.erp.fields import basedata_number, lower_keys, text
from fake_systems.erp.models import DocumentStatus, ErrorItem, FormSpec, K3Error, MsgCode
from fake_systems.erp.query import money_out
from fake_systems.erp.validation import BillLine

SALES_RETURN = "SAL_RETURNSTOCK"
OUTSTOCK = "SAL_OUTSTOCK"
RECEIVABLE = "AR_receivable"
# K3's preset stock statuses (BD_StockStatus, unverified numbers; docs/protocols/erp.md).
STOCK_STATUSES = {
    "KCZT01_SYS": "可用",
    "KCZT02_SYS": "待检",
    "KCZT03_SYS": "冻结",
    "KCZT04_SYS": "退回冻结",
    "KCZT05_SYS": "在途",
    "KCZT06_SYS": "收货冻结",
    "KCZT07_SYS": "废品",
    "KCZT08_SYS": "不良",
}
AVAILABLE = "KCZT01_SYS"
PARTNER_LABELS = {"customer": "客户", "supplier": "供应商"}


@dataclass(frozen=True)
class Link:
    """One entry's source bill (and, for a return, the stock status it comes back in)."""

    seq: int
    source_form_id: str
    source_bill_no: str
    stock_status: str | None = None


def is_red(spec: FormSpec, entries: Sequence[BillLine]) -> bool:
    return spec.form_id == RECEIVABLE and any(e.amount_cents < 0 for e in entries)


def check_links(
    conn: sqlite3.Connection,
    spec: FormSpec,
    fields: Mapping[str, Any],
    entries: Sequence[BillLine],
    partner: str,
    owner: str | None,
    fid: int | None,
) -> list[Link]:
    """The links a bill's entries declare, after K3's rules on them; [] for other bills.
    Raises K3Error (MsgCode 11, every error at once) when a rule is broken."""
    if spec.form_id == SALES_RETURN:
        check = _return_links
    elif is_red(spec, entries):
        check = _red_links
    else:
        return []
    rows = [lower_keys(row) for row in fields.get(spec.entity_key) or []]
    errors: list[ErrorItem] = []
    links = check(conn, spec, rows, entries, partner, owner, fid, errors)
    if errors:
        raise K3Error(MsgCode.VALIDATION_FAILED, errors)
    return links


def source_bill(
    conn: sqlite3.Connection,
    form_id: str,
    bill_no: str,
    partner: str,
    owner: str | None,
    where: str,
    field: str,
    errors: list[ErrorItem],
    partner_kind: str = "customer",
) -> sqlite3.Row | None:
    """The audited source bill `bill_no` of `form_id` of this partner (a customer, or a
    supplier) and owner; None, with the error K3 gives, otherwise."""
    row = conn.execute(
        "SELECT * FROM documents WHERE form_id = ? AND bill_no = ? AND owner_code IS ?",
        (form_id, bill_no, owner),
    ).fetchone()
    if row is None or row[f"{partner_kind}_number"] != partner:
        label = PARTNER_LABELS[partner_kind]
        errors.append(ErrorItem(f"{where}源单[{bill_no}]不存在或不属于该{label}", field))
        return None
    if row["document_status"] != DocumentStatus.AUDITED:
        errors.append(ErrorItem(f"{where}源单[{bill_no}]未审核，不允许关联", field))
        return None
    return row


def _return_links(
    conn: sqlite3.Connection,
    spec: FormSpec,
    rows: list[dict[str, Any]],
    entries: Sequence[BillLine],
    partner: str,
    owner: str | None,
    fid: int | None,
    errors: list[ErrorItem],
) -> list[Link]:
    links: list[Link] = []
    wanted: dict[tuple[str, str], int] = {}
    for seq, (row, entry) in enumerate(zip(rows, entries, strict=True), start=1):
        where = f"{spec.entity_label}第{seq}行："
        source = text(row.get("fsrcbillno"))
        kind = text(row.get("fsrcbilltypeid")) or OUTSTOCK
        try:
            status = basedata_number(row.get("fstockstatusid")) or AVAILABLE
        except ValueError:
            status = str(row.get("fstockstatusid"))[:40]
        if not source:
            errors.append(ErrorItem(f"{where}字段[源单编号]是必录字段", "FSrcBillNo"))
            continue
        if kind != OUTSTOCK:
            errors.append(ErrorItem(f"{where}源单类型[{kind}]不是销售出库单", "FSrcBillTypeID"))
            continue
        if status not in STOCK_STATUSES:
            errors.append(ErrorItem(f"{where}库存状态[{status}]不存在", "FStockStatusId"))
            continue
        if entry.qty <= 0:
            errors.append(ErrorItem(f"{where}退货数量必须大于0", spec.qty_key))
            continue
        if source_bill(conn, OUTSTOCK, source, partner, owner, where, "FSrcBillNo", errors) is None:
            continue
        key = (source, entry.material_number or "")
        wanted[key] = wanted.get(key, 0) + entry.qty
        links.append(Link(seq, OUTSTOCK, source, status))
    for (source, material), qty in wanted.items():
        shipped = conn.execute(
            "SELECT COALESCE(SUM(e.qty), 0) FROM documents AS d"
            " JOIN document_entries AS e ON e.fid = d.fid"
            " WHERE d.form_id = ? AND d.bill_no = ? AND d.owner_code IS ?"
            " AND e.material_number = ?",
            (OUTSTOCK, source, owner, material),
        ).fetchone()[0]
        returned = conn.execute(
            "SELECT COALESCE(SUM(e.qty), 0) FROM document_links AS l"
            " JOIN documents AS d ON d.fid = l.fid"
            " JOIN document_entries AS e ON e.fid = l.fid AND e.seq = l.seq"
            " WHERE d.form_id = ? AND l.source_bill_no = ? AND d.owner_code IS ?"
            " AND e.material_number = ? AND d.fid IS NOT ?",
            (SALES_RETURN, source, owner, material, fid),
        ).fetchone()[0]
        if returned + qty > shipped:
            errors.append(
                ErrorItem(
                    f"物料[{material}]的退货数量[{qty}]超过源单[{source}]的可退数量"
                    f"[{max(shipped - returned, 0)}]",
                    spec.qty_key,
                )
            )
    return links


def _red_links(
    conn: sqlite3.Connection,
    spec: FormSpec,
    rows: list[dict[str, Any]],
    entries: Sequence[BillLine],
    partner: str,
    owner: str | None,
    fid: int | None,
    errors: list[ErrorItem],
) -> list[Link]:
    links: list[Link] = []
    wanted: dict[str, int] = {}
    for seq, (row, entry) in enumerate(zip(rows, entries, strict=True), start=1):
        where = f"{spec.entity_label}第{seq}行："
        if entry.amount_cents >= 0:
            errors.append(ErrorItem(f"{where}红字应收单的金额必须为负数", spec.amount_key))
            continue
        source = text(row.get("fsourcebillno"))
        kind = text(row.get("fsourcetype")) or RECEIVABLE
        if not source:
            errors.append(
                ErrorItem(
                    f"{where}红字应收单必须关联源单：字段[源单编号]是必录字段", "FSourceBillNo"
                )
            )
            continue
        if kind != RECEIVABLE:
            errors.append(ErrorItem(f"{where}源单类型[{kind}]不是应收单", "FSOURCETYPE"))
            continue
        original = source_bill(
            conn, RECEIVABLE, source, partner, owner, where, "FSourceBillNo", errors
        )
        if original is None:
            continue
        if original["amount_cents"] <= 0:
            errors.append(
                ErrorItem(f"{where}源单[{source}]是红字应收单，不允许再红冲", "FSourceBillNo")
            )
            continue
        wanted[source] = wanted.get(source, 0) - entry.amount_cents
        links.append(Link(seq, RECEIVABLE, source))
    for source, amount in wanted.items():
        original, reversed_ = conn.execute(
            "SELECT d.amount_cents, (SELECT COALESCE(-SUM(e.amount_cents), 0)"
            "  FROM document_links AS l JOIN documents AS r ON r.fid = l.fid"
            "  JOIN document_entries AS e ON e.fid = l.fid AND e.seq = l.seq"
            "  WHERE r.form_id = ? AND l.source_bill_no = d.bill_no AND r.owner_code IS ?"
            "    AND r.fid IS NOT ?)"
            " FROM documents AS d WHERE d.form_id = ? AND d.bill_no = ? AND d.owner_code IS ?",
            (RECEIVABLE, owner, fid, RECEIVABLE, source, owner),
        ).fetchone()
        if reversed_ + amount > original:
            errors.append(
                ErrorItem(
                    f"红冲金额[{money_out(amount)}]超过源单[{source}]的可红冲金额"
                    f"[{money_out(max(original - reversed_, 0))}]",
                    spec.amount_key,
                )
            )
    return links


def store_links(conn: sqlite3.Connection, fid: int, links: Sequence[Link]) -> None:
    """Replace a bill's links (a Save replaces its entries, and so their links)."""
    conn.execute("DELETE FROM document_links WHERE fid = ?", (fid,))
    conn.executemany(
        "INSERT INTO document_links VALUES (?, ?, ?, ?, ?)",
        [(fid, ln.seq, ln.source_form_id, ln.source_bill_no, ln.stock_status) for ln in links],
    )
