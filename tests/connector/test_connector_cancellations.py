"""The reference connector follows cancellations (trade_status 5, or a refund of every line
waiting for the merchant): never sends a cancelled trade, cancels at the WMS what it already
sent, intercepts at the carrier what the WMS could not cancel, books nothing for it."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
import orjson
import pytest
from lxml import etree

from connectors.faulty.ignores_canceledfail import IgnoresCanceledfailHandlers
from connectors.faulty.ships_cancelled_orders import IgnoresCancellations
from connectors.reference.clients.http import HttpClient
from connectors.reference.mapper import TradeMapper
from connectors.reference.poller import Poller
from connectors.reference.store import Shipment, StateStore, Step, StepStatus
from connectors.reference.workflow import Workflow
from tests.support.connector import TRADE_NO, Peers4, make_trade, make_workflow

CANCEL = "taobao.qimen.order.cancel"


def answer(flag: str, code: str) -> httpx.Response:
    return httpx.Response(
        200, text=f"<response><flag>{flag}</flag><code>{code}</code><message>m</message></response>"
    )


def cancelled_trade() -> dict[str, object]:
    return make_trade(TRADE_NO, trade_status=5, modified="2026-11-10 20:10:00")


def status(store: StateStore, step: Step) -> StepStatus | None:
    state = store.step(TRADE_NO, step)
    return None if state is None else state.status


async def sent_to_wms(store: StateStore, workflow: Workflow) -> None:
    assert store.add_trades([make_trade(TRADE_NO)]) == [TRADE_NO]
    workflow.start_order(TRADE_NO)
    assert await workflow.drain(5) == 0


@pytest.mark.anyio
async def test_a_sent_trade_is_cancelled_at_the_wms_and_never_booked(
    peers: Peers4, http: HttpClient, store: StateStore
) -> None:
    workflow = make_workflow(store, http)
    await sent_to_wms(store, workflow)
    peers.script(CANCEL, answer("success", "0"))
    workflow.cancel_order(cancelled_trade())
    assert await workflow.drain(5) == 0
    assert status(store, Step.WMS_CANCEL) is StepStatus.DONE
    [body] = [b for b in peers.wms_bodies if "<orderCode>" in b]
    request = etree.fromstring(body)
    assert (request.findtext("orderCode"), request.findtext("ownerCode")) == (TRADE_NO, "OWNER1")
    assert request.findtext("warehouseCode") == "WH-GZ"
    # Seen again in the next window's overlap: nothing more is sent.
    workflow.cancel_order(cancelled_trade())
    assert await workflow.drain(5) == 0
    assert peers.ops("wms").count(CANCEL) == 1
    # A confirm that comes anyway (the WMS shipped it after all) books nothing.
    new, trade_no = store.receive_confirm(
        "DO1-DELIVERED", TRADE_NO, "DO1", Shipment("ZTO", "ZT1", "2026-11-10 23:00:00"), {}
    )
    assert new and trade_no == TRADE_NO
    workflow.start_shipment(TRADE_NO)
    assert await workflow.drain(5) == 0
    assert peers.ops("erp") == [] and peers.bills == {}
    for step in (Step.OMS_SHIPPED, Step.ERP_OUTSTOCK, Step.ERP_RECEIVABLE):
        assert status(store, step) is StepStatus.SKIPPED
    assert store.unfinished_trades() == []


@pytest.mark.anyio
async def test_a_trade_cancelled_before_the_poll_is_never_started(
    peers: Peers4, http: HttpClient, store: StateStore
) -> None:
    start = peers.now - timedelta(seconds=peers.sim_seconds)
    peers.trades = [cancelled_trade()]
    workflow = make_workflow(store, http)
    poller = Poller(workflow.peers.oms, store, workflow, TradeMapper(), timedelta(seconds=2))
    assert await poller.poll_once() == 0
    assert await workflow.drain(5) == 0
    queries = [b for b in peers.oms_bodies if "start_time" in b]
    assert queries and all(b["status"] == "5,30,95" for b in queries)
    assert queries[0]["start_time"] == start.strftime("%Y-%m-%d %H:%M:%S")
    assert peers.ops("carrier") == [] and peers.ops("wms") == []
    assert store.is_cancelled(TRADE_NO)
    # A later sighting as paid (it cannot happen, the modified time only moves on) would not
    # start it either: the trade is known.
    assert store.add_trades([make_trade(TRADE_NO)]) == []


@pytest.mark.anyio
async def test_the_faulty_mapper_ignores_the_cancellation(
    peers: Peers4, http: HttpClient, store: StateStore
) -> None:
    workflow = make_workflow(store, http, IgnoresCancellations())
    await sent_to_wms(store, workflow)
    peers.trades = [cancelled_trade()]
    poller = Poller(workflow.peers.oms, store, workflow, workflow.mapper, timedelta(seconds=2))
    await poller.poll_once()
    assert await workflow.drain(5) == 0
    assert CANCEL not in peers.ops("wms") and not store.is_cancelled(TRADE_NO)


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("code", "created", "expected"),
    [
        # Picked already: the WMS cannot cancel it, the carrier must stop the parcel.
        ("CANCELEDFAIL", True, StepStatus.DONE),
        # The create never reached the WMS: nothing to cancel.
        ("ORDER_NOT_EXIST", False, StepStatus.DONE),
    ],
)
async def test_the_wms_refusals_of_a_cancel(
    peers: Peers4,
    http: HttpClient,
    store: StateStore,
    code: str,
    created: bool,
    expected: StepStatus,
) -> None:
    workflow = make_workflow(store, http)
    if not created:
        # Every create answer lost and the step given up: attempted, never done.
        peers.script(
            "taobao.qimen.deliveryorder.create",
            answer("failure", "isv.invalid-parameter"),
        )
    await sent_to_wms(store, workflow)
    assert store.is_done(TRADE_NO, Step.WMS_CREATE) is created
    peers.script(CANCEL, answer("failure", code))
    workflow.cancel_order(cancelled_trade())
    assert await workflow.drain(5) == 0
    assert status(store, Step.WMS_CANCEL) is expected
    assert peers.ops("wms").count(CANCEL) == 1
    # Only a CANCELEDFAIL sends the connector to the carrier.
    assert peers.ops("carrier").count("1816") == (1 if code == "CANCELEDFAIL" else 0)


@pytest.mark.anyio
async def test_a_create_in_flight_lands_before_the_cancel(
    peers: Peers4, http: HttpClient, store: StateStore
) -> None:
    workflow = make_workflow(store, http)
    create = workflow.peers.wms.create_delivery_order
    entered, release = asyncio.Event(), asyncio.Event()

    async def held_create(body: str) -> str:
        entered.set()
        await release.wait()
        return await create(body)

    workflow.peers.wms.create_delivery_order = held_create  # type: ignore[method-assign]
    assert store.add_trades([make_trade(TRADE_NO)]) == [TRADE_NO]
    workflow.start_order(TRADE_NO)
    await asyncio.wait_for(entered.wait(), timeout=5)
    peers.script(CANCEL, answer("success", "0"))
    workflow.cancel_order(cancelled_trade())
    # Let every other task run: the cancel must still wait for the create.
    for _ in range(20):
        await asyncio.sleep(0)
    assert CANCEL not in peers.ops("wms")
    release.set()
    assert await workflow.drain(5) == 0
    assert peers.ops("wms") == ["taobao.qimen.deliveryorder.create", CANCEL]
    assert status(store, Step.WMS_CANCEL) is StepStatus.DONE


def cancel_requested_trade(trade_status: int = 30) -> dict[str, object]:
    """The trade after the buyer asked for a refund of every line (refund_status 2, applied)."""
    trade = make_trade(TRADE_NO, trade_status=trade_status, modified="2026-11-10 20:10:00")
    trade["detail_list"] = [{**line, "refund_status": 2} for line in trade["detail_list"]]
    return trade


@pytest.mark.parametrize(
    ("trade_status", "lines", "requested"),
    [
        (30, (2, 2), True),
        (95, (2, 2), True),  # marked shipped before the request was seen: still stopped
        (30, (2, 0), False),  # one line only: not a cancellation of the trade
        (110, (2, 2), False),  # completed: the buyer has the goods
        (30, (5, 5), False),  # refunded already: the trade is cancelled (5) by then
    ],
)
def test_a_cancel_request_is_a_waiting_refund_of_every_line(
    trade_status: int, lines: tuple[int, int], requested: bool
) -> None:
    trade = make_trade(TRADE_NO, trade_status=trade_status)
    trade["detail_list"] = [
        {**line, "refund_status": state}
        for line, state in zip(trade["detail_list"], lines, strict=True)
    ]
    assert TradeMapper().cancel_requested(trade) is requested


@pytest.mark.anyio
async def test_a_cancel_request_after_picking_intercepts_the_parcel(
    peers: Peers4, http: HttpClient, store: StateStore
) -> None:
    workflow = make_workflow(store, http)
    await sent_to_wms(store, workflow)
    peers.script(CANCEL, answer("failure", "CANCELEDFAIL"))
    peers.trades = [cancel_requested_trade()]
    poller = Poller(workflow.peers.oms, store, workflow, workflow.mapper, timedelta(seconds=2))
    await poller.poll_once()
    assert await workflow.drain(5) == 0
    assert store.is_cancelled(TRADE_NO)
    assert (status(store, Step.WMS_CANCEL), status(store, Step.INTERCEPT)) == (
        StepStatus.DONE,
        StepStatus.DONE,
    )
    [form] = [f for f in peers.carrier_forms if f["RequestType"] == "1816"]
    data = orjson.loads(form["RequestData"])
    waybill = store.waybill(TRADE_NO)
    assert data == {
        "ShipperCode": "ZTO",
        "LogisticCode": waybill,
        "OrderCode": TRADE_NO,
        "InterceptType": "2",
        "Reason": "买家取消订单",
    }
    # The confirm that follows (the WMS shipped it) books nothing and marks nothing shipped.
    store.receive_confirm(
        "DO1-DELIVERED", TRADE_NO, "DO1", Shipment("ZTO", str(waybill), "2026-11-10 23:00:00"), {}
    )
    workflow.start_shipment(TRADE_NO)
    assert await workflow.drain(5) == 0
    assert peers.ops("erp") == [] and "ecomock.Trade.ship" not in peers.ops("oms")
    assert workflow.stats["intercept.requested"] == 1


@pytest.mark.anyio
async def test_a_refund_of_every_line_after_the_signed_state_is_a_return_not_a_cancel(
    peers: Peers4, http: HttpClient, store: StateStore
) -> None:
    """The buyer signed for the parcel, then asked for a return of every line before the
    OMS heard of the completion: the trade is still shipped (95) with every line applied."""
    workflow = make_workflow(store, http)
    await sent_to_wms(store, workflow)
    waybill = str(store.waybill(TRADE_NO))
    store.receive_trace(waybill, 3, TRADE_NO, {}, completes=True)
    peers.trades = [cancel_requested_trade(trade_status=95)]
    poller = Poller(workflow.peers.oms, store, workflow, workflow.mapper, timedelta(seconds=2))
    await poller.poll_once()
    assert await workflow.drain(5) == 0
    assert not store.is_cancelled(TRADE_NO)
    assert CANCEL not in peers.ops("wms") and poller.stats["cancelled_seen"] == 0
    # Not signed for yet: the same trade is a cancellation after picking.
    store.conn.execute("DELETE FROM steps WHERE step = ?", (Step.OMS_COMPLETED.value,))
    store.conn.execute("DELETE FROM cursor")  # the same window read again
    peers.script(CANCEL, answer("success", "0"))
    await poller.poll_once()
    assert await workflow.drain(5) == 0
    assert store.is_cancelled(TRADE_NO) and poller.stats["cancelled_seen"] == 1


@pytest.mark.anyio
async def test_a_return_applied_before_the_signed_push_came_is_not_a_cancel(
    peers: Peers4, http: HttpClient, store: StateStore
) -> None:
    """A connector behind on the carrier's pushes (a loaded machine): the buyer signed for the
    parcel and applied for a return of every line, and the poll sees the trade (shipped, every
    line applied) before the signed push. The return refund (type 2, applied: 20) in the same
    window says what it is: no cancellation, no interception; the trade's return is carried
    once its goods are sent back."""
    workflow = make_workflow(store, http)
    await sent_to_wms(store, workflow)
    peers.trades = [cancel_requested_trade(trade_status=95)]
    applied = {"refund_no": "TK0000000001", "trade_no": TRADE_NO, "type": 2, "status": 20}
    peers.refunds = [{**applied, "modified": "2026-11-10 20:10:00", "logistics_no": None}]
    poller = Poller(workflow.peers.oms, store, workflow, workflow.mapper, timedelta(seconds=2))
    await poller.poll_once()
    assert await workflow.drain(5) == 0
    assert not store.is_cancelled(TRADE_NO) and poller.stats["cancelled_seen"] == 0
    assert CANCEL not in peers.ops("wms") and "1816" not in peers.ops("carrier")
    # Without the refund search's answer the same trade would be read as cancelled.
    assert poller.mapper.cancel_requested(cancel_requested_trade(trade_status=95))


@pytest.mark.anyio
async def test_a_parcel_signed_already_is_not_intercepted_again_and_again(
    peers: Peers4, http: HttpClient, store: StateStore
) -> None:
    workflow = make_workflow(store, http)
    await sent_to_wms(store, workflow)
    peers.script(CANCEL, answer("failure", "CANCELEDFAIL"))
    too_late = {"Success": False, "ResultCode": "105", "Reason": "快件已签收，无法拦截"}
    peers.script("1816", httpx.Response(200, json=too_late))
    workflow.cancel_order(cancel_requested_trade())
    assert await workflow.drain(5) == 0
    # Parked for a person (a return is the way now), not retried.
    assert status(store, Step.INTERCEPT) is StepStatus.FAILED
    assert peers.ops("carrier").count("1816") == 1


@pytest.mark.anyio
async def test_the_faulty_connector_lets_a_canceledfail_go_and_sells_the_order(
    peers: Peers4, http: HttpClient, store: StateStore
) -> None:
    workflow = make_workflow(store, http)
    IgnoresCanceledfailHandlers(store, workflow, "secret", "key", "1234567", lambda: True)
    await sent_to_wms(store, workflow)
    peers.script(CANCEL, answer("failure", "CANCELEDFAIL"))
    workflow.cancel_order(cancel_requested_trade())
    assert await workflow.drain(5) == 0
    assert "1816" not in peers.ops("carrier")
    assert not store.is_cancelled(TRADE_NO)
    # The shipment that follows goes on as a sale: shipped in the OMS and booked.
    store.receive_confirm(
        "DO1-DELIVERED", TRADE_NO, "DO1", Shipment("ZTO", "ZT1", "2026-11-10 23:00:00"), {}
    )
    workflow.start_shipment(TRADE_NO)
    assert await workflow.drain(5) == 0
    assert "ecomock.Trade.ship" in peers.ops("oms")
    assert ("AR_receivable", TRADE_NO) in peers.bills
