"""The carrier fake's domain: waybills, subscriptions, parcels moving in simulated time, pushes."""

from __future__ import annotations

import zlib
from collections.abc import Generator
from typing import Any
from urllib.parse import urlencode

import httpx
import orjson
import simpy

from fake_systems.carrier.models import (
    RESULT_OTHER,
    SHIPPERS,
    STATE_COLLECTED,
    STATE_EX_ARRIVED_CITY,
    STATE_EX_COLLECTED,
    STATE_EX_IN_TRANSIT,
    STATE_EX_OUT_FOR_DELIVERY,
    STATE_EX_SIGNED,
    STATE_IN_TRANSIT,
    STATE_NO_TRACE,
    STATE_SIGNED,
    Address,
    CarrierConfig,
    CarrierError,
    ShipperSpec,
    Trace,
    Tracking,
    Waybill,
)
from fake_systems.common.context import SystemContext
from fake_systems.common.credentials import KdniaoCredentials
from fake_systems.common.signing import kdniao_data_sign
from fake_systems.common.storage import transaction
from fake_systems.common.webhooks import Push
from simulator.clock import format_qimen_time
from simulator.world import World

__all__ = ["CarrierConfig", "CarrierService"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS waybills (
    logistic_code    TEXT PRIMARY KEY,
    order_code       TEXT NOT NULL UNIQUE,
    shipper_code     TEXT NOT NULL,
    created_sim      TEXT NOT NULL,
    created_wall     REAL NOT NULL,
    mark_destination TEXT NOT NULL DEFAULT '',
    sorting_code     TEXT NOT NULL DEFAULT '',
    sender_city      TEXT NOT NULL DEFAULT '',
    receiver_city    TEXT NOT NULL DEFAULT ''
);
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
    updated_sim      TEXT NOT NULL
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
    logistic_code TEXT NOT NULL UNIQUE,
    shipper_code  TEXT NOT NULL,
    order_code    TEXT NOT NULL DEFAULT '',
    created_wall  REAL NOT NULL
);
"""

HOUR = 3600.0
UNKNOWN_ORIGIN = "始发地"
UNKNOWN_DESTINATION = "目的地"


class CarrierService:
    """A Kdniao-fronted express carrier: issues waybills, tracks parcels, pushes traces.

    The simulator and the WMS call it in process (it implements the WMS's `CarrierDesk`);
    the Kdniao adapter calls it for the connector. The runner sets `push_callback_url`
    to where the connector receives 101 tracking pushes.

    LIMITATIONS (what the fake does not imitate):
    - No problem parcels (State 4), lockers (211/311), refusals or returns; every parcel
      is signed for by the addressee.
    - No 1147 waybill cancellation, no pickup orders (1001/1004), no number recognition
      (2002), no print templates (PrintTemplate) in the 1007 answer.
    - Waybill numbers have plausible shapes per ShipperCode but no check digits.
    - Sender/Receiver are not validated; only their cities are kept, for traces.
    - A hand-over of a waybill the carrier never issued is still tracked (the parcel
      physically exists); its OrderCode is then empty unless a subscription named one.
    - One push per state change carrying one parcel (Count 1); real Kdniao batches.
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
        # Origin city per ShipperCode, from the warehouses that ship with that carrier.
        self._origin_by_shipper: dict[str, str] = {}

    @property
    def env(self) -> simpy.Environment:
        return self.ctx.clock.env

    def setup(self, world: World) -> None:
        """Create the tables; remember which warehouse city each carrier collects from."""
        self.ctx.conn.executescript(SCHEMA)
        for warehouse in world.warehouses:
            self._origin_by_shipper.setdefault(warehouse.carrier_code, warehouse.city)

    # -- waybills (1007) -------------------------------------------------------------------

    def create_waybill(
        self,
        order_code: str,
        shipper_code: str,
        sender: Address | None = None,
        receiver: Address | None = None,
    ) -> Waybill:
        """Kdniao 1007: a waybill for the order; a repeated OrderCode gets the first waybill back.

        Raises CarrierError(105) for a ShipperCode the fake does not serve.
        """
        conn = self.ctx.conn
        with transaction(conn):
            row = conn.execute(
                "SELECT * FROM waybills WHERE order_code = ?", (order_code,)
            ).fetchone()
            if row is not None:
                return _waybill(row, created=False)
            spec = SHIPPERS.get(shipper_code)
            if spec is None:
                raise CarrierError(RESULT_OTHER, f"不支持的快递公司编码: {shipper_code}")
            logistic_code = self._new_logistic_code(spec)
            receiver_city = receiver.city if receiver else ""
            mark = " ".join(
                part for part in (receiver_city, receiver.area if receiver else "") if part
            )
            sorting = _sorting_code(receiver_city or order_code)
            created_sim = format_qimen_time(self.ctx.clock.now())
            conn.execute(
                "INSERT INTO waybills (logistic_code, order_code, shipper_code, created_sim,"
                " created_wall, mark_destination, sorting_code, sender_city, receiver_city)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
                ),
            )
            self.ctx.history.record(
                "state", "waybill", "issued", logistic_code, {"OrderCode": order_code}
            )
        return Waybill(logistic_code, order_code, shipper_code, mark, sorting, created_sim, True)

    def issue_waybill(self, order_code: str, shipper_code: str) -> str:
        """CarrierDesk: the LogisticCode for the order (the same one for a repeated order)."""
        return self.create_waybill(order_code, shipper_code).logistic_code

    def _new_logistic_code(self, spec: ShipperSpec) -> str:
        rng = self.ctx.random
        while True:
            digits = rng.randint(spec.min_digits, spec.max_digits)
            code = spec.prefix + str(rng.randrange(10 ** (digits - 1), 10**digits))
            exists = self.ctx.conn.execute(
                "SELECT 1 FROM waybills WHERE logistic_code = ?", (code,)
            ).fetchone()
            if exists is None:
                return code

    # -- subscriptions (1008) --------------------------------------------------------------

    def subscribe(self, shipper_code: str, logistic_code: str, order_code: str = "") -> bool:
        """Kdniao 1008: push this waybill's traces from now on. False if already subscribed.

        As Kdniao does, a parcel that already has traces is pushed at once.
        """
        if shipper_code not in SHIPPERS:
            raise CarrierError(RESULT_OTHER, f"不支持的快递公司编码: {shipper_code}")
        conn = self.ctx.conn
        with transaction(conn):
            cursor = conn.execute(
                "INSERT OR IGNORE INTO subscriptions (logistic_code, shipper_code, order_code,"
                " created_wall) VALUES (?, ?, ?, ?)",
                (logistic_code, shipper_code, order_code, self.ctx.clock.wall()),
            )
            created = cursor.rowcount == 1
        if created:
            tracking = self.tracking(logistic_code)
            if tracking is not None and tracking.traces:
                self._push(tracking)
        return created

    def is_subscribed(self, logistic_code: str) -> bool:
        row = self.ctx.conn.execute(
            "SELECT 1 FROM subscriptions WHERE logistic_code = ?", (logistic_code,)
        ).fetchone()
        return row is not None

    # -- parcels ---------------------------------------------------------------------------

    def hand_over(self, logistic_code: str, shipper_code: str, weight_kg: float) -> None:
        """CarrierDesk: the parcel leaves the warehouse; starts its journey. Repeats are ignored."""
        conn = self.ctx.conn
        now = format_qimen_time(self.ctx.clock.now())
        with transaction(conn):
            cursor = conn.execute(
                "INSERT OR IGNORE INTO parcels (logistic_code, shipper_code, state, state_ex,"
                " handed_over_sim, handed_over_wall, weight_kg, updated_sim)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    logistic_code,
                    shipper_code,
                    STATE_NO_TRACE,
                    str(STATE_NO_TRACE),
                    now,
                    self.ctx.clock.wall(),
                    weight_kg,
                    now,
                ),
            )
            if cursor.rowcount != 1:
                return
            self.ctx.history.record(
                "state", "parcel", "handed_over", logistic_code, {"weight_kg": weight_kg}
            )
        self.env.process(self._travel(logistic_code, shipper_code))

    def _travel(self, logistic_code: str, shipper_code: str) -> Generator[simpy.Event, Any, None]:
        cfg = self.config
        rng = self.ctx.random
        origin, destination = self._cities(logistic_code, shipper_code)
        company = SHIPPERS[shipper_code].name if shipper_code in SHIPPERS else shipper_code
        low, high = cfg.transit_hours
        # A mode outside the range would draw outside it; clamp it to the range.
        transit = rng.triangular(low, high, min(max(cfg.transit_mode_hours, low), high))

        yield self.env.timeout(rng.uniform(*cfg.collect_hours) * HOUR)
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
        yield self.env.timeout(transit * 0.85 * HOUR)
        self._advance(
            logistic_code,
            STATE_IN_TRANSIT,
            STATE_EX_ARRIVED_CITY,
            destination,
            f"【{destination}】快件已到达{destination}转运中心",
        )
        yield self.env.timeout(rng.uniform(*cfg.dispatch_hours) * HOUR)
        self._advance(
            logistic_code,
            STATE_IN_TRANSIT,
            STATE_EX_OUT_FOR_DELIVERY,
            destination,
            f"【{destination}】快递员正在派件",
        )
        yield self.env.timeout(rng.uniform(*cfg.delivery_hours) * HOUR)
        self._advance(
            logistic_code,
            STATE_SIGNED,
            STATE_EX_SIGNED,
            destination,
            f"【{destination}】快件已签收，签收人：本人",
        )

    def _cities(self, logistic_code: str, shipper_code: str) -> tuple[str, str]:
        row = self.ctx.conn.execute(
            "SELECT sender_city, receiver_city FROM waybills WHERE logistic_code = ?",
            (logistic_code,),
        ).fetchone()
        sender = row["sender_city"] if row else ""
        receiver = row["receiver_city"] if row else ""
        origin = sender or self._origin_by_shipper.get(shipper_code, UNKNOWN_ORIGIN)
        return origin, receiver or UNKNOWN_DESTINATION

    def _advance(
        self, logistic_code: str, state: int, state_ex: str, location: str, station: str
    ) -> None:
        """One step of the journey: parcel row, a trace line and a history line, then the push."""
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
        if self.push_callback_url is not None and self.is_subscribed(logistic_code):
            tracking = self.tracking(logistic_code)
            if tracking is not None:
                self._push(tracking)

    # -- queries (1002) and pushes (101) ---------------------------------------------------

    def tracking(self, logistic_code: str) -> Tracking | None:
        """A parcel's state and traces, or None if the carrier never had it in hand."""
        conn = self.ctx.conn
        parcel = conn.execute(
            "SELECT p.shipper_code, p.state, p.state_ex, p.location,"
            " COALESCE(NULLIF(s.order_code, ''), w.order_code, '') AS order_code"
            " FROM parcels p LEFT JOIN subscriptions s ON s.logistic_code = p.logistic_code"
            " LEFT JOIN waybills w ON w.logistic_code = p.logistic_code"
            " WHERE p.logistic_code = ?",
            (logistic_code,),
        ).fetchone()
        if parcel is None:
            return None
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
            order_code=parcel["order_code"],
            state=parcel["state"],
            state_ex=parcel["state_ex"],
            location=parcel["location"],
            traces=traces,
        )

    def _push(self, tracking: Tracking) -> None:
        """Send one 101 push to the subscriber's callback (no-op without a callback URL)."""
        url = self.push_callback_url
        if url is None:
            return
        ebusiness_id = self.credentials.ebusiness_id
        body = {
            "EBusinessID": ebusiness_id,
            "PushTime": format_qimen_time(self.ctx.clock.now()),
            "Count": 1,
            "Data": [tracking_to_wire(tracking, ebusiness_id)],
        }
        request_data = orjson.dumps(body).decode()
        form = {
            "RequestData": request_data,
            "RequestType": "101",
            "DataSign": kdniao_data_sign(request_data, self.credentials.api_key),
            "DataType": "2",
        }
        self.ctx.dispatcher.send(
            Push(
                operation="101",
                entity=tracking.logistic_code,
                url=url,
                content=urlencode(form).encode(),
                headers={"Content-Type": "application/x-www-form-urlencoded;charset=utf-8"},
                accepted=push_accepted,
                payload_for_history=body,
            )
        )


def tracking_to_wire(tracking: Tracking, ebusiness_id: str) -> dict[str, Any]:
    """A parcel as one item of a 101 push's Data[] (and, nearly, a 1002 answer)."""
    return {
        "EBusinessID": ebusiness_id,
        "OrderCode": tracking.order_code,
        "ShipperCode": tracking.shipper_code,
        "LogisticCode": tracking.logistic_code,
        "Success": True,
        "State": str(tracking.state),
        "StateEx": tracking.state_ex,
        "Location": tracking.location,
        "Traces": [trace.to_wire() for trace in tracking.traces],
    }


def push_accepted(response: httpx.Response) -> bool:
    """The subscriber accepted a 101 push if it answered JSON with `"Success": true`."""
    if response.status_code != 200:
        return False
    try:
        answer = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return False
    return isinstance(answer, dict) and answer.get("Success") is True


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
