"""The reference connector's master-data flow: ERP materials modified since the cursor reach
the WMS (singleitem.synchronize, add when it does not know the item) and the OMS
(goods.Goods.push), once per new state; the catalogue as first loaded is taken as in place.
The faulty variant carries new materials only."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from lxml import etree

from connectors.faulty.ignores_master_data_updates import IgnoresMasterDataUpdates
from connectors.reference.clients.http import HttpClient
from connectors.reference.master_flow import ITEM_SYNC_METHOD, MasterDataFlow
from connectors.reference.store import StateStore
from tests.support.connector import Peers4, make_workflow

LOADED = "2026-11-10 20:00:00"
# FNumber, FName, FBARCODE, F_ECO_RetailPrice, FIsSale, FCreateDate, FModifyDate, group
SEEDED = ["1000000000000001", "T恤", "6900000000011", 99.0, 1, LOADED, LOADED, "apparel"]
RENAMED = [
    "1000000000000002",
    "鞋（1代）",
    "6900000000028",
    199.0,
    1,
    LOADED,
    "2026-11-10 20:05:00",
    "",
]
NEW = [
    "1000000000000003",
    "新品",
    "6900000000035",
    59.9,
    1,
    "2026-11-10 20:06:00",
    "2026-11-10 20:06:00",
    "food",
]


def item_ok() -> httpx.Response:
    return httpx.Response(
        200,
        text="<response><flag>success</flag><code>0</code><message>ok</message>"
        "<itemId>I1</itemId></response>",
    )


def item_missing() -> httpx.Response:
    return httpx.Response(
        200,
        text="<response><flag>failure</flag><code>ITEM_NOT_EXIST</code>"
        "<message>商品不存在</message></response>",
    )


def rows(*materials: list[Any]) -> httpx.Response:
    return httpx.Response(200, json=[list(m) for m in materials])


def item_requests(peers: Peers4) -> list[tuple[str | None, ...]]:
    out = []
    for body in peers.wms_bodies:
        root = etree.fromstring(body.encode())
        out.append(
            tuple(
                root.findtext(path)
                for path in (
                    "actionType",
                    "ownerCode",
                    "item/itemCode",
                    "item/itemName",
                    "item/barCode",
                )
            )
        )
    return out


def goods_pushes(peers: Peers4) -> list[tuple[Any, ...]]:
    return [
        (
            goods["goods_no"],
            goods["goods_name"],
            spec["barcode"],
            spec["retail_price"],
            spec["deleted"],
        )
        for goods, [spec] in (body for body in peers.oms_bodies if isinstance(body, list))
    ]


def flow(http: HttpClient, store: StateStore, mapper: Any = None) -> MasterDataFlow:
    return MasterDataFlow(make_workflow(store, http, mapper))


@pytest.mark.anyio
async def test_the_first_poll_pushes_only_what_changed_since_the_load(
    peers: Peers4, http: HttpClient, store: StateStore
) -> None:
    master = flow(http, store)
    peers.script("ExecuteBillQuery", rows(SEEDED, RENAMED))
    peers.script(ITEM_SYNC_METHOD, item_ok())
    assert await master.poll_once() == 1
    assert await master.sync_once() == 1
    assert item_requests(peers) == [
        ("update", "OTHER", RENAMED[0], RENAMED[1], RENAMED[2]),
    ]
    assert goods_pushes(peers) == [(RENAMED[0], RENAMED[1], RENAMED[2], "199.00", 0)]
    cursors = dict(store.conn.execute("SELECT name, value FROM cursor").fetchall())
    assert cursors["materials"] == RENAMED[6]
    assert cursors["materials_loaded"] == LOADED
    assert await master.sync_once() == 0  # nothing left marked


@pytest.mark.anyio
async def test_later_polls_push_each_new_state_once_and_add_new_items(
    peers: Peers4, http: HttpClient, store: StateStore
) -> None:
    master = flow(http, store)
    peers.script("ExecuteBillQuery", rows(SEEDED, RENAMED))
    assert await master.poll_once() == 1
    peers.wms_bodies.clear()
    # The poll sees the renamed one again (inclusive cursor) unchanged, and a new material.
    peers.script("ExecuteBillQuery", rows(RENAMED, NEW))
    assert await master.poll_once() == 1
    peers.script(ITEM_SYNC_METHOD, item_ok(), item_missing(), item_ok())
    assert await master.sync_once() == 2
    actions = [(action, code) for action, _, code, _, _ in item_requests(peers)]
    assert actions == [
        ("update", RENAMED[0]),
        ("update", NEW[0]),
        ("add", NEW[0]),  # the WMS did not know it
    ]
    # The discontinued state: off sale in the OMS.
    stopped = [*NEW[:4], 0, NEW[5], "2026-11-10 20:30:00", NEW[7]]
    peers.script("ExecuteBillQuery", rows(stopped))
    peers.script(ITEM_SYNC_METHOD, item_ok())
    assert await master.poll_once() == 1
    assert await master.sync_once() == 1
    assert goods_pushes(peers)[-1] == (NEW[0], NEW[1], NEW[2], "59.90", 1)


@pytest.mark.anyio
async def test_the_faulty_variant_pushes_new_materials_only(
    peers: Peers4, http: HttpClient, store: StateStore
) -> None:
    master = flow(http, store, IgnoresMasterDataUpdates())
    peers.script("ExecuteBillQuery", rows(SEEDED))
    assert await master.poll_once() == 0
    renamed = [*SEEDED[:1], "T恤（1代）", *SEEDED[2:6], "2026-11-10 20:10:00", SEEDED[7]]
    peers.script("ExecuteBillQuery", rows(renamed, NEW))
    peers.script(ITEM_SYNC_METHOD, item_missing(), item_ok())
    assert await master.poll_once() == 1
    assert await master.sync_once() == 1
    assert [code for _, _, code, _, _ in item_requests(peers)] == [NEW[0], NEW[0]]
    assert [push[0] for push in goods_pushes(peers)] == [NEW[0]]


@pytest.mark.anyio
async def test_a_refused_material_stays_marked_and_does_not_hold_up_the_others(
    peers: Peers4, http: HttpClient, store: StateStore
) -> None:
    master = flow(http, store)
    other = [*NEW[:1], "另一新品", *NEW[2:]]
    other[0] = "1000000000000004"
    peers.script("ExecuteBillQuery", rows(SEEDED, NEW, other))
    assert await master.poll_once() == 2
    refused = httpx.Response(
        200,
        text="<response><flag>failure</flag><code>isv.invalid-parameter</code>"
        "<message>Invalid arguments:itemName</message></response>",
    )
    peers.script(ITEM_SYNC_METHOD, refused, item_ok())
    assert await master.sync_once() == 1  # NEW refused, the other one carried
    assert [push[0] for push in goods_pushes(peers)] == [other[0]]
    behind = "SELECT number FROM materials WHERE synced < version"
    assert [row[0] for row in store.conn.execute(behind)] == [NEW[0]]
    peers.script(ITEM_SYNC_METHOD, item_ok())
    assert await master.sync_once() == 1  # the next round tries it again
    assert [row[0] for row in store.conn.execute(behind)] == []
