"""The carrier fake's vocabulary: configuration, Kdniao states and codes, waybills, traces,
the tracking event."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# Kdniao ResultCode values (bububa/kdniao:config/const.go, plus 106 for a repeated OrderCode).
RESULT_SUCCESS = "100"
RESULT_MISSING_PARAMETER = "101"
RESULT_BAD_SIGN = "102"
RESULT_FORMAT = "103"
RESULT_USER = "104"
RESULT_OTHER = "105"
RESULT_ALREADY_ORDERED = "106"
RESULT_QUERY_LIMIT = "405"  # 超出查询次数限制 (bububa/kdniao:config/const.go)
# The documented text says per day (日查询次数<=3万); the per-second one is ecomock's.
MSG_QUERY_LIMIT_SECOND = "超出查询次数限制（每秒）"
MSG_QUERY_LIMIT_DAY = "超出查询次数限制（每日）"

# Kdniao State (main status) values, written as strings on the wire as Kdniao does.
STATE_NO_TRACE = 0
STATE_COLLECTED = 1
STATE_IN_TRANSIT = 2
STATE_SIGNED = 3
STATE_PROBLEM = 4

# StateEx (detailed status) values the fake walks through.
STATE_EX_COLLECTED = "1"
STATE_EX_IN_TRANSIT = "2"
STATE_EX_ARRIVED_CITY = "201"
STATE_EX_OUT_FOR_DELIVERY = "202"
STATE_EX_LOCKER = "211"  # 已放入快递柜或驿站 (State 2)
STATE_EX_SIGNED = "301"
STATE_EX_SIGNED_AFTER_PROBLEM = "302"  # 派件异常后最终签收 (State 3): a 4 is not terminal
STATE_EX_LOCKER_SIGNED = "311"  # 已取出快递柜或驿站 (State 3)
STATE_EX_NO_INFO = "401"  # 发货无信息: handed over, never collected
STATE_EX_NOT_SIGNED = "402"  # 超时未签收: out for delivery, never signed
STATE_EX_NO_UPDATE = "403"  # 超时未更新: the parcel went silent in transit (the "lost" one)
STATE_EX_REFUSED = "404"  # 拒收（退件）
STATE_EX_DELIVERY_EXCEPTION = "405"  # 派件异常
STATE_EX_RETURN_SIGNED = "406"  # 退货签收: the refused parcel is back with the sender
STATE_EX_INTERCEPTED = "413"  # 单号已拦截: stopped on its way at the sender's request
STATE_EX_LOCKER_OVERDUE = "412"  # 快递柜或驿站超时未取
STATE_EX_ADDRESS_UNCLEAR = "420"  # 收货地址不详细
STATE_EX_BAD_PHONE = "421"  # 收件人电话错误


@dataclass(frozen=True)
class ShipperSpec:
    """How one express company's waybill numbers look: a prefix, then random digits."""

    name: str
    prefix: str
    min_digits: int
    max_digits: int

    def matches(self, logistic_code: str) -> bool:
        """True if the number has this company's shape (what 2002 recognition goes by)."""
        digits = rf"\d{{{self.min_digits},{self.max_digits}}}"
        return re.fullmatch(re.escape(self.prefix) + digits, logistic_code, re.ASCII) is not None


# ShipperCode -> number format. Formats are plausible, not the carriers' real check-digit rules.
SHIPPERS: dict[str, ShipperSpec] = {
    "SF": ShipperSpec("顺丰速运", "SF", 12, 12),
    "YTO": ShipperSpec("圆通速递", "YT", 13, 13),
    "ZTO": ShipperSpec("中通快递", "7", 11, 13),  # 12-14 digits in all, starting with 7
    "STO": ShipperSpec("申通快递", "77", 11, 11),
    "YD": ShipperSpec("韵达速递", "43", 11, 11),
    "JD": ShipperSpec("京东快递", "JDV", 12, 12),
    "EMS": ShipperSpec("EMS", "98", 11, 11),
}


