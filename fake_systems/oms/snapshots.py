"""The OMS's stock at each inventory snapshot: the harness's recording for the three-ledger
check (issue 13), taken by the simulator at the same instant as the WMS's snapshot
(simulator/snapshots.py), never served over the OMS's API.

Per warehouse and spec: the sound stock (`stock.stock_num`, what the OMS may still sell),
the units it holds for paid trades not shipped (`trade_status` 30), and when a stock count
(stockSyncByPd) last set the number (NULL: never, the world's opening stock less the sales).
"""

from __future__ import annotations

from fake_systems.common.context import SystemContext
from fake_systems.common.storage import transaction
from simulator.clock import format_qimen_time

SCHEMA = """
CREATE TABLE IF NOT EXISTS stock_snapshots (
    snapshot_id   INTEGER NOT NULL,          -- the WMS's inventory snapshot of the same instant
    taken_sim     TEXT NOT NULL,
    taken_wall    REAL NOT NULL,
    warehouse_no  TEXT NOT NULL,
    spec_no       TEXT NOT NULL,
    stock_num     INTEGER NOT NULL,          -- available: sound stock (defect 0)
    reserved      INTEGER NOT NULL,          -- units of paid trades not shipped (status 30)
    set_sim       TEXT,                      -- the stock count that last set stock_num
    set_wall      REAL,                      -- (NULL: none, the opening stock)
    PRIMARY KEY (snapshot_id, warehouse_no, spec_no)
);
-- The trades a snapshot counts as reserved, without reading every trade of the run.
CREATE INDEX IF NOT EXISTS orders_paid_open ON orders(warehouse_no) WHERE trade_status = 30;
"""


class StockSnapshots:
    """Takes and keeps the OMS's stock snapshots."""

    def __init__(self, ctx: SystemContext) -> None:
        self.ctx = ctx
        self.conn = ctx.conn

    def setup(self) -> None:
        """Create the table (idempotent); after the OMS's own tables, whose index it adds."""
        self.conn.executescript(SCHEMA)

    def take(self, snapshot_id: int) -> None:
        """Record every warehouse's sound stock, reserved units and last count per spec now,
        in one transaction, under the id of the WMS's snapshot taken at the same instant."""
        now_sim, now_wall = format_qimen_time(self.ctx.clock.now()), self.ctx.clock.wall()
        with transaction(self.conn):
            self.conn.execute(
                "INSERT INTO stock_snapshots SELECT ?, ?, ?, s.warehouse_no, s.spec_no,"
                " s.stock_num, COALESCE(r.units, 0), c.created_sim, c.created_wall"
                " FROM stock AS s"
                " LEFT JOIN (SELECT o.warehouse_no, l.spec_no, SUM(l.num) AS units"
                "   FROM orders AS o JOIN order_lines AS l ON l.trade_no = o.trade_no"
                "   WHERE o.trade_status = 30 GROUP BY o.warehouse_no, l.spec_no) AS r"
                "   ON r.warehouse_no = s.warehouse_no AND r.spec_no = s.spec_no"
                " LEFT JOIN stock_counts AS c ON c.pd_id = s.pd_id"
                " WHERE s.defect = 0",
                (snapshot_id, now_sim, now_wall),
            )
            self.ctx.history.record("state", "stock.snapshot", "TAKEN", str(snapshot_id))
