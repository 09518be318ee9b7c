"""The cycle-count process: ABC classes by popularity, counts at each class's period in
simulated time, what they find (shrinkage, miscounts) on the WMS's books, the same for the
same seed; the scenario section's errors name their field."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import simpy
from pydantic import ValidationError

from fake_systems.common.context import SystemContext
from fake_systems.wms.models import WmsConfig
from fake_systems.wms.service import WmsService
from simulator.counts import Counts, abc_classes
from simulator.scenario import CountSettings, Scenario
from simulator.world import World
from tests.support.wms import CREDS


def test_classes_follow_popularity(world: World) -> None:
    classes = abc_classes(world, CountSettings(a_share=0.2, b_share=0.3))
    ranked = sorted(world.skus, key=lambda sku: sku.popularity_rank)
    n = len(ranked)
    assert [classes[sku.item_code] for sku in ranked] == (
        ["A"] * round(n * 0.2)
        + ["B"] * (round(n * 0.5) - round(n * 0.2))
        + ["C"] * (n - round(n * 0.5))
    )


SHORT_PERIODS = CountSettings(
    enabled=True, a_hours=2, b_hours=5, c_hours=11, shrinkage_rate=0.5, miscount_rate=0.3
)


def _played(
    make_context: Callable[[str], SystemContext],
    world: World,
    name: str,
    hours: float,
    settings: CountSettings = SHORT_PERIODS,
) -> tuple[WmsService, Counts]:
    wms = WmsService(make_context(name), CREDS, WmsConfig())
    wms.setup(world)
    env = simpy.Environment()
    counts = Counts(env, world, settings, wms, seed=7)
    counts.start(hours * 3600)
    env.run(until=hours * 3600)
    return wms, counts


def test_each_class_is_counted_at_its_period_and_finds_differences(
    make_context: Callable[[str], SystemContext], world: World
) -> None:
    wms, counts = _played(make_context, world, "wms", 12)
    per_class = dict(
        wms.conn.execute("SELECT abc_class, COUNT(*) FROM count_orders GROUP BY abc_class")
    )
    orders_per_round = {
        cls: len(
            {
                (wh.code, world.supplier_of(item).owner_code)
                for wh in world.warehouses
                for item, c in counts.classes.items()
                if c == cls
            }
        )
        for cls in "ABC"
    }
    # In 12 hours: A every 2 h (6 rounds), B every 5 h (2 or 3), C every 11 h (1 or 2).
    assert per_class["A"] == 6 * orders_per_round["A"]
    assert per_class["B"] in (2 * orders_per_round["B"], 3 * orders_per_round["B"])
    assert per_class["C"] in (orders_per_round["C"], 2 * orders_per_round["C"])
    assert counts.stats["counts"] == sum(per_class.values())
    assert counts.stats["shrinkage"] > 0 and counts.stats["miscounts"] > 0
    # Every difference found moved on_hand by exactly that much.
    moved = wms.conn.execute(
        "SELECT COALESCE(SUM(change), 0) FROM stock_ledger WHERE reason = 'count'"
    ).fetchone()[0]
    found = wms.conn.execute("SELECT SUM(difference) FROM count_order_lines").fetchone()[0]
    assert moved == found != 0


def test_a_rolling_count_spreads_each_class_over_its_period(
    make_context: Callable[[str], SystemContext], world: World
) -> None:
    """Weekly, monthly and quarterly in three waves over a month: every A item counted four
    or five times, every B item once, one C item in three once (the same third everywhere)."""
    settings = CountSettings(enabled=True, waves=3)
    wms, counts = _played(make_context, world, "wms", 720, settings)
    times: dict[tuple[str, str], int] = {}
    for warehouse, item in wms.conn.execute(
        "SELECT o.warehouse_code, l.item_code"
        " FROM count_orders AS o JOIN count_order_lines AS l USING (check_order_id)"
    ):
        times[warehouse, item] = times.get((warehouse, item), 0) + 1
    warehouses = {wh.code for wh in world.warehouses}
    by_class = {cls: {item for item, c in counts.classes.items() if c == cls} for cls in "ABC"}
    for warehouse in warehouses:
        assert {times.get((warehouse, item)) for item in by_class["A"]} <= {4, 5}
        assert {times.get((warehouse, item)) for item in by_class["B"]} == {1}
        counted_c = {item for item in by_class["C"] if (warehouse, item) in times}
        assert len({counts.waves[item] for item in counted_c}) == 1
        assert abs(len(counted_c) - len(by_class["C"]) / 3) <= 1
        assert all(times[warehouse, item] == 1 for item in counted_c)


def test_the_same_seed_counts_the_same(
    make_context: Callable[[str], SystemContext], world: World
) -> None:
    rows = []
    for name in ("wms1", "wms2"):
        wms, _ = _played(make_context, world, name, 6)
        rows.append(
            wms.conn.execute(
                "SELECT o.check_order_code, o.checked_sim, l.item_code, l.difference"
                " FROM count_orders AS o JOIN count_order_lines AS l USING (check_order_id)"
                " ORDER BY 1, 3"
            ).fetchall()
        )
    assert [tuple(r) for r in rows[0]] == [tuple(r) for r in rows[1]] != []


def test_counts_are_off_by_default_and_errors_name_their_field() -> None:
    assert not Scenario.model_validate(
        {"name": "x", "duration": "1h", "demand": {"orders_per_hour": 1}}
    ).counts.enabled
    with pytest.raises(ValidationError, match="b_share"):
        CountSettings(a_share=0.6, b_share=0.5)
    with pytest.raises(ValidationError, match="a_hours"):
        CountSettings(a_hours=0)
