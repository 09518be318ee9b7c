"""Available stock per spec per warehouse: set by the stock pushes (stockSyncByPd), taken by
every sale, and every sale beyond it recorded as an oversell (超卖) the judge reads."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping

SCHEMA = """
CREATE TABLE IF NOT EXISTS oversells (
    seq           INTEGER PRIMARY KEY,
    trade_no      TEXT NOT NULL,
    warehouse_no  TEXT NOT NULL,
    spec_no       TEXT NOT NULL,
    num           INTEGER NOT NULL,      -- units the line sold
    available     INTEGER NOT NULL,      -- what the OMS had for sale before it
    sim_time      TEXT NOT NULL,
    wall_time     REAL NOT NULL
);
"""


def seed(conn: sqlite3.Connection, initial: Mapping[tuple[str, str], int], now: str) -> None:
    """The world's opening stock, as a count before the run would have set it; a stored
    number (an earlier run's, a count's) is kept."""
    conn.executescript(SCHEMA)
    conn.executemany(
        "INSERT OR IGNORE INTO stock (warehouse_no, spec_no, defect, stock_num, modified_sim)"
        " VALUES (?, ?, 0, ?, ?)",
        [(warehouse, spec, qty, now) for (warehouse, spec), qty in initial.items()],
    )


def take(
    conn: sqlite3.Connection,
    trade_no: str,
    warehouse_no: str,
    lines: Iterable[tuple[str, int]],
    now: str,
    wall: float,
) -> None:
    """A paid trade takes its units (spec, num) from the warehouse's sound stock, inside the
    caller's transaction. The sale stands whatever the stock (the platform took the money):
    one beyond it is an oversell, and the stock goes negative until a push sets it again."""
    for spec_no, num in lines:
        row = conn.execute(
            "SELECT stock_num FROM stock WHERE warehouse_no = ? AND spec_no = ? AND defect = 0",
            (warehouse_no, spec_no),
        ).fetchone()
        available = 0 if row is None else int(row[0])
        if num > available:
            conn.execute(
                "INSERT INTO oversells (trade_no, warehouse_no, spec_no, num, available,"
                " sim_time, wall_time) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (trade_no, warehouse_no, spec_no, num, available, now, wall),
            )
        conn.execute(
            "INSERT INTO stock (warehouse_no, spec_no, defect, stock_num, modified_sim)"
            " VALUES (?, ?, 0, ?, ?) ON CONFLICT (warehouse_no, spec_no, defect)"
            " DO UPDATE SET stock_num = excluded.stock_num, modified_sim = excluded.modified_sim",
            (warehouse_no, spec_no, available - num, now),
        )