@dataclass(frozen=True)
class CarrierConfig:
    """Durations in simulated hours; each parcel draws its own from the context's dice.

    collect: hand-over -> collected; transit: collected -> arrived in the destination city
    (triangular with mode `transit_mode_hours`); dispatch: arrived -> out for delivery;
    delivery: out for delivery -> signed.

    Problem parcels (shares of all parcels, drawn once per parcel; all 0 by default, and then
    no dice are rolled for them, so a run's timings stay what they were without them):
    `refused_rate` -> refused at the door (4/404); `stuck_rate` -> stuck, half never collected
    (4/401 after `stuck_hours`), half out for delivery and never signed (4/402 after
    `stuck_hours`); `locker_rate` -> put in a locker or station (2/211), then picked up
    (3/311, `locker_pickup_hours` later) or, for `locker_overdue_rate` of them, left there
    (4/412 after `locker_overdue_hours`).

    Query limits per account for 1002 (answered 405): `query_per_second` in wall seconds,
    `query_per_day` per simulated China day; 0 means no limit.
    """

    collect_hours: tuple[float, float] = (0.5, 2.0)
    transit_hours: tuple[float, float] = (4.0, 48.0)
    transit_mode_hours: float = 12.0
    dispatch_hours: tuple[float, float] = (0.5, 3.0)
    delivery_hours: tuple[float, float] = (1.0, 4.0)
    refused_rate: float = 0.0
    stuck_rate: float = 0.0
    locker_rate: float = 0.0
    locker_overdue_rate: float = 0.0
    stuck_hours: float = 48.0
    locker_pickup_hours: tuple[float, float] = (1.0, 24.0)
    locker_overdue_hours: float = 48.0
    query_per_second: int = 100
    query_per_day: int = 100_000

    def __post_init__(self) -> None:
        rates = (self.refused_rate, self.stuck_rate, self.locker_rate, self.locker_overdue_rate)
        if any(not 0.0 <= rate <= 1.0 for rate in rates):
            raise ValueError("carrier rates must be between 0 and 1")
        if self.refused_rate + self.stuck_rate + self.locker_rate > 1.0:
            raise ValueError("refused_rate + stuck_rate + locker_rate must not exceed 1")
        if self.query_per_second < 0 or self.query_per_day < 0:
            raise ValueError("query limits must be >= 0 (0 = no limit)")

    @property
    def has_problems(self) -> bool:
        return self.refused_rate + self.stuck_rate + self.locker_rate > 0


@dataclass(frozen=True)
class Address:
    """The part of a Kdniao Sender/Receiver the fake keeps (for traces and MarkDestination)."""

    province: str = ""
    city: str = ""
    area: str = ""


@dataclass(frozen=True)
class Waybill:
    logistic_code: str
    order_code: str
    shipper_code: str
    mark_destination: str
    sorting_code: str
    created_sim: str
    created: bool  # False when the OrderCode already had a waybill (idempotent repeat)


@dataclass(frozen=True)
class Trace:
    """One line of a parcel's tracking history, as Kdniao's Traces[] item."""

    accept_time: str
    accept_station: str
    location: str
    action: str

    def to_wire(self, value_added: bool) -> dict[str, str]:
        """The Traces[] item; `Location` and `Action` belong to the value-added product."""
        item = {"AcceptTime": self.accept_time, "AcceptStation": self.accept_station}
        if value_added:
            item.update(Location=self.location, Action=self.action)
        return item


@dataclass(frozen=True)
class Tracking:
    """A parcel's current state and full trace list (what 1002 answers and 101 pushes)."""

    logistic_code: str
    shipper_code: str
    order_code: str
    state: int
    state_ex: str
    location: str
    traces: tuple[Trace, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class TrackingChanged:
    """Domain event: a parcel moved, as one subscribing account sees it, for that account's
    callback. The protocol side renders and signs it (Kdniao: a 101 push)."""

    account: str  # the subscriber's merchant account (EBusinessID)
    callback_url: str
    tracking: Tracking
    value_added: bool = False  # subscribed through 8008 (在途监控) rather than 1008


# What became of an interception request (ecomock's `intercepts.status`).
INTERCEPT_REQUESTED = "requested"  # accepted; the courier stops the parcel at its next scan
INTERCEPT_INTERCEPTED = "intercepted"  # stopped (413), on its way back to the sender
INTERCEPT_RETURNED = "returned"  # back with the sender (406)
INTERCEPT_TOO_LATE = "too_late"  # signed for before the courier could stop it
MSG_INTERCEPT_TOO_LATE = "快件已签收，无法拦截"


class CarrierError(Exception):
    """A refusal answered on the wire as `{"Success": false, "ResultCode": code, "Reason": …}`."""

    def __init__(self, result_code: str, reason: str) -> None:
        super().__init__(f"{result_code}: {reason}")
        self.result_code = result_code
        self.reason = reason
