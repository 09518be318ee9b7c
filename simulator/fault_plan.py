"""A fault plan's vocabulary: the kinds of fault, where each acts, and one rule of a plan.

Plain data in the world layer, so that a scenario can name and check its faults without the
fakes; the fakes' `FaultInjector` (fake_systems/common/faults.py) plays them. docs/CHAOS.md
describes every kind: what goes over the wire, how the real system behaves, what a connector
must do.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Literal, get_args


class Stage(Enum):
    """Where a fault kind acts."""

    BEFORE = "before"  # instead of (or delaying) the work: the state does not change
    AFTER = "after"  # the work committed, then the answer is lost, late or broken
    PUSH = "push"  # a push from the fake to the connector
    WORLD = "world"  # the business the simulator plays (stock, parcels, clocks, data)


FaultKind = Literal[
    # transport, before the work
    "latency",
    "reset_before",
    "outage",
    # transport, after the commit
    "lost_response",
    "hang",
    "reset_after",
    "empty_answer",
    "truncated_answer",
    "malformed_answer",
    "slow_answer",
    # HTTP, before the work
    "http_500",
    "http_502",
    "http_503",
    "http_504",
    "http_429",
    # each protocol's own transient refusal, before the work
    "busy",
    "rate_limited",
    "session_expired",
    "rejected",
    # pushes to the connector
    "push_duplicate",
    "push_reorder",
    "push_delay",
    "push_loss",
    "push_receiver_failure",
    "push_forged",
    # business
    "stock_out",
    "short_pick",
    "problem_parcel",
    "clock_skew",
    "odd_data",
]

_BEFORE = ("latency", "reset_before", "outage", "http_500", "http_502", "http_503", "http_504",
           "http_429", "busy", "rate_limited", "session_expired", "rejected")  # fmt: skip
_AFTER = ("lost_response", "hang", "reset_after", "empty_answer", "truncated_answer",
          "malformed_answer", "slow_answer")  # fmt: skip
_PUSH = ("push_duplicate", "push_reorder", "push_delay", "push_loss", "push_receiver_failure",
         "push_forged")  # fmt: skip
KINDS: dict[str, Stage] = {
    **dict.fromkeys(_BEFORE, Stage.BEFORE),
    **dict.fromkeys(_AFTER, Stage.AFTER),
    **dict.fromkeys(_PUSH, Stage.PUSH),
    **{
        kind: Stage.WORLD for kind in get_args(FaultKind) if kind not in (*_BEFORE, *_AFTER, *_PUSH)
    },
}
EVERY_OPERATION = "*"
# How `ecomock coverage` labels a push ("deliveryorder.confirm (push)"); a push fault may name
# its push so or bare.
PUSH_SUFFIX = " (push)"
SYSTEMS = ("oms", "wms", "erp", "bank", "carrier")
# The operation a `problem_parcel` rule names (or `*`) and its fault rows carry.
PROBLEM_PARCEL_OPERATION = "1007"
# What a `problem_parcel` rule's `params.fate` may force (none: a seeded mix of them all).
PROBLEM_FATES = (
    "refused",  # 404 拒收, then 406 退货签收 when the parcel is back with the sender
    "lost",  # 403 超时未更新 after leaving the origin, then silence
    "stuck",  # 401 发货无信息 or 402 超时未签收
    "exception_then_signed",  # 405 派件异常, then 302 signed at the next attempt
    "address_problem",  # 420 收货地址不详细 or 421 收件人电话错误, then 302
    "locker_overdue",  # 211 into a locker, then 412 超时未取
)
# A clock_skew beyond a day is no skew but a broken clock; every tolerance is minutes.
MAX_CLOCK_SKEW_SECONDS = 86_400.0


@dataclass(frozen=True)
class FaultRule:
    """One line of a fault plan; `params` are the kind's own (a latency's distribution…)."""

    system: str
    operation: str
    kind: FaultKind
    rate: float = 0.0
    every_nth: int = 0
    start: float = 0.0
    until: float = math.inf
    params: Mapping[str, Any] = field(default_factory=dict, hash=False, compare=False)

    @property
    def stage(self) -> Stage:
        return KINDS[self.kind]

    def matches(self, system: str, operation: str, stage: Stage) -> bool:
        return (
            self.system == system
            and self.operation in (operation, EVERY_OPERATION)
            and self.stage is stage
        )

    def describe(self) -> dict[str, Any]:
        """The rule as `/_fake/faults` and the report show it."""
        return {
            "system": self.system,
            "operation": self.operation,
            "kind": self.kind,
            "rate": self.rate,
            "every_nth": self.every_nth,
            "from": self.start,
            "until": None if math.isinf(self.until) else self.until,
            "params": dict(self.params),
        }


# Kinds only some systems have, and on which of their operations (None: every one); every
# other kind: any operation of any system. The research notes
# (docs/protocols/research/issue10-fault-sources.md) say which failures each real system has:
# only the bank answers a pain.002 rejection, and to a pain.001 alone (§2.5); the bank signals
# a rate limit as HTTP 429 of its own API, not in a body (§3.4); 旺店通 and K3 push nothing
# (§1.4); the business kinds act where their business is (stock at the WMS, parcels at the
# carrier, orders at the OMS).
ONLY_ON: dict[str, dict[str, frozenset[str] | None]] = {
    "rejected": {"bank": frozenset({"pain.001"})},
    "rate_limited": dict.fromkeys(("oms", "wms", "erp", "carrier")),
    **{kind: dict.fromkeys(("wms", "bank", "carrier")) for kind in _PUSH},
    # The WMS's business kinds hit the orders deliveryorder.create brought (at their pick); a
    # short pick, stockout.create's too (a purchase return ships what the picker found).
    "stock_out": {"wms": frozenset({"deliveryorder.create"})},
    "short_pick": {"wms": frozenset({"deliveryorder.create", "stockout.create"})},
    # A parcel starts its journey when the WMS hands it over under the waybill 1007 issued:
    # the rule names that operation (or `*`), and so does its fault row.
    "problem_parcel": {"carrier": frozenset({"1007"})},
    # New trades reach the OMS from the simulator (through no call of its API) or a platform's
    # push alike: `*` only.
    "odd_data": {"oms": frozenset()},
}


def systems_with(kind: str) -> tuple[str, ...]:
    """The systems a fault of `kind` may be declared on."""
    return tuple(ONLY_ON[kind]) if kind in ONLY_ON else SYSTEMS


def unsupported(system: str, operation: str, kind: str) -> str | None:
    """Why `kind` can never hit `operation` of `system` (a scenario error), or None."""
    where = ONLY_ON.get(kind)
    if where is None:
        return None
    if system not in where:
        return f"{system} has no {kind!r} (only {', '.join(sorted(where))} has)"
    operations = where[system]
    if operations is not None and operation != EVERY_OPERATION and operation not in operations:
        if KINDS[kind] is Stage.WORLD:
            named = " or ".join(repr(name) for name in (*sorted(operations), EVERY_OPERATION))
            return f"{kind} acts on the {system}'s business, not on a call: give {named}"
        return f"{system} answers {kind!r} to {', '.join(sorted(operations))} only"
    return None


_DISTRIBUTIONS = {"fixed": ("seconds",), "uniform": ("low", "high"), "lognormal": ("median",)}
# The parameters each request-side kind takes; a kind not listed takes none it checks here.
_PARAMS: dict[str, frozenset[str]] = {
    "latency": frozenset({"distribution", "seconds", "low", "high", "median", "sigma"}),
    "hang": frozenset({"seconds"}),
    "slow_answer": frozenset({"seconds"}),
    "http_429": frozenset({"retry_after"}),
    "rate_limited": frozenset({"retry_after"}),
    "rejected": frozenset({"reason"}),
}
_REQUEST_KINDS = (*_BEFORE, *_AFTER)
_REASON = re.compile(r"^[A-Z0-9]{4}$")  # an ISO 20022 ExternalStatusReason1Code


# The business kinds' parameters (docs/CHAOS.md): how long the warehouse waits for stock,
# which odd trade the OMS takes in (none: a seeded mix), a parcel's fate, a clock's skew.
_WORLD_PARAMS: dict[str, frozenset[str]] = {
    "stock_out": frozenset({"restock_after"}),
    "short_pick": frozenset({"restock_after"}),
    "odd_data": frozenset({"variant"}),
    "problem_parcel": frozenset({"fate"}),
    "clock_skew": frozenset({"seconds"}),
}
ODD_DATA_VARIANTS = (
    "fuzzy_address",
    "emoji",
    "long_text",
    "many_lines",
    # Money: a free gift line, one SKU on two lines, a coupon above a line, 0.01 CNY paid.
    "gift_line",
    "duplicate_sku",
    "coupon",
    "one_fen",
)


def params_problem(kind: str, params: Mapping[str, Any]) -> str | None:
    """What is wrong with a kind's `params`, or None: the request-side kinds' and the business
    kinds' (the push kinds bound theirs where they play them)."""
    if kind not in _REQUEST_KINDS and kind not in _WORLD_PARAMS:
        return None
    allowed = _PARAMS.get(kind) or _WORLD_PARAMS.get(kind, frozenset())
    unknown = sorted(set(params) - allowed)
    if unknown:
        takes = ", ".join(sorted(allowed)) or "none"
        return f"{kind} has no parameter {unknown[0]!r} (it takes: {takes})"
    if kind == "problem_parcel":
        return _problem_parcel_params(params)
    if kind == "clock_skew":
        return _clock_skew_params(params)
    if kind in _WORLD_PARAMS:
        return _world_params_problem(params)
    numbers = {
        name: value for name, value in params.items() if name not in ("distribution", "reason")
    }
    for name, value in numbers.items():
        if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
            return f"{name} must be a number of seconds, 0 or more"
    if kind == "latency":
        distribution = params.get("distribution", "fixed")
        needed = _DISTRIBUTIONS.get(str(distribution))
        if needed is None:
            return f"distribution must be one of {', '.join(_DISTRIBUTIONS)}"
        missing = [name for name in needed if name not in params]
        if missing:
            return f"a {distribution} latency needs {' and '.join(needed)}"
        if distribution == "uniform" and params["low"] > params["high"]:
            return "low must not exceed high"
    if kind == "rejected" and not _REASON.match(str(params.get("reason", "FF10"))):
        return "reason must be an ISO 20022 status reason code such as FF10"
    return None


