"""stockout.create: a purchase return (CGTH) the ERP side sends ships after its delays with
what the warehouse has (possibly less than planned, never reserved stock), the units leave
on_hand, stockout.confirm tells planQty and actualQty; a repeat is the same order; another
owner cannot ship the first owner's goods; bad input is a Qimen failure; a short pick ships
what the picker found."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from lxml import etree

from fake_systems.common.context import SystemContext
from fake_systems.wms.api.qimen_push import render
from fake_systems.wms.events import StockoutConfirmed, WmsEvent
from fake_systems.wms.models import InboundLineRequest
from fake_systems.wms.service import WmsService
from fake_systems.wms.stockouts import StockoutRequest
from simulator.clock import ManualClock
from simulator.world import World
from tests.fakes.wms.test_wms_business_faults import fault_rows, faulted_wms
from tests.fakes.wms.test_wms_qimen import call
from tests.support.wms import stock, stockout_body

pytestmark = pytest.mark.anyio


async def test_a_purchase_return_ships_what_is_there_and_confirms_it(
    client: httpx.AsyncClient, wms: WmsService, world: World, clock: ManualClock
) -> None:
    events: list[WmsEvent] = []
    wms.listen(events.append)
    warehouse, item = world.warehouses[0].code, world.skus[0].item_code
    on_hand, _ = stock(wms, warehouse, item)
    _, root = await call(client, "stockout.create", stockout_body(world, "MRB1", on_hand + 5))
    assert root.findtext("flag") == "success"
    order_id = root.findtext("deliveryOrderId")
    _, again = await call(client, "stockout.create", stockout_body(world, "MRB1", 1))
    assert again.findtext("deliveryOrderId") == order_id  # the same order, not a second
    assert stock(wms, warehouse, item)[0] == on_hand  # nothing leaves before it ships
    clock.advance(3600)
    assert stock(wms, warehouse, item)[0] == 0  # all it had, fewer than planned
    (confirm,) = [e for e in events if isinstance(e, StockoutConfirmed)]
    method, code, body, _ = render(confirm)
    assert (method, code) == ("taobao.qimen.stockout.confirm", "MRB1")
    request = etree.fromstring(body.encode())
    assert request.findtext("deliveryOrder/orderType") == "CGTH"
    assert request.findtext("orderLines/orderLine/planQty") == str(on_hand + 5)
    assert request.findtext("orderLines/orderLine/actualQty") == str(on_hand)
    ledger = wms.conn.execute(
        "SELECT SUM(change) FROM stock_ledger WHERE reason = 'stockout' AND reference = ?",
        (order_id,),
    ).fetchone()[0]
    assert ledger == -on_hand


async def test_stockout_refusals_are_qimen_failures(
    client: httpx.AsyncClient, wms: WmsService, world: World
) -> None:
    dbck = stockout_body(world, "X1").replace("CGTH", "DBCK")
    _, root = await call(client, "stockout.create", dbck)
    assert (root.findtext("flag"), root.findtext("code")) == ("failure", "isv.invalid-parameter")
    _, root = await call(client, "stockout.create", stockout_body(world, "X2", qty=0))
    assert root.findtext("flag") == "failure"
    _, root = await call(client, "stockout.create", "<request><deliveryOrder/></request>")
    assert root.findtext("code") == "isv.missing-parameter"
    count = wms.conn.execute("SELECT COUNT(*) FROM stockout_orders").fetchone()[0]
    assert count == 0


def test_a_short_pick_ships_what_the_picker_found_and_leaves_the_rest(
    make_context: Callable[[str], SystemContext], world: World, clock: ManualClock
) -> None:
    wms = faulted_wms(make_context, world, "short_pick", operation="stockout.create")
    warehouse, item = world.warehouses[0].code, world.skus[0].item_code
    on_hand, _ = stock(wms, warehouse, item)
    line = InboundLineRequest("1", item, 5, "OWNER-A")
    wms.create_stockout(StockoutRequest("MRB9", warehouse, "CGTH", "OWNER-A", (line,)))
    clock.advance(3600)
    (shipped,) = wms.conn.execute("SELECT actual_qty FROM stockout_order_lines").fetchone()
    assert 1 <= shipped <= 4
    assert stock(wms, warehouse, item)[0] == on_hand - shipped  # the rest stays on the shelf
    ((operation, outcome, entity, payload),) = fault_rows(wms)
    assert (operation, outcome, entity) == ("stockout.create", "short_pick", "MRB9")
    assert (payload["units"], payload["found"]) == (5, shipped)
