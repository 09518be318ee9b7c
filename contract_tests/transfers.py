"""Transfers between warehouses (issue 13): every transfer the warehouse shipped (DBCK) is
booked once in the ERP as it happened: one audited transfer-out of the units that left the
sender, and once the goods are in (DBRK), one audited transfer-in of the units that arrived
at the receiver with the rest written off as lost on the way; out = in + recorded loss.

Old runs (before the two-leg transfers) have nothing to check: 0 checked, passed.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from typing import Any

from contract_tests.evidence import InvariantResult, history, result, rows_result, table_in_run

TRANSFER_OUT_FORM, TRANSFER_IN_FORM = "STK_TRANSFEROUT", "STK_TRANSFERIN"
TRANSFER_OUT, TRANSFER_IN = "DBCK", "DBRK"

DESCRIPTIONS = {
    "transfers_balance": (
        "every transfer between warehouses the WMS shipped (DBCK) has exactly one audited"
        " STK_TRANSFEROUT of the units that left the sender, and once received (DBRK) exactly"
        " one audited STK_TRANSFERIN linked to it of the units that arrived at the receiver,"
        " the rest recorded as lost on the way (FPathLossQty): out = in + recorded loss,"
        " per item"
    ),
}

# Per transfer: the WMS's two legs. The receiving leg's lines are what arrived.
TRANSFERS = f"""
    SELECT o.stockout_order_id, o.order_code, o.owner_code, o.warehouse_code AS sender,
           i.inbound_order_id, i.warehouse_code AS receiver, i.status AS received_status
    FROM wms.stockout_orders AS o
    LEFT JOIN wms.inbound_orders AS i
      ON i.kind = 'entryorder' AND i.order_type = '{TRANSFER_IN}'
     AND i.owner_code = o.owner_code AND i.order_code = o.order_code
    WHERE o.order_type = '{TRANSFER_OUT}'
    ORDER BY o.confirmed_wall, o.order_code"""


def _units(conn: sqlite3.Connection, sql: str, params: tuple[object, ...]) -> dict[str, int]:
    units: dict[str, int] = {}
    for item, qty in conn.execute(sql, params):
        units[str(item)] = units.get(str(item), 0) + int(qty or 0)
    return {item: qty for item, qty in units.items() if qty}


def _documents(conn: sqlite3.Connection, form: str, code: str) -> list[sqlite3.Row]:
    """The ERP documents of `form` that book transfer `code`: by bill number or note."""
    return conn.execute(
        "SELECT fid, bill_no, document_status FROM erp.documents WHERE form_id = ?"
        " AND (bill_no = ? OR note = ?) ORDER BY fid",
        (form, code, code),
    ).fetchall()


def _linked_ins(conn: sqlite3.Connection, code: str, outs: list[sqlite3.Row]) -> list[sqlite3.Row]:
    """Transfer-ins that book `code` (bill number or note) or receive one of its outs."""
    found = {int(row["fid"]): row for row in _documents(conn, TRANSFER_IN_FORM, code)}
    for out in outs:
        for row in conn.execute(
            "SELECT d.fid, d.bill_no, d.document_status FROM erp.documents AS d"
            " WHERE d.form_id = ? AND EXISTS (SELECT 1 FROM erp.document_links AS l"
            " WHERE l.fid = d.fid AND l.source_form_id = ? AND l.source_bill_no = ?)",
            (TRANSFER_IN_FORM, TRANSFER_OUT_FORM, out["bill_no"]),
        ):
            found[int(row["fid"])] = row
    return [found[fid] for fid in sorted(found)]


def _entries(conn: sqlite3.Connection, fid: int, stock: str) -> tuple[dict[str, int], bool]:
    """A document's units per material, and whether every entry is at `stock`."""
    rows = conn.execute(
        "SELECT material_number, qty, stock_number FROM erp.document_entries WHERE fid = ?",
        (fid,),
    ).fetchall()
    units = _units(
        conn, "SELECT material_number, qty FROM erp.document_entries WHERE fid = ?", (fid,)
    )
    return units, all(row["stock_number"] == stock for row in rows)


