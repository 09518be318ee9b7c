"""What Locust sends, tested without Locust: slices, due times, batches, payloads, the shape."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qsl

import httpx
import pytest

from fake_systems.common.context import SystemContext
from fake_systems.common.credentials import OmsCredentials
from fake_systems.common.money import to_cents
from fake_systems.common.signing import wdt_sign
from fake_systems.oms.api import wdt
from fake_systems.oms.service import OmsService
from load.launcher import master_command, worker_command
from load.orders import (
    PUSH_METHOD,
    Feed,
    OmsAccess,
    push_body,
    raw_trade,
    users_needed,
    worker_arrivals,
)
from load.stats import read_locust_stats
from simulator.clock import ManualClock
from simulator.demand import Arrival, DemandModel
from simulator.scenario import DemandSettings, Scenario
from simulator.world import World

CREDS = OmsCredentials(sid="ecomock", app_key="oms_load", app_secret="s3cr3t:s4lt")
ACCESS = OmsAccess("http://fake", CREDS.sid, CREDS.app_key, CREDS.app_secret)
SCENARIO = Scenario.model_validate(
    {
        "name": "t",
        "duration": "1h",
        "world": {"skus": 30, "customers": 50},
        "demand": {
            "orders_per_hour": 600,
            "curve": [{"until": "30m", "factor": 1}, {"until": "1h", "factor": 3}],
        },
        "clock": {"scale": 60},
    }
)


def test_worker_slices_are_disjoint_and_make_up_the_simulators_stream() -> None:
    whole = list(worker_arrivals(SCENARIO, 0, 1))
    world = SCENARIO.world.build(SCENARIO.seed)
    assert whole == list(DemandModel(world, SCENARIO.demand, SCENARIO.seed).arrivals(3600))
    slices = [list(worker_arrivals(SCENARIO, i, 3)) for i in range(3)]
    assert sorted((a for s in slices for a in s), key=lambda a: a.at_seconds) == whole
    assert slices[1] == whole[1::3]
    with pytest.raises(ValueError, match="outside"):
        worker_arrivals(SCENARIO, 3, 3)


def _arrival(at: float, shop: str, model: DemandModel) -> Arrival:
    trade = model.next_trade()
    return Arrival(at, dataclasses.replace(trade, shop_no=shop))


def test_feed_hands_each_order_out_once_and_batches_only_one_shops_due_orders(
    world: World,
) -> None:
    model = DemandModel(world, DemandSettings(orders_per_hour=60), seed=1)
    shops = ["TM-A", "JD-A", "TM-A", "TM-A", "DY-B", "TM-A"]
    ats = [0.0, 10.0, 20.0, 30.0, 40.0, 500.0]
    arrivals = [_arrival(at, shop, model) for at, shop in zip(ats, shops, strict=True)]
    feed = Feed(iter(arrivals), scale=10.0, start=100.0)
    first = feed.claim()
    assert first is arrivals[0] and feed.due_at(first) == 100.0
    # At wall 104 (simulated 40 s) TM-A orders at 20 and 30 are due; 500 is not, nor other shops.
    extra = feed.also_due(first, now=104.0, limit=50)
    assert extra == [arrivals[2], arrivals[3]]
    # The orders of other shops are left, in their order, for the next claims.
    assert [feed.claim(), feed.claim(), feed.claim(), feed.claim()] == [
        arrivals[1],
        arrivals[4],
        arrivals[5],
        None,
    ]
    assert feed.claimed == len(arrivals)


def test_feed_batch_limit(world: World) -> None:
    model = DemandModel(world, DemandSettings(orders_per_hour=60), seed=1)
    arrivals = [_arrival(float(i), "TM-A", model) for i in range(5)]
    feed = Feed(iter(arrivals), scale=1.0, start=0.0)
    first = feed.claim()
    assert first is not None
    assert feed.also_due(first, now=100.0, limit=3) == arrivals[1:3]
    assert feed.also_due(first, now=100.0, limit=1) == []
    assert feed.claim() is arrivals[3]


@pytest.fixture
def oms(make_context: Callable[[str], SystemContext], world: World) -> OmsService:
    service = OmsService(make_context("oms"), CREDS)
    service.setup(world)
    return service


@pytest.mark.anyio
async def test_signed_push_is_accepted_by_the_oms_with_the_same_money(
    oms: OmsService,
    clock: ManualClock,
    world: World,
    asgi_client: Callable[[object], httpx.AsyncClient],
) -> None:
    client = asgi_client(wdt.create_app(oms, CREDS))
    model = DemandModel(world, DemandSettings(orders_per_hour=60, freight_rate=1), seed=4)
    trades = [a.trade for a in model.arrivals(3 * 3600)]
    shop = trades[0].shop_no
    same_shop = [t for t in trades if t.shop_no == shop][:3]
    body = push_body(same_shop, "2026-11-10 20:00:00")
    query = ACCESS.signed_query(PUSH_METHOD, body, timestamp=int(clock.wall()))
    response = await client.post(f"/openapi?{query}", content=body.encode())
    assert response.json() == {
        "status": 0,
        "data": {"chg_count": 0, "error_list": [], "new_count": 3},
    }
    stored = {
        row["src_tid"]: row["paid_cents"]
        for row in oms.conn.execute("SELECT src_tid, paid_cents FROM orders")
    }
    assert stored == {
        t.src_tid: sum(line.share_cents for line in t.lines) + t.post_cents for t in same_shop
    }
    # The same push again (a platform retrying after a timeout) creates nothing.
    query = ACCESS.signed_query(PUSH_METHOD, body, timestamp=int(clock.wall()))
    again = await client.post(f"/openapi?{query}", content=body.encode())
    assert again.json()["data"]["new_count"] == 0
    assert oms.conn.execute("SELECT count(*) FROM orders").fetchone()[0] == 3


def test_raw_trade_amounts_add_up(world: World) -> None:
    model = DemandModel(world, DemandSettings(orders_per_hour=60, freight_rate=1), seed=2)
    trade = model.next_trade()
    wire, lines = raw_trade(trade, "2026-11-11 00:00:01")
    assert wire["tid"] == trade.src_tid and wire["pay_time"] == "2026-11-11 00:00:01"
    assert [line["oid"] for line in lines] == [
        f"{trade.src_tid}-{n}" for n in range(1, len(lines) + 1)
    ]
    assert {line["tid"] for line in lines} == {trade.src_tid}
    assert (wire["order_count"], wire["goods_count"]) == (
        len(trade.lines),
        sum(line.num for line in trade.lines),
    )
    # pushSelf2's line rule: total_amount = price * num + adjust_amount - discount.
    for line, sent in zip(trade.lines, lines, strict=True):
        total = to_cents(sent["price"]) * sent["num"] + to_cents(sent["adjust_amount"])
        assert total - to_cents(sent["discount"]) == to_cents(sent["total_amount"])
        assert to_cents(sent["total_amount"]) == line.share_cents
    shares = sum(line.share_cents for line in trade.lines)
    assert to_cents(wire["receivable"]) == shares + to_cents(wire["post_amount"]) > 0
    assert to_cents(wire["post_amount"]) == trade.post_cents > 0


def test_push_body_refuses_mixed_shops_and_oversized_batches(world: World) -> None:
    model = DemandModel(world, DemandSettings(orders_per_hour=60), seed=3)
    trades = [model.next_trade() for _ in range(60)]
    with pytest.raises(ValueError):
        push_body([t for t in trades if t.shop_no != trades[0].shop_no][:1] + trades[:1], "x")
    one_shop = [t for t in trades if t.shop_no == trades[0].shop_no]
    # pushSelf2's positional arguments: [shop_no, rawTradeList, rawTradeOrderList].
    shop_no, trade_list, lines = json.loads(push_body(one_shop[:2], "x"))
    assert shop_no == trades[0].shop_no and len(trade_list) == 2
    assert len(lines) == sum(len(t.lines) for t in one_shop[:2])
    with pytest.raises(ValueError):
        push_body([], "x")
    many = [dataclasses.replace(t, shop_no="TM-A") for t in trades[:51]]
    with pytest.raises(ValueError):
        push_body(many, "x")


def test_signed_query_carries_the_wdt_sign() -> None:
    params = dict(parse_qsl(ACCESS.signed_query(PUSH_METHOD, '{"a":1}', timestamp=1800000000)))
    # 旗舰版: seconds since 2012-01-01, the salt of `secret:salt` sent, the secret never.
    assert params["method"] == PUSH_METHOD and params["timestamp"] == "474652800"
    assert params["salt"] == "s4lt" and "s3cr3t" not in params.values()
    unsigned = {k: v for k, v in params.items() if k != "sign"}
    assert params["sign"] == wdt_sign("s3cr3t", {**unsigned, "body": '{"a":1}'})
    assert params["sign"] != wdt_sign("s3cr3t", {**unsigned, "body": '{"a":2}'})


def test_users_follow_the_curve_with_a_floor() -> None:
    # 600/h at 60x = 10 orders a wall second, then 30 from simulated minute 30 (wall 30 s).
    assert users_needed(SCENARIO, 0.0, minimum=2) == 10
    assert users_needed(SCENARIO, 29.5, minimum=2) == 30  # spawned ahead of the rise
    assert users_needed(SCENARIO, 40.0, minimum=2) == 30
    assert users_needed(SCENARIO, 40.0, minimum=50) == 50
    assert users_needed(SCENARIO.with_drill(1.5), 40.0, minimum=2) == 45


def test_locust_csv_is_read_into_the_report_section(tmp_path: Path) -> None:
    (tmp_path / "locust_stats.csv").write_text(
        "Type,Name,Request Count,Failure Count,Median Response Time,Average Response Time,"
        "Min Response Time,Max Response Time,Average Content Size,Requests/s,Failures/s,"
        "50%,66%,75%,80%,90%,95%,98%,99%,99.9%,99.99%,100%\n"
        "POST,sales.RawTrade.pushSelf2,279,3,2,4.0,0.6,18.3,64.0,13.8,0.1,2,4,6,6,9,11,16,17,18,18,18\n"
        ",Aggregated,279,3,2,4.0,0.6,18.3,64.0,13.8,0.1,2,4,6,6,9,11,16,17,18,18,18\n"
    )
    stats = read_locust_stats(tmp_path / "locust")
    (push,) = stats["endpoints"]
    assert push["name"] == PUSH_METHOD and push["requests"] == 279 and push["failures"] == 3
    assert (push["p50_ms"], push["p95_ms"], push["p99_ms"], push["rps"]) == (2, 11, 17, 13.8)
    assert stats["total"]["requests"] == 279
    assert "error" in read_locust_stats(tmp_path / "missing")


def test_distributed_commands_bind_only_loopback(tmp_path: Path) -> None:
    master = master_command(tmp_path, "http://127.0.0.1:1", workers=2, master_port=5557)
    assert master[master.index("--master-bind-host") + 1] == "127.0.0.1"
    assert master[master.index("--expect-workers") + 1] == "2"
    assert "--master" not in master_command(tmp_path, "http://h", workers=0, master_port=0)
    worker = worker_command(5557)
    assert worker[worker.index("--master-host") + 1] == "127.0.0.1" and "5557" in worker
