"""Split trades in the demand: seeded on their own stream, at the scenario's share of the
trades that can split, some lines (never all) in another warehouse; refused without two
warehouses, naming the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from simulator.demand import DemandModel
from simulator.scenario import DemandSettings, ScenarioError, load_scenario
from simulator.world import World
from tests.support.scenarios import smoke_variant

SETTINGS = DemandSettings(orders_per_hour=600, mean_lines=2.0)
SPLITTING = DemandSettings(orders_per_hour=600, mean_lines=2.0, split_share=0.2)
CANCELLING = {
    "cancellations": {"before_pickup": 0.05, "after_picking": 0.05},
    "returns": {"rate": 0.3},
}


def test_splits_change_no_order_and_are_off_by_default(world: World) -> None:
    plain = list(DemandModel(world, SETTINGS, seed=3).arrivals(3600))
    splitting = list(DemandModel(world, SPLITTING, seed=3).arrivals(3600))
    assert all(not a.trade.line_warehouses for a in plain)
    # Their own stream: the same trades at the same times, some with their lines' warehouses.
    assert [a.at_seconds for a in splitting] == [a.at_seconds for a in plain]
    for split, whole in zip(splitting, plain, strict=True):
        assert split.trade.lines == whole.trade.lines
        assert split.trade.warehouse_no == whole.trade.warehouse_no
    assert any(a.trade.line_warehouses for a in splitting)


def test_split_share_and_shape_follow_the_scenario(world: World) -> None:
    # 50 simulated hours at 600 an hour: about 30,000 trades, 2,000 or so of them split.
    arrivals = list(DemandModel(world, SPLITTING, seed=9).arrivals(180_000))
    can_split = [a for a in arrivals if len(a.trade.lines) > 1]
    split = [a.trade for a in can_split if a.trade.line_warehouses]
    assert len(split) / len(can_split) == pytest.approx(0.2, rel=0.1)
    codes = {w.code for w in world.warehouses}
    for trade in split:
        held = trade.line_warehouses
        assert len(held) == len(trade.lines) and set(held) <= codes
        # The first line stays where the trade was routed, some other line is elsewhere.
        assert held[0] == trade.warehouse_no and len(set(held)) == 2


def test_split_trades_are_neither_cancelled_nor_returned(world: World) -> None:
    settings = DemandSettings.model_validate({**SPLITTING.model_dump(), **CANCELLING})
    unsplit = DemandSettings.model_validate({**SETTINGS.model_dump(), **CANCELLING})
    arrivals = list(DemandModel(world, settings, seed=5).arrivals(36_000))
    split = [a for a in arrivals if a.trade.line_warehouses]
    assert split and all(a.cancel is None and a.give_back is None for a in split)
    # The other trades keep the plans they have without splits.
    plain = list(DemandModel(world, unsplit, seed=5).arrivals(36_000))
    kept = [
        (a.cancel, a.give_back)
        for a, b in zip(arrivals, plain, strict=True)
        if not a.trade.line_warehouses
    ]
    assert kept == [
        (b.cancel, b.give_back)
        for a, b in zip(arrivals, plain, strict=True)
        if not a.trade.line_warehouses
    ]
    assert any(c is not None for c, _ in kept) and any(r is not None for _, r in kept)


@pytest.mark.parametrize(("share", "why"), [(1.5, "less than or equal to 1"), (-0.1, "greater")])
def test_a_bad_split_share_names_the_field(tmp_path: Path, share: float, why: str) -> None:
    path = smoke_variant(tmp_path, "bad", demand={"orders_per_hour": 30, "split_share": share})
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    assert "demand.split_share:" in str(caught.value) and why in str(caught.value)


def test_splits_need_two_warehouses(tmp_path: Path) -> None:
    path = smoke_variant(
        tmp_path,
        "one",
        demand={"orders_per_hour": 30, "split_share": 0.1},
        world={"skus": 40, "customers": 200, "warehouses": 1},
    )
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    assert "demand.split_share: 0.1 needs two warehouses or more" in str(caught.value)
