"""Cycle counts: a count moves on_hand to what was counted (ledger reason `count`), reports
only the items that differed in one signed inventory.report, never counts reserved units
away, and a check order counted again changes nothing."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from lxml import etree

from fake_systems.common.context import SystemContext
from fake_systems.wms.api.qimen_push import INVENTORY_REPORT_METHOD, render
from fake_systems.wms.events import InventoryCounted, StockChanged, WmsEvent
from fake_systems.wms.models import WmsConfig, WmsError
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


def test_a_count_adjusts_on_hand_and_reports_the_differences(wms: WmsService, world: World) -> None:
    events: list[WmsEvent] = []
    wms.listen(events.append)
    wh = world.warehouses[0].code
    a, b, c = (sku.item_code for sku in world.skus[:3])
    book = {item: on_hand(wms, wh, item) for item in (a, b, c)}
    check_id = wms.counts.count(
        "OWNER-A", "PD1", wh, "B", [(a, book[a] - 2), (b, book[b]), (c, book[c] + 1)]
    )
    assert check_id is not None
    assert (on_hand(wms, wh, a), on_hand(wms, wh, b), on_hand(wms, wh, c)) == (
        book[a] - 2,
        book[b],
        book[c] + 1,
    )
    ledger = wms.conn.execute(
        "SELECT item_code, change FROM stock_ledger WHERE reason = 'count' ORDER BY item_code"
    ).fetchall()
    assert sorted((str(r[0]), int(r[1])) for r in ledger) == sorted([(a, -2), (c, 1)])
    counted = [e for e in events if isinstance(e, InventoryCounted)]
    assert len(counted) == 1
    assert {(line.item_code, line.book_qty, line.difference) for line in counted[0].lines} == {
        (a, book[a], -2),
        (c, book[c], 1),
    }
    assert next(e for e in events if isinstance(e, StockChanged)).order_type == "PD"
    method, entity, body, _ = render(counted[0])
    assert (method, entity) == (INVENTORY_REPORT_METHOD, "PD1")
    root = etree.fromstring(body.encode())
    assert root.findtext("checkOrderCode") == "PD1"
    assert root.findtext("adjustType") == "CHECK"
    assert root.findtext("extendProps/abcClass") == "B"
    assert root.findtext("extendProps/bookQty") == str(sum(book.values()))
    quantities = {i.findtext("itemCode"): i.findtext("quantity") for i in root.iter("item")}
    assert quantities == {a: "-2", c: "1"}
    # The same check order again: a repeat, nothing moves and nothing is reported.
    assert wms.counts.count("OWNER-A", "PD1", wh, "B", [(a, 0)]) is None
    assert on_hand(wms, wh, a) == book[a] - 2
    assert len([e for e in events if isinstance(e, InventoryCounted)]) == 1


def test_a_count_without_differences_reports_nothing(wms: WmsService, world: World) -> None:
    events: list[WmsEvent] = []
    wms.listen(events.append)
    wh, item = world.warehouses[0].code, world.skus[0].item_code
    assert wms.counts.count("OWNER-A", "PD2", wh, "A", [(item, on_hand(wms, wh, item))])
    assert events == []


def test_a_count_never_takes_reserved_units(wms: WmsService, world: World) -> None:
    wh, item = world.warehouses[0].code, world.skus[0].item_code
    wms.stock.reserve(wh, item, 3, "ORDER")
    assert wms.counts.count("OWNER-A", "PD3", wh, "C", [(item, 0)])
    assert on_hand(wms, wh, item) == 3


@pytest.mark.parametrize(
    ("abc_class", "counted"), [("D", 1), ("A", -1)], ids=["unknown class", "negative count"]
)
def test_bad_counts_are_refused(
    wms: WmsService, world: World, abc_class: str, counted: int
) -> None:
    wh, item = world.warehouses[0].code, world.skus[0].item_code
    with pytest.raises(WmsError):
        wms.counts.count("OWNER-A", "PD4", wh, abc_class, [(item, counted)])
