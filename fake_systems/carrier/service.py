"""The carrier fake's domain: waybills, subscriptions, parcels moving in simulated time, and
the tracking events a subscriber is told about (the protocol side renders and signs them).

Accounts: every EBusinessID the carrier issued (the connector's, and one per cargo owner) is a
separate merchant account. A waybill belongs to the account that created it; only that
account may query, subscribe or cancel it. Numbers no account issued (a parcel the WMS
labelled itself) are open to every account, as real Kdniao tracks any number.
"""

from __future__ import annotations

import random
import zlib
from collections.abc import Callable, Generator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import simpy

from fake_systems.carrier import statements
from fake_systems.carrier.models import (
    INTERCEPT_INTERCEPTED,
    INTERCEPT_REQUESTED,
    INTERCEPT_RETURNED,
    INTERCEPT_TOO_LATE,
    MSG_INTERCEPT_TOO_LATE,
    MSG_QUERY_LIMIT_DAY,
    MSG_QUERY_LIMIT_SECOND,
    RESULT_OTHER,
    RESULT_QUERY_LIMIT,
    SHIPPERS,
    STATE_COLLECTED,
    STATE_EX_ADDRESS_UNCLEAR,
    STATE_EX_ARRIVED_CITY,
    STATE_EX_BAD_PHONE,
    STATE_EX_COLLECTED,
    STATE_EX_DELIVERY_EXCEPTION,
    STATE_EX_IN_TRANSIT,
    STATE_EX_INTERCEPTED,
    STATE_EX_LOCKER,
    STATE_EX_LOCKER_OVERDUE,
    STATE_EX_LOCKER_SIGNED,
    STATE_EX_NO_INFO,
    STATE_EX_NO_UPDATE,
    STATE_EX_NOT_SIGNED,
    STATE_EX_OUT_FOR_DELIVERY,
    STATE_EX_REFUSED,
    STATE_EX_RETURN_SIGNED,
    STATE_EX_SIGNED,
    STATE_EX_SIGNED_AFTER_PROBLEM,
    STATE_IN_TRANSIT,
    STATE_NO_TRACE,
    STATE_PROBLEM,
    STATE_SIGNED,
    Address,
    CarrierConfig,
    CarrierError,
    ShipperSpec,
    Trace,
    Tracking,
    TrackingChanged,
    Waybill,
)
from fake_systems.common.context import SystemContext
from fake_systems.common.credentials import KdniaoCredentials
from fake_systems.common.faults import FaultRule, Stage
from fake_systems.common.scope import OwnerScope
from fake_systems.common.storage import transaction
from simulator.clock import format_qimen_time
from simulator.fault_plan import PROBLEM_FATES, PROBLEM_PARCEL_OPERATION
from simulator.world import World

