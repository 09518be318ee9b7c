"""The warehouse's own transfers in two legs: the DBCK outbound order ships at once (the
sender's stock falls, stockout.confirm), the DBRK entry order at the receiver is received
later with what arrived (its stock rises by that, entryorder.confirm with planQty = sent and
actualQty = received); all lines or none; a second arrival changes nothing."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from lxml import etree

from fake_systems.common.context import SystemContext
from fake_systems.wms.api.qimen_push import render
from fake_systems.wms.events import InboundReceived, StockChanged, StockoutConfirmed, WmsEvent
from fake_systems.wms.models import (
    STOCK_NOT_ENOUGH,
    InboundKind,
    InboundStatus,
    WmsConfig,
    WmsError,
)
from fake_systems.wms.service import WmsService
from simulator.world import World
from tests.support.wms import CREDS


@pytest.fixture
def wms(make_context: Callable[[str], SystemContext], world: World) -> WmsService:
    service = WmsService(make_context("wms"), CREDS, WmsConfig(stock_change_reports=True))
    service.setup(world)
    return service


def on_hand(wms: WmsService, warehouse: str, item: str) -> int:
    row = wms.conn.execute(
        "SELECT on_hand FROM stock WHERE warehouse_code = ? AND item_code = ?", (warehouse, item)
    ).fetchone()
    return 0 if row is None else int(row[0])


def test_a_transfer_leaves_at_once_and_arrives_less_its_loss(wms: WmsService, world: World) -> None:
    events: list[WmsEvent] = []
    wms.listen(events.append)
    src, dst = world.warehouses[0].code, world.warehouses[1].code
    a, b = world.skus[0].item_code, world.skus[1].item_code
    before = {(wh, it): on_hand(wms, wh, it) for wh in (src, dst) for it in (a, b)}
    wms.transfers.ship("OWNER-A", "TR1", src, dst, [(a, 5), (b, 3)])
    assert on_hand(wms, src, a) == before[(src, a)] - 5
    assert on_hand(wms, dst, a) == before[(dst, a)]  # in transit: on no warehouse's books
    assert wms.transfers.in_transit() == 1
    view = wms.query_inbound_order(InboundKind.ENTRY, "TR1", "OWNER-A")
    assert (view.status, view.order_type, view.warehouse_code) == (
        InboundStatus.ACCEPT,
        "DBRK",
        dst,
    )
    assert wms.transfers.arrive("OWNER-A", "TR1", {a: 4, b: 3})
    assert not wms.transfers.arrive("OWNER-A", "TR1", {a: 5, b: 3})  # a repeat: nothing
    assert on_hand(wms, dst, a) == before[(dst, a)] + 4
    assert on_hand(wms, dst, b) == before[(dst, b)] + 3
    assert wms.transfers.in_transit() == 0
    out = next(e for e in events if isinstance(e, StockoutConfirmed))
    received = next(e for e in events if isinstance(e, InboundReceived))
    assert [(ln.item_code, ln.actual_qty) for ln in out.lines] == [(a, 5), (b, 3)]
    assert [(ln.plan_qty, ln.actual_qty) for ln in received.lines] == [(5, 4), (3, 3)]
    moves = [
        (m.warehouse_code, m.quantity)
        for e in events
        if isinstance(e, StockChanged)
        for m in e.moves
    ]
    assert moves == [(src, -5), (src, -3), (dst, 4), (dst, 3)]
    ledger = wms.conn.execute(
        "SELECT reason, SUM(change) FROM stock_ledger WHERE reason LIKE 'transfer%'"
        " GROUP BY reason ORDER BY reason"
    ).fetchall()
    assert [tuple(row) for row in ledger] == [("transfer_in", 7), ("transfer_out", -8)]


def test_the_confirms_render_as_qimen_calls(wms: WmsService, world: World) -> None:
    events: list[WmsEvent] = []
    wms.listen(events.append)
    src, dst, item = world.warehouses[0].code, world.warehouses[1].code, world.skus[0].item_code
    wms.transfers.ship("OWNER-A", "TR1", src, dst, [(item, 2)])
    wms.transfers.arrive("OWNER-A", "TR1", {})
    confirms = [e for e in events if not isinstance(e, StockChanged)]
    (out_method, _, out_body, _), (in_method, _, in_body, _) = (render(e) for e in confirms)
    assert out_method == "taobao.qimen.stockout.confirm"
    root = etree.fromstring(out_body.encode())
    assert root.findtext("deliveryOrder/deliveryOrderCode") == "TR1"
    assert root.findtext("deliveryOrder/orderType") == "DBCK"
    assert root.findtext("deliveryOrder/warehouseCode") == src
    assert root.findtext("orderLines/orderLine/actualQty") == "2"
    assert in_method == "taobao.qimen.entryorder.confirm"
    root = etree.fromstring(in_body.encode())
    assert root.findtext("entryOrder/entryOrderType") == "DBRK"
    assert root.findtext("entryOrder/warehouseCode") == dst
    # Everything lost: the line comes with 0 received of 2 sent.
    assert root.findtext("orderLines/orderLine/planQty") == "2"
    assert root.findtext("orderLines/orderLine/actualQty") == "0"


def test_a_transfer_takes_no_reserved_stock_all_lines_or_none(
    wms: WmsService, world: World
) -> None:
    src, dst = world.warehouses[0].code, world.warehouses[1].code
    a, b = world.skus[0].item_code, world.skus[1].item_code
    have = on_hand(wms, src, b)
    with pytest.raises(WmsError) as caught:
        wms.transfers.ship("OWNER-A", "TR1", src, dst, [(a, 1), (b, have + 1)])
    assert caught.value.code == STOCK_NOT_ENOUGH
    assert on_hand(wms, src, a) == world.initial_stock[(src, a)]
    count = wms.conn.execute("SELECT COUNT(*) FROM stockout_orders").fetchone()[0]
    assert count == 0
    with pytest.raises(WmsError):
        wms.transfers.ship("OWNER-A", "TR2", src, src, [(a, 1)])
