"""Platform settlement bills in the OMS: per shop, order by order with commissions and refunds."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass

from fake_systems.common.context import SystemContext
from fake_systems.common.scope import OwnerScope
from fake_systems.common.storage import transaction
from fake_systems.oms.models import OmsError
from simulator.clock import format_qimen_time

SCHEMA = """
CREATE TABLE IF NOT EXISTS settlements (
    settlement_no     TEXT PRIMARY KEY,
    shop_no           TEXT NOT NULL,
    platform          TEXT NOT NULL,
    owner_code        TEXT NOT NULL,
    period_end        TEXT NOT NULL,            -- completed on or before this China date
    paid_cents        INTEGER NOT NULL,         -- what the buyers paid for the orders
    refund_cents      INTEGER NOT NULL,         -- refunded to them before the settlement
    commission_cents  INTEGER NOT NULL,         -- the platform's fee
    adjustment_cents  INTEGER NOT NULL,         -- the platform's own correction (+ or -)
    adjustment_reason TEXT NOT NULL DEFAULT '',
    net_cents         INTEGER NOT NULL,         -- paid - refund - commission + adjustment
    status            TEXT NOT NULL,            -- issued, paid (credited at the bank)
    created_sim       TEXT NOT NULL,
    created_wall      REAL NOT NULL,
    paid_sim          TEXT,
    paid_wall         REAL,
    entry_ref         TEXT                      -- the bank's entry that paid it
);
CREATE INDEX IF NOT EXISTS settlements_created ON settlements(created_sim, settlement_no);
CREATE TABLE IF NOT EXISTS settlement_lines (
    settlement_no     TEXT NOT NULL,
    trade_no          TEXT NOT NULL UNIQUE,     -- a trade settles once
    src_tid           TEXT NOT NULL,
    paid_cents        INTEGER NOT NULL,
    refund_cents      INTEGER NOT NULL,
    commission_cents  INTEGER NOT NULL,
    settled_cents     INTEGER NOT NULL,         -- paid - refund - commission
    completed_sim     TEXT NOT NULL,
    PRIMARY KEY (settlement_no, trade_no)
);
"""

ISSUED = "issued"
PAID = "paid"
# The longest window one search may ask for, as the trade query's (docs/protocols/oms.md).
MAX_PAGE_SIZE = 100


@dataclass(frozen=True)
class SettlementLine:
    """One order of a bill: what the buyer paid, what went back, the fee, what is left."""

    trade_no: str
    src_tid: str
    paid_cents: int
    refund_cents: int
    commission_cents: int
    completed_sim: str

    @property
    def settled_cents(self) -> int:
        return self.paid_cents - self.refund_cents - self.commission_cents


@dataclass(frozen=True)
class SettlementBill:
    settlement_no: str
    shop_no: str
    platform: str
    owner_code: str
    period_end: str
    lines: tuple[SettlementLine, ...]
    adjustment_cents: int = 0
    adjustment_reason: str = ""
    status: str = ISSUED
    created_sim: str = ""
    paid_sim: str | None = None
    entry_ref: str | None = None

    @property
    def paid_cents(self) -> int:
        return sum(line.paid_cents for line in self.lines)

    @property
    def refund_cents(self) -> int:
        return sum(line.refund_cents for line in self.lines)

    @property
    def commission_cents(self) -> int:
        return sum(line.commission_cents for line in self.lines)

    @property
    def net_cents(self) -> int:
        return sum(line.settled_cents for line in self.lines) + self.adjustment_cents


class SettlementUnknown(OmsError):
    """No settlement bill of that number within the caller's owners."""