__all__ = ["CarrierConfig", "CarrierService"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS waybills (
    logistic_code    TEXT PRIMARY KEY,
    order_code       TEXT NOT NULL,
    shipper_code     TEXT NOT NULL,
    created_sim      TEXT NOT NULL,
    created_wall     REAL NOT NULL,
    mark_destination TEXT NOT NULL DEFAULT '',
    sorting_code     TEXT NOT NULL DEFAULT '',
    sender_city      TEXT NOT NULL DEFAULT '',
    receiver_city    TEXT NOT NULL DEFAULT '',
    ebusiness_id     TEXT NOT NULL DEFAULT '',
    cancelled_sim    TEXT,
    owner_code       TEXT NOT NULL DEFAULT ''  -- the cargo owner the WMS asked for; '' = 1007
);
-- One live waybill per OrderCode, account and owner; a cancelled one frees the OrderCode.
CREATE UNIQUE INDEX IF NOT EXISTS waybills_live_owner_order
    ON waybills (ebusiness_id, owner_code, order_code) WHERE cancelled_sim IS NULL;
CREATE INDEX IF NOT EXISTS waybills_order_code ON waybills (order_code);
CREATE TABLE IF NOT EXISTS parcels (
    logistic_code    TEXT PRIMARY KEY,
    shipper_code     TEXT NOT NULL,
    state            INTEGER NOT NULL,
    state_ex         TEXT NOT NULL,
    handed_over_sim  TEXT NOT NULL,
    handed_over_wall REAL NOT NULL,
    signed_sim       TEXT,
    signed_wall      REAL,
    weight_kg        REAL NOT NULL,
    location         TEXT NOT NULL DEFAULT '',
    updated_sim      TEXT NOT NULL,
    sender_province  TEXT NOT NULL DEFAULT '',  -- the route the fees go by (statements.py)
    receiver_province TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS traces (
    logistic_code  TEXT NOT NULL,
    seq            INTEGER NOT NULL,
    accept_time    TEXT NOT NULL,
    accept_station TEXT NOT NULL,
    location       TEXT NOT NULL,
    action         TEXT NOT NULL,
    PRIMARY KEY (logistic_code, seq)
);
CREATE TABLE IF NOT EXISTS subscriptions (
    logistic_code TEXT NOT NULL,
    shipper_code  TEXT NOT NULL,
    order_code    TEXT NOT NULL DEFAULT '',
    created_wall  REAL NOT NULL,
    ebusiness_id  TEXT NOT NULL DEFAULT '',
    value_added   INTEGER NOT NULL DEFAULT 0,  -- 8008 (pushed as 102) rather than 1008 (101)
    UNIQUE (ebusiness_id, logistic_code)
);
-- Interception requests (ecomock's RequestType 1816, return to sender): one per waybill.
CREATE TABLE IF NOT EXISTS intercepts (
    logistic_code  TEXT PRIMARY KEY,
    ebusiness_id   TEXT NOT NULL,
    order_code     TEXT NOT NULL DEFAULT '',
    reason         TEXT NOT NULL DEFAULT '',
    status         TEXT NOT NULL,  -- requested | intercepted | returned | too_late
    requested_sim  TEXT NOT NULL,
    requested_wall REAL NOT NULL,
    outcome_sim    TEXT,
    outcome_wall   REAL
);
-- Parcels whose buyer will refuse them at the door (the simulator's cancelled orders).
CREATE TABLE IF NOT EXISTS refusals (
    logistic_code TEXT PRIMARY KEY,
    requested_sim TEXT NOT NULL
);
"""

HOUR = 3600.0
UNKNOWN_ORIGIN = "始发地"
UNKNOWN_DESTINATION = "目的地"
NOT_FOUND_REASON = "单号不存在或不属于当前用户"

# What happens to a parcel, drawn once when it is handed over.
NORMAL, REFUSED, STUCK_UNCOLLECTED, STUCK_UNSIGNED, LOCKER, LOCKER_OVERDUE = (
    "normal",
    "refused",
    "stuck_uncollected",
    "stuck_unsigned",
    "locker",
    "locker_overdue",
)
# Fates only a `problem_parcel` fault plays (docs/CHAOS.md): refused then sent back (406),
# gone silent in transit (403), a delivery exception or an address problem then signed (302).
REFUSED_RETURNED, LOST, EXCEPTION_SIGNED, ADDRESS_SIGNED = (
    "refused_returned",
    "lost",
    "exception_then_signed",
    "address_problem",
)


@dataclass
class _QueryWindow:
    """One account's 1002 counters: the current wall second and simulated day."""

    second: int = -1
    in_second: int = 0
    day: str = ""
    in_day: int = 0


class CarrierService:
    """A Kdniao-fronted express carrier: issues waybills, tracks parcels, tells subscribers.

    The simulator and the WMS call it in process (it implements the WMS's `CarrierDesk`,
    on the connector's account); the Kdniao adapter calls it for every account. The runner
    sets `push_callback_url` to where the connector receives tracking pushes; other
    accounts' callbacks go in `callback_urls` (by EBusinessID). Each change a subscriber
    should hear of is a `TrackingChanged` handed to `on_tracking`, which the Kdniao side
    sets (carrier/api/kdniao_push.py renders and signs the 101 push).

    Tenancy is per merchant account, not per cargo owner: a waybill belongs to the account
    (EBusinessID) that created it, and two accounts that may both ship for every owner still
    never see each other's waybills. So the account methods take `account`; the account's
    `OwnerScope` (the owners its credential names) decides only which owners' shipments may
    leave under its waybills (`waybill_usable`).

    LIMITATIONS (what the fake does not imitate):
    - Problem parcels follow fixed scripts (refused 404, stuck 401/402, locker 211 -> 311 or
      412). The scripts only a `problem_parcel` fault plays add 404 -> 406 (back with the
      sender), 403 (lost: silent after leaving the origin), 405 or 420/421 -> 302 (signed
      at the next attempt); no 407, 413-423 otherwise, no 202 repeated before a 302.
    - No pickup orders (1001/1004). The 1007 PrintTemplate is a small HTML stand-in, not a
      carrier's template; Quantity > 1 gets one waybill (no 子母件 SubOrders).
    - The value-added product (8001/8008, pushes 102) shows the same journey as the
      standard one with StateEx/Location/Action added; no Station/DeliveryMan/NextCity.
    - Waybill numbers have plausible shapes per ShipperCode but no check digits; 2002
      recognition goes by those shapes only.
    - Sender/Receiver are only checked to be complete (by the adapter); only their cities
      are kept, for traces.
    - A hand-over of a waybill the carrier never issued is still tracked (the parcel
      physically exists); any account may query or subscribe it.
    - Cancelling (1147) a waybill whose parcel was handed over but not collected stops the
      journey silently; a collected one cannot be cancelled.
    - Query limits are counted in memory (lost on restart), 1002 only.
    - Interception (RequestType 1816, invented: Kdniao publishes none) only returns to the
      sender (no 转寄 to a new address), is free, and always succeeds before the parcel is
      signed: the courier stops it at its next scan (413), and it takes as long to come back
      as it had travelled (406). A parcel already refused (404) simply keeps coming back.
      A buyer who refuses a parcel (`refuse_on_delivery`, the simulator's) always does so
      at the first attempt, whatever the parcel's drawn fate.
    - One push per state change carrying one parcel (Count 1); real Kdniao batches.
    - Fees (statements.py, ecomock's RequestType 1950: Kdniao publishes none) go by ecomock's
      price card, weight and zone only; the route is what the WMS hands over with the parcel.
    """

    def __init__(
        self,
        ctx: SystemContext,
        credentials: KdniaoCredentials,
        config: CarrierConfig | None = None,
    ) -> None:
        self.ctx = ctx
        self.credentials = credentials
        self.config = config or CarrierConfig()
        self.push_callback_url: str | None = None
        self.callback_urls: dict[str, str] = {}
        self.accounts: dict[str, KdniaoCredentials] = {credentials.ebusiness_id: credentials}
        # Where tracking changes go; None: nobody is told (no protocol attached).
        self.on_tracking: Callable[[TrackingChanged], None] | None = None
        # Origin city per ShipperCode, from the warehouses that ship with that carrier.
        self._origin_by_shipper: dict[str, str] = {}
        self._queries: dict[str, _QueryWindow] = {}
        # Simulated time of each parcel's hand-over (its way back takes as long as its way out).
        self._handed_at: dict[str, float] = {}

    @property
    def env(self) -> simpy.Environment:
        return self.ctx.clock.env

    def setup(self, world: World) -> None:
        """Create the tables; remember which warehouse city each carrier collects from."""
        _upgrade_tables(self.ctx.conn)
        self.ctx.conn.executescript(SCHEMA)
        self.ctx.conn.executescript(statements.SCHEMA)
        for warehouse in world.warehouses:
            self._origin_by_shipper.setdefault(warehouse.carrier_code, warehouse.city)

    # -- accounts --------------------------------------------------------------------------

    def add_account(self, credentials: KdniaoCredentials) -> None:
        """Open a merchant account (its pushes are signed with its own credentials)."""
        self.accounts.setdefault(credentials.ebusiness_id, credentials)

    def _account(self, account: str | None) -> str:
        return self.credentials.ebusiness_id if account is None else account

    def callback_url(self, account: str) -> str | None:
        """Where the account receives 101 pushes; None means it gets none."""
        if account == self.credentials.ebusiness_id:
            return self.push_callback_url
        return self.callback_urls.get(account)

    def _waybill_row(self, logistic_code: str) -> Any:
        return self.ctx.conn.execute(
            "SELECT * FROM waybills WHERE logistic_code = ?", (logistic_code,)
        ).fetchone()

    def _entitled(self, account: str, owner_code: str) -> bool:
        """Whether the account may ship for that cargo owner (empty owners: every owner)."""
        credentials = self.accounts.get(account)
        return credentials is not None and OwnerScope.of(credentials.owners).allows(owner_code)

    def _visible(self, logistic_code: str, account: str) -> bool:
        """An account sees its own waybills and numbers no account issued."""
        row = self._waybill_row(logistic_code)
        return row is None or row["ebusiness_id"] == account

    # -- waybills (1007, 1147) -------------------------------------------------------------

    def create_waybill(
        self,
        order_code: str,
        shipper_code: str,
        sender: Address | None = None,
        receiver: Address | None = None,
        account: str | None = None,
        owner_code: str = "",
    ) -> Waybill:
        """Kdniao 1007: a waybill for the order; a repeated OrderCode gets the first waybill back.

        Idempotency is per account, cargo owner and live waybill: after a cancellation (1147)
        the same OrderCode gets a new number. `owner_code` is set by the WMS only (1007 has no
        such field), so two owners' orders of the same code never share a parcel. Raises
        CarrierError(105) for a ShipperCode not served.
        """
        owner = self._account(account)
        conn = self.ctx.conn
        with transaction(conn):
            row = conn.execute(
                "SELECT * FROM waybills WHERE ebusiness_id = ? AND owner_code = ?"
                " AND order_code = ? AND cancelled_sim IS NULL",
                (owner, owner_code, order_code),
            ).fetchone()
            if row is not None:
                return _waybill(row, created=False)
            spec = SHIPPERS.get(shipper_code)
            if spec is None:
                raise CarrierError(RESULT_OTHER, f"不支持的快递公司编码: {shipper_code}")
            logistic_code = self._new_logistic_code(spec, owner, owner_code, order_code)
            receiver_city = receiver.city if receiver else ""
            mark = " ".join(
                part for part in (receiver_city, receiver.area if receiver else "") if part
            )
            sorting = _sorting_code(receiver_city or order_code)
            created_sim = format_qimen_time(self.ctx.clock.now())
            conn.execute(
                "INSERT INTO waybills (logistic_code, order_code, shipper_code, created_sim,"
                " created_wall, mark_destination, sorting_code, sender_city, receiver_city,"
                " ebusiness_id, owner_code) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    logistic_code,
                    order_code,
                    shipper_code,
                    created_sim,
                    self.ctx.clock.wall(),
                    mark,
                    sorting,
                    sender.city if sender else "",
                    receiver_city,
                    owner,
                    owner_code,
                ),
            )
            self.ctx.history.record(
                "state", "waybill", "issued", logistic_code, {"OrderCode": order_code}
            )
        return Waybill(logistic_code, order_code, shipper_code, mark, sorting, created_sim, True)

    def issue_waybill(self, order_code: str, shipper_code: str, owner_code: str = "") -> str:
        """CarrierDesk: the LogisticCode for the owner's order (the same one for a repeat)."""
        return self.create_waybill(order_code, shipper_code, owner_code=owner_code).logistic_code

    def waybill_usable(self, logistic_code: str, owner_code: str) -> bool:
        """CarrierDesk: may a shipment of `owner_code` leave under this number?

        Only a live waybill this carrier issued, for that owner or by an account entitled to
        it; never another owner's, a cancelled one or a number nobody issued (a parcel
        handed over under it would take over whoever's number it turns out to be).
        """
        row = self._waybill_row(logistic_code)
        if row is None or row["cancelled_sim"] is not None:
            return False
        if row["owner_code"]:
            return bool(row["owner_code"] == owner_code)
        return self._entitled(row["ebusiness_id"], owner_code)

    def _new_logistic_code(self, spec: ShipperSpec, *order: str) -> str:
        """A free number of the shipper's format, drawn with the order's own dice (a second
        waybill of the order, after a cancellation, draws on past the first)."""
        rng = self.ctx.dice("waybill", spec.prefix, *order)
        while True:
            digits = rng.randint(spec.min_digits, spec.max_digits)
            code = spec.prefix + str(rng.randrange(10 ** (digits - 1), 10**digits))
            if self._waybill_row(code) is None:
                return code

    def cancel_waybill(
        self, shipper_code: str, order_code: str, logistic_code: str, account: str | None = None
    ) -> None:
        """Kdniao 1147: void an electronic waybill, only before the parcel is collected.

        Raises CarrierError(105) when the number is not this account's, does not match the
        OrderCode or ShipperCode, is already cancelled, or the parcel was collected.
        """
        owner = self._account(account)
        conn = self.ctx.conn
        with transaction(conn):
            row = self._waybill_row(logistic_code)
            if row is None or row["ebusiness_id"] != owner:
                raise CarrierError(RESULT_OTHER, NOT_FOUND_REASON)
            if row["order_code"] != order_code or row["shipper_code"] != shipper_code:
                raise CarrierError(RESULT_OTHER, "订单号、快递公司编码与运单号不匹配")
            if row["cancelled_sim"] is not None:
                raise CarrierError(RESULT_OTHER, "该运单已取消")
            parcel = conn.execute(
                "SELECT state FROM parcels WHERE logistic_code = ?", (logistic_code,)
            ).fetchone()
            if parcel is not None and parcel["state"] != STATE_NO_TRACE:
                raise CarrierError(RESULT_OTHER, "快件已揽收，不能取消")
            conn.execute(
                "UPDATE waybills SET cancelled_sim = ? WHERE logistic_code = ?",
                (format_qimen_time(self.ctx.clock.now()), logistic_code),
            )
            self.ctx.history.record(
                "state", "waybill", "cancelled", logistic_code, {"OrderCode": order_code}
            )

    def _cancelled(self, logistic_code: str) -> bool:
        row = self._waybill_row(logistic_code)
        return row is not None and row["cancelled_sim"] is not None

    # -- interception (ecomock's 1816) and refusals ----------------------------------------

    def intercept(
        self,
        shipper_code: str,
        logistic_code: str,
        order_code: str = "",
        reason: str = "",
        account: str | None = None,
    ) -> str:
        """Ask the carrier to stop a parcel and return it to the sender; its status.

        Accepted (``requested``) for a live waybill of the account whose parcel is not signed
        for: the courier stops it at its next scan, even before it was handed over. A repeat
        answers the request's current status. Raises CarrierError(105) for another account's
        or unknown number (answered as a missing one), another ShipperCode or OrderCode, a
        cancelled waybill, and a parcel already signed for (MSG_INTERCEPT_TOO_LATE).
        """
        owner = self._account(account)
        conn = self.ctx.conn
        with transaction(conn):
            row = self._waybill_row(logistic_code)
            if row is None or row["ebusiness_id"] != owner:
                raise CarrierError(RESULT_OTHER, NOT_FOUND_REASON)
            if row["shipper_code"] != shipper_code or (
                order_code and row["order_code"] != order_code
            ):
                raise CarrierError(RESULT_OTHER, "订单号、快递公司编码与运单号不匹配")
            if row["cancelled_sim"] is not None:
                raise CarrierError(RESULT_OTHER, "该运单已取消")
            known = self._intercept_row(logistic_code)
            if known is not None:
                if known["status"] == INTERCEPT_TOO_LATE:
                    raise CarrierError(RESULT_OTHER, MSG_INTERCEPT_TOO_LATE)
                return str(known["status"])
            parcel = conn.execute(
                "SELECT state, state_ex FROM parcels WHERE logistic_code = ?", (logistic_code,)
            ).fetchone()
            if parcel is not None and parcel["state"] == STATE_SIGNED:
                raise CarrierError(RESULT_OTHER, MSG_INTERCEPT_TOO_LATE)
            # A parcel the buyer refused is on its way back already: nothing to stop.
            status = INTERCEPT_REQUESTED
            if parcel is not None and parcel["state_ex"] == STATE_EX_REFUSED:
                status = INTERCEPT_INTERCEPTED
            elif parcel is not None and parcel["state_ex"] == STATE_EX_RETURN_SIGNED:
                status = INTERCEPT_RETURNED
            conn.execute(
                "INSERT INTO intercepts (logistic_code, ebusiness_id, order_code, reason, status,"
                " requested_sim, requested_wall) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    logistic_code,
                    owner,
                    row["order_code"],
                    reason,
                    status,
                    format_qimen_time(self.ctx.clock.now()),
                    self.ctx.clock.wall(),
                ),
            )
            self.ctx.history.record(
                "state", "intercept", status, logistic_code, {"OrderCode": row["order_code"]}
            )
        return status

    def intercept_status(self, logistic_code: str) -> str | None:
        """The interception request's status (None: never asked)."""
        row = self._intercept_row(logistic_code)
        return None if row is None else str(row["status"])

    def _intercept_row(self, logistic_code: str) -> Any:
        return self.ctx.conn.execute(
            "SELECT * FROM intercepts WHERE logistic_code = ?", (logistic_code,)
        ).fetchone()

    def _set_intercept(self, logistic_code: str, status: str) -> None:
        """Move the interception request on (a state row in the history); no-op without one."""
        conn = self.ctx.conn
        with transaction(conn):
            cursor = conn.execute(
                "UPDATE intercepts SET status = ?, outcome_sim = ?, outcome_wall = ?"
                " WHERE logistic_code = ? AND status <> ?",
                (
                    status,
                    format_qimen_time(self.ctx.clock.now()),
                    self.ctx.clock.wall(),
                    logistic_code,
                    status,
                ),
            )
            if cursor.rowcount:
                self.ctx.history.record("state", "intercept", status, logistic_code)

    def refuse_on_delivery(self, logistic_code: str) -> None:
        """The world's: the buyer (who cancelled the order) will refuse this parcel at the door;
        it then goes back to the sender (404, then 406). Repeats are ignored."""
        with transaction(self.ctx.conn):
            self.ctx.conn.execute(
                "INSERT OR IGNORE INTO refusals (logistic_code, requested_sim) VALUES (?, ?)",
                (logistic_code, format_qimen_time(self.ctx.clock.now())),
            )

    def _buyer_refuses(self, logistic_code: str) -> bool:
        row = self.ctx.conn.execute(
            "SELECT 1 FROM refusals WHERE logistic_code = ?", (logistic_code,)
        ).fetchone()
        return row is not None

    def parcel_state(self, logistic_code: str) -> tuple[int, str] | None:
        """(State, StateEx) of a parcel the carrier has in hand, whoever's it is (the world's)."""
        row = self.ctx.conn.execute(
            "SELECT state, state_ex FROM parcels WHERE logistic_code = ?", (logistic_code,)
        ).fetchone()
        return None if row is None else (int(row["state"]), str(row["state_ex"]))

    # -- number recognition (2002) ---------------------------------------------------------

    def recognise(self, logistic_code: str) -> list[tuple[str, str]]:
        """Kdniao 2002: (ShipperCode, ShipperName) of every company whose numbers look so."""
        return [(code, spec.name) for code, spec in SHIPPERS.items() if spec.matches(logistic_code)]

    # -- subscriptions (1008) --------------------------------------------------------------

    def subscribe(
        self,
        shipper_code: str,
        logistic_code: str,
        order_code: str = "",
        account: str | None = None,
        value_added: bool = False,
    ) -> bool:
        """Kdniao 1008 (8008 when `value_added`): push this waybill's traces from now on.
        False if already subscribed; a value-added subscription upgrades a standard one.

        As Kdniao does, a parcel that already has traces is pushed at once. Raises
        CarrierError(105) for another account's or a cancelled waybill.
        """
        owner = self._account(account)
        if shipper_code not in SHIPPERS:
            raise CarrierError(RESULT_OTHER, f"不支持的快递公司编码: {shipper_code}")
        if not self._visible(logistic_code, owner):
            raise CarrierError(RESULT_OTHER, NOT_FOUND_REASON)
        if self._cancelled(logistic_code):
            raise CarrierError(RESULT_OTHER, "该运单已取消")
        conn = self.ctx.conn
        with transaction(conn):
            cursor = conn.execute(
                "INSERT OR IGNORE INTO subscriptions (logistic_code, shipper_code, order_code,"
                " created_wall, ebusiness_id, value_added) VALUES (?, ?, ?, ?, ?, ?)",
                (
                    logistic_code,
                    shipper_code,
                    order_code,
                    self.ctx.clock.wall(),
                    owner,
                    value_added,
                ),
            )
            created = cursor.rowcount == 1
            if not created and value_added:
                conn.execute(
                    "UPDATE subscriptions SET value_added = 1"
                    " WHERE logistic_code = ? AND ebusiness_id = ?",
                    (logistic_code, owner),
                )
        if created:
            tracking = self.tracking(logistic_code, owner)
            if tracking is not None and tracking.traces:
                self._tell(owner, tracking, value_added)
        return created

    def is_subscribed(self, logistic_code: str, account: str | None = None) -> bool:
        row = self.ctx.conn.execute(
            "SELECT 1 FROM subscriptions WHERE logistic_code = ? AND ebusiness_id = ?",
            (logistic_code, self._account(account)),
        ).fetchone()
        return row is not None

    # -- query limits (1002) ---------------------------------------------------------------

    def count_query(self, account: str) -> None:
        """Count one 1002 query; CarrierError(405) once the second's or the day's limit is hit.

        Seconds are wall seconds (a rate limit protects the servers); days are simulated China
        days (the business day the connector lives in). Refused queries are not counted.
        """
        cfg = self.config
        window = self._queries.setdefault(account, _QueryWindow())
        second = int(self.ctx.clock.wall())
        day = self.ctx.clock.now().date().isoformat()
        if window.second != second:
            window.second, window.in_second = second, 0
        if window.day != day:
            window.day, window.in_day = day, 0
        if cfg.query_per_second and window.in_second >= cfg.query_per_second:
            raise CarrierError(RESULT_QUERY_LIMIT, MSG_QUERY_LIMIT_SECOND)
        if cfg.query_per_day and window.in_day >= cfg.query_per_day:
            raise CarrierError(RESULT_QUERY_LIMIT, MSG_QUERY_LIMIT_DAY)
        window.in_second += 1
        window.in_day += 1

    # -- parcels ---------------------------------------------------------------------------

    def hand_over(
        self,
        logistic_code: str,
        shipper_code: str,
        weight_kg: float,
        route: tuple[str, str] = ("", ""),
    ) -> None:
        """CarrierDesk: the parcel leaves the warehouse; starts its journey. Repeats are ignored.
        `route` (sender, receiver province) is what its fee goes by."""
        conn = self.ctx.conn
        now = format_qimen_time(self.ctx.clock.now())
        with transaction(conn):
            cursor = conn.execute(
                "INSERT OR IGNORE INTO parcels (logistic_code, shipper_code, state, state_ex,"
                " handed_over_sim, handed_over_wall, weight_kg, updated_sim, sender_province,"
                " receiver_province) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    logistic_code,
                    shipper_code,
                    STATE_NO_TRACE,
                    str(STATE_NO_TRACE),
                    now,
                    self.ctx.clock.wall(),
                    weight_kg,
                    now,
                    *route,
                ),
            )
            if cursor.rowcount != 1:
                return
            self.ctx.history.record(
                "state", "parcel", "handed_over", logistic_code, {"weight_kg": weight_kg}
            )
            forced = self._problem_fault(logistic_code)
        self._handed_at[logistic_code] = self.env.now
        self.env.process(self._journey(logistic_code, shipper_code, forced))

    def _problem_fault(self, logistic_code: str) -> tuple[str, random.Random] | None:
        """A `problem_parcel` rule that hits this parcel: its fate (the rule's `fate`, or a
        draw of the rule's dice among them all) and the dice for the fate's own draws; the
        hit is a `fault` row naming the waybill. None when no rule fires."""
        rule: FaultRule | None = self.ctx.faults.pick(
            self.ctx.name,
            PROBLEM_PARCEL_OPERATION,
            Stage.WORLD,
            self.ctx.clock.now(),
            ("problem_parcel",),
        )
        if rule is None:
            return None
        dice = self.ctx.faults.dice(rule)
        fate = str(rule.params.get("fate") or dice.choice(PROBLEM_FATES))
        if fate == "stuck":
            script = STUCK_UNCOLLECTED if dice.random() < 0.5 else STUCK_UNSIGNED
        else:
            script = {
                "refused": REFUSED_RETURNED,
                "lost": LOST,
                "exception_then_signed": EXCEPTION_SIGNED,
                "address_problem": ADDRESS_SIGNED,
                "locker_overdue": LOCKER_OVERDUE,
            }[fate]
        self.ctx.history.record(
            "fault",
            PROBLEM_PARCEL_OPERATION,
            "problem_parcel",
            logistic_code,
            {"stage": "world", **self.ctx.faults.tag(rule), "fate": fate, "script": script},
        )
        return script, dice

    def _fate(self, logistic_code: str) -> str:
        """What will happen to a parcel, drawn with its own dice."""
        cfg = self.config
        if not cfg.has_problems:
            return NORMAL
        rng = self.ctx.dice("fate", logistic_code)
        draw = rng.random()
        if draw < cfg.refused_rate:
            return REFUSED
        if draw < cfg.refused_rate + cfg.stuck_rate:
            return STUCK_UNCOLLECTED if rng.random() < 0.5 else STUCK_UNSIGNED
        if draw < cfg.refused_rate + cfg.stuck_rate + cfg.locker_rate:
            return LOCKER_OVERDUE if rng.random() < cfg.locker_overdue_rate else LOCKER
        return NORMAL

    def _journey(
        self,
        logistic_code: str,
        shipper_code: str,
        forced: tuple[str, random.Random] | None = None,
    ) -> Generator[simpy.Event, Any, None]:
        """The parcel's journey (`_travel`), stopped at its next scan once an interception is
        requested: then back to the sender instead."""
        travel = self._travel(logistic_code, shipper_code, forced)
        answer: Any = None
        while True:
            try:
                event = travel.send(answer)
            except StopIteration:
                break
            answer = yield event
            # Checked before the journey's next step is played: that step is the scan at
            # which the courier stops the parcel.
            if self._stoppable(logistic_code):
                travel.close()
                yield from self._return_to_sender(logistic_code, shipper_code)
                return
        state = self.parcel_state(logistic_code)
        if state is not None and state[0] == STATE_SIGNED:
            self._set_intercept_if(logistic_code, INTERCEPT_REQUESTED, INTERCEPT_TOO_LATE)
        elif state is not None and state[1] == STATE_EX_RETURN_SIGNED:
            # Refused by the buyer and back before the courier could act on the request.
            self._set_intercept_if(logistic_code, INTERCEPT_REQUESTED, INTERCEPT_RETURNED)
            self._set_intercept_if(logistic_code, INTERCEPT_INTERCEPTED, INTERCEPT_RETURNED)

    def _set_intercept_if(self, logistic_code: str, current: str, status: str) -> None:
        if self.intercept_status(logistic_code) == current:
            self._set_intercept(logistic_code, status)

    def _stoppable(self, logistic_code: str) -> bool:
        """An interception is waiting and the parcel is neither signed nor already refused."""
        if self.intercept_status(logistic_code) != INTERCEPT_REQUESTED:
            return False
        state = self.parcel_state(logistic_code)
        return state is None or (
            state[0] != STATE_SIGNED and state[1] not in (STATE_EX_REFUSED, STATE_EX_RETURN_SIGNED)
        )

    def _return_to_sender(
        self, logistic_code: str, shipper_code: str
    ) -> Generator[simpy.Event, Any, None]:
        """Stopped where it is (413), then back with the sender (406) after as long as it had
        travelled: no dice, so no other parcel's draws move."""
        origin, _ = self._cities(logistic_code, shipper_code)
        row = self.ctx.conn.execute(
            "SELECT location FROM parcels WHERE logistic_code = ?", (logistic_code,)
        ).fetchone()
        where = (row["location"] if row is not None else "") or origin
        self._advance(
            logistic_code,
            STATE_PROBLEM,
            STATE_EX_INTERCEPTED,
            where,
            f"【{where}】快件已被拦截，将退回寄件人",
        )
        self._set_intercept(logistic_code, INTERCEPT_INTERCEPTED)
        travelled = self.env.now - self._handed_at.get(logistic_code, self.env.now)
        yield self.env.timeout(max(travelled, 0.0))
        self._advance(
            logistic_code,
            STATE_PROBLEM,
            STATE_EX_RETURN_SIGNED,
            origin,
            f"【{origin}】拦截件已退回，由寄件人签收",
        )
        self._set_intercept(logistic_code, INTERCEPT_RETURNED)

    def _travel(
        self,
        logistic_code: str,
        shipper_code: str,
        forced: tuple[str, random.Random] | None = None,
    ) -> Generator[simpy.Event, Any, None]:
        """The parcel's journey; `forced` is a `problem_parcel` fault's fate and its dice (the
        world's own draws are made all the same, so a fault moves no other parcel's times)."""
        cfg = self.config
        # The parcel's own dice: its legs are the same whichever parcels were handed over
        # before it.
        rng = self.ctx.dice("journey", logistic_code)
        fate = self._fate(logistic_code)
        dice = rng
        if forced is not None:
            fate, dice = forced
        origin, destination = self._cities(logistic_code, shipper_code)
        company = SHIPPERS[shipper_code].name if shipper_code in SHIPPERS else shipper_code
        low, high = cfg.transit_hours
        # Every leg is drawn now, whatever the fate: a parcel that stops early (stuck, lost)
        # leaves the draws of the parcels handed over after it where they were.
        collect = rng.uniform(*cfg.collect_hours)
        # A mode outside the range would draw outside it; clamp it to the range.
        transit = rng.triangular(low, high, min(max(cfg.transit_mode_hours, low), high))
        dispatch = rng.uniform(*cfg.dispatch_hours)
        delivery = rng.uniform(*cfg.delivery_hours)

        if fate == STUCK_UNCOLLECTED:
            yield self.env.timeout(cfg.stuck_hours * HOUR)
            if not self._cancelled(logistic_code):
                self._advance(
                    logistic_code,
                    STATE_PROBLEM,
                    STATE_EX_NO_INFO,
                    origin,
                    f"【{origin}】发货后超时未揽收，暂无物流信息",
                )
            return
        yield self.env.timeout(collect * HOUR)
        if self._cancelled(logistic_code):
            return  # voided before the courier came: nothing moves
        self._advance(
            logistic_code,
            STATE_COLLECTED,
            STATE_EX_COLLECTED,
            origin,
            f"【{origin}】{company}快递员已揽收",
        )
        # Leaving the origin hub takes a small share of the transit time.
        yield self.env.timeout(transit * 0.15 * HOUR)
        self._advance(
            logistic_code,
            STATE_IN_TRANSIT,
            STATE_EX_IN_TRANSIT,
            origin,
            f"【{origin}】快件已发往{destination}",
        )
        if fate == LOST:
            # No scan ever again: the carrier flags it 403 and nothing follows.
            yield self.env.timeout(cfg.stuck_hours * HOUR)
            self._advance(
                logistic_code,
                STATE_PROBLEM,
                STATE_EX_NO_UPDATE,
                origin,
                f"【{origin}】快件超时未更新物流信息，正在核实",
            )
            return
        yield self.env.timeout(transit * 0.85 * HOUR)
        self._advance(
            logistic_code,
            STATE_IN_TRANSIT,
            STATE_EX_ARRIVED_CITY,
            destination,
            f"【{destination}】快件已到达{destination}转运中心",
        )
        yield self.env.timeout(dispatch * HOUR)
        self._advance(
            logistic_code,
            STATE_IN_TRANSIT,
            STATE_EX_OUT_FOR_DELIVERY,
            destination,
            f"【{destination}】快递员正在派件",
        )
        if fate == STUCK_UNSIGNED:
            yield self.env.timeout(cfg.stuck_hours * HOUR)
            self._advance(
                logistic_code,
                STATE_PROBLEM,
                STATE_EX_NOT_SIGNED,
                destination,
                f"【{destination}】快件派送后超时未签收",
            )
            return
        yield self.env.timeout(delivery * HOUR)
        if self._buyer_refuses(logistic_code):
            fate = REFUSED_RETURNED  # the buyer cancelled the order: refused, sent back
        if fate in (REFUSED, REFUSED_RETURNED):
            self._advance(
                logistic_code,
                STATE_PROBLEM,
                STATE_EX_REFUSED,
                destination,
                f"【{destination}】收件人拒收，快件将退回寄件人",
            )
            if fate == REFUSED_RETURNED:
                # The way back takes as long as the way out; the sender signs, not the buyer.
                yield self.env.timeout(transit * HOUR)
                self._advance(
                    logistic_code,
                    STATE_PROBLEM,
                    STATE_EX_RETURN_SIGNED,
                    origin,
                    f"【{origin}】退回件已由寄件人签收",
                )
        elif fate in (EXCEPTION_SIGNED, ADDRESS_SIGNED):
            yield from self._problem_then_signed(logistic_code, destination, fate, dice)
        elif fate in (LOCKER, LOCKER_OVERDUE):
            yield from self._locker(logistic_code, destination, overdue=fate == LOCKER_OVERDUE)
        else:
            self._advance(
                logistic_code,
                STATE_SIGNED,
                STATE_EX_SIGNED,
                destination,
                f"【{destination}】快件已签收，签收人：本人",
            )

    def _problem_then_signed(
        self, logistic_code: str, destination: str, fate: str, dice: random.Random
    ) -> Generator[simpy.Event, Any, None]:
        """A delivery exception (405) or an address or phone problem (420/421), then, the
        next attempt later, signed for (302): State 4 is not the end of a parcel."""
        if fate == EXCEPTION_SIGNED:
            state_ex, station = STATE_EX_DELIVERY_EXCEPTION, "派件异常，快递员将再次派送"
        elif dice.random() < 0.5:
            state_ex, station = STATE_EX_ADDRESS_UNCLEAR, "收货地址不详细，正在联系收件人"
        else:
            state_ex, station = STATE_EX_BAD_PHONE, "收件人电话错误，正在核实收件信息"
        self._advance(
            logistic_code, STATE_PROBLEM, state_ex, destination, f"【{destination}】{station}"
        )
        cfg = self.config
        # The next attempt: dispatched again and delivered, drawn from the fault's dice.
        retry = dice.uniform(*cfg.dispatch_hours) + dice.uniform(*cfg.delivery_hours)
        yield self.env.timeout(retry * HOUR)
        self._advance(
            logistic_code,
            STATE_SIGNED,
            STATE_EX_SIGNED_AFTER_PROBLEM,
            destination,
            f"【{destination}】快件已签收（派件异常后最终签收），签收人：本人",
        )

    def _locker(
        self, logistic_code: str, destination: str, overdue: bool
    ) -> Generator[simpy.Event, Any, None]:
        """Into a locker or station; picked up later, or left there past the holding time."""
        cfg = self.config
        self._advance(
            logistic_code,
            STATE_IN_TRANSIT,
            STATE_EX_LOCKER,
            destination,
            f"【{destination}】快件已放入快递柜/驿站，请凭取件码及时取件",
        )
        if overdue:
            yield self.env.timeout(cfg.locker_overdue_hours * HOUR)
            self._advance(
                logistic_code,
                STATE_PROBLEM,
                STATE_EX_LOCKER_OVERDUE,
                destination,
                f"【{destination}】快件在快递柜/驿站超时未取",
            )
            return
        pickup = self.ctx.dice("locker", logistic_code).uniform(*cfg.locker_pickup_hours)
        yield self.env.timeout(pickup * HOUR)
        self._advance(
            logistic_code,
            STATE_SIGNED,
            STATE_EX_LOCKER_SIGNED,
            destination,
            f"【{destination}】快件已从快递柜/驿站取出，已签收",
        )

    def _cities(self, logistic_code: str, shipper_code: str) -> tuple[str, str]:
        row = self._waybill_row(logistic_code)
        sender = row["sender_city"] if row else ""
        receiver = row["receiver_city"] if row else ""
        origin = sender or self._origin_by_shipper.get(shipper_code, UNKNOWN_ORIGIN)
        return origin, receiver or UNKNOWN_DESTINATION

    def _advance(
        self, logistic_code: str, state: int, state_ex: str, location: str, station: str
    ) -> None:
        """One step of the journey: parcel row, a trace line and a history line, then every
        subscriber with a callback is told."""
        conn = self.ctx.conn
        now = format_qimen_time(self.ctx.clock.now())
        signed = state == STATE_SIGNED
        with transaction(conn):
            conn.execute(
                "UPDATE parcels SET state = ?, state_ex = ?, location = ?, updated_sim = ?,"
                " signed_sim = CASE WHEN ? THEN ? ELSE signed_sim END,"
                " signed_wall = CASE WHEN ? THEN ? ELSE signed_wall END"
                " WHERE logistic_code = ?",
                (
                    state,
                    state_ex,
                    location,
                    now,
                    signed,
                    now,
                    signed,
                    self.ctx.clock.wall(),
                    logistic_code,
                ),
            )
            conn.execute(
                "INSERT INTO traces (logistic_code, seq, accept_time, accept_station, location,"
                " action) SELECT ?, COALESCE(MAX(seq), 0) + 1, ?, ?, ?, ? FROM traces"
                " WHERE logistic_code = ?",
                (logistic_code, now, station, location, state_ex, logistic_code),
            )
            self.ctx.history.record(
                "state",
                "parcel",
                state_ex,
                logistic_code,
                {"State": state, "StateEx": state_ex, "Location": location},
            )
        subscribers = conn.execute(
            "SELECT ebusiness_id, value_added FROM subscriptions WHERE logistic_code = ?"
            " ORDER BY rowid",
            (logistic_code,),
        ).fetchall()
        for row in subscribers:
            account = row["ebusiness_id"]
            if self.on_tracking is None or self.callback_url(account) is None:
                continue
            tracking = self.tracking(logistic_code, account)
            if tracking is not None:
                self._tell(account, tracking, bool(row["value_added"]))

    # -- fee statements (ecomock's 1950) --------------------------------------------------

    def close_fee_period(self, start: datetime, end: datetime) -> list[str]:
        """Bill [start, end) (simulated): a fee statement per account and express company
        with parcels to bill; their numbers. Closing a period twice bills nothing twice."""
        now = format_qimen_time(self.ctx.clock.now())
        issued = statements.close_period(
            self.ctx.conn, start, end, self.credentials.ebusiness_id, now
        )
        for number in issued:
            self.ctx.history.record("state", "fee_statement", "closed", number, {})
        return issued

    # -- queries (1002) and tracking events ------------------------------------------------

    def signed(self, logistic_code: str) -> bool:
        """Whether the buyer has signed for the parcel (State 3), for the simulator's buyers."""
        row = self.ctx.conn.execute(
            "SELECT state FROM parcels WHERE logistic_code = ?", (logistic_code,)
        ).fetchone()
        return row is not None and row[0] == 3

    def tracking(self, logistic_code: str, account: str | None = None) -> Tracking | None:
        """A parcel's state and traces as `account` sees them (the connector's by default).

        None if the carrier never had the parcel in hand or it is another account's waybill.
        """
        owner = self._account(account)
        conn = self.ctx.conn
        waybill = self._waybill_row(logistic_code)
        if waybill is not None and waybill["ebusiness_id"] != owner:
            return None
        parcel = conn.execute(
            "SELECT shipper_code, state, state_ex, location FROM parcels WHERE logistic_code = ?",
            (logistic_code,),
        ).fetchone()
        if parcel is None:
            return None
        subscription = conn.execute(
            "SELECT order_code FROM subscriptions WHERE logistic_code = ? AND ebusiness_id = ?",
            (logistic_code, owner),
        ).fetchone()
        order_code = subscription["order_code"] if subscription else ""
        if not order_code and waybill is not None:
            order_code = waybill["order_code"]
        traces = tuple(
            Trace(row[0], row[1], row[2], row[3])
            for row in conn.execute(
                "SELECT accept_time, accept_station, location, action FROM traces"
                " WHERE logistic_code = ? ORDER BY seq",
                (logistic_code,),
            )
        )
        return Tracking(
            logistic_code=logistic_code,
            shipper_code=parcel["shipper_code"],
            order_code=order_code,
            state=parcel["state"],
            state_ex=parcel["state_ex"],
            location=parcel["location"],
            traces=traces,
        )

    def _tell(self, account: str, tracking: Tracking, value_added: bool) -> None:
        """Hand the account's view of the parcel to `on_tracking` (no-op without a callback)."""
        url = self.callback_url(account)
        if url is not None and self.on_tracking is not None:
            self.on_tracking(TrackingChanged(account, url, tracking, value_added))


def _waybill(row: Any, created: bool) -> Waybill:
    return Waybill(
        logistic_code=row["logistic_code"],
        order_code=row["order_code"],
        shipper_code=row["shipper_code"],
        mark_destination=row["mark_destination"],
        sorting_code=row["sorting_code"],
        created_sim=row["created_sim"],
        created=created,
    )


def _sorting_code(key: str) -> str:
    """A stable 分拣码-like code (e.g. `571-27`) so the same city sorts the same way."""
    crc = zlib.crc32(key.encode())
    return f"{100 + crc % 900}-{10 + (crc // 900) % 90}"


def _upgrade_tables(conn: Any) -> None:
    """Bring tables from before `waybills.owner_code` and `subscriptions.value_added` (an
    `ecomock up` folder) up to date."""
    columns = {row[1] for row in conn.execute("PRAGMA table_info(waybills)")}
    if columns and "owner_code" not in columns:
        conn.execute("ALTER TABLE waybills ADD COLUMN owner_code TEXT NOT NULL DEFAULT ''")
        conn.execute("DROP INDEX IF EXISTS waybills_live_order")
    columns = {row[1] for row in conn.execute("PRAGMA table_info(parcels)")}
    if columns and "receiver_province" not in columns:
        conn.execute("ALTER TABLE parcels ADD COLUMN sender_province TEXT NOT NULL DEFAULT ''")
        conn.execute("ALTER TABLE parcels ADD COLUMN receiver_province TEXT NOT NULL DEFAULT ''")
    columns = {row[1] for row in conn.execute("PRAGMA table_info(subscriptions)")}
    if columns and "value_added" not in columns:
        conn.execute("ALTER TABLE subscriptions ADD COLUMN value_added INTEGER NOT NULL DEFAULT 0")
