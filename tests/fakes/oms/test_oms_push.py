"""OMS raw trade push (sales.RawTrade.pushSelf2, and the obsolete pushSelf): creation,
idempotence, per-trade refusals in error_list, the wire."""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import httpx
import pytest

from fake_systems.common.scope import OwnerScope
from fake_systems.oms.models import InvalidRequest, PushError, PushResult
from fake_systems.oms.raw_trades import MAX_TRADES_PER_PUSH
from fake_systems.oms.service import OmsService
from simulator.clock import ManualClock
from simulator.world import NewTradeLine, World
from tests.support.oms import PUSH, PUSH_OLD, call, raw_lines, raw_push, raw_trade, simple

T0 = "2026-11-10 20:00:00"  # ManualClock's simulated now


def count_orders(oms: OmsService) -> tuple[int, int]:
    row = oms.conn.execute(
        "SELECT (SELECT COUNT(*) FROM orders), (SELECT COUNT(*) FROM order_lines)"
    ).fetchone()
    return int(row[0]), int(row[1])


# ---------------------------------------------------------------- service


def test_push_creates_paid_trades_like_the_simulator(oms: OmsService, world: World) -> None:
    assert oms.push_raw_trades("TM-A", *raw_push(world, "TM1", "TM4")) == PushResult(2, 0)
    page = oms.query_trades(T0, "2026-11-10 20:00:01")
    assert page.total_count == 2
    by_tid = {t.src_tid: t for t in page.trades}
    trade = by_tid["TM1"]
    assert trade.trade_no == "2026111000000001"
    assert (trade.shop_no, trade.owner_code, trade.platform) == ("TM-A", "OWNER-A", "TM")
    assert trade.trade_status == 30
    assert (trade.trade_time, trade.pay_time, trade.modified) == (
        "2026-11-10 19:58:00",
        "2026-11-10 19:59:30",
        T0,
    )
    assert trade.buyer_nick == "tb_buyer"
    # receiver_area "省 市 区" is split into the three fields the trade query returns.
    assert (
        trade.receiver_name,
        trade.receiver_province,
        trade.receiver_city,
        trade.receiver_district,
    ) == ("张三", "浙江省", "杭州市", "西湖区")
    # goods 2*40 + 40 = 120.00, shares 70 + 40 = 110.00 (discount 10.00), post 8.00.
    assert (trade.goods_cents, trade.discount_cents, trade.post_cents, trade.paid_cents) == (
        12000,
        1000,
        800,
        11800,
    )
    assert [(ln.src_oid, ln.num, ln.share_cents) for ln in trade.lines] == [
        ("TM1-a", 2, 7000),
        ("TM1-b", 1, 4000),
    ]
    # An empty goods_name falls back to the catalogue's name.
    assert [ln.goods_name for ln in trade.lines] == ["push name", world.skus[1].name]


def test_the_lines_are_matched_to_their_trade_by_tid_in_any_order(
    oms: OmsService, world: World
) -> None:
    trades, lines = raw_push(world, "TM1", "TM2")
    lines.reverse()  # TM2's lines first: the flat list is linked by tid, not by position
    assert oms.push_raw_trades("TM-A", trades, lines) == PushResult(2, 0)
    rows = oms.conn.execute(
        "SELECT src_tid, src_oid FROM order_lines ORDER BY src_tid, src_oid"
    ).fetchall()
    assert [tuple(r) for r in rows] == [
        ("TM1", "TM1-a"),
        ("TM1", "TM1-b"),
        ("TM2", "TM2-a"),
        ("TM2", "TM2-b"),
    ]


def test_share_is_total_amount_less_share_discount(oms: OmsService, world: World) -> None:
    """The doc's JSON example: total_amount 9, share_discount 0.2, share_amount 8.8."""
    trade = raw_trade(world, "TM1")
    lines = raw_lines(world, "TM1")
    lines[0].update(share_discount="0.20", share_amount="69.80")
    assert oms.push_raw_trades("TM-A", [trade], lines) == PushResult(1, 0)
    shares = [r[0] for r in oms.conn.execute("SELECT share_cents FROM order_lines")]
    assert shares == [6980, 4000]


