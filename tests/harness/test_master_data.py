"""Master-data changes in the world model: `master_data` validated naming its fields, off by
default; the business's changes land in the ERP at their rates, in simulated time, on a
stream of their own; a discontinued item is no longer drawn by the demand model; `pending`
counts what the WMS or the OMS does not show yet (the drain waits for it)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from fake_systems.common.scope import OwnerScope
from fake_systems.ecosystem import Ecosystem
from fake_systems.wms.models import ItemRequest
from simulator.clock import ManualClock
from simulator.demand import DemandModel
from simulator.master_data import DAY, MasterDataChanges
from simulator.scenario import DemandSettings, MasterDataSettings, Scenario
from simulator.world import World
from tests.support.ecosystem import in_process

RATES = {
    "new_per_day": 48,
    "renames_per_day": 48,
    "price_changes_per_day": 48,
    "barcode_changes_per_day": 48,
    "discontinued_per_day": 48,
}


def test_master_data_settings_name_the_wrong_field_and_are_off_by_default() -> None:
    base = {"name": "x", "duration": "1h", "demand": {"orders_per_hour": 1}}
    with pytest.raises(ValidationError) as caught:
        Scenario.model_validate({**base, "master_data": {"renames_per_day": -1}})
    assert caught.value.errors()[0]["loc"] == ("master_data", "renames_per_day")
    with pytest.raises(ValidationError) as caught:
        Scenario.model_validate({**base, "master_data": {"new_a_day": 1}})
    assert caught.value.errors()[0]["loc"] == ("master_data", "new_a_day")
    assert not Scenario.model_validate(base).master_data.enabled
    assert MasterDataSettings(discontinued_per_day=1).enabled


@pytest.fixture
def eco(tmp_path: Path, world: World, clock: ManualClock) -> Iterator[Ecosystem]:
    with in_process(tmp_path, world, clock) as ecosystem:
        yield ecosystem


def business(eco: Ecosystem, world: World, seed: int = 3, **rates: Any) -> MasterDataChanges:
    return MasterDataChanges(
        eco.wms.env,
        world,
        MasterDataSettings(**(rates or RATES)),
        eco.erp,
        eco.wms,
        eco.oms,
        seed,
        set(),
    )


def changes(eco: Ecosystem) -> list[tuple[Any, ...]]:
    rows = eco.erp.conn.execute(
        "SELECT number, change, name, barcode, price_cents, is_sale, changed_sim"
        " FROM material_changes ORDER BY seq"
    )
    return [tuple(row) for row in rows]


def test_changes_come_at_their_rates_in_simulated_time_the_same_for_the_same_seed(
    tmp_path: Path, world: World
) -> None:
    played = []
    for run in ("a", "b"):
        with in_process(tmp_path / run, world, ManualClock()) as eco:
            master = business(eco, world)
            master.start(DAY / 4)
            eco.wms.env.run(until=DAY)
            played.append(changes(eco))
        kinds = {row[1] for row in played[-1]}
        assert kinds == {"new", "rename", "price", "barcode", "discontinue"}
        # 240 a day for a quarter of a day: about 60
        assert 35 <= len(played[-1]) <= 90
        # None in the first simulated minute (the catalogue load), none after a quarter day.
        times = [row[6] for row in played[-1]]
        assert min(times) >= "2026-11-10 20:01:00" and max(times) < "2026-11-11 02:00:00"
    assert played[0] == played[1]


def test_a_discontinued_item_is_withdrawn_and_pending_until_both_systems_show_it(
    eco: Ecosystem, world: World
) -> None:
    master = business(eco, world)
    number = master.change("discontinue")
    assert number is not None and number in master.withdrawn
    row = eco.erp.conn.execute("SELECT is_sale FROM bd_material WHERE number = ?", (number,))
    assert row.fetchone()[0] == 0
    assert master.pending == 1  # the OMS still sells it
    renamed = master.change("rename")
    assert renamed is not None and renamed != number  # only items on sale change
    assert master.pending == 2
    eco.oms.push_goods(
        {"goods_no": number, "goods_name": master.materials[number].name},
        [{"spec_no": number, "deleted": 1}],
    )
    assert master.pending == 1  # the WMS keeps a discontinued item: nothing to carry there
    name = master.materials[renamed].name
    eco.wms.catalog.synchronize_item(
        "update", ItemRequest(renamed, "OTHER", name=name), OwnerScope.EVERYONE
    )
    assert master.pending == 1  # the OMS still has the old name
    eco.oms.push_goods({"goods_no": renamed, "goods_name": name}, [{"spec_no": renamed}])
    assert master.pending == 0
    assert master.report()["unsynced"] == 0


def test_the_catalogue_keeps_half_its_items_on_sale(eco: Ecosystem, world: World) -> None:
    master = business(eco, world)
    stopped = [master.change("discontinue") for _ in range(len(world.skus))]
    assert stopped.count(None) == len(world.skus) - len(world.skus) // 2
    assert master.report()["skipped"] == stopped.count(None)


def test_the_demand_model_never_draws_a_withdrawn_item(world: World) -> None:
    model = DemandModel(world, DemandSettings(orders_per_hour=600, mean_lines=3), seed=3)
    popular = {sku.item_code for sku in world.skus[:20]}
    model.withdrawn.update(popular)
    sold = {line.spec_no for a in model.arrivals(3600) for line in a.trade.lines}
    assert sold and not sold & popular
