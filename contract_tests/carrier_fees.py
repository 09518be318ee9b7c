"""Carrier fees: every closed fee statement is booked as exactly one audited AP_Payable to its
express company for its total, and its lines are each parcel the carrier carried (and each it
brought back) in the period once, at the fee the price card gives for its weight and zone.

A payable traces to a statement by its bill number, else its note, being the statement number
(docs/CONTRACT.md, "Carrier fees"). The second half checks the fake as much as the connector:
a statement that leaves a parcel out, or prices it off the card, is the carrier's error.
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from contract_tests.evidence import InvariantResult, history, rows_result, table_in_run, yuan
from fake_systems.carrier.fees import DELIVERY, RETURN, fee_cents, weight_grams, zone
from fake_systems.carrier.models import SHIPPERS, STATE_EX_RETURN_SIGNED

PAYABLE = "AP_Payable"

DESCRIPTIONS = {
    "carrier_fees_booked": (
        "every closed carrier fee statement is booked as exactly one audited AP_Payable (bill"
        " number or note = the statement number) to its express company's supplier for the"
        " statement's total; its lines add up to that total and are each parcel handed over"
        " and each parcel back with its sender in the period, once, at the price card's fee"
        " for its weight and zone; no carrier fee payable without a statement"
    ),
}


@dataclass
class Row:
    """One entity judged: a statement, a parcel movement no statement bills, or a carrier
    payable no statement explains."""

    entity: str
    statement: dict[str, Any] | None = None
    payables: list[dict[str, Any]] = field(default_factory=list)
    lines_cents: int = 0
    off_card: list[str] = field(default_factory=list)  # "<waybill> <kind>: billed x, card y"
    unbilled: str | None = None  # "delivery" | "return": a movement no statement bills
    billed_times: int = 0
    orphan: dict[str, Any] | None = None


def _card(line: sqlite3.Row) -> tuple[int, str, int]:
    """The parcel's weight in grams, its zone and its fee, as the price card has them."""
    grams = weight_grams(float(line["weight_kg"]))
    route_zone = zone(line["p_sender"], line["p_receiver"])
    return grams, route_zone, fee_cents(grams, route_zone)


def _rows(conn: sqlite3.Connection) -> list[Row]:
    if not table_in_run(conn, "carrier", "fee_statements"):
        return []  # a run from before the carrier billed fees: nothing to judge
    carriers = {spec.name for spec in SHIPPERS.values()}
    payables = [
        dict(r)
        for r in conn.execute(
            "SELECT d.bill_no, d.note, d.amount_cents, d.supplier_number,"
            " (SELECT s.name FROM erp.bd_supplier AS s WHERE s.number = d.supplier_number)"
            " AS supplier_name"
            " FROM erp.documents AS d WHERE d.form_id = ? AND d.document_status = 'C'"
            " ORDER BY d.fid",
            (PAYABLE,),
        )
    ]
    statements = [dict(r) for r in conn.execute("SELECT * FROM carrier.fee_statements")]
    lines: dict[str, list[sqlite3.Row]] = defaultdict(list)
    billed: dict[tuple[str, str], int] = defaultdict(int)
    for line in conn.execute(
        "SELECT l.*, p.weight_kg, p.sender_province AS p_sender,"
        " p.receiver_province AS p_receiver FROM carrier.fee_statement_lines AS l"
        " LEFT JOIN carrier.parcels AS p ON p.logistic_code = l.logistic_code"
        " ORDER BY l.statement_no, l.seq"
    ):
        lines[line["statement_no"]].append(line)
        billed[(line["logistic_code"], line["kind"])] += 1
    rows = []
    explained: set[int] = set()
    for statement in statements:
        number = statement["statement_no"]
        traced = [(i, p) for i, p in enumerate(payables) if number in (p["bill_no"], p["note"])]
        explained.update(i for i, _ in traced)
        off_card = []
        for line in lines[number]:
            if line["weight_kg"] is None:
                off_card.append(f"{line['logistic_code']} {line['kind']}: no such parcel")
                continue
            grams, route_zone, card = _card(line)
            if (line["weight_grams"], line["zone"], line["fee_cents"]) != (grams, route_zone, card):
                off_card.append(
                    f"{line['logistic_code']} {line['kind']}: billed {line['weight_grams']} g"
                    f" {line['zone']} {yuan(line['fee_cents'])}, card {grams} g {route_zone}"
                    f" {yuan(card)}"
                )
        rows.append(
            Row(
                entity=number,
                statement=statement,
                payables=[p for _, p in traced],
                lines_cents=sum(int(line["fee_cents"]) for line in lines[number]),
                off_card=off_card,
                billed_times=max(
                    (billed[(line["logistic_code"], line["kind"])] for line in lines[number]),
                    default=0,
                ),
            )
        )
    periods = {(s["period_start"], s["period_end"]) for s in statements}
    for start, end in sorted(periods):
        for (code,) in conn.execute(
            "SELECT logistic_code FROM carrier.parcels"
            " WHERE handed_over_sim >= ? AND handed_over_sim < ? ORDER BY logistic_code",
            (start, end),
        ):
            if billed[(code, DELIVERY)] == 0:
                rows.append(Row(entity=code, unbilled=DELIVERY))
        for (code,) in conn.execute(
            "SELECT logistic_code FROM carrier.traces WHERE action = ?"
            " GROUP BY logistic_code HAVING MIN(accept_time) >= ? AND MIN(accept_time) < ?"
            " ORDER BY logistic_code",
            (STATE_EX_RETURN_SIGNED, start, end),
        ):
            if billed[(code, RETURN)] == 0:
                rows.append(Row(entity=code, unbilled=RETURN))
    rows += [
        Row(entity=p["bill_no"], orphan=p)
        for i, p in enumerate(payables)
        if i not in explained and p["supplier_name"] in carriers
    ]
    return rows