def test_warehouse_is_assigned_by_crc32_of_tid(oms: OmsService, world: World) -> None:
    oms.push_raw_trades("TM-A", *raw_push(world, "TM1", "TM4"))
    ordered = sorted((w.code, w.carrier_code) for w in world.warehouses)
    for tid in ("TM1", "TM4"):
        row = oms.conn.execute(
            "SELECT warehouse_no, logistics_code FROM orders WHERE src_tid = ?", (tid,)
        ).fetchone()
        assert tuple(row) == ordered[zlib.crc32(tid.encode()) % len(ordered)]
    rows = oms.conn.execute("SELECT DISTINCT warehouse_no FROM orders").fetchall()
    assert len(rows) == 2  # these two tids land in different warehouses


def test_an_auto_wms_trade_goes_to_the_warehouse_it_names(oms: OmsService, world: World) -> None:
    """is_auto_wms (自流转): "仅自流转订单填写该仓库编号"; the crc32 choice would differ."""
    ordered = sorted((w.code, w.carrier_code) for w in world.warehouses)
    assigned = ordered[zlib.crc32(b"TM1") % len(ordered)]
    other = next(w for w in ordered if w != assigned)
    trade = raw_trade(world, "TM1", is_auto_wms=True, warehouse_no=other[0])
    assert oms.push_raw_trades("TM-A", [trade], raw_lines(world, "TM1")) == PushResult(1, 0)
    row = oms.conn.execute("SELECT warehouse_no, logistics_code FROM orders").fetchone()
    assert tuple(row) == other
    unknown = raw_trade(world, "TM2", is_auto_wms=True, warehouse_no="WH-NONE")
    result = oms.push_raw_trades("TM-A", [unknown], raw_lines(world, "TM2"))
    assert [e.error for e in result.errors] == [
        "rawTradeList[0].warehouse_no 'WH-NONE' is not a known warehouse"
    ]


def test_push_is_idempotent_on_shop_and_tid(oms: OmsService, world: World) -> None:
    assert oms.push_raw_trades("TM-A", *raw_push(world, "TM1")) == PushResult(1, 0)
    assert oms.push_raw_trades("TM-A", *raw_push(world, "TM1", "TM2")) == PushResult(1, 1)
    # The same tid twice in one call: created once (its lines are listed once).
    trades, lines = raw_push(world, "TM3")
    assert oms.push_raw_trades("TM-A", trades * 2, lines) == PushResult(1, 1)
    # The same tid in another shop is another order.
    assert oms.push_raw_trades("JD-A", *raw_push(world, "TM1")) == PushResult(1, 0)
    assert count_orders(oms) == (4, 8)


def test_push_and_create_paid_order_share_the_numbering(oms: OmsService, world: World) -> None:
    first = oms.create_paid_order(simple(world, "SIM-1"))
    oms.push_raw_trades("TM-A", *raw_push(world, "TM1"))
    third = oms.create_paid_order(simple(world, "SIM-2"))
    pushed = oms.conn.execute("SELECT trade_no FROM orders WHERE src_tid = 'TM1'").fetchone()[0]
    assert [first, pushed, third] == [
        "2026111000000001",
        "2026111000000002",
        "2026111000000003",
    ]
    rec_ids = [r[0] for r in oms.conn.execute("SELECT rec_id FROM order_lines ORDER BY rec_id")]
    assert rec_ids == [1, 2, 3, 4]


def test_pay_time_defaults_to_now(oms: OmsService, world: World) -> None:
    trade = raw_trade(world, "TM1")
    del trade["pay_time"]  # optional in the doc; trade_time is required
    oms.push_raw_trades("TM-A", [trade], raw_lines(world, "TM1"))
    pushed = oms.query_trades(T0, "2026-11-10 20:00:01").trades[0]
    assert (pushed.trade_time, pushed.pay_time) == ("2026-11-10 19:58:00", T0)


