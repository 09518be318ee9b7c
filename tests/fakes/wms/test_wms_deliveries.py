"""Purchase entry orders receive their supplier's delivery (when the config asks): matched by
owner, purchase order and warehouse, every delivered unit counted in, over or short, the
damaged ones apart; a delivery is received once; the stock push reports the sound units."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from fake_systems.common.context import SystemContext
from fake_systems.wms.deliveries import DeliveryLine
from fake_systems.wms.events import StockChanged, WmsEvent
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

QUICK = WmsConfig(
    accept_seconds=(30, 30),
    receive_seconds=(300, 300),
    supplier_deliveries=True,
    stock_change_reports=True,
)


@pytest.fixture
def wms(make_context: Callable[[str], SystemContext], world: World) -> WmsService:
    service = WmsService(make_context("wms"), CREDS, QUICK)
    service.setup(world)
    return service


def entry_order(world: World, code: str = "PO1", owner: str = "OWNER-A") -> InboundOrderRequest:
    return InboundOrderRequest(
        kind=InboundKind.ENTRY,
        order_code=code,
        warehouse_code=world.warehouses[0].code,
        order_type="CGRK",
        owner_code=owner,
        lines=(
            InboundLineRequest("1", world.skus[0].item_code, 10, owner),
            InboundLineRequest("2", world.skus[1].item_code, 5, owner),
        ),
        purchase_order_code="PO1",
        supplier_code="3100001001",
    )


def units(wms: WmsService, world: World, sku: int) -> tuple[int, int]:
    """(on hand, unsaleable) of a catalogue item in the first warehouse."""
    wh, item = world.warehouses[0].code, world.skus[sku].item_code
    on_hand = wms.conn.execute(
        "SELECT on_hand FROM stock WHERE warehouse_code = ? AND item_code = ?", (wh, item)
    ).fetchone()[0]
    bad = wms.conn.execute(
        "SELECT COALESCE(SUM(qty), 0) FROM unsaleable_stock WHERE warehouse_code = ?"
        " AND item_code = ?",
        (wh, item),
    ).fetchone()[0]
    return int(on_hand), int(bad)


def test_an_entry_order_receives_what_its_delivery_brought(
    wms: WmsService, world: World, clock: ManualClock
) -> None:
    events: list[WmsEvent] = []
    wms.listen(events.append)
    wh = world.warehouses[0].code
    before = [units(wms, world, 0), units(wms, world, 1)]
    wms.create_inbound_order(entry_order(world))
    # Another owner's delivery of the same order number, or one for another warehouse: not it.
    wms.inbound.deliveries.arrive("OWNER-B", "PO1", wh, "3100002001", [DeliveryLine("x", 1, 0)])
    clock.advance(3600)
    assert wms.query_inbound_order(InboundKind.ENTRY, "PO1", "OWNER-A").status is (
        InboundStatus.ACCEPT
    )
    # Its own: the first item over (12 of 10, 2 damaged), the second short (4 of 5).
    delivered = [
        DeliveryLine(world.skus[0].item_code, 12, 2),
        DeliveryLine(world.skus[1].item_code, 4, 0),
    ]
    wms.inbound.deliveries.arrive("OWNER-A", "PO1", wh, "3100001001", delivered)
    clock.advance(400)
    view = wms.query_inbound_order(InboundKind.ENTRY, "PO1", "OWNER-A")
    assert view.status is InboundStatus.FULFILLED
    assert [(line.plan_qty, line.actual_qty) for line in view.lines] == [(10, 12), (5, 4)]
    quality = wms.conn.execute(
        "SELECT order_line_no, inventory_type, qty FROM inbound_quality ORDER BY rowid"
    ).fetchall()
    assert [tuple(row) for row in quality] == [("1", "ZP", 10), ("1", "CC", 2), ("2", "ZP", 4)]
    assert units(wms, world, 0) == (before[0][0] + 10, before[0][1] + 2)
    assert units(wms, world, 1) == (before[1][0] + 4, before[1][1])
    pushed = [e for e in events if isinstance(e, StockChanged)]
    assert [(m.item_code, m.quantity) for e in pushed for m in e.moves] == [
        (world.skus[0].item_code, 10),
        (world.skus[1].item_code, 4),
    ]


def test_a_delivery_is_received_once(wms: WmsService, world: World, clock: ManualClock) -> None:
    wh = world.warehouses[0].code
    wms.create_inbound_order(entry_order(world, "PO1"))
    wms.create_inbound_order(entry_order(world, "PO1-AGAIN"))
    line = DeliveryLine(world.skus[0].item_code, 10, 0)
    wms.inbound.deliveries.arrive("OWNER-A", "PO1", wh, "3100001001", [line])
    clock.advance(3600)
    statuses = {
        code: wms.query_inbound_order(InboundKind.ENTRY, code, "OWNER-A").status
        for code in ("PO1", "PO1-AGAIN")
    }
    assert sorted(statuses.values()) == [InboundStatus.ACCEPT, InboundStatus.FULFILLED]
    received = wms.conn.execute(
        "SELECT COALESCE(SUM(change), 0) FROM stock_ledger WHERE reason = 'receive'"
    ).fetchone()[0]
    assert received == 10


def test_without_deliveries_an_entry_order_receives_its_plan(
    make_context: Callable[[str], SystemContext], world: World, clock: ManualClock
) -> None:
    wms = WmsService(make_context("wms"), CREDS, WmsConfig(accept_seconds=(30, 30)))
    wms.setup(world)
    wms.create_inbound_order(entry_order(world))
    clock.advance(3600)
    view = wms.query_inbound_order(InboundKind.ENTRY, "PO1", "OWNER-A")
    assert [(line.plan_qty, line.actual_qty) for line in view.lines] == [(10, 10), (5, 5)]
