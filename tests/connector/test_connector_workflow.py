"""The reference flows against scripted peers (httpx.MockTransport): steps, retries, keys."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from connectors.reference.clients.http import HttpClient, HttpxClient
from connectors.reference.clients.k3 import RELOGINS_PER_CALL
from connectors.reference.mapper import TradeMapper
from connectors.reference.poller import Poller
from connectors.reference.retry import RetryPolicy, SessionExpired
from connectors.reference.store import Shipment, StateStore, Step, StepStatus
from connectors.reference.workflow import Workflow
from tests.support.connector import TRADE_NO, Peers4, k3_client, make_trade, make_workflow


def state(store: StateStore, step: Step) -> tuple[StepStatus, int]:
    current = store.step(TRADE_NO, step)
    assert current is not None
    return current.status, current.attempts


async def place_order(store: StateStore, workflow: Workflow) -> None:
    assert store.add_trades([make_trade(TRADE_NO)]) == [TRADE_NO]
    workflow.start_order(TRADE_NO)
    assert await workflow.drain(5) == 0


def confirm(store: StateStore, code: str = TRADE_NO, out_biz_code: str = "DO1-DELIVERED") -> None:
    shipment = Shipment("ZTO", "ZT000001", "2026-11-10 23:00:00")
    new, trade_no = store.receive_confirm(out_biz_code, code, "DO1", shipment, {})
    assert new and trade_no == TRADE_NO


# ---------------------------------------------------------------- the whole flow


@pytest.mark.anyio
async def test_order_flows_from_waybill_to_completion(
    peers: Peers4, http: HttpClient, store: StateStore
) -> None:
    workflow = make_workflow(store, http)
    await place_order(store, workflow)
    assert peers.ops("carrier") == ["1007", "1008"]
    assert peers.delivery_codes == [TRADE_NO]
    assert store.waybill(TRADE_NO) == "ZT000001"
    for step in (Step.WAYBILL, Step.SUBSCRIBE, Step.WMS_CREATE):
        assert state(store, step) == (StepStatus.DONE, 1)

    confirm(store)
    workflow.start_shipment(TRADE_NO)
    assert await workflow.drain(5) == 0
    sync = [b for b in peers.oms_bodies if "logistics_code" in b]
    assert sync == [{"trade_no": TRADE_NO, "logistics_code": "ZTO", "logistics_no": "ZT000001"}]
    assert peers.bills == {("SAL_OUTSTOCK", TRADE_NO): "C", ("AR_receivable", TRADE_NO): "C"}
    receivable = peers.models[("AR_receivable", TRADE_NO)]
    assert [e["FALLAMOUNTFOR"] for e in receivable["FEntityDetail"]] == ["25.10", "182.80"]
    assert receivable["FDATE"] == "2026-11-10 23:00:00"
    assert peers.ops("erp").count("LoginBySign") == 1  # one session for all calls

    new, trade_no = store.receive_trace("ZT000001", 3, TRADE_NO, {}, completes=True)
    assert new and trade_no == TRADE_NO
    workflow.start_completion(TRADE_NO)
    assert await workflow.drain(5) == 0
    assert peers.oms_bodies[-1] == {"trade_no": TRADE_NO, "logistics_no": "ZT000001", "state": 3}
    assert state(store, Step.OMS_COMPLETED) == (StepStatus.DONE, 1)
    assert store.unfinished_trades() == []


@pytest.mark.anyio
async def test_signed_push_before_the_oms_knows_it_shipped_waits_for_shipping(
    peers: Peers4, http: HttpClient, store: StateStore
) -> None:
    workflow = make_workflow(store, http)
    await place_order(store, workflow)
    confirm(store)
    store.receive_trace("ZT000001", 3, TRADE_NO, {}, completes=True)
    workflow.start_completion(TRADE_NO)  # oms_shipped not done: must not run yet
    assert workflow.in_flight == 0
    workflow.start_shipment(TRADE_NO)
    assert await workflow.drain(5) == 0
    oms_methods = [m for m in peers.ops("oms")]
    assert oms_methods == ["ecomock.Trade.ship", "ecomock.LogisticsTrace.upload"]


# ---------------------------------------------------------------- retries and keys


@pytest.mark.anyio
async def test_lost_wms_answer_is_retried_with_the_same_code(
    peers: Peers4, http: HttpClient, store: StateStore
) -> None:
    peers.lost["taobao.qimen.deliveryorder.create"] = 1
    workflow = make_workflow(store, http)
    await place_order(store, workflow)
    assert peers.delivery_codes == [TRADE_NO, TRADE_NO]
    assert state(store, Step.WMS_CREATE) == (StepStatus.DONE, 2)


@pytest.mark.anyio
async def test_business_refusal_parks_at_once(
    peers: Peers4, http: HttpClient, store: StateStore
) -> None:
    refusal = httpx.Response(
        200,
        text="<response><flag>failure</flag><code>ITEM_NOT_EXIST</code><message>no</message></response>",
    )
    peers.script("taobao.qimen.deliveryorder.create", refusal)
    workflow = make_workflow(store, http)
    await place_order(store, workflow)
    assert state(store, Step.WMS_CREATE) == (StepStatus.FAILED, 1)
    failed = store.step(TRADE_NO, Step.WMS_CREATE)
    assert failed is not None and "ITEM_NOT_EXIST" in (failed.last_error or "")
    assert workflow.stats["parked"] == 1


@pytest.mark.anyio
async def test_transient_failures_get_five_retries_then_park(
    peers: Peers4, http: HttpClient, store: StateStore
) -> None:
    peers.script("1007", *[httpx.Response(503) for _ in range(10)])
    workflow = make_workflow(store, http)
    await place_order(store, workflow)
    assert peers.ops("carrier") == ["1007"] * 6
    assert state(store, Step.WAYBILL) == (StepStatus.FAILED, 6)
    # Nothing downstream runs without a waybill.
    assert state(store, Step.WMS_CREATE) == (StepStatus.PENDING, 0)
    assert peers.ops("wms") == []
    assert workflow.stats["retries"] == 5


@pytest.mark.anyio
async def test_a_step_outlasts_a_half_hour_outage_of_its_peer(
    peers: Peers4, http: HttpClient, store: StateStore
) -> None:
    # Refused from the first attempt until 30 simulated minutes later: attempts at 0, 1, 6
    # and 21 minutes fail, the one at 51 minutes gets through.
    peers.script("1007", *[httpx.Response(503) for _ in range(4)])
    workflow = make_workflow(store, http)
    await place_order(store, workflow)
    assert state(store, Step.WAYBILL) == (StepStatus.DONE, 5)
    assert state(store, Step.WMS_CREATE) == (StepStatus.DONE, 1)


@pytest.mark.anyio
async def test_transport_error_is_retried(
    peers: Peers4, http: HttpClient, store: StateStore
) -> None:
    original = peers.handler
    failures = {"left": 1}

    def flaky(request: httpx.Request) -> httpx.Response:
        if request.url.host == "carrier" and failures["left"]:
            failures["left"] -= 1
            raise httpx.ConnectError("refused", request=request)
        return original(request)

    async with httpx.AsyncClient(transport=httpx.MockTransport(flaky)) as client:
        workflow = make_workflow(store, HttpxClient(client))
        await place_order(store, workflow)
    assert state(store, Step.WAYBILL) == (StepStatus.DONE, 2)


def test_retry_schedule_scales_with_the_clock() -> None:
    delays = [RetryPolicy(60).delay_after(n) for n in range(7)]
    assert delays == [None, 1.0, 5.0, 15.0, 30.0, 60.0, None]
    assert [RetryPolicy(1).delay_after(n) for n in (1, 2, 3)] == [60.0, 300.0, 900.0]
    assert RetryPolicy().max_retries == 5


def test_a_peers_retry_after_is_a_floor_of_the_back_off() -> None:
    # Retry-After counts wall seconds: at 3600x the graded minute is 1/60 s, the peer's wins.
    assert RetryPolicy(3600).delay_after(1, retry_after=2.0) == 2.0
    assert RetryPolicy(1).delay_after(1, retry_after=2.0) == 60.0
    assert RetryPolicy(3600).delay_after(6, retry_after=2.0) is None  # after the fifth retry


THROTTLED = [
    # A gateway's 429 in front of Kdniao.
    ("1007", Step.WAYBILL, httpx.Response(429, text="<html>", headers={"Retry-After": "1"})),
    # TOP's flow control, which gives the ban's length in its message.
    (
        "taobao.qimen.deliveryorder.create",
        Step.WMS_CREATE,
        httpx.Response(
            200,
            text="<response><flag>failure</flag>"
            "<code>accesscontrol.limited-by-api-access-count</code>"
            "<message>This ban will last for 1 more seconds</message></response>",
        ),
    ),
]


@pytest.mark.anyio
@pytest.mark.parametrize(("op", "step", "refusal"), THROTTLED, ids=["http_429", "qimen_ban"])
async def test_a_throttled_call_waits_as_long_as_the_peer_asked(
    peers: Peers4, http: HttpClient, store: StateStore, op: str, step: Step, refusal: httpx.Response
) -> None:
    peers.script(op, refusal)
    workflow = make_workflow(store, http)  # the fast clock: its own back-off is milliseconds
    started = time.monotonic()
    await place_order(store, workflow)
    assert state(store, step) == (StepStatus.DONE, 2)
    assert time.monotonic() - started >= 1.0


@pytest.mark.anyio
async def test_k3_network_control_conflict_is_retried(
    peers: Peers4, http: HttpClient, store: StateStore
) -> None:
    busy = {"IsSuccess": False, "MsgCode": 13, "Errors": [{"Message": "网控冲突"}]}
    peers.script("Save", httpx.Response(200, json={"Result": {"ResponseStatus": busy}}))
    workflow = make_workflow(store, http)
    await place_order(store, workflow)
    confirm(store)
    workflow.start_shipment(TRADE_NO)
    assert await workflow.drain(5) == 0
    assert state(store, Step.ERP_OUTSTOCK)[0] is StepStatus.DONE
    assert state(store, Step.ERP_RECEIVABLE)[0] is StepStatus.DONE
    assert peers.ops("erp").count("Save") == 3  # one refused, then one per document


# ---------------------------------------------------------------- ERP idempotency and session


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("existing", "expected"),
    [
        (None, ["ExecuteBillQuery", "Save", "Submit", "Audit"]),
        ("A", ["ExecuteBillQuery", "Submit", "Audit"]),
        ("B", ["ExecuteBillQuery", "Audit"]),
        ("C", ["ExecuteBillQuery"]),
    ],
)
async def test_erp_resumes_a_bill_from_its_status(
    peers: Peers4, http: HttpClient, existing: str | None, expected: list[str]
) -> None:
    erp = k3_client(http)
    if existing:
        peers.bills[("AR_receivable", TRADE_NO)] = existing
    model = TradeMapper().receivable_model(make_trade(TRADE_NO), "2026-11-10 23:00:00")
    await erp.post_audited("AR_receivable", model)
    assert peers.ops("erp") == ["LoginBySign", *expected]
    assert peers.bills[("AR_receivable", TRADE_NO)] == "C"


@pytest.mark.anyio
async def test_erp_logs_in_again_when_the_context_is_lost(peers: Peers4, http: HttpClient) -> None:
    erp = k3_client(http)
    model = TradeMapper().outstock_model(make_trade(TRADE_NO), "2026-11-10 23:00:00")
    await erp.post_audited("SAL_OUTSTOCK", model)
    peers.session = "S2"  # the server forgot S1
    peers.bills.clear()
    await erp.post_audited("SAL_OUTSTOCK", model)
    assert erp.logins == 2
    # K3 takes a sign once: the second login, likely within the same second, signs anew
    assert len(set(peers.k3_signs)) == 2
    assert peers.ops("erp")[5:] == [
        "ExecuteBillQuery",  # refused: context lost
        "LoginBySign",
        "ExecuteBillQuery",
        "Save",
        "Submit",
        "Audit",
    ]
    assert peers.bills[("SAL_OUTSTOCK", TRADE_NO)] == "C"


def context_lost() -> httpx.Response:
    errors = [{"Message": "会话信息已丢失，请重新登录"}]
    status = {"IsSuccess": False, "MsgCode": 1, "Errors": errors}
    return httpx.Response(200, json={"Result": {"ResponseStatus": status}})


@pytest.mark.anyio
async def test_erp_logs_in_again_through_a_session_expiry_storm(
    peers: Peers4, http: HttpClient
) -> None:
    # Each fresh session dies too, four times in a row: four more logins, one Save.
    peers.script("Save", *[context_lost() for _ in range(4)])
    erp = k3_client(http)
    model = TradeMapper().outstock_model(make_trade(TRADE_NO), "2026-11-10 23:00:00")
    await erp.post_audited("SAL_OUTSTOCK", model)
    assert erp.logins == 5
    assert peers.ops("erp") == [
        "LoginBySign",
        "ExecuteBillQuery",
        *["Save", "LoginBySign"] * 4,
        "Save",
        "Submit",
        "Audit",
    ]
    assert peers.bills[("SAL_OUTSTOCK", TRADE_NO)] == "C"


@pytest.mark.anyio
async def test_erp_session_losses_past_the_bound_go_to_the_graded_retries(
    peers: Peers4, http: HttpClient
) -> None:
    peers.script("Save", *[context_lost() for _ in range(RELOGINS_PER_CALL + 1)])
    erp = k3_client(http)
    model = TradeMapper().outstock_model(make_trade(TRADE_NO), "2026-11-10 23:00:00")
    with pytest.raises(SessionExpired):
        await erp.post_audited("SAL_OUTSTOCK", model)
    assert erp.logins == 1 + RELOGINS_PER_CALL
    assert peers.ops("erp").count("Save") == RELOGINS_PER_CALL + 1
    assert ("SAL_OUTSTOCK", TRADE_NO) not in peers.bills


@pytest.mark.anyio
async def test_oms_state_conflict_is_permanent(
    peers: Peers4, http: HttpClient, store: StateStore
) -> None:
    conflict = httpx.Response(200, json={"status": 100, "message": "cannot ship"})
    peers.script("ecomock.Trade.ship", conflict)
    workflow = make_workflow(store, http)
    await place_order(store, workflow)
    confirm(store)
    workflow.start_shipment(TRADE_NO)
    assert await workflow.drain(5) == 0
    assert state(store, Step.OMS_SHIPPED) == (StepStatus.FAILED, 1)
    assert state(store, Step.ERP_RECEIVABLE) == (StepStatus.DONE, 1)


# ---------------------------------------------------------------- restart


@pytest.mark.anyio
async def test_a_restart_resumes_pending_steps(
    peers: Peers4, http: HttpClient, tmp_path: Path
) -> None:
    first = StateStore(tmp_path / "connector.db")
    first.add_trades([make_trade(TRADE_NO)])
    first.close()  # the process died before any call
    again = StateStore(tmp_path / "connector.db")
    workflow = make_workflow(again, http)
    assert workflow.resume() == 1
    assert await workflow.drain(5) == 0
    assert peers.delivery_codes == [TRADE_NO]
    assert again.unfinished_trades() == []


@pytest.mark.anyio
async def test_a_graceful_shutdown_does_not_wait_out_a_back_off(
    peers: Peers4, http: HttpClient, store: StateStore
) -> None:
    """A connector told to stop refuses nothing it was sent and starts no call, but a step
    waiting ten minutes for its retry must not hold the stop (and the process) that long."""
    workflow = make_workflow(store, http, policy=RetryPolicy(time_scale=1.0))
    store.add_trades([make_trade(TRADE_NO)])
    store.schedule_retry(TRADE_NO, Step.WAYBILL, time.time() + 600, "HTTP 503")
    workflow.start_order(TRADE_NO)
    # A drain would wait the ten minutes (its own timeout is longer than this one).
    assert await asyncio.wait_for(workflow.shutdown(900), timeout=5) == 0
    assert workflow.in_flight == 0
    assert state(store, Step.WAYBILL) == (StepStatus.PENDING, 0)
    assert peers.calls == []
    assert store.unfinished_trades() == [TRADE_NO]  # the next start resumes it


# ---------------------------------------------------------------- polling


def trade_at(index: int, modified: datetime) -> dict[str, Any]:
    return make_trade(f"T{index:05d}", modified=modified.strftime("%Y-%m-%d %H:%M:%S"))


@pytest.mark.anyio
async def test_poller_splits_windows_pages_and_dedupes(
    peers: Peers4, http: HttpClient, store: StateStore
) -> None:
    start = peers.now - timedelta(seconds=peers.sim_seconds)  # 20:00, the run's start
    peers.trades = [trade_at(i, start + timedelta(minutes=70, seconds=i)) for i in range(250)]
    peers.trades.append(trade_at(999, start + timedelta(minutes=5)))
    workflow = make_workflow(store, http)
    started: list[str] = []
    workflow.start_order = started.append  # type: ignore[method-assign,assignment]
    poller = Poller(workflow.peers.oms, store, workflow, TradeMapper(), timedelta(seconds=2))

    assert await poller.poll_once() == 251
    windows = {(s, e) for s, e, _ in peers.windows}
    assert windows == {
        ("2026-11-10 20:00:00", "2026-11-10 21:00:00"),
        ("2026-11-10 21:00:00", "2026-11-10 22:00:00"),
        ("2026-11-10 22:00:00", "2026-11-10 22:30:00"),
    }
    assert [p for s, _, p in peers.windows if s.endswith("21:00:00")] == [0, 1, 2]
    assert store.cursor() == "2026-11-10 22:30:00"

    # The next poll reaches back over the overlap and finds nothing new.
    peers.windows.clear()
    peers.now += timedelta(seconds=15)
    assert await poller.poll_once() == 0
    assert [(s, e) for s, e, _ in peers.windows] == [("2026-11-10 22:29:58", "2026-11-10 22:30:15")]
    assert len(started) == 251 and len(set(started)) == 251


@pytest.mark.anyio
async def test_window_is_read_again_when_its_total_moves_while_paging(
    peers: Peers4, http: HttpClient, store: StateStore
) -> None:
    base = peers.now - timedelta(minutes=30)
    peers.trades = [trade_at(i, base + timedelta(seconds=i)) for i in range(150)]
    original = peers._oms
    shifted = {"done": False}

    def shifting(request: httpx.Request, op: str) -> httpx.Response:
        answer = original(request, op)
        if op == "sales.TradeQuery.queryWithDetail" and not shifted["done"]:
            # Between page 0 and page 1, the first trade leaves the window (e.g. shipped):
            # every later trade moves one place up, and trade 100 would be skipped.
            shifted["done"] = True
            peers.trades.pop(0)
        return answer

    peers._oms = shifting  # type: ignore[method-assign]
    store.set_cursor((peers.now - timedelta(minutes=40)).strftime("%Y-%m-%d %H:%M:%S"))
    workflow = make_workflow(store, http)
    started: list[str] = []
    workflow.start_order = started.append  # type: ignore[method-assign,assignment]
    poller = Poller(workflow.peers.oms, store, workflow, TradeMapper(), timedelta(seconds=2))
    await poller.poll_once()
    assert sorted(started) == [f"T{i:05d}" for i in range(150)]
    assert [page for _, _, page in peers.windows] == [0, 1, 0, 1]


@pytest.mark.anyio
async def test_poller_logs_an_outage_once_and_recovers(
    peers: Peers4, http: HttpClient, store: StateStore, caplog: pytest.LogCaptureFixture
) -> None:
    stop = asyncio.Event()
    peers.script("/_fake/clock", *[httpx.Response(503) for _ in range(3)])
    original = peers._oms

    def counting(request: httpx.Request, op: str) -> httpx.Response:
        if request.url.path == "/_fake/clock" and peers.ops("oms").count("/_fake/clock") >= 5:
            stop.set()
        return original(request, op)

    peers._oms = counting  # type: ignore[method-assign]
    workflow = make_workflow(store, http)
    poller = Poller(workflow.peers.oms, store, workflow, TradeMapper(), timedelta(seconds=2))
    with caplog.at_level("INFO", logger="connectors.reference"):
        await asyncio.wait_for(poller.run(stop, every_seconds=0.001), timeout=10)
    assert poller.stats["poll_errors"] == 3
    assert [r.levelname for r in caplog.records if "poll" in r.getMessage()] == ["ERROR", "INFO"]
