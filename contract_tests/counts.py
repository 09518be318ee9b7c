"""Cycle counts (issue 13): every count the WMS adjusted its books by is booked once in the
ERP, per item and warehouse: one audited STK_StockCountGain of the units counted over the
books, one audited STK_StockCountLoss of those counted under; and a count whose differences
exceed its ABC class's tolerance (A 0.3 %, B 0.5 %, C 1 % of the units on the books of the
items counted) is flagged (its bills' FNote start with `[超差]`), one within it is not.

A count's bills are found by bill number or note = the check order code (the flag before
it). Old runs (before counts) have nothing to check: 0 checked, passed.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from contract_tests.evidence import InvariantResult, history, result, rows_result, table_in_run

GAIN_FORM, LOSS_FORM = "STK_StockCountGain", "STK_StockCountLoss"
FLAG = "[超差]"
TOLERANCE = {"A": Decimal("0.003"), "B": Decimal("0.005"), "C": Decimal("0.01")}

DESCRIPTIONS = {
    "count_adjustments_booked": (
        "every cycle count the WMS adjusted its books by has exactly one audited"
        " STK_StockCountGain of the units counted over the books and one audited"
        " STK_StockCountLoss of those counted under, per item at the counted warehouse"
        " (none where there are none); a count whose differences exceed its ABC class's"
        " tolerance (A 0.3 %, B 0.5 %, C 1 % of the units on the books) is flagged in its"
        " bills' note ([超差]), one within it is not"
    ),
}

# Counts that moved the books: at least one item off.
COUNTS = """
    SELECT o.check_order_id, o.check_order_code, o.owner_code, o.warehouse_code, o.abc_class
    FROM wms.count_orders AS o
    WHERE EXISTS (SELECT 1 FROM wms.count_order_lines AS l
                  WHERE l.check_order_id = o.check_order_id AND l.difference != 0)
    ORDER BY o.checked_wall, o.check_order_code"""


def out_of_tolerance(abc_class: str, book: int, off: int) -> bool:
    """Whether `off` units of difference exceed the class's tolerance of `book` units."""
    limit = TOLERANCE.get(abc_class, min(TOLERANCE.values()))
    return off > 0 and (book <= 0 or Decimal(off) > limit * book)


def _documents(conn: sqlite3.Connection, form: str, code: str) -> list[sqlite3.Row]:
    return conn.execute(
        "SELECT fid, bill_no, document_status, note FROM erp.documents WHERE form_id = ?"
        " AND (bill_no = ? OR note = ? OR note = ?) ORDER BY fid",
        (form, code, code, f"{FLAG} {code}"),
    ).fetchall()


def _booked(
    conn: sqlite3.Connection, docs: list[sqlite3.Row], warehouse: str
) -> tuple[dict[str, int], bool]:
    """Units per material over `docs`, and whether every entry is at `warehouse`."""
    units: dict[str, int] = {}
    here = True
    for doc in docs:
        for item, qty, stock in conn.execute(
            "SELECT material_number, qty, stock_number FROM erp.document_entries WHERE fid = ?",
            (doc["fid"],),
        ):
            units[str(item)] = units.get(str(item), 0) + int(qty or 0)
            here = here and stock == warehouse
    return {item: qty for item, qty in units.items() if qty}, here


def _judge(
    conn: sqlite3.Connection, row: sqlite3.Row
) -> tuple[list[str], dict[str, Any], dict[str, Any]]:
    code, warehouse = row["check_order_code"], row["warehouse_code"]
    lines = conn.execute(
        "SELECT item_code, book_qty, difference FROM wms.count_order_lines"
        " WHERE check_order_id = ?",
        (row["check_order_id"],),
    ).fetchall()
    gains = {str(x["item_code"]): int(x["difference"]) for x in lines if x["difference"] > 0}
    losses = {str(x["item_code"]): -int(x["difference"]) for x in lines if x["difference"] < 0}
    book = sum(int(x["book_qty"]) for x in lines)
    off = sum(gains.values()) + sum(losses.values())
    flagged = out_of_tolerance(row["abc_class"], book, off)
    problems: list[str] = []
    observed: dict[str, Any] = {}
    for label, form, wanted in (("gain", GAIN_FORM, gains), ("loss", LOSS_FORM, losses)):
        docs = _documents(conn, form, code)
        units, here = _booked(conn, docs, warehouse)
        observed[f"{label}_bills"] = [f"{d['bill_no']} ({d['document_status']})" for d in docs]
        observed[label] = units
        if wanted and not docs:
            problems.append(f"no count {label}")
        elif len(docs) > 1:
            problems.append(f"more than one count {label}")
        elif not wanted and docs:
            problems.append(f"a count {label} where the count found none")
        if docs and any(d["document_status"] != "C" for d in docs):
            problems.append(f"count {label} not audited")
        if docs and units != wanted:
            problems.append(f"count {label} quantities differ from the count")
        if not here:
            problems.append(f"count {label} not at the counted warehouse")
        for doc in docs:
            if str(doc["note"] or "").startswith(FLAG) != flagged:
                problems.append(
                    "out of tolerance and not flagged" if flagged else "flagged within tolerance"
                )
                break
    problems = list(dict.fromkeys(problems))  # the flag once, however many bills carry it
    expected = {
        "warehouse": warehouse,
        "abc_class": row["abc_class"],
        "gain": gains,
        "loss": losses,
        "book_qty": book,
        "flagged": flagged,
    }
    return problems, expected, observed


def count_adjustments_booked(
    conn: sqlite3.Connection, objectives: Mapping[str, float]
) -> InvariantResult:
    name = "count_adjustments_booked"
    if not table_in_run(conn, "wms", "count_orders"):
        return result(name, DESCRIPTIONS[name], 0, 0, [])
    counts = conn.execute(COUNTS).fetchall()
    judged = {row["check_order_id"]: _judge(conn, row) for row in counts}

    def example(row: sqlite3.Row, problems: list[str]) -> dict[str, Any]:
        _, expected, observed = judged[row["check_order_id"]]
        return {
            "entity": row["check_order_code"],
            "owner": row["owner_code"],
            "problem": "; ".join(problems),
            "expected": expected,
            "observed": observed,
            "history": history(conn, ("wms", "erp"), (row["check_order_code"],)),
        }

    return rows_result(
        name,
        DESCRIPTIONS[name],
        counts,
        lambda row: judged[row["check_order_id"]][0],
        example,
    )


CHECKS = (count_adjustments_booked,)
