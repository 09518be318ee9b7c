"""Partial shipments in the reference connector: a partial deliveryorder.confirm (confirmType 1)
marks its package in the OMS at once, the final one marks the last package once the earlier
ones are, and the outstock books what every package shipped; faulty/ignores_partial_confirms
acknowledges the partial confirm and ships the trade whole."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import orjson
import pytest

from connectors.faulty.ignores_partial_confirms import IgnoresPartialConfirmsHandlers
from connectors.reference.callbacks import CallbackHandlers, create_callback_app, parse_confirm
from connectors.reference.clients.http import HttpClient
from connectors.reference.retry import RetryPolicy
from connectors.reference.store import (
    SHIPMENT_STEPS,
    Package,
    Shipment,
    StateStore,
    Step,
    StepStatus,
)
from tests.connector.test_connector_callbacks import WMS_SECRET, Recorder, confirm_params
from tests.support.connector import TRADE_NO, Peers4, make_trade, make_workflow

# make_trade: rec_id 11 (TB99001-1) SKU-A x 3, rec_id 12 (TB99001-2) SKU-B x 1: 4 units.
ORDER_WAYBILL = "ZT000001"  # the order's own: the first package's
SECOND_WAYBILL = "ZT000001-2"
FIRST = Package("ZTO", ORDER_WAYBILL, (("11", "SKU-A", 2),))
LAST = Package("ZTO", SECOND_WAYBILL, (("11", "SKU-A", 1), ("12", "SKU-B", 1)))
SHIPMENT = Shipment("ZTO", ORDER_WAYBILL, "2026-11-10 23:00:00")


def confirm_xml(package: Package, partial: bool) -> str:
    """A deliveryorder.confirm as the WMS fake sends one package of a split order."""
    status, kind = ("PARTDELIVERED", "1") if partial else ("DELIVERED", "0")
    out_biz = "DO1-PARTDELIVERED-1" if partial else "DO1-DELIVERED"
    lines = "".join(
        f"<orderLine><orderLineNo>{no}</orderLineNo><ownerCode>OWNER1</ownerCode>"
        f"<itemCode>{item}</itemCode><planQty>9</planQty><actualQty>{qty}</actualQty></orderLine>"
        for no, item, qty in package.lines
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><request><deliveryOrder>'
        f"<deliveryOrderCode>{TRADE_NO}</deliveryOrderCode><deliveryOrderId>DO1</deliveryOrderId>"
        f"<ownerCode>OWNER1</ownerCode><status>{status}</status><outBizCode>{out_biz}</outBizCode>"
        f"<confirmType>{kind}</confirmType><logisticsCode>ZTO</logisticsCode>"
        f"<expressCode>{ORDER_WAYBILL}</expressCode>"
        "<orderConfirmTime>2026-11-10 23:00:00</orderConfirmTime></deliveryOrder>"
        f"<packages><package><logisticsCode>ZTO</logisticsCode>"
        f"<expressCode>{package.express_code}</expressCode></package></packages>"
        f"<orderLines>{lines}</orderLines></request>"
    )


def test_parse_confirm_reads_the_package_and_its_lines() -> None:
    confirm = parse_confirm(confirm_xml(LAST, partial=False).encode())
    assert confirm.package == LAST
    assert confirm.shipment.express_code == ORDER_WAYBILL  # the order's own, for the OMS
    assert parse_confirm(confirm_xml(FIRST, partial=True).encode()).partial


@pytest.fixture
def store(tmp_path: Path) -> StateStore:
    store = StateStore(tmp_path / "connector.db")
    store.add_trades([make_trade(TRADE_NO)])
    store.set_waybill(TRADE_NO, ORDER_WAYBILL)
    store.record_delivery_code(TRADE_NO, TRADE_NO)
    return store


def callback_client(
    handlers: type[CallbackHandlers],
    store: StateStore,
    recorder: Recorder,
    asgi_client: Callable[[object], httpx.AsyncClient],
) -> httpx.AsyncClient:
    app = handlers(store, recorder, WMS_SECRET, "key", "1234567", lambda: True)
    return asgi_client(create_callback_app(app))


async def push(client: httpx.AsyncClient, body: str) -> None:
    response = await client.post("/qimen/callback", params=confirm_params(body), content=body)
    assert b"<flag>success</flag>" in response.content


@pytest.mark.anyio
async def test_each_confirm_of_a_split_order_is_kept_as_a_package(
    store: StateStore, asgi_client: Callable[[object], httpx.AsyncClient]
) -> None:
    recorder = Recorder()
    client = callback_client(CallbackHandlers, store, recorder, asgi_client)
    await push(client, confirm_xml(FIRST, partial=True))
    await push(client, confirm_xml(FIRST, partial=True))  # redelivered: acted on once
    assert (recorder.packages, recorder.shipments) == (["DO1-PARTDELIVERED-1"], [])
    # The partial confirm proves the create arrived, and starts no shipment step.
    assert store.pending_steps("DO1-PARTDELIVERED-1") == {Step.OMS_PACKAGE}
    assert Step.OMS_SHIPPED not in store.pending_steps(TRADE_NO)
    await push(client, confirm_xml(LAST, partial=False))
    assert recorder.shipments == [TRADE_NO]
    assert [(p.partial, p.package) for p in store.packages(TRADE_NO)] == [
        (True, FIRST),
        (False, LAST),
    ]


@pytest.mark.anyio
async def test_a_final_confirm_short_of_the_trade_is_a_package_even_alone(
    store: StateStore, asgi_client: Callable[[object], httpx.AsyncClient]
) -> None:
    # The partial push was lost and comes back later: the final one must not pass for whole.
    client = callback_client(CallbackHandlers, store, Recorder(), asgi_client)
    await push(client, confirm_xml(LAST, partial=False))
    assert [p.package for p in store.packages(TRADE_NO)] == [LAST]


@pytest.mark.anyio
async def test_the_faulty_connector_drops_the_partial_confirm_and_ships_whole(
    store: StateStore, asgi_client: Callable[[object], httpx.AsyncClient]
) -> None:
    recorder = Recorder()
    client = callback_client(IgnoresPartialConfirmsHandlers, store, recorder, asgi_client)
    await push(client, confirm_xml(FIRST, partial=True))
    assert recorder.packages == [] and store.pending_steps("DO1-PARTDELIVERED-1") == set()
    await push(client, confirm_xml(LAST, partial=False))
    assert recorder.shipments == [TRADE_NO]
    assert store.packages(TRADE_NO) == []  # shipped whole, under the order's waybill


def receive(store: StateStore, package: Package, partial: bool) -> None:
    out_biz = "DO1-PARTDELIVERED-1" if partial else "DO1-DELIVERED"
    new, trade_no = store.receive_confirm(
        out_biz, TRADE_NO, "DO1", SHIPMENT, {}, None, package, partial
    )
    assert new and trade_no == TRADE_NO


def oms_ships(peers: Peers4) -> list[dict[str, object]]:
    return [b for b in peers.oms_bodies if "logistics_code" in b]


def package_body(package: Package, oids: str) -> dict[str, object]:
    return {
        "trade_no": TRADE_NO,
        "logistics_code": "ZTO",
        "logistics_no": package.express_code,
        "is_part_sync": 1,
        "oids": oids,
        "goods_count": package.units,
    }


def outstock_quantities(peers: Peers4) -> list[int]:
    return [e["FRealQty"] for e in peers.models[("SAL_OUTSTOCK", TRADE_NO)]["FEntity"]]


@pytest.mark.anyio
async def test_packages_reach_the_oms_one_by_one_and_the_erp_books_them_once(
    peers: Peers4, http: HttpClient, store: StateStore
) -> None:
    workflow = make_workflow(store, http)
    receive(store, FIRST, partial=True)
    workflow.start_package("DO1-PARTDELIVERED-1")
    assert await workflow.drain(5) == 0
    assert oms_ships(peers) == [package_body(FIRST, "TB99001-1")]
    assert peers.bills == {}  # nothing booked before the order has all left
    receive(store, LAST, partial=False)
    workflow.start_shipment(TRADE_NO)
    assert await workflow.drain(5) == 0
    assert oms_ships(peers) == [
        package_body(FIRST, "TB99001-1"),
        package_body(LAST, "TB99001-1,TB99001-2"),
    ]
    assert peers.bills == {("SAL_OUTSTOCK", TRADE_NO): "C", ("AR_receivable", TRADE_NO): "C"}
    assert outstock_quantities(peers) == [3, 1]  # 2 + 1 of SKU-A, 1 of SKU-B


@pytest.mark.anyio
async def test_a_final_confirm_before_the_partial_one_waits_for_it(
    peers: Peers4, http: HttpClient, store: StateStore
) -> None:
    # Real time: the first retry is a minute away, so the step is seen waiting.
    workflow = make_workflow(store, http, policy=RetryPolicy(time_scale=1.0))
    receive(store, LAST, partial=False)
    workflow.start_shipment(TRADE_NO)
    await workflow.drain(0.5)
    for step in (Step.OMS_SHIPPED, Step.ERP_OUTSTOCK):
        waiting = store.step(TRADE_NO, step)
        assert waiting is not None and waiting.status is StepStatus.PENDING
        assert "2 of 4 units confirmed" in (waiting.last_error or "")
    assert oms_ships(peers) == []
    assert ("SAL_OUTSTOCK", TRADE_NO) not in peers.bills
    # The redelivered partial confirm comes: its package first, then the last one and the ERP.
    receive(store, FIRST, partial=True)
    for step in (Step.OMS_SHIPPED, Step.ERP_OUTSTOCK):
        store.schedule_retry(TRADE_NO, step, 0.0, "due now (test)")
    workflow.start_package("DO1-PARTDELIVERED-1")
    assert await workflow.drain(5) == 0
    workflow.start_shipment(TRADE_NO)
    assert await workflow.drain(5) == 0
    assert oms_ships(peers) == [
        package_body(FIRST, "TB99001-1"),
        package_body(LAST, "TB99001-1,TB99001-2"),
    ]
    assert outstock_quantities(peers) == [3, 1]
    assert store.pending_steps(TRADE_NO) & set(SHIPMENT_STEPS) == set()
    assert store.is_done("DO1-PARTDELIVERED-1", Step.OMS_PACKAGE)


@pytest.mark.anyio
async def test_no_package_of_a_cancelled_trade_is_marked(
    peers: Peers4, http: HttpClient, store: StateStore
) -> None:
    # The buyer cancelled after picking: the first package left all the same (the WMS
    # answered CANCELEDFAIL), and the trade must not look shipped in the OMS.
    workflow = make_workflow(store, http)
    store.cancel(make_trade(TRADE_NO, trade_status=5))
    receive(store, FIRST, partial=True)
    workflow.start_package("DO1-PARTDELIVERED-1")
    assert await workflow.drain(5) == 0
    assert oms_ships(peers) == []
    skipped = store.step("DO1-PARTDELIVERED-1", Step.OMS_PACKAGE)
    assert skipped is not None and skipped.status is StepStatus.SKIPPED


def intercepted_waybills(peers: Peers4) -> list[tuple[str, str | None]]:
    """(LogisticCode, OrderCode) of each Kdniao 1816 the connector sent."""
    forms = [f for f in peers.carrier_forms if f["RequestType"] == "1816"]
    return [
        (data["LogisticCode"], data.get("OrderCode"))
        for data in (orjson.loads(f["RequestData"]) for f in forms)
    ]


@pytest.mark.anyio
@pytest.mark.parametrize("packages_first", [False, True], ids=["canceledfail_first", "later"])
async def test_every_parcel_of_a_trade_cancelled_after_picking_is_intercepted(
    peers: Peers4, http: HttpClient, store: StateStore, packages_first: bool
) -> None:
    # The buyer cancelled once picking had started: the WMS answered CANCELEDFAIL and the
    # order left in two parcels. Both must be stopped; the second has a waybill of its own.
    workflow = make_workflow(store, http)
    store.cancel(make_trade(TRADE_NO, trade_status=5))
    if packages_first:
        receive(store, FIRST, partial=True)
        receive(store, LAST, partial=False)
    workflow.on_canceledfail(TRADE_NO)
    workflow.start_package("DO1-PARTDELIVERED-1")
    await workflow.run_step(TRADE_NO, Step.INTERCEPT)
    if not packages_first:
        receive(store, FIRST, partial=True)
        workflow.start_package("DO1-PARTDELIVERED-1")
        receive(store, LAST, partial=False)
        workflow.start_package("DO1-DELIVERED")
    assert await workflow.drain(5) == 0
    # The order's own waybill with the trade as OrderCode; the second one without (the WMS
    # asked the carrier for it under a code the connector never saw).
    assert sorted(intercepted_waybills(peers), key=str) == sorted(
        [(ORDER_WAYBILL, TRADE_NO), (SECOND_WAYBILL, None)], key=str
    )
    assert oms_ships(peers) == []  # nothing marked shipped for a cancelled trade
