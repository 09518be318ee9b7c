"""A fault plan's vocabulary: the kinds of fault, where each acts, and one rule of a plan.

Plain data in the world layer, so that a scenario can name and check its faults without the
fakes; the fakes' `FaultInjector` (fake_systems/common/faults.py) plays them. docs/CHAOS.md
describes every kind: what goes over the wire, how the real system behaves, what a connector
must do.
"""

from __future__ import annotations

import math
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
SYSTEMS = ("oms", "wms", "erp", "bank", "carrier")
# Kinds only some systems have (every other kind: any system). The research notes
# (docs/protocols/research/issue10-fault-sources.md) say which failures each real system has:
# only the bank answers a pain.002 rejection (§2.5); the bank signals a rate limit as HTTP 429
# of its own API, not in a body (§3.4); 旺店通 and K3 push nothing (§1.4); the business kinds
# act where their business is (stock at the WMS, parcels at the carrier, orders at the OMS).
ONLY_ON: dict[str, tuple[str, ...]] = {
    "rejected": ("bank",),
    "rate_limited": ("oms", "wms", "erp", "carrier"),
    **dict.fromkeys(_PUSH, ("wms", "bank", "carrier")),
    "stock_out": ("wms",),
    "short_pick": ("wms",),
    "problem_parcel": ("carrier",),
    "odd_data": ("oms",),
}


def systems_with(kind: str) -> tuple[str, ...]:
    """The systems a fault of `kind` may be declared on."""
    return ONLY_ON.get(kind, SYSTEMS)


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
