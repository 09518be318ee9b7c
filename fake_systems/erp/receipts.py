"""Receipt bills (AR_RECEIVEBILL) and payment bills (AP_PAYBILL): handling charges per entry
and write-offs against receivables, resp. payables.

- A FRECEIVEBILLENTRY entry has the amount it settles (`FRECTOTALAMOUNTFOR`, 应收金额), the
  handling charge the payer kept (`FHANDLINGCHARGEFOR`, 手续费, an expense: a platform's
  commission), and the money that came in (`FREALRECAMOUNTFOR`, 实收金额) = the first less the
  second; `FCOMMENT` is free text (the reference connector writes the trade number there).
  A FPAYBILLENTRY entry is the same on the paying side: `FPAYTOTALAMOUNTFOR` (应付金额),
  `FHANDLINGCHARGEFOR`, `FREALPAYAMOUNTFOR_D` (实付金额), `FCOMMENT`.
- A FRECEIVEBILLSRCENTITY entry writes the receipt off against one receivable
  (`FSRCBILLTYPEID` AR_receivable, `FSRCBILLNO`, `FREALRECAMOUNT` 本次核销金额 > 0); a
  FPAYBILLSRCENTRY entry writes the payment off against one payable (`FSOURCETYPE`
  AP_Payable, `FSRCBILLNO`, `FREALPAYAMOUNT_S` 本次付款金额 > 0). The source is an audited bill
  of the same customer (supplier), written off no further than its open amount (its amount,
  less its red bills, less what audited bills of the same form wrote off already), checked
  at Save and again at Audit (two bills saved side by side cannot both pass).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fake_systems.erp.fields import lower_keys, text
from fake_systems.erp.models import ErrorItem, FormSpec, K3Error, MsgCode
from fake_systems.erp.purchasing import PAYABLE
from fake_systems.erp.query import money_out
from fake_systems.erp.returns import RECEIVABLE, source_bill
from fake_systems.erp.validation import BillLine, BillValidator

RECEIPT = "AR_RECEIVEBILL"
PAYMENT = "AP_PAYBILL"


@dataclass(frozen=True)
class Settling:
    """What a receipt bill and a payment bill each call their fields (lower-cased keys, K3
    field names, Chinese labels) and which bills they write off."""

    form_id: str
    partner_kind: str  # customer | supplier
    real_key: str
    real_label: str
    source_form: str
    source_name: str  # 应收单 | 应付单
    source_key: str
    source_field: str
    type_key: str
    type_field: str
    amount_key: str
    amount_field: str
    amount_label: str


SETTLING = {
    RECEIPT: Settling(
        RECEIPT,
        "customer",
        "frealrecamountfor",
        "实收金额",
        RECEIVABLE,
        "应收单",
        "freceivebillsrcentity",
        "FRECEIVEBILLSRCENTITY",
        "fsrcbilltypeid",
        "FSRCBILLTYPEID",
        "frealrecamount",
        "FREALRECAMOUNT",
        "本次核销金额",
    ),
    PAYMENT: Settling(
        PAYMENT,
        "supplier",
        "frealpayamountfor_d",
        "实付金额",
        PAYABLE,
        "应付单",
        "fpaybillsrcentry",
        "FPAYBILLSRCENTRY",
        "fsourcetype",
        "FSOURCETYPE",
        "frealpayamount_s",
        "FREALPAYAMOUNT_S",
        "本次付款金额",
    ),
}
SOURCE_LABEL = "源单明细"


@dataclass(frozen=True)
class Charge:
    seq: int
    handling_cents: int
    real_cents: int
    comment: str | None


@dataclass(frozen=True)
class WriteOff:
    seq: int
    source_bill_no: str
    amount_cents: int


@dataclass(frozen=True)
class Receipt:
    """A receipt's or payment's charges and write-offs."""

    charges: tuple[Charge, ...]
    write_offs: tuple[WriteOff, ...]


def open_cents(
    conn: sqlite3.Connection,
    bill_no: str,
    owner: str | None,
    fid: int | None,
    form: Settling = SETTLING[RECEIPT],
) -> int:
    """What is left to write off of receivable (payable) `bill_no`: its amount, less its red
    bills (any status, as K3 counts them at Save), less the write-offs of audited bills of
    `form` other than `fid`."""
    row = conn.execute(
        "SELECT d.amount_cents"
        " + (SELECT COALESCE(SUM(e.amount_cents), 0) FROM document_links AS l"
        "    JOIN documents AS r ON r.fid = l.fid"
        "    JOIN document_entries AS e ON e.fid = l.fid AND e.seq = l.seq"
        "    WHERE r.form_id = ? AND l.source_bill_no = d.bill_no AND r.owner_code IS ?)"
        " - (SELECT COALESCE(SUM(w.amount_cents), 0) FROM write_offs AS w"
        "    JOIN documents AS p ON p.fid = w.fid"
        "    WHERE p.form_id = ? AND p.document_status = 'C' AND w.source_bill_no = d.bill_no"
        "    AND p.owner_code IS ? AND p.fid IS NOT ?)"
        " FROM documents AS d WHERE d.form_id = ? AND d.bill_no = ? AND d.owner_code IS ?",
        (form.source_form, owner, form.form_id, owner, fid, form.source_form, bill_no, owner),
    ).fetchone()
    return 0 if row is None else int(row[0])


def check(
    conn: sqlite3.Connection,
    validator: BillValidator,
    spec: FormSpec,
    fields: Mapping[str, Any],
    entries: list[BillLine],
    partner: str,
    owner: str | None,
    fid: int | None,
) -> Receipt | None:
    """A receipt or payment bill's charges and write-offs after K3's rules; None for other
    bills. Raises K3Error (MsgCode 11, every error at once) when a rule is broken."""
    form = SETTLING.get(spec.form_id)
    if form is None:
        return None
    errors: list[ErrorItem] = []
    charges: list[Charge] = []
    rows = [lower_keys(row) for row in fields.get(spec.entity_key) or []]
    for seq, (row, entry) in enumerate(zip(rows, entries, strict=True), start=1):
        where = f"{spec.entity_label}第{seq}行："
        handling = validator.money(row, "fhandlingchargefor", "手续费", where, errors) or 0
        real = validator.money(row, form.real_key, form.real_label, where, errors)
        if handling < 0:
            errors.append(ErrorItem(f"{where}手续费不能为负数", "FHANDLINGCHARGEFOR"))
        elif real is not None and real != entry.amount_cents - handling:
            errors.append(
                ErrorItem(
                    f"{where}{form.real_label}[{money_out(real)}]应等于{spec.amount_label}"
                    f"[{money_out(entry.amount_cents)}]减手续费[{money_out(handling)}]",
                    form.real_key.upper(),
                )
            )
        comment = text(row.get("fcomment"))
        charges.append(Charge(seq, handling, entry.amount_cents - handling, comment or None))
    write_offs: list[WriteOff] = []
    wanted: dict[str, int] = {}
    sources = fields.get(form.source_key) or []
    if not isinstance(sources, list):
        sources = [sources]
    for seq, raw in enumerate(sources, start=1):
        where = f"{SOURCE_LABEL}第{seq}行："
        if not isinstance(raw, Mapping):
            errors.append(ErrorItem(f"{where}分录格式不正确", form.source_field))
            continue
        row = lower_keys(raw)
        kind = text(row.get(form.type_key)) or form.source_form
        source = text(row.get("fsrcbillno"))
        amount = validator.money(row, form.amount_key, form.amount_label, where, errors)
        if not source:
            errors.append(ErrorItem(f"{where}字段[源单编号]是必录字段", "FSRCBILLNO"))
            continue
        if kind != form.source_form:
            errors.append(
                ErrorItem(f"{where}源单类型[{kind}]不是{form.source_name}", form.type_field)
            )
            continue
        if amount is None or amount <= 0:
            errors.append(ErrorItem(f"{where}{form.amount_label}必须大于0", form.amount_field))
            continue
        original = source_bill(
            conn,
            form.source_form,
            source,
            partner,
            owner,
            where,
            "FSRCBILLNO",
            errors,
            form.partner_kind,
        )
        if original is None:
            continue
        if original["amount_cents"] <= 0:
            errors.append(
                ErrorItem(
                    f"{where}源单[{source}]是红字{form.source_name}，不允许核销", "FSRCBILLNO"
                )
            )
            continue
        wanted[source] = wanted.get(source, 0) + amount
        write_offs.append(WriteOff(seq, source, amount))
    for source, amount in wanted.items():
        error = _over_open(conn, form, source, amount, owner, fid)
        if error is not None:
            errors.append(error)
    if errors:
        raise K3Error(MsgCode.VALIDATION_FAILED, errors)
    return Receipt(tuple(charges), tuple(write_offs))


def _over_open(
    conn: sqlite3.Connection,
    form: Settling,
    source: str,
    amount: int,
    owner: str | None,
    fid: int | None,
) -> ErrorItem | None:
    left = open_cents(conn, source, owner, fid, form)
    if amount <= left:
        return None
    return ErrorItem(
        f"源单[{source}]的{form.amount_label}[{money_out(amount)}]"
        f"超过未核销金额[{money_out(max(left, 0))}]",
        form.amount_field,
    )


def audit_refusal(conn: sqlite3.Connection, fid: int) -> str | None:
    """Why a receipt or payment bill may not be audited now (a write-off beyond what is
    open, other bills having been audited since its Save); None if it may, or it is neither."""
    row = conn.execute("SELECT form_id, owner_code FROM documents WHERE fid = ?", (fid,)).fetchone()
    form = None if row is None else SETTLING.get(row["form_id"])
    if form is None:
        return None
    for source, amount in conn.execute(
        "SELECT source_bill_no, SUM(amount_cents) FROM write_offs WHERE fid = ?"
        " GROUP BY source_bill_no ORDER BY source_bill_no",
        (fid,),
    ):
        error = _over_open(conn, form, source, int(amount), row["owner_code"], fid)
        if error is not None:
            return error.message
    return None


def forget(conn: sqlite3.Connection, fid: int) -> None:
    """Drop a bill's charges and write-offs (it is deleted, or saved anew): no row outlives
    its bill, which a later bill could otherwise inherit with its internal id."""
    conn.execute("DELETE FROM receipt_entries WHERE fid = ?", (fid,))
    conn.execute("DELETE FROM write_offs WHERE fid = ?", (fid,))


def store(conn: sqlite3.Connection, fid: int, receipt: Receipt) -> None:
    """Replace a bill's charges and write-offs (a Save replaces its entries)."""
    forget(conn, fid)
    conn.executemany(
        "INSERT INTO receipt_entries (fid, seq, handling_cents, real_cents, comment)"
        " VALUES (?, ?, ?, ?, ?)",
        [(fid, c.seq, c.handling_cents, c.real_cents, c.comment) for c in receipt.charges],
    )
    conn.executemany(
        "INSERT INTO write_offs (fid, seq, source_bill_no, amount_cents) VALUES (?, ?, ?, ?)",
        [(fid, w.seq, w.source_bill_no, w.amount_cents) for w in receipt.write_offs],
    )
