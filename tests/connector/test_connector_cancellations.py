"""The reference connector follows cancellations (trade_status 5): never sends a cancelled
trade, cancels at the WMS what it already sent, books nothing for it."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
import pytest
from lxml import etree

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
    assert queries and all(b["status"] == "5,30" for b in queries)
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
        # Picked already: too late, parked for a person (interception is not handled yet).
        ("CANCELEDFAIL", True, StepStatus.FAILED),
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
