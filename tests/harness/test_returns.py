"""Returns after delivery in the world model: `demand.returns` validated naming its fields, drawn
on their own stream at the scenario's rates (a sample within 10 % of them), and played in
simulated time against the OMS, the WMS and the carrier in process."""

from __future__ import annotations

import itertools
import math
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from statistics import fmean
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from fake_systems.common.credentials import Credentials
from fake_systems.common.faults import NO_FAULTS
from fake_systems.common.webhooks import HttpxSender
from fake_systems.ecosystem import Ecosystem
from fake_systems.oms.models import RefundStatus, RefundType
from fake_systems.wms.models import InboundKind, InboundLineRequest, InboundOrderRequest
from simulator.after_sales import SIGNED_LOOK_EVERY_SECONDS, Returns, return_waybill
from simulator.clock import ManualClock
from simulator.demand import DemandModel, ReturnLine, ReturnPlan
from simulator.scenario import DEFAULT_RETURN_RATES_BY_CATEGORY, DemandSettings, load_scenario
from simulator.world import World
from tests.support import paths
from tests.support.wms import order

SAMPLE_TRADES = 10_000


def sim_time(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S")


def settings(**returns: Any) -> DemandSettings:
    return DemandSettings(orders_per_hour=10, returns=returns)


def test_return_settings_name_the_wrong_field() -> None:
    with pytest.raises(ValidationError) as caught:
        settings(rate=1.5)
    assert caught.value.errors()[0]["loc"] == ("returns", "rate")
    with pytest.raises(ValidationError, match="unknown category 'toys'"):
        settings(by_category={"toys": 0.3})
    with pytest.raises(ValidationError) as caught:
        settings(apply_hours={"low": 3, "high": 1})
    assert caught.value.errors()[0]["loc"][:2] == ("returns", "apply_hours")
    assert not DemandSettings(orders_per_hour=1).returns.enabled  # off unless asked for
    traffic = settings(rate=0.19, by_category="traffic").returns
    assert traffic.by_category == DEFAULT_RETURN_RATES_BY_CATEGORY
    assert (traffic.rate_for("apparel"), traffic.rate_for("food")) == (0.30, 0.19)
    with pytest.raises(ValidationError, match="or traffic"):
        settings(by_category="nrf")


def measured(world: World, demand: DemandSettings, seed: int) -> tuple[float, float, list[Any]]:
    """(measured return share, the scenario's expected share, the returned arrivals) over a
    long sample of the trades that may be returned (not cancelled, of a shop whose refunds the
    OMS shows)."""
    model = DemandModel(world, demand, seed)
    arrivals = list(itertools.islice(model.arrivals(math.inf), SAMPLE_TRADES))
    eligible = [a for a in arrivals if a.cancel is None and model.returnable(a.trade)]
    returned = [a for a in eligible if a.give_back is not None]
    # No other trade is ever returned.
    assert sum(1 for a in arrivals if a.give_back is not None) == len(returned)
    expected = fmean(model.return_chance(a.trade) for a in eligible)
    return len(returned) / len(eligible), expected, returned


@pytest.mark.parametrize("source", ["traffic", "after_sales"])
def test_the_measured_return_rate_is_within_10_percent_of_the_scenario(
    world: World, source: str
) -> None:
    if source == "traffic":
        # TRAFFIC.md: 16.9-20.8 % overall, apparel and shoes high, electronics lower.
        demand = settings(rate=0.19, by_category=DEFAULT_RETURN_RATES_BY_CATEGORY)
        seed = 5
    else:
        scenario = load_scenario(paths.AFTER_SALES)
        world = scenario.world.build(scenario.seed)
        demand, seed = scenario.demand, scenario.seed
    share, expected, returned = measured(world, demand, seed)
    assert len(returned) > 500
    assert abs(share - expected) <= 0.1 * expected, (share, expected)
    # Partial returns (of the trades that can be returned in part) and defective units at
    # their shares too, within four standard errors of a binomial draw.
    splittable = [a for a in returned if len(a.trade.lines) > 1 or a.trade.lines[0].num > 1]
    partial = [
        a
        for a in splittable
        if len(a.give_back.lines) < len(a.trade.lines)
        or any(line.qty < a.trade.lines[line.index].num for line in a.give_back.lines)
    ]
    assert near(len(partial), len(splittable), demand.returns.partial_share)
    plans = [a.give_back for a in returned]
    units = sum(line.qty for p in plans for line in p.lines)
    defective = sum(line.defective for p in plans for line in p.lines)
    assert near(defective, units, demand.returns.defective_share)


def near(hits: int, tries: int, share: float) -> bool:
    return abs(hits / tries - share) <= 4 * math.sqrt(share * (1 - share) / tries)


def test_returns_draw_on_their_own_stream(world: World) -> None:
    """Turning returns on changes neither the trades nor the cancellations."""
    plain = DemandSettings(orders_per_hour=30, cancellations={"before_pickup": 0.1})
    with_returns = plain.model_copy(update={"returns": settings(rate=0.5).returns})
    before = list(DemandModel(world, plain, 3).arrivals(36000))
    after = list(DemandModel(world, with_returns, 3).arrivals(36000))
    assert [(a.at_seconds, a.trade, a.cancel) for a in before] == [
        (a.at_seconds, a.trade, a.cancel) for a in after
    ]
    assert all(a.give_back is None for a in before)
    assert any(a.give_back is not None for a in after)
    # A cancelled trade is never returned.
    assert all(a.give_back is None for a in after if a.cancel is not None)


@pytest.fixture
async def ecosystem(tmp_path: Path, world: World) -> AsyncIterator[Ecosystem]:
    eco = Ecosystem.create(
        tmp_path,
        world,
        ManualClock(),
        HttpxSender(httpx.AsyncClient()),
        seed=1,
        credentials=Credentials.issue([owner.code for owner in world.owners]),
        faults=NO_FAULTS,
    )
    yield eco
    for ctx in eco.contexts.values():
        ctx.conn.close()


@pytest.mark.anyio
async def test_a_return_is_applied_for_after_the_signed_state_and_its_parcel_checked(
    ecosystem: Ecosystem, world: World
) -> None:
    oms, wms = ecosystem.oms, ecosystem.wms
    clock = wms.ctx.clock
    assert isinstance(clock, ManualClock)
    trade = DemandModel(world, settings(rate=1.0), 2).next_trade()
    trade_no = oms.create_paid_order(trade)
    stored = oms.get_trade(trade_no)
    assert stored is not None
    lines = [(line.spec_no, line.num) for line in stored.lines]
    returns = Returns(clock.env, oms, wms, ecosystem.carrier)
    # Two units of the first line back, one of them defective, 10 minutes after the signed
    # state, at the warehouse an hour later.
    first = stored.lines[0]
    qty = min(first.num, 2)
    plan = ReturnPlan((ReturnLine(0, qty, 1),), "质量问题", 600.0, 3600.0)
    returns.plan(trade_no, plan)
    wms.create_delivery_order(
        order(world, trade_no, lines, stored.warehouse_no, None, stored.owner_code)
    )
    oms.sync_logistics(trade_no, stored.logistics_code, "SF-ANY")
    assert returns.pending == 1
    clock.advance(4 * 86400)  # shipped, carried, signed for: the buyer has applied long since
    [refund] = oms.conn.execute(
        "SELECT refund_no, type, status, refund_cents, logistics_no FROM refunds"
    ).fetchall()
    refund_no = refund["refund_no"]
    share = (2 * first.share_cents * qty + first.num) // (2 * first.num)
    assert (refund["type"], refund["status"], refund["refund_cents"]) == (
        RefundType.RETURN,
        RefundStatus.PUSHED,
        share,
    )
    assert refund["logistics_no"] == return_waybill(refund_no)
    assert returns.pending == 0 and returns.report()["at_warehouse"] == 1
    # Applied only once the parcel was signed for, within a look of it.
    signed = ecosystem.carrier.ctx.conn.execute("SELECT signed_sim FROM parcels").fetchone()[0]
    applied = oms.conn.execute(
        "SELECT created_sim FROM refunds WHERE refund_no = ?", (refund_no,)
    ).fetchone()[0]
    waited = (sim_time(applied) - sim_time(signed)).total_seconds()
    assert 600 <= waited <= 600 + SIGNED_LOOK_EVERY_SECONDS
    # The connector's return order receives the parcel: one good unit, one defective.
    warehouse, item = stored.warehouse_no, first.spec_no
    before = wms.conn.execute(
        "SELECT on_hand FROM stock WHERE warehouse_code = ? AND item_code = ?", (warehouse, item)
    ).fetchone()[0]
    wms.create_inbound_order(
        InboundOrderRequest(
            kind=InboundKind.RETURN,
            order_code=refund_no,
            warehouse_code=warehouse,
            order_type="THRK",
            owner_code=stored.owner_code,
            lines=(InboundLineRequest("1", item, qty, stored.owner_code),),
            pre_delivery_order_code=trade_no,
            express_code=refund["logistics_no"],
        )
    )
    clock.advance(3600)
    view = wms.query_inbound_order(InboundKind.RETURN, refund_no, stored.owner_code)
    assert view.status == "FULFILLED"
    quality = wms.conn.execute(
        "SELECT inventory_type, qty FROM inbound_quality ORDER BY inventory_type DESC"
    ).fetchall()
    assert [tuple(row) for row in quality] == [("ZP", qty - 1), ("CC", 1)]
    after = wms.conn.execute(
        "SELECT on_hand FROM stock WHERE warehouse_code = ? AND item_code = ?", (warehouse, item)
    ).fetchone()[0]
    assert after - before == qty - 1
