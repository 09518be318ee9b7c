"""OMS split trades: a trade whose lines two warehouses hold becomes one sub-order per warehouse
(旺店通 trade_mask 2048), each its own trade with its lines, warehouse and carrier."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import httpx
import pytest

from fake_systems.oms.api import wdt
from fake_systems.oms.models import TRADE_MASK_SPLIT, InvalidRequest
from fake_systems.oms.service import OmsService
from simulator.clock import ManualClock
from simulator.world import NewTradeLine, World
from tests.support.oms import (
    CREDS,
    QUERY,
    SHIP,
    TENANT_A,
    TENANT_B,
    WINDOW,
    call,
    simple,
    trade,
)

LINES = (
    NewTradeLine("1000000000000001", "蓝牙耳机", 3, 9999, 29996),
    NewTradeLine("1000000000000002", "赠品", 1, 0, 0),
    NewTradeLine("1000000000000003", "T恤", 2, 4901, 9800),
)


@pytest.mark.anyio
async def test_a_split_trade_becomes_one_sub_order_per_warehouse(
    client: httpx.AsyncClient, clock: ManualClock, oms: OmsService, world: World
) -> None:
    base = trade(world, "TB-1", LINES, post=1001)
    other = next(w for w in world.warehouses if w.code != base.warehouse_no)
    first = oms.create_paid_order(
        dataclasses.replace(
            base, line_warehouses=(base.warehouse_no, base.warehouse_no, other.code)
        )
    )
    whole = oms.create_paid_order(trade(world, "TB-2", LINES))

    data = (await call(client, clock, QUERY, WINDOW)).json()["data"]
    got = {t["trade_no"]: t for t in data["order"]}
    assert data["total_count"] == 3
    subs = [t for t in got.values() if t["src_tids"] == "TB-1"]
    by_warehouse = {t["warehouse_no"]: t for t in subs}
    assert by_warehouse[base.warehouse_no]["trade_no"] == first  # the trade's own warehouse
    assert set(by_warehouse) == {base.warehouse_no, other.code}
    assert {t["trade_mask"] for t in subs} == {TRADE_MASK_SPLIT}
    assert got[whole]["trade_mask"] == 0
    own, moved = by_warehouse[base.warehouse_no], by_warehouse[other.code]
    # Each sub-order: its warehouse's lines with the platform's oids, its carrier, and its
    # money (the postage with the first); together they are the platform order.
    assert [(d["src_oid"], d["spec_no"], d["num"]) for d in own["detail_list"]] == [
        ("TB-1-1", "1000000000000001", 3),
        ("TB-1-2", "1000000000000002", 1),
    ]
    assert [(d["src_oid"], d["spec_no"], d["num"]) for d in moved["detail_list"]] == [
        ("TB-1-3", "1000000000000003", 2)
    ]
    assert own["logistics_code"] == base.logistics_code
    assert moved["logistics_code"] == other.carrier_code
    assert (own["paid"], own["post_amount"]) == (309.97, 10.01)
    assert (moved["paid"], moved["post_amount"]) == (98.0, 0.0)
    assert len({d["rec_id"] for t in subs for d in t["detail_list"]}) == 3


def test_a_trade_held_by_its_own_warehouse_is_not_split(oms: OmsService, world: World) -> None:
    base = trade(world, "TB-3", LINES)
    trade_no = oms.create_paid_order(
        dataclasses.replace(base, line_warehouses=(base.warehouse_no,) * 3)
    )
    rows = oms.conn.execute("SELECT trade_no, trade_mask FROM orders").fetchall()
    assert [tuple(row) for row in rows] == [(trade_no, 0)]


@pytest.mark.parametrize(
    ("warehouses", "message"),
    [
        (("WH-GZ01", "WH-NOPE"), "unknown warehouse 'WH-NOPE'"),
        (("WH-GZ01",), "one warehouse per line"),
    ],
)
def test_a_bad_split_is_refused_and_stores_nothing(
    oms: OmsService, world: World, warehouses: tuple[str, ...], message: str
) -> None:
    base = simple(world, "TB-4")
    two = dataclasses.replace(base, lines=LINES[:2])
    with pytest.raises(InvalidRequest, match=message):
        oms.create_paid_order(dataclasses.replace(two, line_warehouses=warehouses))
    assert oms.conn.execute("SELECT COUNT(*) FROM orders").fetchone()[0] == 0
    # The numbers are not used up: the next trade takes the first.
    assert oms.create_paid_order(base).endswith("00000001")


@pytest.mark.anyio
async def test_another_owners_sub_orders_are_unknown_and_unchanged(
    oms: OmsService,
    world: World,
    clock: ManualClock,
    asgi_client: Callable[[object], httpx.AsyncClient],
) -> None:
    client = asgi_client(wdt.create_app(oms, CREDS, [TENANT_A, TENANT_B]))
    base = dataclasses.replace(trade(world, "TB-B", LINES), shop_no=world.shops[5].shop_no)
    other = next(w.code for w in world.warehouses if w.code != base.warehouse_no)
    oms.create_paid_order(
        dataclasses.replace(base, line_warehouses=(base.warehouse_no, other, other))
    )
    subs = [row[0] for row in oms.conn.execute("SELECT trade_no FROM orders ORDER BY trade_no")]
    assert len(subs) == 2
    seen_a = (await call(client, clock, QUERY, WINDOW, creds=TENANT_A)).json()["data"]
    seen_b = (await call(client, clock, QUERY, WINDOW, creds=TENANT_B)).json()["data"]
    assert seen_a["total_count"] == 0
    assert sorted(t["trade_no"] for t in seen_b["order"]) == subs
    for trade_no in subs:
        ship = {"trade_no": trade_no, "logistics_code": "SF", "logistics_no": "SF1"}
        answer = (await call(client, clock, SHIP, ship, creds=TENANT_A)).json()
        assert answer["status"] == 100
    statuses = oms.conn.execute("SELECT DISTINCT trade_status, logistics_no FROM orders")
    assert [tuple(row) for row in statuses] == [(30, None)]
