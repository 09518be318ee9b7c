"""Fault injection shared by the fakes: seeded, per system and operation, recorded."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Literal

FaultKind = Literal["lost_response"]


@dataclass(frozen=True)
class FaultRule:
    """`lost_response`: the system does the work, then the caller sees a gateway timeout."""

    system: str
    operation: str
    kind: FaultKind
    rate: float


class FaultInjector:
    """Decides, reproducibly by seed, whether a fault hits a given call."""

    def __init__(self, rules: list[FaultRule], seed: int) -> None:
        self.rules = rules
        self._random = random.Random(seed)

    def hits(self, system: str, operation: str, kind: FaultKind) -> bool:
        for rule in self.rules:
            if rule.system == system and rule.operation == operation and rule.kind == kind:
                return self._random.random() < rule.rate
        return False


NO_FAULTS = FaultInjector([], seed=0)
