"""The connector's durable state in SQLite: trades, returns, per-order step outbox, inbox,
poll cursor.

Every write is committed before the HTTP call it prepares, so a restarted connector resumes
where it stopped and never forgets an order or a push it has acknowledged.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import orjson

from connectors.reference.mapper import Trade

SCHEMA = """
CREATE TABLE IF NOT EXISTS orders (
    trade_no            TEXT PRIMARY KEY,
    trade               TEXT NOT NULL,      -- the OMS JSON object as received
    received_wall       REAL NOT NULL,
    logistic_code       TEXT,               -- the Kdniao waybill number
    delivery_order_id   TEXT,               -- the WMS's id, from the create answer or the confirm
    shipped_logistics_code TEXT,            -- from the WMS confirm's package
    shipped_express_code   TEXT,
    shipped_time        TEXT,               -- orderConfirmTime, simulated
    cancelled_wall      REAL                -- when the poll saw the trade cancelled (5)
);
CREATE TABLE IF NOT EXISTS steps (
    trade_no      TEXT NOT NULL,
    step          TEXT NOT NULL,
    status        TEXT NOT NULL,            -- pending | done | failed
    attempts      INTEGER NOT NULL DEFAULT 0,
    next_attempt  REAL NOT NULL DEFAULT 0,  -- wall seconds
    last_error    TEXT,
    updated_wall  REAL NOT NULL,
    PRIMARY KEY (trade_no, step)
);
CREATE INDEX IF NOT EXISTS steps_open ON steps(status) WHERE status = 'pending';
CREATE TABLE IF NOT EXISTS delivery_codes (
    delivery_order_code TEXT PRIMARY KEY,   -- every code ever sent to the WMS
    trade_no            TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS inbox (
    key            TEXT PRIMARY KEY,        -- outBizCode, or LogisticCode:State
    kind           TEXT NOT NULL,           -- wms_confirm | carrier_trace
    trade_no       TEXT,
    payload        TEXT NOT NULL,
    received_wall  REAL NOT NULL
);
-- Return refunds (旺店通 type 2) being carried: the refund as the search returned it, and the
-- WMS's returnorder.confirm lines (item, inventoryType, actualQty) once it came. Their steps
-- are in `steps` under the refund_no.
CREATE TABLE IF NOT EXISTS returns (
    refund_no      TEXT PRIMARY KEY,
    trade_no       TEXT NOT NULL,
    refund         TEXT NOT NULL,
    received_wall  REAL NOT NULL,
    confirm_lines  TEXT,
    confirm_time   TEXT
);
-- The packages of an order the WMS ships in several (a partial deliveryorder.confirm,
-- confirmType 1, and the final one): each its waybill and its lines ({orderLineNo, itemCode,
-- actualQty}). A partial package's steps are in `steps` under its outBizCode.
CREATE TABLE IF NOT EXISTS packages (
    out_biz_code   TEXT PRIMARY KEY,
    trade_no       TEXT NOT NULL,
    partial        INTEGER NOT NULL,        -- 1: confirmType 1; 0: the final package
    logistics_code TEXT,
    express_code   TEXT NOT NULL,
    lines          TEXT NOT NULL,
    confirm_time   TEXT
);
CREATE INDEX IF NOT EXISTS packages_trade ON packages(trade_no);
CREATE TABLE IF NOT EXISTS cursor (
    name   TEXT PRIMARY KEY,
    value  TEXT NOT NULL
);
"""


class Step(StrEnum):
    """The connector's steps per order, in flow order."""

    WAYBILL = "waybill"
    SUBSCRIBE = "subscribe"
    WMS_CREATE = "wms_create"
    OMS_SHIPPED = "oms_shipped"
    ERP_OUTSTOCK = "erp_outstock"
    ERP_RECEIVABLE = "erp_receivable"
    OMS_COMPLETED = "oms_completed"
    WMS_CANCEL = "wms_cancel"
    # A partial confirm's package to the OMS (keyed by the confirm's outBizCode).
    OMS_PACKAGE = "oms_package"
    # A return refund's steps (keyed by refund_no).
    WMS_RETURN = "wms_return"
    ERP_RETURNSTOCK = "erp_returnstock"
    ERP_RED_RECEIVABLE = "erp_red_receivable"
    OMS_RETURN_CONFIRM = "oms_return_confirm"
    INTERCEPT = "intercept"  # the WMS refused the cancel (picked): stop the parcel
    # A purchase order's steps (keyed by its bill number; connectors/reference/stock_flow.py).
    WMS_ENTRY = "wms_entry"
    ERP_INSTOCK = "erp_instock"
    ERP_PAYABLE = "erp_payable"
    # A transfer's steps (keyed by its code; connectors/reference/transfer_flow.py).
    ERP_TRANSFER_OUT = "erp_transfer_out"
    ERP_TRANSFER_IN = "erp_transfer_in"
    # A cycle count's steps (keyed by its check order code; connectors/reference/count_flow.py).
    ERP_COUNT_GAIN = "erp_count_gain"
    ERP_COUNT_LOSS = "erp_count_loss"
    # A purchase return's steps (keyed by its PUR_MRB bill number;
    # connectors/reference/purchase_return_flow.py).
    WMS_STOCKOUT = "wms_stockout"
    ERP_PURCHASE_RETURN = "erp_purchase_return"
    ERP_RED_PAYABLE = "erp_red_payable"


OUTBOUND_STEPS = (Step.WAYBILL, Step.SUBSCRIBE, Step.WMS_CREATE)
# On the WMS's returnorder.confirm: book the return in the ERP, settle the refund in the OMS.
RETURN_BOOKING_STEPS = (Step.ERP_RETURNSTOCK, Step.ERP_RED_RECEIVABLE, Step.OMS_RETURN_CONFIRM)
SHIPMENT_STEPS = (Step.OMS_SHIPPED, Step.ERP_OUTSTOCK, Step.ERP_RECEIVABLE)
# The steps a cancellation adds: they run for a cancelled trade, every other step is skipped.
CANCEL_STEPS = (Step.WMS_CANCEL, Step.INTERCEPT)
# Kdniao State 3: the parcel was signed for.
SIGNED_STATE = 3


class StepStatus(StrEnum):
    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"
    SKIPPED = "skipped"  # not to be done: the trade was cancelled


@dataclass(frozen=True)
class StepState:
    status: StepStatus
    attempts: int
    next_attempt: float
    last_error: str | None


@dataclass(frozen=True)
class Package:
    """One package of an order the WMS ships in several: its waybill and what it holds."""

    logistics_code: str | None
    express_code: str
    lines: tuple[tuple[str, str, int], ...]  # (orderLineNo, itemCode, actualQty)

    @property
    def units(self) -> int:
        return sum(qty for _, _, qty in self.lines)


@dataclass(frozen=True)
class StoredPackage:
    """A package as the store keeps it: the confirm it came with, and its trade."""

    out_biz_code: str
    trade_no: str
    partial: bool
    package: Package
    confirm_time: str | None


@dataclass(frozen=True)
class Shipment:
    """What the WMS confirmed: the package's carrier and waybill, and when."""

    logistics_code: str | None
    express_code: str | None
    confirm_time: str | None


class StateStore:
    """Synchronous SQLite access; the event loop calls it between awaits, so no locks are needed."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self.conn.row_factory = sqlite3.Row
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.executescript(SCHEMA)

    def close(self) -> None:
        self.conn.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    # ---------------------------------------------------------------- trades

    def add_trades(self, trades: Iterable[Trade]) -> list[str]:
        """Remember unseen trades with their outbound steps pending; returns the new trade_nos."""
        fresh: list[Trade] = []
        for trade in trades:
            trade_no = str(trade["trade_no"])
            known = self.conn.execute(
                "SELECT 1 FROM orders WHERE trade_no = ?", (trade_no,)
            ).fetchone()
            if known is None and all(str(t["trade_no"]) != trade_no for t in fresh):
                fresh.append(trade)
        if not fresh:
            return []
        now = time.time()
        with self._transaction() as conn:
            conn.executemany(
                "INSERT INTO orders (trade_no, trade, received_wall) VALUES (?, ?, ?)",
                [(str(t["trade_no"]), orjson.dumps(t).decode(), now) for t in fresh],
            )
            conn.executemany(
                "INSERT INTO steps (trade_no, step, status, updated_wall)"
                " VALUES (?, ?, 'pending', ?)",
                [(str(t["trade_no"]), step.value, now) for t in fresh for step in OUTBOUND_STEPS],
            )
        return [str(t["trade_no"]) for t in fresh]

    def cancel(self, trade: Trade) -> bool:
        """Remember that the OMS cancelled `trade`; True if the WMS must be told (a cancel
        step is now pending).

        Every step not done yet is skipped. A trade never seen paid is kept as cancelled, so
        it is never started. The WMS is told only if a create may have reached it (attempted
        or done); a create in flight finishes, and the cancel step waits for it.
        """
        trade_no = str(trade["trade_no"])
        now = time.time()
        with self._transaction() as conn:
            row = conn.execute(
                "SELECT cancelled_wall FROM orders WHERE trade_no = ?", (trade_no,)
            ).fetchone()
            if row is None:
                conn.execute(
                    "INSERT INTO orders (trade_no, trade, received_wall, cancelled_wall)"
                    " VALUES (?, ?, ?, ?)",
                    (trade_no, orjson.dumps(trade).decode(), now, now),
                )
                return False
            if row["cancelled_wall"] is not None:
                return False
            conn.execute("UPDATE orders SET cancelled_wall = ? WHERE trade_no = ?", (now, trade_no))
            create = conn.execute(
                "SELECT status, attempts FROM steps WHERE trade_no = ? AND step = ?",
                (trade_no, Step.WMS_CREATE.value),
            ).fetchone()
            conn.execute(
                "UPDATE steps SET status = 'skipped', updated_wall = ?"
                " WHERE trade_no = ? AND status = 'pending'",
                (now, trade_no),
            )
            reached = create is not None and (create["status"] == "done" or create["attempts"] > 0)
            if reached:
                self._add_steps(trade_no, (Step.WMS_CANCEL,))
            return reached

    def is_cancelled(self, trade_no: str) -> bool:
        row = self.conn.execute(
            "SELECT cancelled_wall FROM orders WHERE trade_no = ?", (trade_no,)
        ).fetchone()
        return row is not None and row[0] is not None

    def add_intercept(self, trade_no: str) -> list[str]:
        """The WMS could not cancel the trade's order (picked): its parcels must be stopped.

        The order's own waybill under the trade; each package already received with a waybill
        of its own (an order shipped in several) under its confirm's outBizCode, whose keys
        are returned."""
        with self._transaction():
            self._add_steps(trade_no, (Step.INTERCEPT,))
            keys = self._own_waybill_packages(trade_no)
            for key in keys:
                self._add_steps(key, (Step.INTERCEPT,))
        return keys

    def _own_waybill_packages(self, trade_no: str) -> list[str]:
        """The trade's packages whose waybill is not the order's own (outBizCodes)."""
        rows = self.conn.execute(
            "SELECT p.out_biz_code FROM packages AS p JOIN orders AS o USING (trade_no)"
            " WHERE p.trade_no = ? AND p.express_code IS NOT o.logistic_code",
            (trade_no,),
        ).fetchall()
        return [str(row[0]) for row in rows]

    def signed_for(self, trade_no: str) -> bool:
        """Whether the carrier told us the trade's parcel was signed for (its completion step
        exists, whatever its state)."""
        return self.step(trade_no, Step.OMS_COMPLETED) is not None

    def skip(self, trade_no: str, step: Step) -> None:
        """A step of a cancelled trade that must not run."""
        self._set_status(trade_no, step, StepStatus.SKIPPED, None)

    def trade(self, trade_no: str) -> Trade:
        row = self.conn.execute(
            "SELECT trade FROM orders WHERE trade_no = ?", (trade_no,)
        ).fetchone()
        if row is None:
            raise KeyError(trade_no)
        trade: Trade = orjson.loads(row["trade"])
        return trade

    def waybill(self, trade_no: str) -> str | None:
        row = self.conn.execute(
            "SELECT logistic_code FROM orders WHERE trade_no = ?", (trade_no,)
        ).fetchone()
        return None if row is None else row["logistic_code"]

    def set_waybill(self, trade_no: str, logistic_code: str) -> None:
        self.conn.execute(
            "UPDATE orders SET logistic_code = ? WHERE trade_no = ?", (logistic_code, trade_no)
        )

    def set_delivery_order_id(self, trade_no: str, delivery_order_id: str) -> None:
        self.conn.execute(
            "UPDATE orders SET delivery_order_id = ?"
            " WHERE trade_no = ? AND delivery_order_id IS NULL",
            (delivery_order_id, trade_no),
        )

    def shipment(self, trade_no: str) -> Shipment:
        row = self.conn.execute(
            "SELECT shipped_logistics_code, shipped_express_code, shipped_time FROM orders"
            " WHERE trade_no = ?",
            (trade_no,),
        ).fetchone()
        if row is None:
            raise KeyError(trade_no)
        return Shipment(row[0], row[1], row[2])

    def record_delivery_code(self, code: str, trade_no: str) -> None:
        """Remember a deliveryOrderCode before sending it, so its confirm finds the trade."""
        self.conn.execute(
            "INSERT OR IGNORE INTO delivery_codes (delivery_order_code, trade_no) VALUES (?, ?)",
            (code, trade_no),
        )

    def trade_for_delivery_code(self, code: str) -> str | None:
        row = self.conn.execute(
            "SELECT trade_no FROM delivery_codes WHERE delivery_order_code = ?", (code,)
        ).fetchone()
        return None if row is None else str(row[0])

    def trade_for_waybill(self, logistic_code: str) -> str | None:
        row = self.conn.execute(
            "SELECT trade_no FROM orders"
            " WHERE logistic_code = ? OR shipped_express_code = ? LIMIT 1",
            (logistic_code, logistic_code),
        ).fetchone()
        return None if row is None else str(row[0])

    # ---------------------------------------------------------------- steps

    def step(self, trade_no: str, step: Step) -> StepState | None:
        row = self.conn.execute(
            "SELECT status, attempts, next_attempt, last_error FROM steps"
            " WHERE trade_no = ? AND step = ?",
            (trade_no, step.value),
        ).fetchone()
        if row is None:
            return None
        return StepState(StepStatus(row[0]), int(row[1]), float(row[2]), row[3])

    def is_done(self, trade_no: str, step: Step) -> bool:
        state = self.step(trade_no, step)
        return state is not None and state.status is StepStatus.DONE

    def begin_attempt(self, trade_no: str, step: Step) -> int:
        """Count an attempt (durably, before the call) and return its number, 1 for the first."""
        row = self.conn.execute(
            "UPDATE steps SET attempts = attempts + 1, updated_wall = ?"
            " WHERE trade_no = ? AND step = ? RETURNING attempts",
            (time.time(), trade_no, step.value),
        ).fetchone()
        if row is None:
            raise KeyError((trade_no, step))
        return int(row[0])

    def finish(self, trade_no: str, step: Step) -> None:
        self._set_status(trade_no, step, StepStatus.DONE, None)

    def park(self, trade_no: str, step: Step, error: str) -> None:
        """Give up on a step: it stays visible as failed with its last error."""
        self._set_status(trade_no, step, StepStatus.FAILED, error)

    def schedule_retry(self, trade_no: str, step: Step, at_wall: float, error: str) -> None:
        self.conn.execute(
            "UPDATE steps SET next_attempt = ?, last_error = ?, updated_wall = ?"
            " WHERE trade_no = ? AND step = ? AND status = 'pending'",
            (at_wall, error, time.time(), trade_no, step.value),
        )

    def _set_status(self, trade_no: str, step: Step, status: StepStatus, error: str | None) -> None:
        self.conn.execute(
            "UPDATE steps SET status = ?, last_error = COALESCE(?, last_error), updated_wall = ?"
            " WHERE trade_no = ? AND step = ? AND status = 'pending'",
            (status.value, error, time.time(), trade_no, step.value),
        )

    def _add_steps(self, trade_no: str, steps: Iterable[Step]) -> None:
        now = time.time()
        self.conn.executemany(
            "INSERT OR IGNORE INTO steps (trade_no, step, status, updated_wall)"
            " VALUES (?, ?, 'pending', ?)",
            [(trade_no, step.value, now) for step in steps],
        )

    def unfinished_trades(self) -> list[str]:
        """Trades with a pending step, for resuming after a restart."""
        rows = self.conn.execute(
            "SELECT DISTINCT trade_no FROM steps WHERE status = 'pending' ORDER BY trade_no"
        ).fetchall()
        return [str(row[0]) for row in rows]

    def pending_steps(self, trade_no: str) -> set[Step]:
        rows = self.conn.execute(
            "SELECT step FROM steps WHERE trade_no = ? AND status = 'pending'", (trade_no,)
        ).fetchall()
        return {Step(row[0]) for row in rows}

    def step_counts(self) -> dict[tuple[str, str], int]:
        rows = self.conn.execute("SELECT step, status, COUNT(*) FROM steps GROUP BY step, status")
        return {(row[0], row[1]): int(row[2]) for row in rows}

    # ---------------------------------------------------------------- inbox

    def receive_confirm(
        self,
        out_biz_code: str,
        delivery_order_code: str,
        delivery_order_id: str | None,
        shipment: Shipment,
        payload: dict[str, Any],
        owner_code: str | None = None,
        package: Package | None = None,
        partial: bool = False,
    ) -> tuple[bool, str | None]:
        """Store a WMS confirm once; returns (new, trade_no). A new final one queues the
        shipment; a new partial one (with its `package`) queues that package's OMS step,
        under the confirm's outBizCode.

        A confirm whose `owner_code` is not the trade's is another owner's order under the
        same code: kept in the inbox, but no trade of ours (trade_no None).
        """
        trade_no = self.trade_for_delivery_code(delivery_order_code)
        if trade_no is not None and owner_code and self.trade(trade_no)["owner_code"] != owner_code:
            trade_no = None
        with self._transaction() as conn:
            cursor = conn.execute(
                "INSERT OR IGNORE INTO inbox (key, kind, trade_no, payload, received_wall)"
                " VALUES (?, 'wms_confirm', ?, ?, ?)",
                (out_biz_code, trade_no, orjson.dumps(payload).decode(), time.time()),
            )
            if cursor.rowcount == 0:
                return False, trade_no
            if trade_no is None:
                return True, None
            if package is not None:
                conn.execute(
                    "INSERT OR IGNORE INTO packages (out_biz_code, trade_no, partial,"
                    " logistics_code, express_code, lines, confirm_time)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        out_biz_code,
                        trade_no,
                        int(partial),
                        package.logistics_code,
                        package.express_code,
                        orjson.dumps(package.lines).decode(),
                        shipment.confirm_time,
                    ),
                )
            # The confirm proves the create reached the WMS, even if its answer was lost.
            self._set_status(trade_no, Step.WMS_CREATE, StepStatus.DONE, None)
            if package is not None and self.step(trade_no, Step.INTERCEPT) is not None:
                # Cancelled after picking: a parcel with a waybill of its own must be stopped too.
                for key in self._own_waybill_packages(trade_no):
                    self._add_steps(key, (Step.INTERCEPT,))
            if partial:
                self._add_steps(out_biz_code, (Step.OMS_PACKAGE,))
                return True, trade_no
            conn.execute(
                "UPDATE orders SET shipped_logistics_code = ?, shipped_express_code = ?,"
                " shipped_time = ?, delivery_order_id = COALESCE(delivery_order_id, ?)"
                " WHERE trade_no = ? AND shipped_express_code IS NULL",
                (
                    shipment.logistics_code,
                    shipment.express_code,
                    shipment.confirm_time,
                    delivery_order_id,
                    trade_no,
                ),
            )
            self._add_steps(trade_no, SHIPMENT_STEPS)
        return True, trade_no

    def packages(self, trade_no: str) -> list[StoredPackage]:
        """The trade's packages received so far, partial ones first, in arrival order."""
        rows = self.conn.execute(
            "SELECT out_biz_code, trade_no, partial, logistics_code, express_code, lines,"
            " confirm_time FROM packages WHERE trade_no = ? ORDER BY partial DESC, rowid",
            (trade_no,),
        ).fetchall()
        return [_stored_package(row) for row in rows]

    def package(self, out_biz_code: str) -> StoredPackage:
        row = self.conn.execute(
            "SELECT out_biz_code, trade_no, partial, logistics_code, express_code, lines,"
            " confirm_time FROM packages WHERE out_biz_code = ?",
            (out_biz_code,),
        ).fetchone()
        if row is None:
            raise KeyError(out_biz_code)
        return _stored_package(row)

    def receive_trace(
        self,
        logistic_code: str,
        state: int,
        order_code: str | None,
        payload: dict[str, Any],
        completes: bool,
    ) -> tuple[bool, str | None]:
        """Store a carrier trace state once; returns (new, trade_no). New and `completes` (the
        parcel is signed for): the order's completion step is added with it."""
        trade_no = self.trade_for_waybill(logistic_code)
        if trade_no is None and order_code:
            row = self.conn.execute(
                "SELECT 1 FROM orders WHERE trade_no = ?", (order_code,)
            ).fetchone()
            trade_no = order_code if row is not None else None
        with self._transaction() as conn:
            cursor = conn.execute(
                "INSERT OR IGNORE INTO inbox (key, kind, trade_no, payload, received_wall)"
                " VALUES (?, 'carrier_trace', ?, ?, ?)",
                (f"{logistic_code}:{state}", trade_no, orjson.dumps(payload).decode(), time.time()),
            )
            if cursor.rowcount == 0:
                return False, trade_no
            if trade_no is not None and completes:
                self._add_steps(trade_no, (Step.OMS_COMPLETED,))
        return True, trade_no

    # ---------------------------------------------------------------- returns

    def add_return(self, refund: dict[str, Any]) -> bool:
        """Remember a return refund of one of our shipped trades, its WMS step pending; False
        if it is known already or its trade is not ours (never sent, or cancelled)."""
        refund_no, trade_no = str(refund["refund_no"]), str(refund["trade_no"])
        with self._transaction() as conn:
            row = conn.execute(
                "SELECT delivery_order_id, cancelled_wall FROM orders WHERE trade_no = ?",
                (trade_no,),
            ).fetchone()
            if row is None or row["cancelled_wall"] is not None:
                return False
            added = conn.execute(
                "INSERT OR IGNORE INTO returns (refund_no, trade_no, refund, received_wall)"
                " VALUES (?, ?, ?, ?)",
                (refund_no, trade_no, orjson.dumps(refund).decode(), time.time()),
            ).rowcount
            if added:
                self._add_steps(refund_no, (Step.WMS_RETURN,))
        return bool(added)

    def return_refund(self, refund_no: str) -> dict[str, Any]:
        row = self.conn.execute(
            "SELECT refund FROM returns WHERE refund_no = ?", (refund_no,)
        ).fetchone()
        if row is None:
            raise KeyError(refund_no)
        refund: dict[str, Any] = orjson.loads(row[0])
        return refund

    def is_return(self, key: str) -> bool:
        """Whether a steps key is a return's refund_no (not a trade_no)."""
        row = self.conn.execute("SELECT 1 FROM returns WHERE refund_no = ?", (key,)).fetchone()
        return row is not None

    def receive_return_confirm(
        self,
        out_biz_code: str,
        return_order_code: str,
        owner_code: str | None,
        lines: list[dict[str, Any]],
        confirm_time: str | None,
        payload: dict[str, Any],
    ) -> tuple[bool, str | None]:
        """Store a returnorder.confirm once; returns (new, refund_no). A new one for a return of
        ours (returnOrderCode = refund_no, the trade's owner) queues the booking steps."""
        refund_no: str | None = return_order_code
        try:
            refund = self.return_refund(return_order_code)
        except KeyError:
            refund_no = None
        else:
            if owner_code and refund.get("owner_code") != owner_code:
                refund_no = None
        with self._transaction() as conn:
            cursor = conn.execute(
                "INSERT OR IGNORE INTO inbox (key, kind, trade_no, payload, received_wall)"
                " VALUES (?, 'wms_return_confirm', ?, ?, ?)",
                (out_biz_code, refund_no, orjson.dumps(payload).decode(), time.time()),
            )
            if cursor.rowcount == 0 or refund_no is None:
                return cursor.rowcount > 0, refund_no
            conn.execute(
                "UPDATE returns SET confirm_lines = ?, confirm_time = ? WHERE refund_no = ?"
                " AND confirm_lines IS NULL",
                (orjson.dumps(lines).decode(), confirm_time, refund_no),
            )
            # The confirm proves the return order reached the WMS.
            self._set_status(refund_no, Step.WMS_RETURN, StepStatus.DONE, None)
            self._add_steps(refund_no, RETURN_BOOKING_STEPS)
        return True, refund_no

    def return_confirm(self, refund_no: str) -> tuple[list[dict[str, Any]], str | None]:
        """The confirmed lines ({itemCode, inventoryType, actualQty}) and confirm time."""
        row = self.conn.execute(
            "SELECT confirm_lines, confirm_time FROM returns WHERE refund_no = ?", (refund_no,)
        ).fetchone()
        if row is None or row[0] is None:
            raise KeyError(refund_no)
        return list(orjson.loads(row[0])), row[1]

    # ---------------------------------------------------------------- cursor

    def cursor(self) -> str | None:
        row = self.conn.execute("SELECT value FROM cursor WHERE name = 'oms_modified'").fetchone()
        return None if row is None else str(row[0])

    def set_cursor(self, value: str) -> None:
        self.conn.execute(
            "INSERT INTO cursor (name, value) VALUES ('oms_modified', ?)"
            " ON CONFLICT(name) DO UPDATE SET value = excluded.value",
            (value,),
        )


def _stored_package(row: sqlite3.Row) -> StoredPackage:
    lines = tuple((str(no), str(item), int(qty)) for no, item, qty in orjson.loads(row["lines"]))
    return StoredPackage(
        out_biz_code=row["out_biz_code"],
        trade_no=row["trade_no"],
        partial=bool(row["partial"]),
        package=Package(row["logistics_code"], row["express_code"], lines),
        confirm_time=row["confirm_time"],
    )
