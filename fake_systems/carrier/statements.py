"""The carrier's fee statements (对账单): per merchant account, express company and period,
one line per parcel handed over in the period and one per parcel back with its sender (406)
in it, each at the price card's fee (fake_systems/carrier/fees.py).

LIMITATIONS (what the fake does not imitate):
- No disputes, credits or re-issued statements: a closed statement never changes.
- No surcharges (insurance 保价, remote areas, volumetric weight 体积重): weight only.
- A line is billed once, in the period its event (hand-over, return) falls in; a waybill
  cancelled before hand-over costs nothing.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime

from fake_systems.carrier.fees import DELIVERY, RETURN, fee_cents, weight_grams, zone
from fake_systems.carrier.models import STATE_EX_RETURN_SIGNED
from fake_systems.common.storage import transaction
from simulator.clock import format_qimen_time

SCHEMA = """
CREATE TABLE IF NOT EXISTS fee_statements (
    statement_no   TEXT PRIMARY KEY,   -- FS<yyyyMMdd of the period's start>-<ShipperCode>-<account>
    ebusiness_id   TEXT NOT NULL,      -- the merchant account billed
    shipper_code   TEXT NOT NULL,
    period_start   TEXT NOT NULL,      -- simulated, inclusive
    period_end     TEXT NOT NULL,      -- simulated, exclusive
    closed_sim     TEXT NOT NULL,
    total_cents    INTEGER NOT NULL,
    line_count     INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS fee_statement_lines (
    statement_no      TEXT NOT NULL,
    seq               INTEGER NOT NULL,
    logistic_code     TEXT NOT NULL,
    kind              TEXT NOT NULL,    -- delivery | return
    weight_grams      INTEGER NOT NULL,
    sender_province   TEXT NOT NULL,
    receiver_province TEXT NOT NULL,
    zone              TEXT NOT NULL,    -- same | near | far
    fee_cents         INTEGER NOT NULL,
    event_sim         TEXT NOT NULL,    -- the hand-over, or the return to the sender
    PRIMARY KEY (statement_no, seq),
    UNIQUE (logistic_code, kind)        -- each parcel's way out and way back billed once
);
"""


@dataclass(frozen=True)
class StatementLine:
    """One billed parcel movement."""

    logistic_code: str
    kind: str
    weight_grams: int
    sender_province: str
    receiver_province: str
    zone: str
    fee_cents: int
    event_sim: str


def _events(
    conn: sqlite3.Connection, start: str, end: str, default_account: str
) -> list[tuple[str, str, str, sqlite3.Row]]:
    """(account, shipper, kind, parcel row) of every movement in [start, end) not billed."""
    account = "COALESCE(NULLIF(w.ebusiness_id, ''), ?)"
    columns = (
        f"{account} AS account, p.shipper_code, p.logistic_code, p.weight_kg,"
        " p.sender_province, p.receiver_province"
    )
    delivered = conn.execute(
        f"SELECT {columns}, p.handed_over_sim AS event_sim FROM parcels AS p"
        " LEFT JOIN waybills AS w ON w.logistic_code = p.logistic_code"
        " WHERE p.handed_over_sim >= ? AND p.handed_over_sim < ?"
        " AND NOT EXISTS (SELECT 1 FROM fee_statement_lines AS l"
        "  WHERE l.logistic_code = p.logistic_code AND l.kind = ?)"
        " ORDER BY p.handed_over_sim, p.logistic_code",
        (default_account, start, end, DELIVERY),
    ).fetchall()
    returned = conn.execute(
        f"SELECT {columns}, MIN(t.accept_time) AS event_sim FROM parcels AS p"
        " JOIN traces AS t ON t.logistic_code = p.logistic_code AND t.action = ?"
        " LEFT JOIN waybills AS w ON w.logistic_code = p.logistic_code"
        " WHERE NOT EXISTS (SELECT 1 FROM fee_statement_lines AS l"
        "  WHERE l.logistic_code = p.logistic_code AND l.kind = ?)"
        " GROUP BY p.logistic_code HAVING MIN(t.accept_time) >= ? AND MIN(t.accept_time) < ?"
        " ORDER BY event_sim, p.logistic_code",
        (default_account, STATE_EX_RETURN_SIGNED, RETURN, start, end),
    ).fetchall()
    return [(r["account"], r["shipper_code"], DELIVERY, r) for r in delivered] + [
        (r["account"], r["shipper_code"], RETURN, r) for r in returned
    ]


def line_of(row: sqlite3.Row, kind: str) -> StatementLine:
    """A parcel's line: its weight and route priced by the card."""
    grams = weight_grams(float(row["weight_kg"]))
    route_zone = zone(row["sender_province"], row["receiver_province"])
    return StatementLine(
        row["logistic_code"],
        kind,
        grams,
        row["sender_province"],
        row["receiver_province"],
        route_zone,
        fee_cents(grams, route_zone),
        row["event_sim"],
    )


def close_period(
    conn: sqlite3.Connection, start: datetime, end: datetime, default_account: str, now: str
) -> list[str]:
    """Issue the statements of [start, end): one per account and express company with
    anything to bill; returns their numbers (none for a period closed already)."""
    first, last = format_qimen_time(start), format_qimen_time(end)
    groups: dict[tuple[str, str], list[StatementLine]] = {}
    for account, shipper, kind, row in _events(conn, first, last, default_account):
        groups.setdefault((account, shipper), []).append(line_of(row, kind))
    issued = []
    with transaction(conn):
        for (account, shipper), lines in sorted(groups.items()):
            number = f"FS{start:%Y%m%d}-{shipper}-{account}"
            lines.sort(key=lambda line: (line.event_sim, line.logistic_code, line.kind))
            conn.execute(
                "INSERT INTO fee_statements (statement_no, ebusiness_id, shipper_code,"
                " period_start, period_end, closed_sim, total_cents, line_count)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    number,
                    account,
                    shipper,
                    first,
                    last,
                    now,
                    sum(line.fee_cents for line in lines),
                    len(lines),
                ),
            )
            conn.executemany(
                "INSERT INTO fee_statement_lines VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(number, seq, *line.__dict__.values()) for seq, line in enumerate(lines, start=1)],
            )
            issued.append(number)
    return issued


def statements(
    conn: sqlite3.Connection, account: str, offset: int, limit: int
) -> tuple[int, list[sqlite3.Row]]:
    """The account's closed statements, oldest first: (how many in all, one page)."""
    total = conn.execute(
        "SELECT COUNT(*) FROM fee_statements WHERE ebusiness_id = ?", (account,)
    ).fetchone()[0]
    rows = conn.execute(
        "SELECT * FROM fee_statements WHERE ebusiness_id = ?"
        " ORDER BY period_start, statement_no LIMIT ? OFFSET ?",
        (account, limit, offset),
    ).fetchall()
    return int(total), rows


def statement(conn: sqlite3.Connection, account: str, number: str) -> sqlite3.Row | None:
    """One of the account's statements (another account's is as unknown as none)."""
    row: sqlite3.Row | None = conn.execute(
        "SELECT * FROM fee_statements WHERE statement_no = ? AND ebusiness_id = ?",
        (number, account),
    ).fetchone()
    return row


def lines(conn: sqlite3.Connection, number: str, offset: int, limit: int) -> list[sqlite3.Row]:
    """A page of a statement's lines, in order."""
    return conn.execute(
        "SELECT * FROM fee_statement_lines WHERE statement_no = ? ORDER BY seq LIMIT ? OFFSET ?",
        (number, limit, offset),
    ).fetchall()
