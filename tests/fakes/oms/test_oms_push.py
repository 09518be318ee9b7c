"""OMS raw trade push (sales.RawTrade.pushSelf): creation, idempotence, validation, the wire."""

from __future__ import annotations

import copy
import zlib
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import httpx
import pytest

from fake_systems.common.scope import OwnerScope
from fake_systems.oms.models import InvalidRequest
from fake_systems.oms.raw_trades import MAX_TRADES_PER_PUSH
from fake_systems.oms.service import OmsService
from simulator.clock import ManualClock
from simulator.world import NewTradeLine, World
from tests.support.oms import PUSH, call, raw_trade, simple

T0 = "2026-11-10 20:00:00"  # ManualClock's simulated now


def count_orders(oms: OmsService) -> tuple[int, int]:
    row = oms.conn.execute(
        "SELECT (SELECT COUNT(*) FROM orders), (SELECT COUNT(*) FROM order_lines)"
    ).fetchone()
    return int(row[0]), int(row[1])


# ---------------------------------------------------------------- service


def test_push_creates_paid_trades_like_the_simulator(oms: OmsService, world: World) -> None:
    assert oms.push_raw_trades("TM-A", [raw_trade(world, "TM1"), raw_trade(world, "TM4")]) == (
        2,
        0,
    )
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
    assert (trade.receiver_name, trade.receiver_district) == ("张三", "西湖区")
    # goods 2*40 + 40 = 120.00, shares 110.00 (discount 10.00), post 8.00, paid 118.00.
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


def test_warehouse_is_assigned_by_crc32_of_tid(oms: OmsService, world: World) -> None:
    oms.push_raw_trades("TM-A", [raw_trade(world, tid) for tid in ("TM1", "TM4")])
    ordered = sorted((w.code, w.carrier_code) for w in world.warehouses)
    for tid in ("TM1", "TM4"):
        row = oms.conn.execute(
            "SELECT warehouse_no, logistics_code FROM orders WHERE src_tid = ?", (tid,)
        ).fetchone()
        assert tuple(row) == ordered[zlib.crc32(tid.encode()) % len(ordered)]
    rows = oms.conn.execute("SELECT DISTINCT warehouse_no FROM orders").fetchall()
    assert len(rows) == 2  # these two tids land in different warehouses


def test_push_is_idempotent_on_shop_and_tid(oms: OmsService, world: World) -> None:
    assert oms.push_raw_trades("TM-A", [raw_trade(world, "TM1")]) == (1, 0)
    assert oms.push_raw_trades("TM-A", [raw_trade(world, "TM1"), raw_trade(world, "TM2")]) == (
        1,
        1,
    )
    # The same tid twice in one call: created once.
    assert oms.push_raw_trades("TM-A", [raw_trade(world, "TM3"), raw_trade(world, "TM3")]) == (
        1,
        1,
    )
    # The same tid in another shop is another order.
    assert oms.push_raw_trades("JD-A", [raw_trade(world, "TM1")]) == (1, 0)
    assert count_orders(oms) == (4, 8)


def test_push_and_create_paid_order_share_the_numbering(oms: OmsService, world: World) -> None:
    first = oms.create_paid_order(simple(world, "SIM-1"))
    oms.push_raw_trades("TM-A", [raw_trade(world, "TM1")])
    third = oms.create_paid_order(simple(world, "SIM-2"))
    pushed = oms.conn.execute("SELECT trade_no FROM orders WHERE src_tid = 'TM1'").fetchone()[0]
    assert [first, pushed, third] == [
        "2026111000000001",
        "2026111000000002",
        "2026111000000003",
    ]
    rec_ids = [r[0] for r in oms.conn.execute("SELECT rec_id FROM order_lines ORDER BY rec_id")]
    assert rec_ids == [1, 2, 3, 4]


def test_times_default_to_now(oms: OmsService, world: World) -> None:
    entry = raw_trade(world, "TM1")
    del entry["trade_time"], entry["pay_time"]
    oms.push_raw_trades("TM-A", [entry])
    trade = oms.query_trades(T0, "2026-11-10 20:00:01").trades[0]
    assert trade.trade_time == trade.pay_time == T0


