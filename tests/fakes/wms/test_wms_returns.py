"""Return orders receive the buyer's parcel: matched by the return waybill and the owner,
counted in up to what the order asks, good units saleable, defective ones apart."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from fake_systems.common.context import SystemContext
from fake_systems.wms.inbound import ParcelLine
from fake_systems.wms.models import (
    InboundKind,
    InboundLineRequest,
    InboundOrderRequest,
    InboundStatus,
    WmsConfig,
)
from fake_systems.wms.service import WmsService
from simulator.clock import ManualClock
from simulator.world import World
from tests.support.wms import CREDS

QUICK = WmsConfig(accept_seconds=(30, 30), receive_seconds=(300, 300))


@pytest.fixture
def wms(make_context: Callable[[str], SystemContext], world: World) -> WmsService:
    service = WmsService(make_context("wms"), CREDS, QUICK)
    service.setup(world)
    return service


def return_order(world: World, qty: int, express: str = "RT-X") -> InboundOrderRequest:
    item = world.skus[0].item_code
    return InboundOrderRequest(
        kind=InboundKind.RETURN,
        order_code="TK1",
        warehouse_code=world.warehouses[0].code,
        order_type="THRK",
        owner_code="OWNER-A",
        lines=(InboundLineRequest("1", item, qty, "OWNER-A"),),
        express_code=express,
    )


def on_hand(wms: WmsService, world: World) -> int:
    row = wms.conn.execute(
        "SELECT on_hand FROM stock WHERE warehouse_code = ? AND item_code = ?",
        (world.warehouses[0].code, world.skus[0].item_code),
    ).fetchone()
    return int(row[0])


def test_a_return_order_receives_only_its_owners_parcel_and_only_what_it_asks(
    wms: WmsService, world: World, clock: ManualClock
) -> None:
    wh, item = world.warehouses[0].code, world.skus[0].item_code
    before = on_hand(wms, world)
    wms.create_inbound_order(return_order(world, 2))
    # Another owner's parcel under the same waybill number is not this order's.
    wms.parcel_arrives("OWNER-B", wh, "RT-X", "T1", [ParcelLine(item, 2, 0)])
    clock.advance(3600)
    view = wms.query_inbound_order(InboundKind.RETURN, "TK1", "OWNER-A")
    assert view.status is InboundStatus.ACCEPT and on_hand(wms, world) == before
    # Its own: three units, one defective; the order asks two, so the two good ones.
    wms.parcel_arrives("OWNER-A", wh, "RT-X", "T1", [ParcelLine(item, 3, 1)])
    wms.parcel_arrives("OWNER-A", wh, "RT-X", "T1", [ParcelLine(item, 9, 9)])  # ignored
    clock.advance(400)
    view = wms.query_inbound_order(InboundKind.RETURN, "TK1", "OWNER-A")
    assert view.status is InboundStatus.FULFILLED
    assert [(line.plan_qty, line.actual_qty) for line in view.lines] == [(2, 2)]
    quality = wms.conn.execute("SELECT inventory_type, qty FROM inbound_quality").fetchall()
    assert [tuple(row) for row in quality] == [("ZP", 2)]
    assert on_hand(wms, world) == before + 2
    assert wms.conn.execute("SELECT COUNT(*) FROM unsaleable_stock").fetchone()[0] == 0