def problems(row: Row) -> list[str]:
    """What is wrong with one statement (or unbilled parcel, or unexplained payable)."""
    if row.orphan is not None:
        return ["carrier fee payable without a statement"]
    if row.unbilled is not None:
        return [f"{row.unbilled} in a closed period on no statement"]
    statement = row.statement or {}
    found = []
    if row.lines_cents != statement.get("total_cents"):
        found.append("statement total differs from its lines")
    if row.off_card:
        found.append("line priced off the card")
    if row.billed_times > 1:
        found.append("parcel billed more than once")
    if not row.payables:
        found.append("statement not booked")
    elif len(row.payables) > 1:
        found.append("statement booked more than once")
    else:
        payable = row.payables[0]
        if payable["amount_cents"] != statement.get("total_cents"):
            found.append("payable differs from the statement's total")
        expected = SHIPPERS.get(str(statement.get("shipper_code")))
        if expected is not None and payable["supplier_name"] != expected.name:
            found.append("payable to another supplier than the express company")
    return found


def carrier_fees_booked(
    conn: sqlite3.Connection, objectives: Mapping[str, float]
) -> InvariantResult:
    rows = _rows(conn)

    def example(row: Row, kinds: list[str]) -> dict[str, Any]:
        statement = row.statement or {}
        payables = row.payables or ([row.orphan] if row.orphan else [])
        return {
            "entity": row.entity,
            "problem": "; ".join(kinds),
            "expected": {
                "audited AP_Payable": 1 if row.unbilled is None and not row.orphan else None,
                "amount": yuan(statement.get("total_cents")),
                "supplier": (
                    SHIPPERS[statement["shipper_code"]].name
                    if statement.get("shipper_code") in SHIPPERS
                    else None
                ),
                "lines": "each parcel of the period once, at the card's fee",
            },
            "observed": {
                "statement": statement.get("statement_no"),
                "period": (
                    f"{statement['period_start']} – {statement['period_end']}"
                    if statement
                    else None
                ),
                "lines add up to": yuan(row.lines_cents) if statement else None,
                "off the card": row.off_card[:5] or None,
                "unbilled": row.unbilled,
                "audited AP_Payable (bill, amount, supplier)": [
                    f"{p['bill_no']} {yuan(p['amount_cents'])} {p['supplier_name']}"
                    for p in payables
                ]
                or "none",
            },
            "history": history(
                conn, ("carrier", "erp"), (row.entity, *(p["bill_no"] for p in payables))
            ),
        }

    return rows_result(
        "carrier_fees_booked",
        DESCRIPTIONS["carrier_fees_booked"],
        rows,
        problems,
        example,
    )


CHECKS = (carrier_fees_booked,)
