"""Receipt bills (AR_RECEIVEBILL): handling charges per entry and write-offs against receivables.

- A FRECEIVEBILLENTRY entry has the amount it settles (`FRECTOTALAMOUNTFOR`, 应收金额), the
  handling charge the payer kept (`FHANDLINGCHARGEFOR`, 手续费, an expense: a platform's
  commission), and the money that came in (`FREALRECAMOUNTFOR`, 实收金额) = the first less the
  second; `FCOMMENT` is free text (the reference connector writes the trade number there).
- A FRECEIVEBILLSRCENTITY entry writes the receipt off against one receivable
  (`FSRCBILLTYPEID` AR_receivable, `FSRCBILLNO`, `FREALRECAMOUNT` 本次核销金额 > 0): an
  audited receivable of the same customer, written off no further than its open amount (its
  amount, less its red receivables, less what audited receipt bills wrote off already),
  checked at Save and again at Audit (two receipts saved side by side cannot both pass).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fake_systems.erp.fields import lower_keys, text
from fake_systems.erp.models import ErrorItem, FormSpec, K3Error, MsgCode
from fake_systems.erp.query import money_out
from fake_systems.erp.returns import RECEIVABLE, source_bill
from fake_systems.erp.validation import BillLine, BillValidator

RECEIPT = "AR_RECEIVEBILL"
SOURCE_KEY = "freceivebillsrcentity"
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
    charges: tuple[Charge, ...]
    write_offs: tuple[WriteOff, ...]


def open_cents(conn: sqlite3.Connection, bill_no: str, owner: str | None, fid: int | None) -> int:
    """What is left to write off of receivable `bill_no`: its amount, less its red
    receivables (any status, as K3 counts them at Save), less the write-offs of audited
    receipt bills other than `fid`."""
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
        (RECEIVABLE, owner, RECEIPT, owner, fid, RECEIVABLE, bill_no, owner),
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
    """A receipt bill's charges and write-offs after K3's rules; None for other bills.
    Raises K3Error (MsgCode 11, every error at once) when a rule is broken."""
    if spec.form_id != RECEIPT:
        return None
    errors: list[ErrorItem] = []
    charges: list[Charge] = []
    rows = [lower_keys(row) for row in fields.get(spec.entity_key) or []]
    for seq, (row, entry) in enumerate(zip(rows, entries, strict=True), start=1):
        where = f"{spec.entity_label}第{seq}行："
        handling = validator.money(row, "fhandlingchargefor", "手续费", where, errors) or 0
        real = validator.money(row, "frealrecamountfor", "实收金额", where, errors)
        if handling < 0:
            errors.append(ErrorItem(f"{where}手续费不能为负数", "FHANDLINGCHARGEFOR"))
        elif real is not None and real != entry.amount_cents - handling:
            errors.append(
                ErrorItem(
                    f"{where}实收金额[{money_out(real)}]应等于应收金额"
                    f"[{money_out(entry.amount_cents)}]减手续费[{money_out(handling)}]",
                    "FREALRECAMOUNTFOR",
                )
            )
        comment = text(row.get("fcomment"))
        charges.append(Charge(seq, handling, entry.amount_cents - handling, comment or None))
    write_offs: list[WriteOff] = []
    wanted: dict[str, int] = {}
    sources = fields.get(SOURCE_KEY) or []
    if not isinstance(sources, list):
        sources = [sources]
    for seq, raw in enumerate(sources, start=1):
        where = f"{SOURCE_LABEL}第{seq}行："
        if not isinstance(raw, Mapping):
            errors.append(ErrorItem(f"{where}分录格式不正确", "FRECEIVEBILLSRCENTITY"))
            continue
        row = lower_keys(raw)
        kind = text(row.get("fsrcbilltypeid")) or RECEIVABLE
        source = text(row.get("fsrcbillno"))
        amount = validator.money(row, "frealrecamount", "本次核销金额", where, errors)
        if not source:
            errors.append(ErrorItem(f"{where}字段[源单编号]是必录字段", "FSRCBILLNO"))
            continue
        if kind != RECEIVABLE:
            errors.append(ErrorItem(f"{where}源单类型[{kind}]不是应收单", "FSRCBILLTYPEID"))
            continue
        if amount is None or amount <= 0:
            errors.append(ErrorItem(f"{where}本次核销金额必须大于0", "FREALRECAMOUNT"))
            continue
        original = source_bill(
            conn, RECEIVABLE, source, partner, owner, where, "FSRCBILLNO", errors
        )
        if original is None:
            continue
        if original["amount_cents"] <= 0:
            errors.append(ErrorItem(f"{where}源单[{source}]是红字应收单，不允许核销", "FSRCBILLNO"))
            continue
        wanted[source] = wanted.get(source, 0) + amount
        write_offs.append(WriteOff(seq, source, amount))
    for source, amount in wanted.items():
        error = _over_open(conn, source, amount, owner, fid)
        if error is not None:
            errors.append(error)
    if errors:
        raise K3Error(MsgCode.VALIDATION_FAILED, errors)
    return Receipt(tuple(charges), tuple(write_offs))


def _over_open(
    conn: sqlite3.Connection, source: str, amount: int, owner: str | None, fid: int | None
) -> ErrorItem | None:
    left = open_cents(conn, source, owner, fid)
    if amount <= left:
        return None
    return ErrorItem(
        f"源单[{source}]的本次核销金额[{money_out(amount)}]"
        f"超过未核销金额[{money_out(max(left, 0))}]",
        "FREALRECAMOUNT",
    )


def audit_refusal(conn: sqlite3.Connection, fid: int) -> str | None:
    """Why a receipt bill may not be audited now (a write-off beyond what is open, other
    receipts having been audited since its Save); None if it may, or it is no receipt."""
    row = conn.execute("SELECT form_id, owner_code FROM documents WHERE fid = ?", (fid,)).fetchone()
    if row is None or row["form_id"] != RECEIPT:
        return None
    for source, amount in conn.execute(
        "SELECT source_bill_no, SUM(amount_cents) FROM write_offs WHERE fid = ?"
        " GROUP BY source_bill_no ORDER BY source_bill_no",
        (fid,),
    ):
        error = _over_open(conn, source, int(amount), row["owner_code"], fid)
        if error is not None:
            return error.message
    return None


def forget(conn: sqlite3.Connection, fid: int) -> None:
    """Drop a bill's charges and write-offs (it is deleted, or saved anew): no row outlives
    its bill, which a later bill could otherwise inherit with its internal id."""
    conn.execute("DELETE FROM receipt_entries WHERE fid = ?", (fid,))
    conn.execute("DELETE FROM write_offs WHERE fid = ?", (fid,))


def store(conn: sqlite3.Connection, fid: int, receipt: Receipt) -> None:
    """Replace a receipt bill's charges and write-offs (a Save replaces its entries)."""
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
