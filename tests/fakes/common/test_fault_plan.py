"""The fault plan's injector: windows, rates, every Nth, per-rule dice, live changes."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from fake_systems.common.faults import FaultInjector, FaultRule, Stage
from simulator.fault_plan import KINDS

START = datetime(2026, 11, 10, 20, 0)


def fired(injector: FaultInjector, calls: int, operation: str = "1007", at: float = 0.0) -> int:
    now = START + timedelta(seconds=at)
    return sum(
        injector.pick("carrier", operation, Stage.BEFORE, now) is not None for _ in range(calls)
    )


def test_every_nth_fires_on_exactly_every_nth_matching_call() -> None:
    injector = FaultInjector([FaultRule("carrier", "1007", "http_503", every_nth=4)], seed=1)
    hits = [injector.pick("carrier", "1007", Stage.BEFORE) is not None for _ in range(12)]
    assert hits == [False, False, False, True] * 3
    assert fired(injector, 8, operation="1008") == 0  # another operation is not counted
    # What the drain reads as movement: every rule's hits together (a rule that fired twice
    # and one that fired once: three).
    injector.add(FaultRule("carrier", "1008", "http_500", every_nth=3))
    assert fired(injector, 6, operation="1008") == 2
    assert injector.fired == 3 + 2


def test_a_window_opens_and_closes_on_simulated_time() -> None:
    rule = FaultRule("carrier", "*", "busy", rate=1.0, start=600.0, until=1200.0)
    injector = FaultInjector([rule], seed=1, run_start=START)
    assert fired(injector, 5, at=599.0) == 0
    assert fired(injector, 5, at=600.0) == 5
    assert fired(injector, 5, at=1199.9) == 5
    assert fired(injector, 5, at=1200.0) == 0


def test_a_rate_is_kept_and_reproducible_by_seed() -> None:
    def plan(seed: int) -> list[bool]:
        injector = FaultInjector([FaultRule("carrier", "1007", "http_500", rate=0.1)], seed=seed)
        return [injector.pick("carrier", "1007", Stage.BEFORE) is not None for _ in range(5000)]

    first = plan(7)
    assert first == plan(7)
    assert first != plan(8)
    assert sum(first) / len(first) == pytest.approx(0.1, abs=0.02)


def test_each_rule_keeps_its_own_dice() -> None:
    """Adding a rule elsewhere in the plan leaves another rule's hits where they were."""
    lone = FaultInjector([FaultRule("carrier", "1007", "http_500", rate=0.3)], seed=5)
    crowded = FaultInjector(
        [
            FaultRule("carrier", "1007", "http_500", rate=0.3),
            FaultRule("wms", "deliveryorder.create", "http_500", rate=0.5),
        ],
        seed=5,
    )
    for _ in range(200):
        crowded.pick("wms", "deliveryorder.create", Stage.BEFORE)
        assert (lone.pick("carrier", "1007", Stage.BEFORE) is None) == (
            crowded.pick("carrier", "1007", Stage.BEFORE) is None
        )


def test_a_stage_only_sees_its_own_kinds() -> None:
    injector = FaultInjector([FaultRule("wms", "*", "lost_response", rate=1.0)], seed=1)
    assert injector.pick("wms", "deliveryorder.create", Stage.BEFORE) is None
    rule = injector.pick("wms", "deliveryorder.create", Stage.AFTER)
    assert rule is not None and rule.kind == "lost_response"
    assert injector.hits("wms", "order.cancel", "lost_response")


def test_rules_are_added_listed_and_removed_live() -> None:
    injector = FaultInjector([], seed=1)
    rule_id = injector.add(FaultRule("oms", "*", "http_429", every_nth=2))
    assert fired(injector, 4) == 0  # carrier calls: another system
    injector.pick("oms", "x", Stage.BEFORE)
    injector.pick("oms", "x", Stage.BEFORE)
    [listed] = injector.listing()
    assert (listed["id"], listed["kind"], listed["matched"], listed["fired"]) == (
        rule_id,
        "http_429",
        2,
        1,
    )
    assert injector.remove(rule_id) and not injector.remove(rule_id)
    assert injector.listing() == []


def test_the_catalogue_has_every_stage_and_at_least_twenty_kinds() -> None:
    assert len(KINDS) >= 20
    assert set(KINDS.values()) == set(Stage)
