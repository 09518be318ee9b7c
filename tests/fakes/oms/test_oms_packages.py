"""OMS split shipments (拆单发货): a trade shipped in packages, service and `ecomock.Trade.ship`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from fake_systems.oms.api import wdt
from fake_systems.oms.models import InvalidRequest, RefundStatus, RefundType, StateConflict
from fake_systems.oms.service import OmsService
from simulator.clock import ManualClock
from simulator.world import World
from tests.support.oms import (
    CREDS,
    SHIP,
    SYNC_LIST,
    TENANT_A,
    TENANT_B,
    call,
    push_two_shops,
    trade_no_of,
)

# push_two_shops: A1 (OWNER-A) has oids A1-a (2 units) and A1-b (1 unit); B1 is OWNER-B's.


@pytest.fixture
def oms(oms: OmsService, world: World) -> OmsService:
    push_two_shops(oms, world)
    return oms


@pytest.fixture
def client(
    oms: OmsService, asgi_client: Callable[[object], httpx.AsyncClient]
) -> httpx.AsyncClient:
    return asgi_client(wdt.create_app(oms, CREDS, [TENANT_A, TENANT_B]))


def row(oms: OmsService, trade_no: str) -> dict[str, Any]:
    return dict(oms.conn.execute("SELECT * FROM orders WHERE trade_no = ?", (trade_no,)).fetchone())


def syncs(oms: OmsService, trade_no: str) -> list[tuple[Any, ...]]:
    return [
        tuple(r)
        for r in oms.conn.execute(
            "SELECT logistics_no, is_part_sync, oids, goods_count FROM logistics_syncs"
            " WHERE trade_no = ? ORDER BY sync_id",
            (trade_no,),
        )
    ]


def test_packages_ship_the_trade_when_their_units_add_up(
    oms: OmsService, clock: ManualClock
) -> None:
    a1 = trade_no_of(oms, "A1")
    clock.advance(60)
    assert oms.ship_package(a1, "SF", "SF-P1", ["A1-a"], 1) is True
    first = row(oms, a1)
    # Partly shipped (旺店通 trade_mask 64): still paid, its first waybill is the trade's.
    assert (first["trade_status"], first["trade_mask"] & 64, first["logistics_no"]) == (
        30,
        64,
        "SF-P1",
    )
    assert first["shipped_sim"] is None
    assert oms.ship_package(a1, "SF", "SF-P1", ["A1-a"], 1) is False  # a retry: nothing moves
    assert row(oms, a1) == first
    clock.advance(60)
    assert oms.ship_package(a1, "SF", "SF-P2", ["A1-a", "A1-b"], 2) is True
    done = row(oms, a1)
    assert (done["trade_status"], done["trade_mask"] & 64, done["logistics_no"]) == (
        95,
        0,
        "SF-P1",
    )
    assert done["shipped_sim"] == "2026-11-10 20:02:00"
    assert syncs(oms, a1) == [("SF-P1", 1, "A1-a", 1), ("SF-P2", 1, "A1-a,A1-b", 2)]
    assert oms.ship_package(a1, "SF", "SF-P2", ["A1-a", "A1-b"], 2) is False  # late retry
    # The signed parcel of the trade's waybill completes it, as for a whole shipment.
    assert oms.upload_trace(a1, "SF-P1", 3) is True
    outcomes = [
        r[0]
        for r in oms.conn.execute(
            "SELECT kind || ':' || outcome FROM events WHERE entity = ? AND kind IN"
            " ('state', 'package') ORDER BY seq",
            (a1,),
        )
    ]
    assert outcomes == ["state:30", "package:ok", "package:ok", "state:95", "state:110"]


def test_packages_refused_when_they_cannot_belong_to_the_trade(oms: OmsService) -> None:
    a1, a2 = trade_no_of(oms, "A1"), trade_no_of(oms, "A2")
    with pytest.raises(StateConflict, match="A2-a"):
        oms.ship_package(a1, "SF", "SF-X", ["A2-a"], 1)  # another trade's sub-order
    with pytest.raises(StateConflict, match="too many"):
        oms.ship_package(a1, "SF", "SF-X", ["A1-a"], 4)  # the trade has 3 units
    with pytest.raises(InvalidRequest):
        oms.ship_package(a1, "SF", "SF-X", [], 1)
    with pytest.raises(InvalidRequest):
        oms.ship_package(a1, "SF", "SF-X", ["A1-a"], 0)
    assert syncs(oms, a1) == []
    # A trade shipped whole takes no package, and a partly shipped one no whole shipment:
    # either would count the same goods twice.
    oms.sync_logistics(a2, "SF", "SF-W")
    with pytest.raises(StateConflict):
        oms.ship_package(a2, "SF", "SF-W2", ["A2-a"], 1)
    oms.ship_package(a1, "SF", "SF-P1", ["A1-a"], 2)
    with pytest.raises(StateConflict, match="partly shipped"):
        oms.sync_logistics(a1, "SF", "SF-P1")
    oms.cancel_order(trade_no_of(oms, "B1"))
    with pytest.raises(StateConflict):
        oms.ship_package(trade_no_of(oms, "B1"), "SF", "SF-B", ["B1-a"], 1)


def test_a_partly_shipped_trade_can_no_longer_be_cancelled(oms: OmsService) -> None:
    a1, a2 = trade_no_of(oms, "A1"), trade_no_of(oms, "A2")
    # A buyer's refund before shipment opened while nothing had left...
    refund = oms.create_refund(a2, RefundType.REFUND_BEFORE_SHIPMENT)
    oms.ship_package(a1, "SF", "SF-P1", ["A1-a"], 1)
    oms.ship_package(a2, "SF", "SF-Q1", ["A2-a"], 1)
    # ...and one asked once a package has left: refused, as after a whole shipment.
    with pytest.raises(StateConflict, match="partly shipped"):
        oms.create_refund(a1, RefundType.REFUND_BEFORE_SHIPMENT)
    with pytest.raises(StateConflict, match="partly shipped"):
        oms.cancel_order(a1)
    # The earlier one, agreed and settled, refunds the lines but cancels no trade whose
    # goods are partly out.
    for status in (RefundStatus.REVIEWED, RefundStatus.PUSHED, RefundStatus.SETTLED):
        oms.advance_refund(refund, status)
    assert (row(oms, a2)["trade_status"], row(oms, a2)["trade_mask"] & 64) == (30, 64)
    assert row(oms, a1)["trade_status"] == 30


def ship(trade_no: str, **fields: Any) -> dict[str, Any]:
    return {"trade_no": trade_no, "logistics_code": "SF", "logistics_no": "SF-P1", **fields}


@pytest.mark.anyio
async def test_ship_method_takes_packages_and_the_sync_list_shows_them(
    client: httpx.AsyncClient, clock: ManualClock, oms: OmsService
) -> None:
    a1 = trade_no_of(oms, "A1")
    package = ship(a1, is_part_sync=1, oids="A1-a", goods_count=2)
    answer = (await call(client, clock, SHIP, package)).json()
    assert answer == {"status": 0, "data": {"trade_no": a1, "changed": True}}
    # A package of many lines names many oids: longer than a code field may be.
    many = ship(a1, logistics_no="SF-P2", is_part_sync=1, oids=",".join(["A1-b"] * 30))
    answer = (await call(client, clock, SHIP, {**many, "goods_count": 1})).json()
    assert answer["status"] == 0, answer
    listed = (
        await call(client, clock, SYNC_LIST, {"is_part_sync": 1, "logistics_no": "SF-P1"})
    ).json()
    assert listed["total"] == 1
    record = listed["data"][0]
    assert (record["is_part_sync"], record["oids"], record["goods_count"]) == (1, "A1-a", 2)
    # A whole shipment's record has no goods_count (QJB-DOCS: packages only).
    oms.sync_logistics(trade_no_of(oms, "A2"), "SF", "SF-W")
    whole = (await call(client, clock, SYNC_LIST, {"is_part_sync": 0})).json()["data"]
    assert [(r["is_part_sync"], r["oids"], "goods_count" in r) for r in whole] == [(0, "", False)]


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"is_part_sync": 2, "oids": "A1-a", "goods_count": 1}, "is_part_sync must be one of"),
        ({"is_part_sync": 1, "goods_count": 1}, "oids is required"),
        ({"is_part_sync": 1, "oids": "A1-a,", "goods_count": 1}, "oids must be"),
        ({"is_part_sync": 1, "oids": "A1-a"}, "goods_count is required"),
        ({"is_part_sync": 1, "oids": "A1-a", "goods_count": 0}, "at least 1"),
        ({"is_part_sync": 1, "oids": "A1-a", "goods_count": "x"}, "goods_count"),
        ({"is_part_sync": 1, "oids": "A1-a", "goods_count": 9}, "too many"),
        ({"is_part_sync": 1, "oids": "A1-a," * 3000, "goods_count": 1}, "longer than"),
    ],
)
async def test_bad_packages_get_the_oms_error_format(
    client: httpx.AsyncClient,
    clock: ManualClock,
    oms: OmsService,
    fields: dict[str, Any],
    message: str,
) -> None:
    a1 = trade_no_of(oms, "A1")
    response = await call(client, clock, SHIP, ship(a1, **fields))
    assert response.status_code == 200
    answer = response.json()
    assert answer["status"] == 100 and message in answer["message"], answer
    assert syncs(oms, a1) == []


@pytest.mark.anyio
async def test_another_owners_credentials_cannot_ship_a_package_of_a_trade(
    client: httpx.AsyncClient, clock: ManualClock, oms: OmsService
) -> None:
    b1 = trade_no_of(oms, "B1")
    package = ship(b1, is_part_sync=1, oids="B1-a", goods_count=1)
    foreign = (await call(client, clock, SHIP, package, creds=TENANT_A)).json()
    missing = (
        await call(client, clock, SHIP, {**package, "trade_no": "2026111099999999"}, creds=TENANT_A)
    ).json()
    assert foreign["status"] == 100
    # The same answer as a trade that does not exist: no existence leak.
    unknown = missing["message"].replace("2026111099999999", "@")
    assert foreign["message"].replace(b1, "@") == unknown
    assert syncs(oms, b1) == []
    own = (await call(client, clock, SHIP, package, creds=TENANT_B)).json()
    assert own["status"] == 0
    assert syncs(oms, b1) == [("SF-P1", 1, "B1-a", 1)]