def _trade(name: str, value: Any) -> Callable[[dict[str, Any], list[dict[str, Any]]], None]:
    def apply(trade: dict[str, Any], lines: list[dict[str, Any]]) -> None:
        if value is KeyError:
            del trade[name]
        else:
            trade[name] = value

    return apply


def _line(index: int, name: str, value: Any) -> Callable[[dict[str, Any], list[Any]], None]:
    def apply(trade: dict[str, Any], lines: list[dict[str, Any]]) -> None:
        if value is KeyError:
            del lines[index][name]
        else:
            lines[index][name] = value

    return apply


# Line indexes are in the whole rawTradeOrderList: TM8's lines are 0 and 1, TM9's 2 and 3.
@pytest.mark.parametrize(
    ("mutation", "named"),
    [
        (_line(3, "spec_no", "0000000000000000"), "rawTradeOrderList[3].spec_no"),
        (_trade("receivable", "118.001"), "rawTradeList[1].receivable"),
        (_trade("post_amount", "-8.00"), "rawTradeList[1].post_amount"),
        (_trade("other_amount", "x"), "rawTradeList[1].other_amount"),
        (_line(2, "num", 0), "rawTradeOrderList[2].num"),
        (_line(2, "num", -2), "rawTradeOrderList[2].num"),
        (_line(2, "num", 1.5), "rawTradeOrderList[2].num"),
        (_line(2, "total_amount", "71.00"), "rawTradeOrderList[2].total_amount"),
        (_line(2, "share_discount", "-1.00"), "rawTradeOrderList[2].share_discount"),
        (_line(2, "share_amount", "69.00"), "rawTradeOrderList[2].share_amount"),
        (_line(2, "price", "1.001"), "rawTradeOrderList[2].price"),
        (_line(2, "price", None), "rawTradeOrderList[2].price"),
        (_line(2, "oid", KeyError), "rawTradeOrderList[2].oid"),
        (_line(2, "goods_id", KeyError), "rawTradeOrderList[2].goods_id"),
        (_line(2, "json", KeyError), "rawTradeOrderList[2].json"),
        (_line(2, "status", 50), "rawTradeOrderList[2].status 50 is not supported"),
        (_line(3, "oid", "TM9-a"), "rawTradeOrderList repeats an oid"),
        (_trade("order_count", 3), "rawTradeList[1].order_count"),
        (_trade("goods_count", "4"), "rawTradeList[1].goods_count"),
        (_trade("trade_status", 50), "rawTradeList[1].trade_status 50 is not supported"),
        (_trade("trade_status", 35), "rawTradeList[1].trade_status must be one of"),
        (_trade("pay_status", 0), "rawTradeList[1].pay_status"),
        (_trade("process_status", 70), "rawTradeList[1].process_status"),
        (_trade("delivery_term", 2), "rawTradeList[1].delivery_term"),
        (_trade("is_auto_wms", "false"), "rawTradeList[1].is_auto_wms"),
        (_trade("end_time", KeyError), "rawTradeList[1].end_time"),
        (_trade("trade_time", KeyError), "rawTradeList[1].trade_time"),
        (_trade("pay_time", "yesterday"), "rawTradeList[1].pay_time"),
        (_trade("receiver_mobile", KeyError), "rawTradeList[1].receiver_mobile"),
        (_trade("receiver_area", "浙江省杭州市"), "rawTradeList[1].receiver_area"),
        (_trade("buyer_nick", 7), "rawTradeList[1].buyer_nick"),
        (_trade("receiver_address", "x" * 257), "rawTradeList[1].receiver_address"),
        (_trade("refund_status", 1), "rawTradeList[1].refund_status 1 is not supported"),
    ],
)
def test_a_bad_trade_is_refused_alone_in_error_list(
    oms: OmsService,
    world: World,
    mutation: Callable[[dict[str, Any], list[dict[str, Any]]], None],
    named: str,
) -> None:
    """pushSelf2's abnormal example: status 0, `new_count` 1 and the refused one in
    error_list as {no, error}; the good trade of the call is stored all the same."""
    trades, lines = raw_push(world, "TM8", "TM9")
    mutation(trades[1], lines)
    result = oms.push_raw_trades("TM-A", trades, lines)
    assert (result.new_count, result.chg_count) == (1, 0)
    [error] = result.errors
    assert error.no == "TM9" and named in error.error, error
    assert count_orders(oms) == (1, 2)
    assert oms.conn.execute("SELECT src_tid FROM orders").fetchone()[0] == "TM8"