def _judge(
    conn: sqlite3.Connection, row: sqlite3.Row, losses_kept: bool
) -> tuple[list[str], dict[str, Any], dict[str, Any]]:
    code = row["order_code"]
    sent = _units(
        conn,
        "SELECT item_code, actual_qty FROM wms.stockout_order_lines WHERE stockout_order_id = ?",
        (row["stockout_order_id"],),
    )
    arrived = row["received_status"] == "FULFILLED"
    received = (
        _units(
            conn,
            "SELECT item_code, actual_qty FROM wms.inbound_order_lines WHERE inbound_order_id = ?",
            (row["inbound_order_id"],),
        )
        if arrived
        else {}
    )
    lost = {item: qty - received.get(item, 0) for item, qty in sent.items()}
    lost = {item: qty for item, qty in lost.items() if qty}
    problems: list[str] = []
    outs = _documents(conn, TRANSFER_OUT_FORM, code)
    ins = _linked_ins(conn, code, outs)
    booked_out: dict[str, int] = {}
    booked_in: dict[str, int] = {}
    booked_loss: dict[str, int] = {}
    if not outs:
        problems.append("no transfer-out")
    elif len(outs) > 1:
        problems.append("more than one transfer-out")
    else:
        booked_out, at_sender = _entries(conn, int(outs[0]["fid"]), row["sender"])
        if outs[0]["document_status"] != "C":
            problems.append("transfer-out not audited")
        if booked_out != sent:
            problems.append("transfer-out quantities differ from the units sent")
        if not at_sender:
            problems.append("transfer-out not from the sending warehouse")
    if not arrived:
        if ins:
            problems.append("transfer-in before the goods arrived")
    elif not ins:
        problems.append("no transfer-in")
    elif len(ins) > 1:
        problems.append("more than one transfer-in")
    else:
        fid = int(ins[0]["fid"])
        booked_in, at_receiver = _entries(conn, fid, row["receiver"])
        if losses_kept:
            booked_loss = _units(
                conn,
                "SELECT e.material_number, t.loss_qty FROM erp.transfer_losses AS t"
                " JOIN erp.document_entries AS e ON e.fid = t.fid AND e.seq = t.seq"
                " WHERE t.fid = ?",
                (fid,),
            )
        if ins[0]["document_status"] != "C":
            problems.append("transfer-in not audited")
        if booked_in != received:
            problems.append("transfer-in quantities differ from the units received")
        if booked_loss != lost:
            problems.append("recorded loss differs from out - in")
        if not at_receiver:
            problems.append("transfer-in not into the receiving warehouse")
    expected = {
        "sender": row["sender"],
        "receiver": row["receiver"],
        "out": sent,
        "in": received if arrived else "in transit",
        "loss": lost if arrived else None,
    }
    observed = {
        "transfer_outs": [f"{r['bill_no']} ({r['document_status']})" for r in outs],
        "out": booked_out,
        "transfer_ins": [f"{r['bill_no']} ({r['document_status']})" for r in ins],
        "in": booked_in,
        "loss": booked_loss,
    }
    return problems, expected, observed


def transfers_balance(conn: sqlite3.Connection, objectives: Mapping[str, float]) -> InvariantResult:
    name = "transfers_balance"
    if not table_in_run(conn, "wms", "stockout_orders"):
        return result(name, DESCRIPTIONS[name], 0, 0, [])
    losses_kept = table_in_run(conn, "erp", "transfer_losses")
    transfers = conn.execute(TRANSFERS).fetchall()
    judged = {row["stockout_order_id"]: _judge(conn, row, losses_kept) for row in transfers}

    def example(row: sqlite3.Row, problems: list[str]) -> dict[str, Any]:
        _, expected, observed = judged[row["stockout_order_id"]]
        return {
            "entity": row["order_code"],
            "owner": row["owner_code"],
            "problem": "; ".join(problems),
            "expected": expected,
            "observed": observed,
            "history": history(conn, ("wms", "erp"), (row["order_code"],)),
        }

    return rows_result(
        name,
        DESCRIPTIONS[name],
        transfers,
        lambda row: judged[row["stockout_order_id"]][0],
        example,
    )


CHECKS = (transfers_balance,)
