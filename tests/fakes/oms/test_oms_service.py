"""OMS domain service: creation and amounts, the modified-time query, ship -> complete, cancel."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from fake_systems.common.context import SystemContext
from fake_systems.common.credentials import OmsCredentials
from fake_systems.oms.models import (
    InvalidRequest,
    StateConflict,
    UnknownTrade,
    WindowTooLong,
)
from fake_systems.oms.service import OmsService
from simulator.clock import ManualClock
from simulator.world import NewTrade, NewTradeLine, World

# ManualClock's epoch is 2026-11-10 20:00:00 China time.
T0 = "2026-11-10 20:00:00"


@pytest.fixture
def ctx(make_context: Callable[[str], SystemContext]) -> SystemContext:
    return make_context("oms")


@pytest.fixture
def oms(ctx: SystemContext, world: World) -> OmsService:
    service = OmsService(ctx, OmsCredentials())
    service.setup(world)
    return service


def new_trade(
    world: World,
    src_tid: str = "P1001",
    shop_index: int = 0,
    lines: tuple[NewTradeLine, ...] | None = None,
    post_cents: int = 0,
) -> NewTrade:
    sku = world.skus[0]
    return NewTrade(
        src_tid=src_tid,
        shop_no=world.shops[shop_index].shop_no,
        warehouse_no=world.warehouses[0].code,
        logistics_code=world.warehouses[0].carrier_code,
        receiver=world.customers[0],
        lines=lines or (NewTradeLine(sku.item_code, sku.name, 1, 1000, 1000),),
        post_cents=post_cents,
    )


def order_row(oms: OmsService, trade_no: str) -> dict[str, object]:
    return dict(oms.conn.execute("SELECT * FROM orders WHERE trade_no = ?", (trade_no,)).fetchone())


def test_create_stores_paid_trade_with_exact_amounts(oms: OmsService, world: World) -> None:
    lines = (
        NewTradeLine("1111111111111111", "耳机", 3, 9999, 29996),  # one cent off on this line
        NewTradeLine("2222222222222222", "赠品", 1, 0, 0),  # a gift at zero price
        NewTradeLine("3333333333333333", "T恤", 2, 4950, 8000),
    )
    shop = world.shops[1]
    trade_no = oms.create_paid_order(new_trade(world, "P9", 1, lines, post_cents=1001))

    assert len(trade_no) == 16 and trade_no.isdigit()
    assert trade_no == "20261110" + "00000001"
    row = order_row(oms, trade_no)
    assert row["trade_status"] == 30
    assert (row["platform"], row["owner_code"], row["shop_no"]) == (
        shop.platform,
        shop.owner_code,
        shop.shop_no,
    )
    assert row["goods_cents"] == 3 * 9999 + 0 + 2 * 4950  # 39897
    assert row["discount_cents"] == 39897 - (29996 + 0 + 8000)
    assert row["post_cents"] == 1001
    assert row["paid_cents"] == 29996 + 8000 + 1001
    assert row["paid_sim"] == T0 and row["modified_sim"] == T0
    assert row["paid_wall"] == oms.ctx.clock.wall()
    assert row["receiver_district"] == world.customers[0].area

    stored = oms.conn.execute(
        "SELECT rec_id, src_oid, spec_no, num, price_cents, share_cents FROM order_lines"
        " WHERE trade_no = ? ORDER BY rec_id",
        (trade_no,),
    ).fetchall()
    assert [tuple(r) for r in stored] == [
        (1, "P9-1", "1111111111111111", 3, 9999, 29996),
        (2, "P9-2", "2222222222222222", 1, 0, 0),
        (3, "P9-3", "3333333333333333", 2, 4950, 8000),
    ]
    # The judge's identity: shares plus postage are what was paid.
    total = oms.conn.execute(
        "SELECT SUM(share_cents) FROM order_lines WHERE trade_no = ?", (trade_no,)
    ).fetchone()[0]
    assert total + row["post_cents"] == row["paid_cents"]

    events = oms.conn.execute(
        "SELECT kind, operation, outcome FROM events WHERE entity = ?", (trade_no,)
    ).fetchall()
    assert [tuple(e) for e in events] == [("state", "trade", "30")]


def test_numbering_is_sequential_and_survives_reopening(
    oms: OmsService, ctx: SystemContext, world: World, clock: ManualClock
) -> None:
    first = oms.create_paid_order(new_trade(world, "A"))
    clock.advance(24 * 3600)  # next simulated day: the date prefix follows, the sequence goes on
    second = oms.create_paid_order(new_trade(world, "B"))
    assert (first, second) == ("2026111000000001", "2026111100000002")

    reopened = OmsService(ctx, OmsCredentials())
    reopened.setup(world)
    third = reopened.create_paid_order(new_trade(world, "C"))
    assert third == "2026111100000003"
    rec_ids = [r[0] for r in oms.conn.execute("SELECT rec_id FROM order_lines ORDER BY rec_id")]
    assert rec_ids == [1, 2, 3]


def test_create_refuses_unknown_shop_and_empty_trade(oms: OmsService, world: World) -> None:
    bad_shop = NewTrade("X", "NO-SUCH-SHOP", "WH-GZ01", "SF", world.customers[0], ())
    with pytest.raises(InvalidRequest):
        oms.create_paid_order(bad_shop)
    with pytest.raises(InvalidRequest):
        oms.create_paid_order(_empty(world))
    zero_qty = new_trade(world, lines=(NewTradeLine("1", "x", 0, 100, 0),))
    with pytest.raises(InvalidRequest):
        oms.create_paid_order(zero_qty)
    assert oms.conn.execute("SELECT COUNT(*) FROM orders").fetchone()[0] == 0
    # A refusal does not burn a number.
    assert oms.create_paid_order(new_trade(world)) == "2026111000000001"


def _empty(world: World) -> NewTrade:
    base = new_trade(world)
    return NewTrade(
        base.src_tid, base.shop_no, base.warehouse_no, base.logistics_code, base.receiver, ()
    )


# ---------------------------------------------------------------- query


def test_query_window_is_half_open_on_modified_time(
    oms: OmsService, world: World, clock: ManualClock
) -> None:
    at_0 = oms.create_paid_order(new_trade(world, "A"))  # 20:00:00
    clock.advance(600)
    at_10 = oms.create_paid_order(new_trade(world, "B"))  # 20:10:00
    clock.advance(600)
    at_20 = oms.create_paid_order(new_trade(world, "C"))  # 20:20:00

    page = oms.query_trades("2026-11-10 20:00:00", "2026-11-10 20:10:00")
    assert [t.trade_no for t in page.trades] == [at_0]
    page = oms.query_trades("2026-11-10 20:10:00", "2026-11-10 20:20:01")
    assert [t.trade_no for t in page.trades] == [at_10, at_20]
    assert page.total_count == 2
    assert oms.query_trades("2026-11-10 19:00:00", "2026-11-10 20:00:00").total_count == 0


def test_query_pages_are_stable_and_count_the_whole_window(
    oms: OmsService, world: World, clock: ManualClock
) -> None:
    created: list[str] = []
    for i in range(7):
        created.append(oms.create_paid_order(new_trade(world, f"P{i}")))
        if i % 3 == 2:
            clock.advance(1)  # several trades share a second: trade_no breaks the tie
    pages = [oms.query_trades(T0, "2026-11-10 20:30:00", page_size=3, page_no=n) for n in range(4)]
    assert [p.total_count for p in pages] == [7, 7, 7, 7]
    assert [len(p.trades) for p in pages] == [3, 3, 1, 0]
    assert [t.trade_no for p in pages for t in p.trades] == created
    default = oms.query_trades(T0, "2026-11-10 20:30:00")
    assert len(default.trades) == 7  # default page size 40


def test_query_status_filter_and_shipped_trade_moves_to_later_window(
    oms: OmsService, world: World, clock: ManualClock
) -> None:
    first = oms.create_paid_order(new_trade(world, "A"))
    second = oms.create_paid_order(new_trade(world, "B"))
    clock.advance(3600)  # 21:00:00
    oms.sync_logistics(first, "SF", "SF100")

    early = oms.query_trades(T0, "2026-11-10 20:30:00", status=30)
    assert [t.trade_no for t in early.trades] == [second]
    late = oms.query_trades("2026-11-10 20:30:00", "2026-11-10 21:30:00")
    assert [(t.trade_no, t.trade_status, t.logistics_no) for t in late.trades] == [
        (first, 95, "SF100")
    ]
    assert late.trades[0].pay_time == T0 and late.trades[0].modified == "2026-11-10 21:00:00"
    assert (
        oms.query_trades("2026-11-10 20:30:00", "2026-11-10 21:30:00", status=110).total_count == 0
    )


def test_query_lines_come_with_their_trade(oms: OmsService, world: World) -> None:
    two = (NewTradeLine("S1", "a", 1, 100, 100), NewTradeLine("S2", "b", 2, 50, 90))
    one = oms.create_paid_order(new_trade(world, "A", lines=two))
    other = oms.create_paid_order(new_trade(world, "B"))
    trades = {t.trade_no: t for t in oms.query_trades(T0, "2026-11-10 20:01:00").trades}
    assert [(line.spec_no, line.num, line.share_cents) for line in trades[one].lines] == [
        ("S1", 1, 100),
        ("S2", 2, 90),
    ]
    assert [line.src_tid for line in trades[other].lines] == ["B"]


def test_query_window_limits(oms: OmsService) -> None:
    assert oms.query_trades("2026-11-10 20:00:00", "2026-11-10 21:00:00").total_count == 0
    with pytest.raises(WindowTooLong):
        oms.query_trades("2026-11-10 20:00:00", "2026-11-10 21:00:01")
    with pytest.raises(InvalidRequest):
        oms.query_trades("2026-11-10 20:10:00", "2026-11-10 20:00:00")
    with pytest.raises(InvalidRequest):
        oms.query_trades("2026-11-10T20:00:00", "2026-11-10 20:10:00")
    with pytest.raises(InvalidRequest):
        oms.query_trades(T0, "2026-11-10 20:10:00", page_size=101)
    with pytest.raises(InvalidRequest):
        oms.query_trades(T0, "2026-11-10 20:10:00", page_size=0)
    with pytest.raises(InvalidRequest):
        oms.query_trades(T0, "2026-11-10 20:10:00", page_no=-1)
    assert not issubclass(InvalidRequest, WindowTooLong)


# ---------------------------------------------------------------- ship and complete


def test_ship_then_complete(oms: OmsService, world: World, clock: ManualClock) -> None:
    trade_no = oms.create_paid_order(new_trade(world))
    clock.advance(120)
    assert oms.sync_logistics(trade_no, "YTO", "YT123") is True
    row = order_row(oms, trade_no)
    assert (row["trade_status"], row["logistics_code"], row["logistics_no"]) == (95, "YTO", "YT123")
    assert row["shipped_sim"] == "2026-11-10 20:02:00" == row["modified_sim"]
    assert row["shipped_wall"] == clock.wall()
    assert row["completed_sim"] is None

    clock.advance(3600)
    assert oms.upload_trace(trade_no, "YT123", 2) is False  # in transit: recorded only
    assert order_row(oms, trade_no)["trade_status"] == 95
    clock.advance(60)
    assert oms.upload_trace(trade_no, "YT123", 3) is True
    row = order_row(oms, trade_no)
    assert row["trade_status"] == 110
    assert row["completed_sim"] == "2026-11-10 21:03:00" == row["modified_sim"]
    assert row["completed_wall"] == clock.wall()
    traces = oms.conn.execute("SELECT state FROM logistics_traces ORDER BY seq").fetchall()
    assert [t[0] for t in traces] == [2, 3]
    outcomes = oms.conn.execute(
        "SELECT outcome FROM events WHERE kind = 'state' AND entity = ? ORDER BY seq", (trade_no,)
    ).fetchall()
    assert [o[0] for o in outcomes] == ["30", "95", "110"]


def test_ship_is_idempotent_for_the_same_waybill(
    oms: OmsService, world: World, clock: ManualClock
) -> None:
    trade_no = oms.create_paid_order(new_trade(world))
    oms.sync_logistics(trade_no, "SF", "SF1")
    before = order_row(oms, trade_no)
    clock.advance(300)
    assert oms.sync_logistics(trade_no, "SF", "SF1") is False
    assert order_row(oms, trade_no) == before  # not even modified_sim moves
    with pytest.raises(StateConflict):
        oms.sync_logistics(trade_no, "SF", "SF2")
    assert order_row(oms, trade_no) == before

    oms.upload_trace(trade_no, "SF1", 3)
    assert oms.sync_logistics(trade_no, "SF", "SF1") is False  # a late retry after completion
    with pytest.raises(StateConflict):
        oms.sync_logistics(trade_no, "SF", "SF9")


def test_complete_is_idempotent_and_guarded(
    oms: OmsService, world: World, clock: ManualClock
) -> None:
    trade_no = oms.create_paid_order(new_trade(world))
    with pytest.raises(StateConflict):
        oms.upload_trace(trade_no, "SF1", 3)  # not shipped yet
    assert order_row(oms, trade_no)["trade_status"] == 30
    assert oms.conn.execute("SELECT COUNT(*) FROM logistics_traces").fetchone()[0] == 0

    oms.sync_logistics(trade_no, "SF", "SF1")
    with pytest.raises(StateConflict):
        oms.upload_trace(trade_no, "OTHER", 3)  # signed for some other parcel
    assert order_row(oms, trade_no)["trade_status"] == 95

    assert oms.upload_trace(trade_no, "SF1", 3) is True
    done = order_row(oms, trade_no)
    clock.advance(60)
    assert oms.upload_trace(trade_no, "SF1", 3) is False
    assert order_row(oms, trade_no) == done


def test_unknown_trade_and_missing_fields(oms: OmsService) -> None:
    with pytest.raises(UnknownTrade):
        oms.sync_logistics("0000000000000000", "SF", "SF1")
    with pytest.raises(UnknownTrade):
        oms.upload_trace("0000000000000000", "SF1", 3)
    with pytest.raises(UnknownTrade):
        oms.upload_trace("0000000000000000", "SF1", 1)
    with pytest.raises(UnknownTrade):
        oms.cancel_order("0000000000000000")
    with pytest.raises(InvalidRequest):
        oms.sync_logistics("0000000000000000", "SF", "")
    with pytest.raises(InvalidRequest):
        oms.upload_trace("0000000000000000", "", 3)
    assert oms.get_trade("0000000000000000") is None


def test_cancel(oms: OmsService, world: World) -> None:
    paid = oms.create_paid_order(new_trade(world, "A"))
    assert oms.cancel_order(paid) is True
    assert order_row(oms, paid)["trade_status"] == 5
    assert oms.cancel_order(paid) is False
    with pytest.raises(StateConflict):
        oms.sync_logistics(paid, "SF", "SF1")

    shipped = oms.create_paid_order(new_trade(world, "B"))
    oms.sync_logistics(shipped, "SF", "SF2")
    with pytest.raises(StateConflict):
        oms.cancel_order(shipped)
    assert order_row(oms, shipped)["trade_status"] == 95


def test_get_trade(oms: OmsService, world: World) -> None:
    trade_no = oms.create_paid_order(new_trade(world, "A", post_cents=500))
    trade = oms.get_trade(trade_no)
    assert trade is not None
    assert (trade.src_tid, trade.paid_cents, len(trade.lines)) == ("A", 1500, 1)


def test_a_stock_snapshot_records_the_stock_the_reserved_units_and_the_last_count(
    oms: OmsService, world: World, clock: ManualClock
) -> None:
    """Per warehouse and spec, under the id it is given (the WMS's snapshot of the same
    instant): the sound stock, the units of paid trades not shipped, and when a stock count
    last set the number (none: the opening stock, less the sales)."""
    spec, wh = world.skus[0].item_code, world.warehouses[0].code
    opening = oms.conn.execute(
        "SELECT stock_num FROM stock WHERE warehouse_no = ? AND spec_no = ? AND defect = 0",
        (wh, spec),
    ).fetchone()[0]

    def snapshot(snapshot_id: int) -> tuple[object, ...]:
        oms.snapshots.take(snapshot_id)
        row = oms.conn.execute(
            "SELECT taken_sim, stock_num, reserved, set_sim, set_wall FROM stock_snapshots"
            " WHERE snapshot_id = ? AND warehouse_no = ? AND spec_no = ?",
            (snapshot_id, wh, spec),
        ).fetchone()
        return tuple(row)

    paid = oms.create_paid_order(new_trade(world, "A"))
    assert snapshot(7) == (T0, opening - 1, 1, None, None)
    clock.advance(60)
    oms.count_stock(
        {"warehouse_no": wh, "defect_mode": 1, "remark": ""},
        [{"spec_no": spec, "remark": "", "new_num": "40", "defect": False}],
    )
    counted = ("2026-11-10 20:01:00", clock.wall())
    clock.advance(60)
    assert snapshot(8) == ("2026-11-10 20:02:00", 40, 1, *counted)
    # A sale takes from the stock and does not move the last count; a cancelled trade is no
    # longer reserved and gives nothing back (the next count does).
    oms.create_paid_order(new_trade(world, "B"))
    oms.cancel_order(paid)
    assert snapshot(9) == ("2026-11-10 20:02:00", 39, 1, *counted)
    every = oms.conn.execute("SELECT COUNT(*) FROM stock WHERE defect = 0").fetchone()[0]
    assert (
        oms.conn.execute("SELECT COUNT(*) FROM stock_snapshots WHERE snapshot_id = 9").fetchone()[0]
        == every
    )