def test_lines_without_their_trade_are_reported(oms: OmsService, world: World) -> None:
    trades, lines = raw_push(world, "TM1")
    stray = {**raw_lines(world, "TM7")[0]}
    nameless = {k: v for k, v in raw_lines(world, "TM6")[0].items() if k != "tid"}
    result = oms.push_raw_trades("TM-A", trades, [*lines, stray, nameless])
    assert (result.new_count, set(result.errors)) == (
        1,
        {
            PushError("TM7", "rawTradeOrderList[2].tid names no trade of rawTradeList"),
            PushError("", "rawTradeOrderList[3].tid is required (a non-empty string)"),
        },
    )


def test_the_obsolete_push_is_all_or_nothing(oms: OmsService, world: World) -> None:
    trades, lines = raw_push(world, "TM8", "TM9")
    lines[3]["num"] = 0
    with pytest.raises(InvalidRequest, match=r"^TM9: rawTradeOrderList\[3\]\.num"):
        oms.push_raw_trades("TM-A", trades, lines, atomic=True)
    assert count_orders(oms) == (0, 0)


def test_push_refuses_bad_shop_and_list(oms: OmsService, world: World) -> None:
    trades, lines = raw_push(world, "TM1")
    for shop_no in ("XX-A", ""):
        with pytest.raises(InvalidRequest, match=r"^店铺编号不存在或已停用$"):
            oms.push_raw_trades(shop_no, trades, lines)
    for bad in ([], None, {"tid": "TM1"}, trades * (MAX_TRADES_PER_PUSH + 1)):
        with pytest.raises(InvalidRequest, match="rawTradeList"):
            oms.push_raw_trades("TM-A", bad, lines)
    with pytest.raises(InvalidRequest, match="rawTradeOrderList"):
        oms.push_raw_trades("TM-A", trades, None)
    assert oms.push_raw_trades("TM-A", ["TM1"], []).errors == (
        PushError("rawTradeList[0]", "rawTradeList[0] must be an object"),
    )
    assert oms.push_raw_trades("TM-A", trades * MAX_TRADES_PER_PUSH, lines) == PushResult(
        1, MAX_TRADES_PER_PUSH - 1
    )
    # A scoped caller may not push into another owner's shop: as if it did not exist.
    with pytest.raises(InvalidRequest, match=r"^店铺编号不存在或已停用$"):
        oms.push_raw_trades("TM-B", trades, lines, scope=OwnerScope.of(("OWNER-A",)))
    assert count_orders(oms) == (1, 2)


def test_failed_push_does_not_burn_numbers(oms: OmsService, world: World) -> None:
    original = oms._insert_trade
    calls = 0

    def fail_second(*args: Any) -> str:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise RuntimeError("disk full")
        return original(*args)

    oms._insert_trade = fail_second  # type: ignore[method-assign]
    with pytest.raises(RuntimeError):
        oms.push_raw_trades("TM-A", *raw_push(world, "TM1", "TM2"))
    oms._insert_trade = original  # type: ignore[method-assign]
    assert count_orders(oms) == (0, 0)
    assert oms.create_paid_order(simple(world, "SIM")) == "2026111000000001"
    assert oms.conn.execute("SELECT rec_id FROM order_lines").fetchone()[0] == 1


# ---------------------------------------------------------------- the wire


