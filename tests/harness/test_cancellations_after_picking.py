"""Buyers who cancel after picking: the refund waits, the WMS refuses order.cancel, and the
merchant agrees the refund only once the goods are back (intercepted or refused); a parcel
the buyer signed for stays unrefunded."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest

from fake_systems.carrier.service import CarrierService
from fake_systems.common.context import SystemContext
from fake_systems.common.credentials import OmsCredentials
from fake_systems.oms.models import RefundStatus, RefundType, TradeStatus
from fake_systems.oms.service import OmsService
from fake_systems.wms.models import WmsError
from fake_systems.wms.service import WmsService
from simulator.after_sales import Cancellations
from simulator.clock import ManualClock
from simulator.demand import CancelPlan, DemandModel
from simulator.scenario import CancellationSettings, DemandSettings
from simulator.world import World
from tests.support import carrier as carrier_support
from tests.support.wms import CREDS, FIXED, order, stock

HOUR = 3600.0


@dataclass
class Systems:
    oms: OmsService
    wms: WmsService
    carrier: CarrierService


@pytest.fixture
def systems(world: World, make_context: Callable[[str], SystemContext]) -> Systems:
    oms = OmsService(make_context("oms"), OmsCredentials())
    oms.setup(world)
    carrier = CarrierService(
        make_context("carrier"), carrier_support.CREDENTIALS, carrier_support.FIXED
    )
    carrier.setup(world)
    wms = WmsService(make_context("wms"), CREDS, FIXED, carrier)
    wms.setup(world)
    return Systems(oms, wms, carrier)


def sent_to_wms(world: World, s: Systems) -> tuple[str, str, str]:
    """A paid trade, its waybill and its delivery order at the WMS: (trade_no, waybill, item)."""
    trade_no = s.oms.create_paid_order(
        DemandModel(world, DemandSettings(orders_per_hour=1), 3).next_trade()
    )
    trade = s.oms.get_trade(trade_no)
    assert trade is not None
    waybill = s.carrier.issue_waybill(trade_no, "SF")
    lines = [(line.spec_no, line.num) for line in trade.lines]
    s.wms.create_delivery_order(
        order(world, trade_no, lines, trade.warehouse_no, waybill, trade.owner_code)
    )
    return trade_no, waybill, trade.warehouse_no


def refund(s: Systems, trade_no: str) -> tuple[int, int]:
    [row] = s.oms.conn.execute("SELECT type, status FROM refunds WHERE trade_no = ?", (trade_no,))
    return int(row[0]), int(row[1])


def status(s: Systems, trade_no: str) -> int:
    trade = s.oms.get_trade(trade_no)
    assert trade is not None
    return trade.trade_status


def on_hand(s: Systems, warehouse: str) -> dict[str, int]:
    rows = s.wms.conn.execute(
        "SELECT item_code, on_hand FROM stock WHERE warehouse_code = ?", (warehouse,)
    )
    return {row[0]: row[1] for row in rows}


def test_intercepted_parcel_comes_back_then_the_refund_is_agreed(
    world: World, clock: ManualClock, systems: Systems
) -> None:
    s = systems
    trade_no, waybill, warehouse = sent_to_wms(world, s)
    before = on_hand(s, warehouse)
    cancellations = Cancellations(clock.env, s.oms, s.wms, s.carrier)
    cancellations.plan(trade_no, CancelPlan("after_picking", 5.0))
    clock.advance(29)  # the WMS accepts at 30 s and picks at once
    assert s.oms.conn.execute("SELECT COUNT(*) FROM refunds").fetchone()[0] == 0
    clock.advance(30)
    # Asked after picking: waiting for the merchant, the trade still paid.
    assert refund(s, trade_no) == (RefundType.REFUND_BEFORE_SHIPMENT, RefundStatus.PENDING)
    assert status(s, trade_no) == TradeStatus.PAID
    with pytest.raises(WmsError) as caught:
        s.wms.cancel_order(trade_no)
    assert caught.value.code == "CANCELEDFAIL"
    assert s.carrier.intercept("SF", waybill) == "requested"
    clock.advance(10 * HOUR)  # shipped at ~180 s, stopped at collection, back an hour later
    assert s.carrier.parcel_state(waybill) == (4, "406")
    assert refund(s, trade_no)[1] == RefundStatus.SETTLED
    assert status(s, trade_no) == TradeStatus.CANCELLED
    assert on_hand(s, warehouse) == before  # shipped, then shelved again
    report = cancellations.report()
    assert report["cancelled"] == 1
    assert report["after_picking"] == {
        "requested": 1,
        "too_late": 0,
        "refunded": 1,
        "stopped_at_wms": 0,
        "returned": 1,
        "refused_planned": 0,
        "delivered": 0,
    }


def test_a_parcel_the_buyer_signed_for_is_never_refunded(
    world: World, clock: ManualClock, systems: Systems
) -> None:
    s = systems
    trade_no, waybill, _ = sent_to_wms(world, s)
    cancellations = Cancellations(clock.env, s.oms, s.wms, s.carrier)
    cancellations.plan(trade_no, CancelPlan("after_picking", 5.0))
    clock.advance(30 * HOUR)  # nobody intercepts it: signed at ~14 h
    assert s.carrier.parcel_state(waybill) == (3, "301")
    assert refund(s, trade_no)[1] == RefundStatus.PENDING
    assert status(s, trade_no) == TradeStatus.PAID
    assert cancellations.after_picking["delivered"] == 1
    assert cancellations.after_picking["refunded"] == 0


def test_a_buyer_who_refuses_the_parcel_gets_the_refund_once_it_is_back(
    world: World, clock: ManualClock, systems: Systems
) -> None:
    s = systems
    trade_no, waybill, warehouse = sent_to_wms(world, s)
    before = on_hand(s, warehouse)
    cancellations = Cancellations(clock.env, s.oms, s.wms, s.carrier)
    cancellations.plan(trade_no, CancelPlan("after_picking", 5.0, refuses=True))
    clock.advance(30 * HOUR)  # refused at ~14 h, back 10 h later
    traces = [
        row[0]
        for row in s.carrier.ctx.conn.execute(
            "SELECT action FROM traces WHERE logistic_code = ? ORDER BY seq", (waybill,)
        )
    ]
    assert traces[-2:] == ["404", "406"] and "301" not in traces
    assert refund(s, trade_no)[1] == RefundStatus.SETTLED
    assert status(s, trade_no) == TradeStatus.CANCELLED
    assert on_hand(s, warehouse) == before
    assert cancellations.after_picking["refused_planned"] == 1


def test_a_cancel_that_reached_the_wms_in_time_is_agreed_without_a_parcel(
    world: World, clock: ManualClock, systems: Systems
) -> None:
    s = systems
    trade_no, _, warehouse = sent_to_wms(world, s)
    item_stock = stock(s.wms, warehouse, world.skus[0].item_code)
    cancellations = Cancellations(clock.env, s.oms, s.wms, s.carrier)
    cancellations.plan(trade_no, CancelPlan("after_picking", 5.0))
    s.wms.cancel_order(trade_no)  # stopped before any picker came
    clock.advance(5 * HOUR)
    assert refund(s, trade_no)[1] == RefundStatus.SETTLED
    assert status(s, trade_no) == TradeStatus.CANCELLED
    assert cancellations.after_picking["stopped_at_wms"] == 1
    assert stock(s.wms, warehouse, world.skus[0].item_code)[0] == item_stock[0]


def test_after_picking_draws_leave_the_earlier_stages_alone(world: World) -> None:
    """Existing scenarios' cancellations are drawn as before: the refusal draw is made for
    after_picking plans only."""
    old = CancellationSettings(before_pickup=0.05, before_picking=0.05)
    new = CancellationSettings(before_pickup=0.05, before_picking=0.05, after_picking=0.0)
    plans = []
    for shares in (old, new):
        model = DemandModel(world, DemandSettings(orders_per_hour=1, cancellations=shares), 9)
        plans.append([model.next_cancel() for _ in range(300)])
    assert plans[0] == plans[1]
    with_after = DemandModel(
        world,
        DemandSettings(
            orders_per_hour=1,
            cancellations=CancellationSettings(after_picking=0.5, refuse_on_delivery=0.5),
        ),
        9,
    )
    drawn = [with_after.next_cancel() for _ in range(400)]
    after = [plan for plan in drawn if plan is not None]
    assert {plan.stage for plan in after} == {"after_picking"}
    refusing = sum(plan.refuses for plan in after)
    assert 0.3 < refusing / len(after) < 0.7
