"""Transfers in the world model: `transfers` validated naming its fields, off by default; the
warehouse ships surplus stock of one owner's items to the other warehouse, and the goods
arrive after the transit time, some lost at the scenario's rate, drawn on a stream of its
own: the same seed plays the same transfers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from fake_systems.ecosystem import Ecosystem
from simulator.clock import ManualClock
from simulator.scenario import Scenario, TransferSettings
from simulator.transfers import Transfers
from simulator.world import World
from tests.support.ecosystem import in_process


def settings(**fields: Any) -> TransferSettings:
    return TransferSettings(**{"per_hour": 6, **fields})


def test_transfer_settings_name_the_wrong_field() -> None:
    for field, value in (("loss_rate", 1.5), ("move_share", 0), ("per_hour", -1)):
        with pytest.raises(ValidationError) as caught:
            settings(**{field: value})
        assert caught.value.errors()[0]["loc"] == (field,)
    with pytest.raises(ValidationError) as caught:
        settings(transit_hours={"low": 3, "high": 1})
    assert caught.value.errors()[0]["loc"][0] == "transit_hours"
    scenario = Scenario.model_validate(
        {"name": "x", "duration": "1h", "demand": {"orders_per_hour": 1}}
    )
    assert not scenario.transfers.enabled  # off unless asked for


@pytest.fixture
def eco(tmp_path: Path, world: World, clock: ManualClock) -> Iterator[Ecosystem]:
    with in_process(tmp_path, world, clock) as ecosystem:
        yield ecosystem


def played(eco: Ecosystem, world: World, clock: ManualClock, **fields: Any) -> Transfers:
    transfers = Transfers(eco.wms.env, world, settings(**fields), eco.wms, seed=3)
    transfers.start(4 * 3600.0)
    clock.advance(12 * 3600.0)
    return transfers


def legs(eco: Ecosystem) -> list[tuple[Any, ...]]:
    """Per transfer: (code, owner, sender, receiver, item, sent, received)."""
    return [
        tuple(row)
        for row in eco.wms.conn.execute(
            "SELECT o.order_code, o.owner_code, o.warehouse_code, i.warehouse_code,"
            " ol.item_code, ol.actual_qty, il.actual_qty FROM stockout_orders AS o"
            " JOIN stockout_order_lines AS ol ON ol.stockout_order_id = o.stockout_order_id"
            " JOIN inbound_orders AS i ON i.order_code = o.order_code AND i.order_type = 'DBRK'"
            " JOIN inbound_order_lines AS il ON il.inbound_order_id = i.inbound_order_id"
            "  AND il.item_code = ol.item_code ORDER BY o.order_code, ol.item_code"
        )
    ]


def test_transfers_move_an_owners_surplus_and_arrive_less_the_loss(
    eco: Ecosystem, world: World, clock: ManualClock
) -> None:
    transfers = played(eco, world, clock, loss_rate=0.5, transit_hours={"low": 1, "high": 2})
    rows = legs(eco)
    stats = transfers.report()
    assert stats["shipped"] >= 10 and stats["arrived"] == stats["shipped"]
    assert stats["in_transit"] == 0 and transfers.pending == 0
    assert len({row[0] for row in rows}) == stats["shipped"]
    for code, owner, src, dst, item, sent, received in rows:
        assert src != dst and 0 <= received <= sent, code
        assert world.supplier_of(item).owner_code == owner, code
    lost = sum(sent - received for *_, sent, received in rows)
    assert lost == stats["units_lost"] > 0
    assert 0 < stats["with_loss"] < stats["shipped"]
    # The moves are in the WMS's ledger: out at the sender, in at the receiver.
    moved = dict(
        eco.wms.conn.execute(
            "SELECT reason, SUM(change) FROM stock_ledger WHERE reason LIKE 'transfer%'"
            " GROUP BY reason"
        ).fetchall()
    )
    assert moved == {
        "transfer_out": -sum(row[5] for row in rows),
        "transfer_in": sum(row[6] for row in rows),
    }


def test_the_same_seed_plays_the_same_transfers(
    tmp_path: Path, world: World, clock: ManualClock, eco: Ecosystem
) -> None:
    played(eco, world, clock)
    first = legs(eco)
    again_clock = ManualClock()
    with in_process(tmp_path / "again", world, again_clock) as other:
        again = Transfers(other.wms.env, world, settings(), other.wms, seed=3)
        again.start(4 * 3600.0)
        again_clock.advance(12 * 3600.0)
        assert legs(other) == first and first