@pytest.mark.anyio
async def test_push_over_the_wire(
    client: httpx.AsyncClient, clock: ManualClock, oms: OmsService, world: World
) -> None:
    body = ["TM-A", *raw_push(world, "TM1", "TM4")]
    answer = (await call(client, clock, PUSH, body)).json()
    assert answer == {"status": 0, "data": {"chg_count": 0, "error_list": [], "new_count": 2}}
    again = (await call(client, clock, PUSH, [*body, []])).json()  # an empty discountList
    assert again["data"] == {"chg_count": 2, "error_list": [], "new_count": 0}
    rows = oms.conn.execute(
        "SELECT operation, outcome FROM events WHERE kind = 'api_in' ORDER BY seq"
    ).fetchall()
    assert [tuple(r) for r in rows] == [(PUSH, "ok"), (PUSH, "ok")]


@pytest.mark.anyio
async def test_refused_trades_come_back_in_error_list_with_status_0(
    client: httpx.AsyncClient, clock: ManualClock, oms: OmsService, world: World
) -> None:
    trades, lines = raw_push(world, "TM1", "TM2")
    lines[2]["num"] = 0
    answer = (await call(client, clock, PUSH, ["TM-A", trades, lines])).json()
    assert answer["status"] == 0 and "message" not in answer
    assert answer["data"]["new_count"] == 1 and answer["data"]["chg_count"] == 0
    [error] = answer["data"]["error_list"]
    assert set(error) == {"no", "error"} and error["no"] == "TM2"
    assert error["error"].startswith("rawTradeOrderList[2].num")
    assert count_orders(oms) == (1, 2)


@pytest.mark.anyio
async def test_refused_calls_over_the_wire(
    client: httpx.AsyncClient, clock: ManualClock, oms: OmsService, world: World
) -> None:
    trades, lines = raw_push(world, "TM1")
    unknown_shop = (await call(client, clock, PUSH, ["XX-9", trades, lines])).json()
    assert unknown_shop == {"status": 100, "message": "店铺编号不存在或已停用"}
    # The old nested shape: two arguments where pushSelf2 takes three or four.
    nested = [{**trades[0], "order_list": lines}]
    assert (await call(client, clock, PUSH, ["TM-A", nested])).json() == {
        "status": 1,
        "message": "参数个数错误",
    }
    for wrong in (["TM-A", trades[0], lines], ["TM-A", trades, lines, "x"], [7, trades, lines]):
        answer = (await call(client, clock, PUSH, wrong)).json()
        assert answer == {"status": 1, "message": "argument type mismatch"}, wrong
    assert count_orders(oms) == (0, 0)
    rows = oms.conn.execute("SELECT outcome FROM events WHERE kind = 'api_in'").fetchall()
    assert [r[0] for r in rows] == ["100", "1", "1", "1", "1"]


@pytest.mark.anyio
async def test_the_obsolete_push_over_the_wire(
    client: httpx.AsyncClient, clock: ManualClock, oms: OmsService, world: World
) -> None:
    """pushSelf: "接口已过时, 请使用 sales.RawTrade.pushSelf2"; the same arguments, an answer
    without error_list (QJB-DOCS 6.1), and status 100 when a trade is refused."""
    trades, lines = raw_push(world, "TM1", "TM2")
    answer = (await call(client, clock, PUSH_OLD, ["TM-A", trades, lines])).json()
    assert answer == {"status": 0, "data": {"chg_count": 0, "new_count": 2}}
    bad = raw_push(world, "TM3", "TM4")
    bad[1][0]["spec_no"] = "nope"
    refused = (await call(client, clock, PUSH_OLD, ["TM-A", *bad])).json()
    assert refused["status"] == 100
    assert refused["message"].startswith("TM3: rawTradeOrderList[0].spec_no 'nope'")
    assert count_orders(oms) == (2, 4)


def test_a_line_oid_is_kept_and_a_missing_one_generated(oms: OmsService, world: World) -> None:
    sku = world.skus[0]
    lines = (
        NewTradeLine(sku.item_code, sku.name, 1, 100, 100, oid="X-1"),
        NewTradeLine(sku.item_code, sku.name, 1, 100, 100),
    )
    trade_no = oms.create_paid_order(replace(simple(world, "SIM"), lines=lines))
    trade = oms.get_trade(trade_no)
    assert trade is not None
    assert [line.src_oid for line in trade.lines] == ["X-1", "SIM-2"]
