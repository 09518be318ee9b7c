"""Two-step transfers between warehouses: a transfer-in (STK_TRANSFERIN, 分步式调入单) entry
names the transfer-out (STK_TRANSFEROUT, 分步式调出单) it receives, and K3's rules on it at Save.

- Every transfer-in entry names its transfer-out (`FSrcBillNo`, optional `FSrcBillTypeId` =
  STK_TRANSFEROUT): an audited transfer-out (of the same cargo owner: none, as the stock
  organisation is the partner) holding the material.
- `FPathLossQty` (路途损耗数量) is what went missing on the way: whole, not negative, 0 when
  left out. Per material, what every transfer-in of a transfer-out receives plus what it
  writes off as lost is at most what the transfer-out sent (K3 refuses receiving more than
  is in transit; the message is ecomock's, unverified).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from fake_systems.common.wire import WireValueError, parse_decimal
from fake_systems.erp.fields import lower_keys, text
from fake_systems.erp.models import ErrorItem, FormSpec, K3Error, MsgCode
from fake_systems.erp.returns import Link, source_bill
from fake_systems.erp.validation import MAX_QUANTITY, BillLine

TRANSFER_OUT = "STK_TRANSFEROUT"
TRANSFER_IN = "STK_TRANSFERIN"
LOSS_KEY, LOSS_FIELD = "fpathlossqty", "FPathLossQty"


@dataclass(frozen=True)
class TransferIn:
    """A transfer-in's links to its transfer-out and the units lost per entry."""

    links: list[Link]
    losses: dict[int, int]  # entry seq -> units lost in transit


def check(
    conn: sqlite3.Connection,
    spec: FormSpec,
    fields: Mapping[str, Any],
    entries: Sequence[BillLine],
    partner: str,
    owner: str | None,
    fid: int | None,
) -> TransferIn | None:
    """A transfer-in's links and losses after K3's rules; None for other bills. Raises
    K3Error (MsgCode 11, every error at once) when a rule is broken."""
    if spec.form_id != TRANSFER_IN:
        return None
    rows = [lower_keys(row) for row in fields.get(spec.entity_key) or []]
    errors: list[ErrorItem] = []
    links: list[Link] = []
    losses: dict[int, int] = {}
    wanted: dict[tuple[str, str], int] = {}
    for seq, (row, entry) in enumerate(zip(rows, entries, strict=True), start=1):
        where = f"{spec.entity_label}第{seq}行："
        loss = _loss(row, where, errors)
        source = text(row.get("fsrcbillno"))
        kind = text(row.get("fsrcbilltypeid")) or TRANSFER_OUT
        if not source:
            errors.append(ErrorItem(f"{where}字段[源单编号]是必录字段", "FSrcBillNo"))
            continue
        if kind != TRANSFER_OUT:
            errors.append(ErrorItem(f"{where}源单类型[{kind}]不是分步式调出单", "FSrcBillTypeId"))
            continue
        if loss is None or entry.qty < 0:
            if entry.qty < 0:
                errors.append(ErrorItem(f"{where}调入数量不能小于0", spec.qty_key))
            continue
        found = source_bill(
            conn, TRANSFER_OUT, source, partner, owner, where, "FSrcBillNo", errors, "org"
        )
        if found is None:
            continue
        sent = _sent(conn, int(found["fid"]), entry.material_number)
        if sent is None:
            errors.append(
                ErrorItem(f"{where}物料[{entry.material_number}]不在源单[{source}]中", "FSrcBillNo")
            )
            continue
        key = (source, entry.material_number or "")
        wanted[key] = wanted.get(key, 0) + entry.qty + loss
        links.append(Link(seq, TRANSFER_OUT, source))
        losses[seq] = loss
    for (source, material), units in wanted.items():
        found = conn.execute(
            "SELECT fid FROM documents WHERE form_id = ? AND bill_no = ? AND owner_code IS ?",
            (TRANSFER_OUT, source, owner),
        ).fetchone()
        sent = _sent(conn, int(found[0]), material) or 0
        earlier = received(conn, source, material, owner, fid)
        if earlier + units > sent:
            errors.append(
                ErrorItem(
                    f"物料[{material}]的调入数量与路途损耗数量之和[{earlier + units}]"
                    f"超过调出单[{source}]的调出数量[{sent}]",
                    "FQty",
                )
            )
    if errors:
        raise K3Error(MsgCode.VALIDATION_FAILED, errors)
    return TransferIn(links, losses)


def _loss(row: Mapping[str, Any], where: str, errors: list[ErrorItem]) -> int | None:
    value = row.get(LOSS_KEY)
    if value in (None, ""):
        return 0
    try:
        loss = parse_decimal(value, Decimal(MAX_QUANTITY + 1))
        if loss != loss.to_integral_value() or loss < 0:
            raise WireValueError("not a whole count")
    except WireValueError:
        shown = str(value)[:40]
        errors.append(ErrorItem(f"{where}字段[路途损耗数量]的值[{shown}]不是非负整数", LOSS_FIELD))
        return None
    return int(loss)


def _sent(conn: sqlite3.Connection, fid: int, material: str | None) -> int | None:
    """The units of `material` a transfer-out sent; None when it has no such entry."""
    row = conn.execute(
        "SELECT COUNT(*), COALESCE(SUM(qty), 0) FROM document_entries"
        " WHERE fid = ? AND material_number IS ?",
        (fid, material),
    ).fetchone()
    return int(row[1]) if row[0] else None


def received(
    conn: sqlite3.Connection, source: str, material: str, owner: str | None, fid: int | None
) -> int:
    """Units of `material` the transfer-ins of `source` (other than bill `fid`) received or
    wrote off as lost."""
    row = conn.execute(
        "SELECT COALESCE(SUM(e.qty + COALESCE(t.loss_qty, 0)), 0) FROM document_links AS l"
        " JOIN documents AS d ON d.fid = l.fid"
        " JOIN document_entries AS e ON e.fid = l.fid AND e.seq = l.seq"
        " LEFT JOIN transfer_losses AS t ON t.fid = l.fid AND t.seq = l.seq"
        " WHERE d.form_id = ? AND l.source_form_id = ? AND l.source_bill_no = ?"
        " AND d.owner_code IS ? AND e.material_number = ? AND d.fid IS NOT ?",
        (TRANSFER_IN, TRANSFER_OUT, source, owner, material, fid),
    ).fetchone()
    return int(row[0])


def forget(conn: sqlite3.Connection, fid: int) -> None:
    """Drop a bill's losses (it is deleted, or saved anew)."""
    conn.execute("DELETE FROM transfer_losses WHERE fid = ?", (fid,))


def store(conn: sqlite3.Connection, fid: int, transfer: TransferIn) -> None:
    """Replace a transfer-in's losses (a Save replaces its entries)."""
    forget(conn, fid)
    conn.executemany(
        "INSERT INTO transfer_losses (fid, seq, loss_qty) VALUES (?, ?, ?)",
        [(fid, seq, loss) for seq, loss in transfer.losses.items()],
    )
