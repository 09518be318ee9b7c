"""Fault injection shared by the fakes: a seeded plan of rules on a timeline, each hit recorded.

The plan's vocabulary (kinds, stages, `FaultRule`) is simulator/fault_plan.py. A rule names
a system, an operation of it (or `*`, every one), a kind, a window of simulated time
(seconds since the run's start, `start` <= t < `until`) and how often it fires: with
probability `rate` on each matching call, or on every `every_nth` matching call. Where a
kind acts is its stage: the pipeline asks before the work (`Stage.BEFORE`: nothing is done)
and after the commit (`Stage.AFTER`: the work is done, the answer goes wrong), the webhook
dispatcher asks for pushes (`Stage.PUSH`), the simulator plays the business ones
(`Stage.WORLD`). docs/CHAOS.md describes every kind.

Each rule rolls its own dice (seeded by the plan's seed and the rule's id), so adding a rule,
or a call that matches another rule, leaves every other rule's hits where they were.

Each fake owns its injector (`for_system`), so a rule added live on one fake (`/_fake/faults`)
never reaches another, and the rule ids of a fake are its own.
"""

from __future__ import annotations

import random
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from simulator.fault_plan import KINDS, FaultKind, FaultRule, Stage

__all__ = ["KINDS", "NO_FAULTS", "FaultInjector", "FaultKind", "FaultRule", "Stage"]


# Kinds that are a state over their window rather than a draw per call: `clock_skew()` plays
# them, and `pick` never returns one (a skew at rate 1 would otherwise win every WORLD pick).
_STATES = frozenset({"clock_skew"})


@dataclass
class _Armed:
    """A rule in force, with its own dice and counts."""

    rule: FaultRule
    dice: random.Random
    # The kind's own draws (a latency's delay), apart, so they never move the hits.
    params_dice: random.Random
    matched: int = 0
    fired: int = 0


class FaultInjector:
    """Decides, reproducibly by seed, which rule (if any) hits a given call or push.

    `run_start` is the simulated moment the windows count from; without it every window is
    open (tests, and plans with no windows).
    """

    def __init__(
        self, rules: Iterable[FaultRule], seed: int, run_start: datetime | None = None
    ) -> None:
        self.seed = seed
        self.run_start = run_start
        self._armed: dict[int, _Armed] = {}
        self._next_id = 1
        for rule in rules:
            self.add(rule)

    def for_system(self, system: str) -> FaultInjector:
        """A fresh injector for one fake: this plan's rules of `system`, under the same ids
        and so with the same dice; rules added to it later are numbered after the plan's."""
        own = FaultInjector([], self.seed, self.run_start)
        for rule_id, armed in self._armed.items():
            if armed.rule.system == system:
                own._arm(rule_id, armed.rule)
        own._next_id = self._next_id
        return own

    @property
    def rules(self) -> list[FaultRule]:
        return [armed.rule for armed in self._armed.values()]

    @property
    def fired(self) -> int:
        """How often the rules in force fired so far, all together."""
        return sum(armed.fired for armed in self._armed.values())

    def add(self, rule: FaultRule) -> int:
        """Arm a rule (a scenario's, or one added live); its id, for `remove`."""
        rule_id = self._next_id
        self._arm(rule_id, rule)
        return rule_id

    def _arm(self, rule_id: int, rule: FaultRule) -> None:
        # A string seed hashes the same in every process (unlike hash() of a tuple).
        self._armed[rule_id] = _Armed(
            rule, random.Random(f"{self.seed}:{rule_id}"), random.Random(f"{self.seed}:{rule_id}:p")
        )
        self._next_id = max(self._next_id, rule_id + 1)

    def remove(self, rule_id: int) -> bool:
        return self._armed.pop(rule_id, None) is not None

    def listing(self) -> list[dict[str, Any]]:
        """Every rule in force with its id and how often it matched and fired so far."""
        return [
            {"id": rule_id, **armed.rule.describe(), "matched": armed.matched, "fired": armed.fired}
            for rule_id, armed in self._armed.items()
        ]

    def pick(
        self,
        system: str,
        operation: str,
        stage: Stage,
        now: datetime | None = None,
        kinds: Collection[str] | None = None,
    ) -> FaultRule | None:
        """The first rule of `stage` (and of `kinds`, when given) that fires on this call, or
        None.

        Every matching rule in its window counts the call (so "every Nth" counts calls, not
        the calls other rules left alone); the first that fires wins. `kinds` lets a business
        moment ask for the kinds it plays alone: a WORLD rule of another kind (a clock skew)
        neither counts nor fires on it.
        A state kind (a clock skew) is in force over its window rather than fired per call, so
        it is never returned here.
        """
        if not self._armed:
            return None
        offset = self._offset(now)
        chosen: FaultRule | None = None
        for armed in self._armed.values():
            rule = armed.rule
            if not rule.matches(system, operation, stage):
                continue
            if (kinds is not None and rule.kind not in kinds) or rule.kind in _STATES:
                continue
            if offset is not None and not rule.start <= offset < rule.until:
                continue
            armed.matched += 1
            if rule.every_nth:
                fires = armed.matched % rule.every_nth == 0
            else:
                fires = armed.dice.random() < rule.rate
            if fires and chosen is None:
                armed.fired += 1
                chosen = rule
        return chosen

    def clock_skew(self, system: str, now: datetime) -> tuple[FaultRule, bool] | None:
        """The `clock_skew` rule of `system` whose window holds `now` (the first declared),
        and whether this is the first time it applies; None while the clock is right.

        A skew is a state of the fake's clock over the whole window, not a per-call draw:
        validation asks for `rate: 1`, and no dice are rolled.
        """
        offset = self._offset(now)
        for armed in self._armed.values():
            rule = armed.rule
            if rule.system != system or rule.kind != "clock_skew":
                continue
            if offset is not None and not rule.start <= offset < rule.until:
                continue
            armed.matched += 1
            first = armed.fired == 0
            if first:
                armed.fired = 1
            return rule, first
        return None

    def tag(self, rule: FaultRule) -> dict[str, int]:
        """What a `fault` row says of the rule that fired it: its id, which is `faults.N`'s
        N + 1 for a scenario's rule, so the judge tells two rules of one kind on one operation
        apart (nothing, for a rule removed meanwhile)."""
        for rule_id, armed in self._armed.items():
            if armed.rule is rule:
                return {"rule": rule_id}
        return {}

    def dice(self, rule: FaultRule) -> random.Random:
        """The seeded generator of `rule`'s own draws (a latency's delay); a rule no longer
        armed (removed live meanwhile) gets a fresh one of the plan's seed."""
        for armed in self._armed.values():
            if armed.rule is rule:
                return armed.params_dice
        return random.Random(f"{self.seed}:gone")

    def hits(
        self, system: str, operation: str, kind: FaultKind, now: datetime | None = None
    ) -> bool:
        """Whether a rule of exactly `kind` fires on this call (one kind's question)."""
        rule = self.pick(system, operation, KINDS[kind], now)
        return rule is not None and rule.kind == kind

    def _offset(self, now: datetime | None) -> float | None:
        if now is None or self.run_start is None:
            return None
        return (now - self.run_start).total_seconds()


class _NoFaults(FaultInjector):
    """The empty plan, shared: it refuses rules, so no fake can arm one on every other."""

    def add(self, rule: FaultRule) -> int:
        raise TypeError("NO_FAULTS is shared and stays empty: give the fake its own injector")


NO_FAULTS: FaultInjector = _NoFaults([], seed=0)
