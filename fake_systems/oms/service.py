"""The OMS domain service: paid trades, the modified-time query, shipping and completion."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import timedelta

from fake_systems.common.context import SystemContext
from fake_systems.common.credentials import OmsCredentials
from fake_systems.common.storage import transaction
from fake_systems.oms.models import (
    TRACE_SIGNED,
    InvalidRequest,
    NewTrade,
    StateConflict,
    Trade,
    TradeLine,
    TradePage,
    TradeStatus,
    UnknownTrade,
    WindowTooLong,
)
from simulator.clock import format_qimen_time, parse_qimen_time
from simulator.world import Shop, World

MAX_WINDOW = timedelta(minutes=60)
MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 40

SCHEMA = """
CREATE TABLE IF NOT EXISTS shops (
    shop_no     TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    platform    TEXT NOT NULL,
    owner_code  TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS warehouses (
    warehouse_no    TEXT PRIMARY KEY,
    name            TEXT NOT NULL,
    logistics_code  TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS orders (
    trade_no            TEXT PRIMARY KEY,
    src_tid             TEXT NOT NULL,
    shop_no             TEXT NOT NULL,
    platform            TEXT NOT NULL,
    owner_code          TEXT NOT NULL,
    warehouse_no        TEXT NOT NULL,
    logistics_code      TEXT NOT NULL,
    trade_status        INTEGER NOT NULL,
    goods_cents         INTEGER NOT NULL,
    discount_cents      INTEGER NOT NULL,
    post_cents          INTEGER NOT NULL,
    paid_cents          INTEGER NOT NULL,
    receiver_name       TEXT NOT NULL,
    receiver_mobile     TEXT NOT NULL,
    receiver_province   TEXT NOT NULL,
    receiver_city       TEXT NOT NULL,
    receiver_district   TEXT NOT NULL,
    receiver_address    TEXT NOT NULL,
    paid_sim            TEXT NOT NULL,
    paid_wall           REAL NOT NULL,
    modified_sim        TEXT NOT NULL,
    logistics_no        TEXT,
    shipped_sim         TEXT,
    shipped_wall        REAL,
    completed_sim       TEXT,
    completed_wall      REAL,
    cancelled_sim       TEXT
);
CREATE INDEX IF NOT EXISTS orders_modified ON orders(modified_sim, trade_no);
CREATE TABLE IF NOT EXISTS order_lines (
    rec_id          INTEGER PRIMARY KEY,
    trade_no        TEXT NOT NULL,
    src_oid         TEXT NOT NULL,
    src_tid         TEXT NOT NULL,
    spec_no         TEXT NOT NULL,
    goods_name      TEXT NOT NULL,
    num             INTEGER NOT NULL,
    price_cents     INTEGER NOT NULL,
    share_cents     INTEGER NOT NULL,
    refund_status   INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS order_lines_trade ON order_lines(trade_no, rec_id);
CREATE TABLE IF NOT EXISTS logistics_traces (
    seq           INTEGER PRIMARY KEY,
    trade_no      TEXT NOT NULL,
    logistics_no  TEXT NOT NULL,
    state         INTEGER NOT NULL,
    sim_time      TEXT NOT NULL,
    wall_time     REAL NOT NULL
);
"""

_INSERT_ORDER = (
    "INSERT INTO orders (trade_no, src_tid, shop_no, platform, owner_code, warehouse_no,"
    " logistics_code, trade_status, goods_cents, discount_cents, post_cents, paid_cents,"
    " receiver_name, receiver_mobile, receiver_province, receiver_city, receiver_district,"
    " receiver_address, paid_sim, paid_wall, modified_sim)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_INSERT_LINE = (
    "INSERT INTO order_lines (rec_id, trade_no, src_oid, src_tid, spec_no, goods_name, num,"
    " price_cents, share_cents, refund_status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0)"
)


class OmsService:
    """A 旺店通-style OMS: trades arrive paid (30), get shipped (95), then completed (110).

    LIMITATIONS (what the fake does not imitate):
    - No unpaid (10) or reviewed (55) stage: trades are created paid, review is implicit.
    - No split or merged trades (trade_mask), no gifts logic, no refunds or after-sales
      (refund_status is always 0), no partial shipment: one waybill per trade.
    - platform_id is the shop's platform code ("TM", "JD", "DY"), not 旺店通's numeric id.
    - trade_time equals pay_time; the fake does not model the unpaid interval.
    - Pages of a modified-time window are computed per request: a trade modified between two
      page requests moves, as in real systems (overlap windows and dedupe by trade_no).
    - Only the trace state 3 (signed) changes a trade; other states are only recorded.
    - No inventory, no master-data API: shops and warehouses come from the world.
    """

    def __init__(self, ctx: SystemContext, credentials: OmsCredentials) -> None:
        self.ctx = ctx
        self.conn: sqlite3.Connection = ctx.conn
        self.credentials = credentials
        self._shops: dict[str, Shop] = {}
        self._trade_seq = 0
        self._rec_id = 0

    # ---------------------------------------------------------------- setup

    def setup(self, world: World) -> None:
        """Create the tables (idempotent) and load shops and warehouses from the world."""
        self.conn.executescript(SCHEMA)
        with transaction(self.conn):
            self.conn.executemany(
                "INSERT OR REPLACE INTO shops (shop_no, name, platform, owner_code)"
                " VALUES (?, ?, ?, ?)",
                [(s.shop_no, s.name, s.platform, s.owner_code) for s in world.shops],
            )
            self.conn.executemany(
                "INSERT OR REPLACE INTO warehouses (warehouse_no, name, logistics_code)"
                " VALUES (?, ?, ?)",
                [(w.code, w.name, w.carrier_code) for w in world.warehouses],
            )
        self._shops = {shop.shop_no: shop for shop in world.shops}
        # Continue numbering after whatever an earlier run left in the same database.
        row = self.conn.execute(
            "SELECT COALESCE(MAX(CAST(substr(trade_no, 9) AS INTEGER)), 0),"
            " (SELECT COALESCE(MAX(rec_id), 0) FROM order_lines) FROM orders"
        ).fetchone()
        self._trade_seq, self._rec_id = int(row[0]), int(row[1])

    # ---------------------------------------------------------------- creation

    def create_paid_order(self, trade: NewTrade) -> str:
        """Store a paid platform order as trade_status 30 and return its 16-digit trade_no.

        trade_no = simulated pay date `yyyyMMdd` + an 8-digit run-wide sequence, so the
        same seed gives the same numbers.
        """
        shop = self._shops.get(trade.shop_no)
        if shop is None:
            raise InvalidRequest(f"unknown shop {trade.shop_no!r}")
        if not trade.lines:
            raise InvalidRequest("a trade needs at least one line")
        goods = 0
        share = 0
        for line in trade.lines:
            if line.num <= 0:
                raise InvalidRequest(f"line {line.spec_no}: num must be positive")
            goods += line.price_cents * line.num
            share += line.share_cents
        clock = self.ctx.clock
        now = clock.now()
        now_text = format_qimen_time(now)
        wall = clock.wall()
        trade_no = f"{now:%Y%m%d}{self._trade_seq + 1:08d}"
        first_rec_id = self._rec_id + 1
        receiver = trade.receiver
        paid = share + trade.post_cents
        lines = [
            (
                first_rec_id + i,
                trade_no,
                f"{trade.src_tid}-{i + 1}",
                trade.src_tid,
                line.spec_no,
                line.goods_name,
                line.num,
                line.price_cents,
                line.share_cents,
            )
            for i, line in enumerate(trade.lines)
        ]
        with transaction(self.conn):
            self.conn.execute(
                _INSERT_ORDER,
                (
                    trade_no,
                    trade.src_tid,
                    shop.shop_no,
                    shop.platform,
                    shop.owner_code,
                    trade.warehouse_no,
                    trade.logistics_code,
                    int(TradeStatus.PAID),
                    goods,
                    goods - share,
                    trade.post_cents,
                    paid,
                    receiver.name,
                    receiver.mobile,
                    receiver.province,
                    receiver.city,
                    receiver.area,
                    receiver.address,
                    now_text,
                    wall,
                    now_text,
                ),
            )
            self.conn.executemany(_INSERT_LINE, lines)
            self.ctx.history.record(
                "state",
                "trade",
                str(int(TradeStatus.PAID)),
                trade_no,
                {"src_tid": trade.src_tid, "shop_no": shop.shop_no, "paid_cents": paid},
            )
        # Counters move only once the rows are in, so a failed insert reuses the numbers.
        self._trade_seq += 1
        self._rec_id += len(lines)
        return trade_no

    # ---------------------------------------------------------------- query

    def query_trades(
        self,
        start_time: str,
        end_time: str,
        status: int | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
        page_no: int = 0,
    ) -> TradePage:
        """Trades with start_time <= modified < end_time (simulated), by (modified, trade_no).

        Raises InvalidRequest on malformed times or pager, WindowTooLong beyond 60 minutes.
        """
        try:
            start = parse_qimen_time(start_time)
            end = parse_qimen_time(end_time)
        except (TypeError, ValueError) as exc:
            raise InvalidRequest("start_time and end_time must be yyyy-MM-dd HH:mm:ss") from exc
        if end < start:
            raise InvalidRequest("end_time is before start_time")
        if end - start > MAX_WINDOW:
            raise WindowTooLong("end_time - start_time must not exceed 60 minutes")
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise InvalidRequest(f"page_size must be between 1 and {MAX_PAGE_SIZE}")
        if page_no < 0:
            raise InvalidRequest("page_no must not be negative")
        # Normalised texts compare correctly as strings: the format is fixed-width.
        where = "modified_sim >= ? AND modified_sim < ?"
        args: list[object] = [format_qimen_time(start), format_qimen_time(end)]
        if status is not None:
            where += " AND trade_status = ?"
            args.append(status)
        total = int(
            self.conn.execute(f"SELECT COUNT(*) FROM orders WHERE {where}", args).fetchone()[0]
        )
        rows = self.conn.execute(
            f"SELECT * FROM orders WHERE {where} ORDER BY modified_sim, trade_no LIMIT ? OFFSET ?",
            [*args, page_size, page_no * page_size],
        ).fetchall()
        return TradePage(total_count=total, trades=self._with_lines(rows))

    def get_trade(self, trade_no: str) -> Trade | None:
        """One trade with its lines, or None."""
        row = self.conn.execute("SELECT * FROM orders WHERE trade_no = ?", (trade_no,)).fetchone()
        if row is None:
            return None
        return self._with_lines([row])[0]

    def _with_lines(self, rows: Sequence[sqlite3.Row]) -> tuple[Trade, ...]:
        if not rows:
            return ()
        trade_nos = [row["trade_no"] for row in rows]
        marks = ",".join("?" * len(trade_nos))
        by_trade: dict[str, list[TradeLine]] = {no: [] for no in trade_nos}
        for line in self.conn.execute(
            "SELECT rec_id, trade_no, src_oid, src_tid, spec_no, goods_name, num, price_cents,"
            f" share_cents, refund_status FROM order_lines WHERE trade_no IN ({marks})"
            " ORDER BY trade_no, rec_id",
            trade_nos,
        ):
            by_trade[line[1]].append(
                TradeLine(
                    rec_id=line[0],
                    src_oid=line[2],
                    src_tid=line[3],
                    spec_no=line[4],
                    goods_name=line[5],
                    num=line[6],
                    price_cents=line[7],
                    share_cents=line[8],
                    refund_status=line[9],
                )
            )
        return tuple(
            Trade(
                trade_no=row["trade_no"],
                src_tid=row["src_tid"],
                platform=row["platform"],
                shop_no=row["shop_no"],
                owner_code=row["owner_code"],
                warehouse_no=row["warehouse_no"],
                logistics_code=row["logistics_code"],
                logistics_no=row["logistics_no"],
                trade_status=row["trade_status"],
                trade_time=row["paid_sim"],
                pay_time=row["paid_sim"],
                modified=row["modified_sim"],
                receiver_name=row["receiver_name"],
                receiver_mobile=row["receiver_mobile"],
                receiver_province=row["receiver_province"],
                receiver_city=row["receiver_city"],
                receiver_district=row["receiver_district"],
                receiver_address=row["receiver_address"],
                goods_cents=row["goods_cents"],
                discount_cents=row["discount_cents"],
                post_cents=row["post_cents"],
                paid_cents=row["paid_cents"],
                lines=tuple(by_trade[row["trade_no"]]),
            )
            for row in rows
        )

    # ---------------------------------------------------------------- state changes

    def _status_row(self, trade_no: str) -> sqlite3.Row:
        row = self.conn.execute(
            "SELECT trade_status, logistics_no FROM orders WHERE trade_no = ?", (trade_no,)
        ).fetchone()
        if row is None:
            raise UnknownTrade(f"trade {trade_no!r} does not exist")
        return row

    def sync_logistics(self, trade_no: str, logistics_code: str, logistics_no: str) -> bool:
        """Mark a paid trade shipped (30 -> 95) with its waybill; True if it changed.

        Repeating the same waybill on a shipped or completed trade is a no-op (False);
        a different waybill, or a cancelled trade, raises StateConflict.
        """
        if not logistics_code or not logistics_no:
            raise InvalidRequest("logistics_code and logistics_no are required")
        with transaction(self.conn):
            row = self._status_row(trade_no)
            status = row["trade_status"]
            if status in (TradeStatus.SHIPPED, TradeStatus.COMPLETED):
                if row["logistics_no"] == logistics_no:
                    return False
                raise StateConflict(
                    f"trade {trade_no} already shipped with waybill {row['logistics_no']}"
                )
            if status != TradeStatus.PAID:
                raise StateConflict(f"trade {trade_no} has status {status}, cannot ship")
            now_text = format_qimen_time(self.ctx.clock.now())
            self.conn.execute(
                "UPDATE orders SET trade_status = ?, logistics_code = ?, logistics_no = ?,"
                " shipped_sim = ?, shipped_wall = ?, modified_sim = ? WHERE trade_no = ?",
                (
                    int(TradeStatus.SHIPPED),
                    logistics_code,
                    logistics_no,
                    now_text,
                    self.ctx.clock.wall(),
                    now_text,
                    trade_no,
                ),
            )
            self.ctx.history.record(
                "state",
                "trade",
                str(int(TradeStatus.SHIPPED)),
                trade_no,
                {"logistics_code": logistics_code, "logistics_no": logistics_no},
            )
        return True

    def upload_trace(self, trade_no: str, logistics_no: str, state: int) -> bool:
        """Record a tracking state; state 3 (signed) completes a shipped trade (95 -> 110).

        Returns True if the trade changed. A repeat on a completed trade is a no-op; a
        signed state for a trade not shipped, or for another waybill, raises StateConflict.
        """
        if not logistics_no:
            raise InvalidRequest("logistics_no is required")
        clock = self.ctx.clock
        with transaction(self.conn):
            row = self._status_row(trade_no)
            now_text = format_qimen_time(clock.now())
            wall = clock.wall()
            if state == TRACE_SIGNED:
                status = row["trade_status"]
                if status not in (TradeStatus.SHIPPED, TradeStatus.COMPLETED):
                    raise StateConflict(f"trade {trade_no} has status {status}, not shipped")
                if row["logistics_no"] != logistics_no:
                    raise StateConflict(
                        f"trade {trade_no} shipped with waybill {row['logistics_no']},"
                        f" not {logistics_no}"
                    )
            self.conn.execute(
                "INSERT INTO logistics_traces (trade_no, logistics_no, state, sim_time, wall_time)"
                " VALUES (?, ?, ?, ?, ?)",
                (trade_no, logistics_no, state, now_text, wall),
            )
            if state != TRACE_SIGNED or row["trade_status"] == TradeStatus.COMPLETED:
                return False
            self.conn.execute(
                "UPDATE orders SET trade_status = ?, completed_sim = ?, completed_wall = ?,"
                " modified_sim = ? WHERE trade_no = ?",
                (int(TradeStatus.COMPLETED), now_text, wall, now_text, trade_no),
            )
            self.ctx.history.record(
                "state",
                "trade",
                str(int(TradeStatus.COMPLETED)),
                trade_no,
                {"logistics_no": logistics_no},
            )
        return True

    def cancel_order(self, trade_no: str) -> bool:
        """Cancel a paid, unshipped trade (30 -> 5); True if it changed, False if already 5.

        For the simulator's cancellations; shipped or completed trades raise StateConflict.
        """
        with transaction(self.conn):
            status = self._status_row(trade_no)["trade_status"]
            if status == TradeStatus.CANCELLED:
                return False
            if status != TradeStatus.PAID:
                raise StateConflict(f"trade {trade_no} has status {status}, cannot cancel")
            now_text = format_qimen_time(self.ctx.clock.now())
            self.conn.execute(
                "UPDATE orders SET trade_status = ?, cancelled_sim = ?, modified_sim = ?"
                " WHERE trade_no = ?",
                (int(TradeStatus.CANCELLED), now_text, now_text, trade_no),
            )
            self.ctx.history.record("state", "trade", str(int(TradeStatus.CANCELLED)), trade_no)
        return True
