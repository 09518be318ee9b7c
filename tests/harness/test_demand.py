"""Demand is reproducible by seed, Poisson-paced, Zipf-skewed, and its money adds up."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fake_systems.common.context import SystemContext
from fake_systems.common.credentials import OmsCredentials
from fake_systems.oms.service import OmsService
from simulator.clock import ManualClock
from simulator.demand import CANCEL_DELAY_SECONDS, DemandModel, play_demand, spread
from simulator.scenario import CancellationSettings, DemandSettings
from simulator.world import NewTrade, World, build_world

SETTINGS = DemandSettings(orders_per_hour=600)


def test_same_seed_same_orders_and_times(world: World) -> None:
    first = list(DemandModel(world, SETTINGS, seed=3).arrivals(3600))
    again = list(DemandModel(world, SETTINGS, seed=3).arrivals(3600))
    other = list(DemandModel(world, SETTINGS, seed=4).arrivals(3600))
    assert first == again
    assert first != other


def test_world_is_reproducible_by_seed() -> None:
    assert build_world(5, sku_count=20, customer_count=20) == build_world(
        5, sku_count=20, customer_count=20
    )
    assert (
        build_world(5, sku_count=20, customer_count=20).skus
        != build_world(6, sku_count=20, customer_count=20).skus
    )


def test_item_codes_are_sixteen_digits_and_unique(world: World) -> None:
    codes = [sku.item_code for sku in world.skus]
    assert all(len(code) == 16 and code.isdigit() for code in codes)
    assert len(set(codes)) == len(codes)


def test_arrival_rate_matches_the_scenario(world: World) -> None:
    arrivals = list(DemandModel(world, SETTINGS, seed=1).arrivals(10 * 3600))
    # 6,000 expected; a Poisson count is within 4 standard deviations (±310) essentially always.
    assert 5690 <= len(arrivals) <= 6310
    assert all(a.at_seconds < 10 * 3600 for a in arrivals)
    assert [a.at_seconds for a in arrivals] == sorted(a.at_seconds for a in arrivals)


def test_popular_skus_sell_more(world: World) -> None:
    sold: Counter[int] = Counter()
    for arrival in DemandModel(world, SETTINGS, seed=2).arrivals(10 * 3600):
        for line in arrival.trade.lines:
            sold[world.sku(line.spec_no).popularity_rank] += 1
    assert sold[1] > 3 * sold[20]


def test_shares_add_up_and_never_exceed_list_price(world: World) -> None:
    discounted = 0
    for arrival in DemandModel(world, SETTINGS, seed=9).arrivals(5 * 3600):
        lines = arrival.trade.lines
        assert len({line.spec_no for line in lines}) == len(lines)
        goods = sum(line.price_cents * line.num for line in lines)
        shares = sum(line.share_cents for line in lines)
        assert 0 < shares <= goods
        assert all(0 <= line.share_cents <= line.price_cents * line.num for line in lines)
        discounted += shares < goods
    assert discounted > 0  # coupons happen


def test_platform_order_numbers_are_unique(world: World) -> None:
    tids = [a.trade.src_tid for a in DemandModel(world, SETTINGS, seed=9).arrivals(5 * 3600)]
    assert len(set(tids)) == len(tids)


def test_simpy_process_places_orders_at_their_simulated_time(
    world: World, clock: ManualClock, make_context: Callable[[str], SystemContext]
) -> None:
    oms = OmsService(make_context("oms"), OmsCredentials())
    oms.setup(world)
    model = DemandModel(world, SETTINGS, seed=5)
    expected = list(DemandModel(world, SETTINGS, seed=5).arrivals(1800))
    placed: list[float] = []

    def place(trade: NewTrade) -> None:
        placed.append(clock.env.now)
        oms.create_paid_order(trade)

    play_demand(clock.env, model, 1800, place)
    clock.advance(900)
    assert len(placed) == sum(a.at_seconds < 900 for a in expected)
    clock.advance(1000)
    assert placed == pytest.approx([a.at_seconds for a in expected])
    count = oms.ctx.conn.execute("SELECT count(*) FROM orders").fetchone()[0]
    assert count == len(expected)


def _curve(*steps: dict[str, object], **settings: object) -> DemandSettings:
    return DemandSettings.model_validate({"orders_per_hour": 600, "curve": list(steps), **settings})


def test_a_flat_curve_is_the_plain_poisson_process(world: World) -> None:
    flat = _curve({"until": "10h", "orders_per_hour": 600})
    plain = list(DemandModel(world, SETTINGS, seed=3).arrivals(3600))
    assert list(DemandModel(world, flat, seed=3).arrivals(3600)) == plain


def test_curve_steps_set_the_rate_of_each_stretch(world: World) -> None:
    # An hour at 1x (600), then ten minutes at 20x (12,000/h): 600 + 2,000 orders expected.
    curve = _curve({"until": "1h", "factor": 1}, {"until": "70m", "factor": 20})
    arrivals = list(DemandModel(world, curve, seed=6).arrivals(70 * 60))
    first = sum(a.at_seconds < 3600 for a in arrivals)
    spike = len(arrivals) - first
    # Poisson counts within 4 standard deviations (sqrt(600) ≈ 24.5, sqrt(2000) ≈ 44.7).
    assert 500 <= first <= 700
    assert 1820 <= spike <= 2180
    assert DemandModel(world, curve, seed=6).next_trade() != arrivals[0].trade  # draws moved on
    assert list(DemandModel(world, curve, seed=6).arrivals(70 * 60)) == arrivals  # reproducible


def test_ramps_are_linear_and_drill_scales_everything(world: World) -> None:
    curve = _curve(
        {"until": "1h", "orders_per_hour": 0}, {"until": "2h", "factor": 10, "ramp": True}
    )
    assert curve.rate_at(1800) == 0
    assert curve.rate_at(3600 + 900) == pytest.approx(1500)  # a quarter of the way to 6,000
    assert curve.rate_at(99_999) == 6000  # the last rate holds
    assert curve.expected_orders(7200) == pytest.approx(3000)
    arrivals = list(DemandModel(world, curve, seed=8).arrivals(7200))
    assert all(a.at_seconds >= 3600 for a in arrivals)
    late = sum(a.at_seconds >= 5400 for a in arrivals)
    assert late > 2 * (len(arrivals) - late)  # the rising half holds 3/4 of the orders
    drilled = curve.model_copy(update={"drill": 1.5})
    assert drilled.rate_at(3600 + 900) == pytest.approx(2250)
    assert drilled.expected_orders(7200) == pytest.approx(4500)
    assert 4230 <= len(list(DemandModel(world, drilled, seed=8).arrivals(7200))) <= 4770


@given(st.lists(st.integers(0, 10**7), min_size=1, max_size=200), st.data())
def test_a_coupon_spreads_to_the_cent_no_line_below_zero(
    weights: list[int], data: st.DataObject
) -> None:
    amount = data.draw(st.integers(0, sum(weights)))
    parts = spread(amount, weights)
    assert sum(parts) == amount
    assert all(0 <= part <= weight for part, weight in zip(parts, weights, strict=True))
    # In proportion: each part within a cent of its exact share.
    total = sum(weights) or 1
    assert all(
        abs(part * total - amount * weight) < total
        for part, weight in zip(parts, weights, strict=True)
    )


def test_a_coupon_larger_than_the_order_is_refused() -> None:
    with pytest.raises(ValueError, match="cannot spread 11 over 10"):
        spread(11, [4, 6])


CANCELLING = DemandSettings(
    orders_per_hour=600,
    cancellations=CancellationSettings(
        before_pickup=0.03, before_picking=0.02, after_picking=0.02, refuse_on_delivery=0.4
    ),
)


def test_cancellations_change_no_order_and_are_off_by_default(world: World) -> None:
    plain = list(DemandModel(world, SETTINGS, seed=3).arrivals(3600))
    cancelling = list(DemandModel(world, CANCELLING, seed=3).arrivals(3600))
    assert all(a.cancel is None for a in plain)
    # Their own random stream: the same orders at the same times, some of them cancelled.
    assert [(a.at_seconds, a.trade) for a in cancelling] == [(a.at_seconds, a.trade) for a in plain]
    assert any(a.cancel is not None for a in cancelling)


def test_cancellation_rates_and_stages_follow_the_scenario(world: World) -> None:
    # 100 simulated hours at 600 an hour: about 60,000 trades, 3,000 of them cancelled.
    arrivals = list(DemandModel(world, CANCELLING, seed=9).arrivals(360_000))
    stages: Counter[str] = Counter(a.cancel.stage for a in arrivals if a.cancel is not None)
    for stage, share in (
        ("before_pickup", 0.03),
        ("before_picking", 0.02),
        ("after_picking", 0.02),
    ):
        assert stages[stage] / len(arrivals) == pytest.approx(share, rel=0.1), stage
    # Of the buyers who cancel after picking, those who would refuse the parcel at the door.
    after = [
        a.cancel for a in arrivals if a.cancel is not None and a.cancel.stage == "after_picking"
    ]
    assert sum(plan.refuses for plan in after) / len(after) == pytest.approx(0.4, rel=0.1)
    assert not any(
        a.cancel.refuses for a in arrivals if a.cancel and a.cancel.stage != "after_picking"
    )
    delays = [a.cancel.delay_seconds for a in arrivals if a.cancel is not None]
    assert CANCEL_DELAY_SECONDS[0] <= min(delays) and max(delays) <= CANCEL_DELAY_SECONDS[1]