def _world_params_problem(params: Mapping[str, Any]) -> str | None:
    """What is wrong with a WMS or OMS business kind's (known) `params`, or None."""
    if "restock_after" in params:
        value = params["restock_after"]
        if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
            return "restock_after must be a number of seconds, 0 or more"
    if "variant" in params and params["variant"] not in ODD_DATA_VARIANTS:
        return f"variant must be one of {', '.join(ODD_DATA_VARIANTS)}"
    return None


def _problem_parcel_params(params: Mapping[str, Any]) -> str | None:
    fate = params.get("fate")
    if fate is not None and fate not in PROBLEM_FATES:
        return f"unknown fate {fate!r}; the fates are {', '.join(PROBLEM_FATES)}"
    return None


def _clock_skew_params(params: Mapping[str, Any]) -> str | None:
    seconds = params.get("seconds")
    if seconds is None:
        return "clock_skew needs seconds (positive: the fake's clock is ahead; negative: behind)"
    if not isinstance(seconds, int | float) or isinstance(seconds, bool) or seconds == 0:
        return "seconds must be a number of seconds other than 0 (+ ahead, - behind)"
    if abs(seconds) > MAX_CLOCK_SKEW_SECONDS:
        return f"seconds must lie within ±{MAX_CLOCK_SKEW_SECONDS:,.0f} (a day)"
    return None


def clock_skew_seconds(rule: FaultRule) -> float:
    """How far a `clock_skew` rule puts its fake's clock ahead (negative: behind)."""
    return float(rule.params.get("seconds", 0.0))