def _mutate(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def apply(entry: dict[str, Any]) -> None:
        target: Any = entry
        *parents, last = path.split(".")
        for part in parents:
            target = target[int(part)] if part.isdigit() else target[part]
        if value is KeyError:
            del target[last]
        else:
            target[last] = value

    return apply


@pytest.mark.parametrize(
    ("mutation", "named"),
    [
        (
            _mutate("order_list.1.spec_no", "0000000000000000"),
            "trade_list[1].order_list[1].spec_no",
        ),
        (_mutate("paid", "118.01"), "trade_list[1].paid"),
        (_mutate("post_amount", "0"), "trade_list[1].paid"),
        (_mutate("order_list.0.num", 0), "trade_list[1].order_list[0].num"),
        (_mutate("order_list.0.num", -2), "trade_list[1].order_list[0].num"),
        (_mutate("order_list.0.num", 1.5), "trade_list[1].order_list[0].num"),
        (_mutate("order_list.0.share_amount", "-1.00"), "order_list[0].share_amount"),
        (_mutate("order_list.0.price", "1.001"), "order_list[0].price"),
        (_mutate("order_list.0.price", None), "order_list[0].price"),
        (_mutate("order_list.0.oid", KeyError), "order_list[0].oid"),
        (_mutate("order_list.1.oid", "TM9-a"), "order_list repeats an oid"),
        (_mutate("order_list", []), "trade_list[1].order_list"),
        (_mutate("trade_status", 95), "trade_list[1].trade_status"),
        (_mutate("pay_status", 0), "trade_list[1].pay_status"),
        (_mutate("pay_time", "yesterday"), "trade_list[1].pay_time"),
        (_mutate("receiver_mobile", KeyError), "trade_list[1].receiver_mobile"),
        (_mutate("tid", ""), "trade_list[1].tid"),
        (_mutate("buyer_nick", 7), "trade_list[1].buyer_nick"),
        (_mutate("receiver_address", "x" * 256), "trade_list[1].receiver_address"),
    ],
)
def test_push_refuses_invalid_entries_atomically(
    oms: OmsService, world: World, mutation: Callable[[dict[str, Any]], None], named: str
) -> None:
    bad = raw_trade(world, "TM9")
    mutation(bad)
    with pytest.raises(InvalidRequest, match=named.replace("[", r"\[").replace("]", r"\]")):
        oms.push_raw_trades("TM-A", [raw_trade(world, "TM8"), bad])
    assert count_orders(oms) == (0, 0)


def test_push_refuses_bad_shop_and_list(oms: OmsService, world: World) -> None:
    valid = raw_trade(world, "TM1")
    for shop_no in ("XX-A", ""):
        with pytest.raises(InvalidRequest, match="shop_no"):
            oms.push_raw_trades(shop_no, [valid])
    for trades in ([], None, {"tid": "TM1"}, [valid] * (MAX_TRADES_PER_PUSH + 1)):
        with pytest.raises(InvalidRequest, match="trade_list"):
            oms.push_raw_trades("TM-A", trades)
    with pytest.raises(InvalidRequest, match=r"trade_list\[0\] must be an object"):
        oms.push_raw_trades("TM-A", ["TM1"])
    assert oms.push_raw_trades("TM-A", [valid] * MAX_TRADES_PER_PUSH) == (1, 49)
    # A scoped caller may not push into another owner's shop.
    with pytest.raises(InvalidRequest, match="shop_no"):
        oms.push_raw_trades("TM-B", [valid], scope=OwnerScope.of(("OWNER-A",)))
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
        oms.push_raw_trades("TM-A", [raw_trade(world, "TM1"), raw_trade(world, "TM2")])
    oms._insert_trade = original  # type: ignore[method-assign]
    assert count_orders(oms) == (0, 0)
    assert oms.create_paid_order(simple(world, "SIM")) == "2026111000000001"
    assert oms.conn.execute("SELECT rec_id FROM order_lines").fetchone()[0] == 1


# ---------------------------------------------------------------- the wire


@pytest.mark.anyio
async def test_push_over_the_wire(
    client: httpx.AsyncClient, clock: ManualClock, oms: OmsService, world: World
) -> None:
    body = {"shop_no": "TM-A", "trade_list": [raw_trade(world, "TM1"), raw_trade(world, "TM4")]}
    answer = (await call(client, clock, PUSH, body)).json()
    assert answer == {"status": 0, "data": {"new_count": 2, "chg_count": 0}}
    again = (await call(client, clock, PUSH, body)).json()
    assert again["data"] == {"new_count": 0, "chg_count": 2}
    rows = oms.conn.execute(
        "SELECT operation, outcome FROM events WHERE kind = 'api_in' ORDER BY seq"
    ).fetchall()
    assert [tuple(r) for r in rows] == [(PUSH, "ok"), (PUSH, "ok")]


@pytest.mark.anyio
async def test_refused_push_over_the_wire(
    client: httpx.AsyncClient, clock: ManualClock, oms: OmsService, world: World
) -> None:
    bad = copy.deepcopy(raw_trade(world, "TM2"))
    bad["order_list"][0]["num"] = 0
    body = {"shop_no": "TM-A", "trade_list": [raw_trade(world, "TM1"), bad]}
    answer = (await call(client, clock, PUSH, body)).json()
    assert answer["status"] == 100
    assert "trade_list[1].order_list[0].num" in answer["message"]
    unknown_shop = (
        await call(client, clock, PUSH, {"shop_no": "XX-9", "trade_list": [bad]})
    ).json()
    assert unknown_shop["status"] == 100 and "shop_no" in unknown_shop["message"]
    assert count_orders(oms) == (0, 0)
    rows = oms.conn.execute("SELECT outcome FROM events WHERE kind = 'api_in'").fetchall()
    assert [r[0] for r in rows] == ["100", "100"]


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
