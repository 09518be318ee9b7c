"""Value types and errors of the OMS: new trades from the simulator, stored trades, query pages."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from simulator.world import Customer


class TradeStatus(IntEnum):
    """旺店通 trade_status values the fake uses (10 unpaid and 55 reviewed are never reached)."""

    CANCELLED = 5
    PAID = 30  # awaiting review: the connector's cue to fulfil
    SHIPPED = 95
    COMPLETED = 110


# Kdniao-style trace state that means the parcel was signed for.
TRACE_SIGNED = 3


@dataclass(frozen=True)
class NewTradeLine:
    """One line of a paid platform order; `share_cents` is what the buyer paid for it."""

    spec_no: str
    goods_name: str
    num: int
    price_cents: int
    share_cents: int


@dataclass(frozen=True)
class NewTrade:
    """A platform order the simulator hands to the OMS when the customer pays."""

    src_tid: str
    shop_no: str
    warehouse_no: str
    logistics_code: str
    receiver: Customer
    lines: tuple[NewTradeLine, ...]
    post_cents: int = 0


@dataclass(frozen=True)
class TradeLine:
    """A stored order line (旺店通 `detail_list` entry)."""

    rec_id: int
    src_oid: str
    src_tid: str
    spec_no: str
    goods_name: str
    num: int
    price_cents: int
    share_cents: int
    refund_status: int


@dataclass(frozen=True)
class Trade:
    """A stored trade with its lines, as the query returns it."""

    trade_no: str
    src_tid: str
    platform: str
    shop_no: str
    owner_code: str
    warehouse_no: str
    logistics_code: str
    logistics_no: str | None
    trade_status: int
    trade_time: str
    pay_time: str
    modified: str
    receiver_name: str
    receiver_mobile: str
    receiver_province: str
    receiver_city: str
    receiver_district: str
    receiver_address: str
    goods_cents: int
    discount_cents: int
    post_cents: int
    paid_cents: int
    lines: tuple[TradeLine, ...]


@dataclass(frozen=True)
class TradePage:
    """One page of a modified-time window query."""

    total_count: int
    trades: tuple[Trade, ...]


class OmsError(Exception):
    """A request the OMS refuses; the adapter turns each subclass into its own wire code."""


class InvalidRequest(OmsError):
    """Missing, malformed or out-of-range business parameters."""


class WindowTooLong(InvalidRequest):
    """A query window longer than the 60 minutes the API allows."""


class UnknownTrade(OmsError):
    """No trade with that trade_no."""


class StateConflict(OmsError):
    """The trade's state does not allow the operation (e.g. a second, different waybill)."""
