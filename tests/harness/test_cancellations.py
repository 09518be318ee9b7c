"""The buyers' cancellations in simulated time: a type-1 refund agreed at once cancels the
trade; `before_picking` waits for the WMS to have the order; a shipped trade is not cancelled."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from fake_systems.common.context import SystemContext
from fake_systems.common.credentials import OmsCredentials
from fake_systems.oms.models import RefundStatus, RefundType, TradeStatus
from fake_systems.oms.service import OmsService
from fake_systems.wms.service import WmsService
from simulator.after_sales import WMS_LOOK_EVERY_SECONDS, Cancellations
from simulator.clock import ManualClock
from simulator.demand import CancelPlan, DemandModel
from simulator.progress import ProgressDisplay, Snapshot
from simulator.scenario import DemandSettings
from simulator.world import World
from tests.support.wms import CREDS, FIXED, order


@pytest.fixture
def systems(
    world: World, make_context: Callable[[str], SystemContext]
) -> tuple[OmsService, WmsService]:
    oms = OmsService(make_context("oms"), OmsCredentials())
    oms.setup(world)
    wms = WmsService(make_context("wms"), CREDS, FIXED)
    wms.setup(world)
    return oms, wms


def paid_trade(world: World, oms: OmsService) -> str:
    return oms.create_paid_order(
        DemandModel(world, DemandSettings(orders_per_hour=1), 1).next_trade()
    )


def status(oms: OmsService, trade_no: str) -> int:
    trade = oms.get_trade(trade_no)
    assert trade is not None
    return trade.trade_status


def test_before_pickup_cancels_after_its_delay_through_an_agreed_refund(
    world: World, clock: ManualClock, systems: tuple[OmsService, WmsService]
) -> None:
    oms, wms = systems
    trade_no = paid_trade(world, oms)
    cancellations = Cancellations(clock.env, oms, wms)
    cancellations.plan(trade_no, CancelPlan("before_pickup", 20.0))
    clock.advance(19)
    assert status(oms, trade_no) == TradeStatus.PAID
    clock.advance(2)
    assert status(oms, trade_no) == TradeStatus.CANCELLED
    [refund] = oms.conn.execute("SELECT type, status FROM refunds WHERE trade_no = ?", (trade_no,))
    assert (refund[0], refund[1]) == (RefundType.REFUND_BEFORE_SHIPMENT, RefundStatus.SETTLED)
    assert cancellations.report() == {
        "planned": 1,
        "planned_by_stage": {"before_pickup": 1},
        "cancelled": 1,
    }


def test_before_picking_waits_for_the_wms_to_have_the_order(
    world: World, clock: ManualClock, systems: tuple[OmsService, WmsService]
) -> None:
    oms, wms = systems
    trade_no = paid_trade(world, oms)
    trade = oms.get_trade(trade_no)
    assert trade is not None
    cancellations = Cancellations(clock.env, oms, wms)
    cancellations.plan(trade_no, CancelPlan("before_picking", 5.0))
    clock.advance(600)  # the connector has not sent it yet: the buyer waits
    assert status(oms, trade_no) == TradeStatus.PAID
    lines = [(line.spec_no, line.num) for line in trade.lines]
    wms.create_delivery_order(
        order(world, trade_no, lines, trade.warehouse_no, None, trade.owner_code)
    )
    clock.advance(WMS_LOOK_EVERY_SECONDS + 5.0 + 1.0)
    assert status(oms, trade_no) == TradeStatus.CANCELLED
    # Still before picking (the WMS accepts after 30 s): a connector can stop it.
    assert wms.query_delivery_order(trade_no).status.value in ("NEW", "ACCEPT")


def test_a_trade_shipped_meanwhile_is_not_cancelled(
    world: World, clock: ManualClock, systems: tuple[OmsService, WmsService]
) -> None:
    oms, wms = systems
    trade_no = paid_trade(world, oms)
    cancellations = Cancellations(clock.env, oms, wms)
    cancellations.plan(trade_no, CancelPlan("before_pickup", 30.0))
    assert oms.sync_logistics(trade_no, "SF", "SF0000000001")
    clock.advance(31)
    assert status(oms, trade_no) == TradeStatus.SHIPPED
    assert (cancellations.planned, cancellations.cancelled) == (1, 0)


def test_progress_shows_the_cancelled_only_when_there_are_some() -> None:
    counts = {"created": 75, "at_wms": 72, "shipped": 65}
    quiet = ProgressDisplay._line(Snapshot("traffic", 5.0, "2026-11-10 20:00:00", counts))
    busy = ProgressDisplay._line(
        Snapshot("traffic", 5.0, "2026-11-10 20:00:00", {**counts, "cancelled": 10})
    )
    assert "cancelled" not in quiet
    assert "created 75 (10 cancelled)  at_wms 72" in busy
