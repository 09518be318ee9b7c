"""OMS security: per-owner credentials see and change only their owners' trades; nonces."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import orjson
import pytest

from fake_systems.common.credentials import OmsCredentials
from fake_systems.oms.api import wdt
from fake_systems.oms.service import OmsService
from simulator.clock import ManualClock
from simulator.world import World
from tests.support.oms import (
    CREDS,
    PUSH,
    QUERY,
    SHIP,
    TENANT_A,
    TENANT_B,
    TRACE,
    WINDOW,
    call,
    push_two_shops,
    raw_push,
    trade_no_of,
)


@pytest.fixture
def oms(oms: OmsService, world: World) -> OmsService:
    """The shared OMS (conftest.py) holding trades of two owners."""
    push_two_shops(oms, world)
    return oms


@pytest.fixture
def client(
    oms: OmsService, asgi_client: Callable[[object], httpx.AsyncClient]
) -> httpx.AsyncClient:
    return asgi_client(wdt.create_app(oms, CREDS, [TENANT_A, TENANT_B]))


def status_of(oms: OmsService, tid: str) -> tuple[int, str | None]:
    row = oms.conn.execute(
        "SELECT trade_status, logistics_no FROM orders WHERE src_tid = ?", (tid,)
    ).fetchone()
    return row[0], row[1]


async def tids(client: httpx.AsyncClient, clock: ManualClock, creds: OmsCredentials) -> list[str]:
    answer = (await call(client, clock, QUERY, WINDOW, creds=creds)).json()
    assert answer["status"] == 0
    assert answer["data"]["total_count"] == len(answer["data"]["order"])
    return sorted(t["src_tids"] for t in answer["data"]["order"])


@pytest.mark.anyio
async def test_query_shows_only_the_owners_trades(
    client: httpx.AsyncClient, clock: ManualClock
) -> None:
    assert await tids(client, clock, CREDS) == ["A1", "A2", "B1"]
    assert await tids(client, clock, TENANT_A) == ["A1", "A2"]
    assert await tids(client, clock, TENANT_B) == ["B1"]


@pytest.mark.anyio
async def test_another_owners_trade_is_unknown_and_unchanged(
    client: httpx.AsyncClient, clock: ManualClock, oms: OmsService
) -> None:
    b1 = trade_no_of(oms, "B1")
    ship = {"trade_no": b1, "logistics_code": "SF", "logistics_no": "SF1"}
    refused = (await call(client, clock, SHIP, ship, creds=TENANT_A)).json()
    missing = (
        await call(client, clock, SHIP, {**ship, "trade_no": "9999999999999999"}, creds=TENANT_A)
    ).json()
    # Same code, same wording as a trade that does not exist: nothing leaks.
    assert refused["status"] == missing["status"] == 100
    assert refused["message"].replace(b1, "X") == missing["message"].replace(
        "9999999999999999", "X"
    )
    assert status_of(oms, "B1") == (30, None)

    assert (await call(client, clock, SHIP, ship, creds=TENANT_B)).json()["status"] == 0
    trace = {"trade_no": b1, "logistics_no": "SF1", "state": 3}
    assert (await call(client, clock, TRACE, trace, creds=TENANT_A)).json()["status"] == 100
    assert status_of(oms, "B1") == (95, "SF1")
    assert oms.conn.execute("SELECT COUNT(*) FROM logistics_traces").fetchone()[0] == 0
    assert (await call(client, clock, TRACE, trace, creds=TENANT_B)).json()["status"] == 0
    assert status_of(oms, "B1") == (110, "SF1")


@pytest.mark.anyio
async def test_push_into_another_owners_shop_is_refused(
    client: httpx.AsyncClient, clock: ManualClock, oms: OmsService, world: World
) -> None:
    body = ["JD-B", *raw_push(world, "X1")]
    answer = (await call(client, clock, PUSH, body, creds=TENANT_A)).json()
    assert answer == {"status": 100, "message": "店铺编号不存在或已停用"}
    assert oms.conn.execute("SELECT COUNT(*) FROM orders WHERE src_tid = 'X1'").fetchone()[0] == 0
    ok = (await call(client, clock, PUSH, body, creds=TENANT_B)).json()
    assert ok["data"] == {"chg_count": 0, "error_list": [], "new_count": 1}


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        # A tenant's key with the connector's sid, or signed with another party's secret.
        ({"creds": TENANT_A, "overrides": {"sid": CREDS.sid}}, 1),
        ({"creds": TENANT_A, "secret": CREDS.app_secret}, 1),
        ({"creds": TENANT_A, "secret": TENANT_B.app_secret}, 1),
        ({"creds": TENANT_A, "overrides": {"key": "oms_c"}}, 1),
    ],
)
async def test_tenant_credentials_are_checked_as_a_whole(
    client: httpx.AsyncClient, clock: ManualClock, oms: OmsService, kwargs: dict, code: int
) -> None:
    answer = (await call(client, clock, QUERY, WINDOW, **kwargs)).json()
    assert answer["status"] == code and "data" not in answer
    outcomes = oms.conn.execute("SELECT outcome FROM events WHERE kind = 'api_in'").fetchall()
    assert [r[0] for r in outcomes] == [str(code)]


# ---------------------------------------------------------------- nonces (replay guard)


@pytest.mark.anyio
async def test_a_replayed_nonce_is_refused_and_changes_nothing(
    client: httpx.AsyncClient, clock: ManualClock, oms: OmsService
) -> None:
    a1 = trade_no_of(oms, "A1")
    ship = {"trade_no": a1, "logistics_code": "SF", "logistics_no": "SF1"}
    first = await call(client, clock, QUERY, WINDOW, overrides={"nonce": "n-1"})
    assert first.json()["status"] == 0
    replay = (await call(client, clock, SHIP, ship, overrides={"nonce": "n-1"})).json()
    assert replay["status"] == 1
    assert status_of(oms, "A1") == (30, None)
    # Another nonce, or the same nonce under another key, is a new request.
    assert (await call(client, clock, SHIP, ship, overrides={"nonce": "n-2"})).json()["status"] == 0
    other_key = await call(client, clock, QUERY, WINDOW, creds=TENANT_A, overrides={"nonce": "n-1"})
    assert other_key.json()["status"] == 0
    outcomes = oms.conn.execute(
        "SELECT operation, outcome FROM events WHERE kind = 'api_in' ORDER BY seq"
    ).fetchall()
    assert [tuple(r) for r in outcomes] == [
        (QUERY, "ok"),
        (SHIP, "1"),
        (SHIP, "ok"),
        (QUERY, "ok"),
    ]


@pytest.mark.anyio
async def test_a_nonce_is_forgotten_once_its_timestamp_is_stale(
    client: httpx.AsyncClient, clock: ManualClock
) -> None:
    stamp = int(clock.wall()) - 1325347200  # the wire counts from 2012-01-01
    first = await call(client, clock, QUERY, WINDOW, timestamp=stamp, overrides={"nonce": "n"})
    assert first.json()["status"] == 0
    clock.advance(120 * clock.scale)  # wall + 120 s: the old timestamp is still acceptable
    again = await call(client, clock, QUERY, WINDOW, timestamp=stamp, overrides={"nonce": "n"})
    assert again.json()["status"] == 1
    clock.advance(1 * clock.scale)  # wall + 121 s: the old request is now stale anyway
    stale = await call(client, clock, QUERY, WINDOW, timestamp=stamp, overrides={"nonce": "n"})
    assert stale.json()["status"] == 7
    fresh = await call(client, clock, QUERY, WINDOW, overrides={"nonce": "n"})
    assert fresh.json()["status"] == 0


@pytest.mark.anyio
async def test_nonce_is_signed_and_bounded(client: httpx.AsyncClient, clock: ManualClock) -> None:
    signed_without = await call(client, clock, QUERY, WINDOW)
    assert signed_without.json()["status"] == 0
    # A nonce added after signing breaks the sign: it cannot be stripped or swapped.
    params = dict(signed_without.request.url.params)
    params["nonce"] = "added"
    tampered = await client.post("/openapi", params=params, content=signed_without.request.content)
    assert tampered.json()["status"] == 1
    too_long = await call(client, clock, QUERY, WINDOW, overrides={"nonce": "n" * 65})
    assert too_long.json()["status"] == 1
    longest = await call(client, clock, QUERY, WINDOW, overrides={"nonce": "n" * 64})
    assert longest.json()["status"] == 0


@pytest.mark.anyio
async def test_another_owners_records_answer_exactly_like_missing_ones(
    client: httpx.AsyncClient, clock: ManualClock, oms: OmsService, world: World
) -> None:
    """Finding 8 (OMS): for tenant A, B's trade numbers and shops get the answer a
    never-used one gets, the key replaced: nothing tells A that they exist."""
    b1 = trade_no_of(oms, "B1")
    cases: list[tuple[str, Callable[[str], object], str, str]] = [
        (
            SHIP,
            lambda k: {"trade_no": k, "logistics_code": "SF", "logistics_no": "SF1"},
            b1,
            "20261110999",
        ),
        (TRACE, lambda k: {"trade_no": k, "logistics_no": "SF1", "state": 3}, b1, "20261110998"),
        (
            PUSH,
            lambda k: [k, *raw_push(world, "X9")],
            "JD-B",
            "TM-NEVER",
        ),
        ("sales.LogisticsSync.getSyncListExt", lambda k: {"shop_no": k}, "JD-B", "TM-NEVER"),
        ("setting.Shop.queryShop", lambda k: {"shop_no": k}, "JD-B", "TM-NEVER"),
    ]
    before = oms.conn.execute("SELECT * FROM orders ORDER BY trade_no").fetchall()
    for method, body, foreign, missing in cases:
        answers = []
        for key in (foreign, missing):
            answer = (await call(client, clock, method, body(key), creds=TENANT_A)).json()
            answers.append(
                orjson.dumps(answer, option=orjson.OPT_SORT_KEYS).decode().replace(key, "@KEY@")
            )
        assert answers[0] == answers[1], (method, answers)
        # a refusal of the call itself (signature, scope) would compare equal and prove nothing
        assert orjson.loads(answers[0])["status"] in (0, 100, 100), answers[0]
    after = oms.conn.execute("SELECT * FROM orders ORDER BY trade_no").fetchall()
    assert [tuple(r) for r in after] == [tuple(r) for r in before]