class Settlements:
    """The settlement bills the platforms send the merchant; issued and paid by the simulator
    (simulator/settlement.py), read by the connector (`ecomock.Settlement.search`)."""

    def __init__(self, ctx: SystemContext) -> None:
        self.ctx = ctx
        self.conn: sqlite3.Connection = ctx.conn

    def setup(self) -> None:
        self.conn.executescript(SCHEMA)

    def unsettled_completed(self, shop_no: str, completed_before: str) -> list[sqlite3.Row]:
        """Completed trades of a shop, completed before `completed_before` (simulated text),
        not settled yet, with no refund under way (a platform holds those funds), and what
        was refunded of them."""
        rows: list[sqlite3.Row] = self.conn.execute(
            "SELECT o.trade_no, o.src_tid, o.paid_cents, o.completed_sim,"
            " (SELECT COALESCE(SUM(r.refund_cents), 0) FROM refunds AS r"
            "   WHERE r.trade_no = o.trade_no AND r.status IN (80, 90)) AS refund_cents"
            " FROM orders AS o WHERE o.shop_no = ? AND o.trade_status = 110"
            " AND o.completed_sim < ?"
            " AND NOT EXISTS (SELECT 1 FROM settlement_lines AS s WHERE s.trade_no = o.trade_no)"
            " AND NOT EXISTS (SELECT 1 FROM refunds AS r WHERE r.trade_no = o.trade_no"
            "   AND r.status IN (20, 30, 40))"
            " ORDER BY o.completed_sim, o.trade_no",
            (shop_no, completed_before),
        ).fetchall()
        return rows

    def issue(self, bill: SettlementBill) -> None:
        """Store a new bill (status issued)."""
        now = self.ctx.clock.now()
        with transaction(self.conn):
            self.conn.execute(
                "INSERT INTO settlements (settlement_no, shop_no, platform, owner_code,"
                " period_end, paid_cents, refund_cents, commission_cents, adjustment_cents,"
                " adjustment_reason, net_cents, status, created_sim, created_wall)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    bill.settlement_no,
                    bill.shop_no,
                    bill.platform,
                    bill.owner_code,
                    bill.period_end,
                    bill.paid_cents,
                    bill.refund_cents,
                    bill.commission_cents,
                    bill.adjustment_cents,
                    bill.adjustment_reason,
                    bill.net_cents,
                    ISSUED,
                    format_qimen_time(now),
                    self.ctx.clock.wall(),
                ),
            )
            self.conn.executemany(
                "INSERT INTO settlement_lines (settlement_no, trade_no, src_tid, paid_cents,"
                " refund_cents, commission_cents, settled_cents, completed_sim)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        bill.settlement_no,
                        line.trade_no,
                        line.src_tid,
                        line.paid_cents,
                        line.refund_cents,
                        line.commission_cents,
                        line.settled_cents,
                        line.completed_sim,
                    )
                    for line in bill.lines
                ],
            )
            self.ctx.history.record(
                "state",
                "settlement",
                ISSUED,
                bill.settlement_no,
                {"shop_no": bill.shop_no, "orders": len(bill.lines), "net_cents": bill.net_cents},
            )

    def mark_paid(self, settlement_no: str, entry_ref: str) -> None:
        """The platform's transfer was credited at the bank as `entry_ref`."""
        with transaction(self.conn):
            self.conn.execute(
                "UPDATE settlements SET status = ?, paid_sim = ?, paid_wall = ?, entry_ref = ?"
                " WHERE settlement_no = ?",
                (
                    PAID,
                    format_qimen_time(self.ctx.clock.now()),
                    self.ctx.clock.wall(),
                    entry_ref,
                    settlement_no,
                ),
            )
            self.ctx.history.record(
                "state", "settlement", PAID, settlement_no, {"entry_ref": entry_ref}
            )

    def get(self, settlement_no: str, scope: OwnerScope = OwnerScope.EVERYONE) -> SettlementBill:
        """One bill with its lines; SettlementUnknown if none is visible to `scope` (another
        owner's bill is as unknown as one that does not exist)."""
        row = self.conn.execute(
            "SELECT * FROM settlements WHERE settlement_no = ?", (settlement_no,)
        ).fetchone()
        if row is None or not scope.allows(row["owner_code"]):
            raise SettlementUnknown(f"结算单[{settlement_no}]不存在")
        return self._bill(row)

    def search(
        self,
        start: str,
        end: str,
        page_size: int,
        page_no: int,
        scope: OwnerScope = OwnerScope.EVERYONE,
    ) -> tuple[int, list[SettlementBill]]:
        """Bills created in [start, end) (simulated text) visible to `scope`, a page of them."""
        where = "created_sim >= ? AND created_sim < ?"
        args: list[object] = [start, end]
        if scope.owners is not None:
            marks = ", ".join("?" for _ in scope.owners)
            where += f" AND owner_code IN ({marks})"
            args.extend(sorted(scope.owners))
        (total,) = self.conn.execute(
            f"SELECT COUNT(*) FROM settlements WHERE {where}", args
        ).fetchone()
        rows = self.conn.execute(
            f"SELECT * FROM settlements WHERE {where} ORDER BY created_sim, settlement_no"
            " LIMIT ? OFFSET ?",
            (*args, page_size, page_size * page_no),
        ).fetchall()
        return int(total), [self._bill(row) for row in rows]

    def _bill(self, row: sqlite3.Row) -> SettlementBill:
        lines: Sequence[sqlite3.Row] = self.conn.execute(
            "SELECT * FROM settlement_lines WHERE settlement_no = ? ORDER BY trade_no",
            (row["settlement_no"],),
        ).fetchall()
        return SettlementBill(
            settlement_no=row["settlement_no"],
            shop_no=row["shop_no"],
            platform=row["platform"],
            owner_code=row["owner_code"],
            period_end=row["period_end"],
            lines=tuple(
                SettlementLine(
                    line["trade_no"],
                    line["src_tid"],
                    line["paid_cents"],
                    line["refund_cents"],
                    line["commission_cents"],
                    line["completed_sim"],
                )
                for line in lines
            ),
            adjustment_cents=row["adjustment_cents"],
            adjustment_reason=row["adjustment_reason"],
            status=row["status"],
            created_sim=row["created_sim"],
            paid_sim=row["paid_sim"],
            entry_ref=row["entry_ref"],
        )
