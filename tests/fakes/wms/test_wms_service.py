"""The WMS service: delivery order states, stock, cancellation, backlog and confirm pushes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta

import httpx
import pytest
from lxml import etree

from fake_systems.common.context import SystemContext
from fake_systems.common.credentials import QimenCredentials
from fake_systems.common.faults import FaultRule
from fake_systems.wms.api.qimen_push import QimenPushes
from fake_systems.wms.models import (
    CANCELEDFAIL,
    ITEM_NOT_EXIST,
    ORDER_NOT_EXIST,
    OWNER_NOT_EXIST,
    STOCK_NOT_ENOUGH,
    WAREHOUSE_NOT_EXIST,
    DeliveryStatus,
)
from fake_systems.wms.service import WmsError, WmsService
from simulator.clock import CHINA, ManualClock, format_qimen_time
from simulator.world import World, build_world
from tests.support.pushes import mock_sender
from tests.support.wms import FIXED, RecordingCarrier, order, states, stock
from tests.support.wms import sign as independent_qimen_sign

CONFIRM = "taobao.qimen.deliveryorder.confirm"
STOCK_CHANGE = "taobao.qimen.stockchange.report"


@pytest.fixture
def carrier() -> RecordingCarrier:
    return RecordingCarrier()


@pytest.fixture
def wms(
    make_context: Callable[[str], SystemContext], world: World, carrier: RecordingCarrier
) -> WmsService:
    service = WmsService(make_context("wms"), QimenCredentials(), FIXED, carrier)
    service.setup(world)
    return service


def status(wms: WmsService, code: str) -> str:
    row = wms.conn.execute(
        "SELECT status FROM delivery_orders WHERE delivery_order_code = ?", (code,)
    ).fetchone()
    return str(row[0])


def count(wms: WmsService, table: str) -> int:
    return int(wms.conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])


def test_setup_seeds_master_data_and_stock(wms: WmsService, world: World) -> None:
    assert count(wms, "items") == len(world.skus)
    assert count(wms, "warehouses") == len(world.warehouses)
    assert count(wms, "stock") == len(world.initial_stock)
    (wh, item), qty = next(iter(world.initial_stock.items()))
    row = wms.conn.execute(
        "SELECT initial_qty, on_hand, reserved FROM stock"
        " WHERE warehouse_code = ? AND item_code = ?",
        (wh, item),
    ).fetchone()
    assert tuple(row) == (qty, qty, 0)


def test_order_walks_to_delivered_and_moves_stock(
    wms: WmsService, world: World, clock: ManualClock, carrier: RecordingCarrier
) -> None:
    wh = world.warehouses[0].code
    a, b = world.skus[0], world.skus[1]
    result = wms.create_delivery_order(order(world, lines=[(a.item_code, 2), (b.item_code, 1)]))
    assert result.created
    assert result.delivery_order_id.startswith("DO")
    row = wms.conn.execute("SELECT * FROM delivery_orders").fetchone()
    assert row["status"] == "NEW"
    assert row["source_order_code"] == "P-T0001"
    assert row["owner_code"] == "OWNER-A"
    assert row["created_sim"] == format_qimen_time(clock.now())
    assert stock(wms, wh, a.item_code) == (5000, 2)
    assert stock(wms, wh, b.item_code) == (5000, 1)

    clock.advance(29)
    assert status(wms, "T0001") == "NEW"
    clock.advance(2)  # t=31: accepted at 30 and a picker was free at once
    assert status(wms, "T0001") == "PICK"
    clock.advance(100)  # t=131: picked at 130
    assert status(wms, "T0001") == "PACKAGE"
    assert stock(wms, wh, a.item_code) == (5000, 2)
    clock.advance(50)  # t=181: packed and shipped at 180
    assert status(wms, "T0001") == "DELIVERED"
    assert states(wms, "T0001") == ["NEW", "ACCEPT", "PICK", "PACKAGE", "DELIVERED"]

    assert stock(wms, wh, a.item_code) == (4998, 0)
    assert stock(wms, wh, b.item_code) == (4999, 0)
    row = wms.conn.execute("SELECT * FROM delivery_orders").fetchone()
    assert row["delivered_sim"] == format_qimen_time(clock.epoch + timedelta(seconds=180))
    assert row["created_wall"] < row["delivered_wall"] <= clock.wall()
    actual = wms.conn.execute(
        "SELECT item_code, actual_qty FROM delivery_order_lines ORDER BY order_line_no"
    ).fetchall()
    assert [tuple(r) for r in actual] == [(a.item_code, 2), (b.item_code, 1)]

    ledger = wms.conn.execute(
        "SELECT item_code, field, change, balance_after, reason FROM stock_ledger ORDER BY seq"
    ).fetchall()
    assert [tuple(r) for r in ledger] == [
        (a.item_code, "reserved", 2, 2, "reserve"),
        (b.item_code, "reserved", 1, 1, "reserve"),
        (a.item_code, "on_hand", -2, 4998, "ship"),
        (a.item_code, "reserved", -2, 0, "ship"),
        (b.item_code, "on_hand", -1, 4999, "ship"),
        (b.item_code, "reserved", -1, 0, "ship"),
    ]
    # The express code came with the order, so no waybill was asked for; the parcel left.
    assert carrier.waybills == []
    weight = round(a.weight_kg * 2 + b.weight_kg, 3)
    assert carrier.handed_over == [("SF1234567890", "SF", pytest.approx(weight))]


def test_waybill_is_issued_at_shipping_when_none_given(
    wms: WmsService, world: World, clock: ManualClock, carrier: RecordingCarrier
) -> None:
    wms.create_delivery_order(order(world, express=None))
    clock.advance(179)
    assert carrier.waybills == []
    clock.advance(2)
    assert carrier.waybills == [("T0001", "SF")]
    express = wms.query_delivery_order("T0001").express_code
    assert express == "SF900000000001"
    assert carrier.handed_over[0][0] == express


@pytest.mark.parametrize(("qimen", "kdniao"), [("YUNDA", "YD"), ("POSTB", "YZPY"), ("ZTO", "ZTO")])
def test_the_carrier_is_asked_in_its_own_codes(
    wms: WmsService,
    world: World,
    clock: ManualClock,
    carrier: RecordingCarrier,
    qimen: str,
    kdniao: str,
) -> None:
    """The order's Qimen logisticsCode becomes the Kdniao ShipperCode at the carrier."""
    wms.create_delivery_order(replace(order(world, express=None), logistics_code=qimen))
    clock.advance(181)
    assert carrier.waybills == [("T0001", kdniao)]
    assert [shipper for _, shipper, _ in carrier.handed_over] == [kdniao]
    assert wms.query_delivery_order("T0001").logistics_code == qimen  # the WMS keeps Qimen's


def test_create_is_idempotent_on_owner_and_code(wms: WmsService, world: World) -> None:
    first = wms.create_delivery_order(order(world))
    again = wms.create_delivery_order(order(world))
    assert again.delivery_order_id == first.delivery_order_id
    assert again.created is False
    assert count(wms, "delivery_orders") == 1
    assert count(wms, "delivery_order_lines") == 1
    assert stock(wms, world.warehouses[0].code, world.skus[0].item_code) == (5000, 2)
    # Another owner may use the same code: that is a different order (on its own waybill).
    other = wms.create_delivery_order(order(world, owner="OWNER-B", express=None))
    assert other.delivery_order_id != first.delivery_order_id
    assert count(wms, "delivery_orders") == 2


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"lines": [("9999999999999999", 1)]}, ITEM_NOT_EXIST),
        ({"warehouse": "WH-NOWHERE"}, WAREHOUSE_NOT_EXIST),
        ({"owner": "OWNER-Z"}, OWNER_NOT_EXIST),
    ],
)
def test_refusals_leave_nothing_behind(
    wms: WmsService, world: World, kwargs: dict[str, object], code: str
) -> None:
    with pytest.raises(WmsError) as caught:
        wms.create_delivery_order(order(world, **kwargs))  # type: ignore[arg-type]
    assert caught.value.code == code
    assert count(wms, "delivery_orders") == 0
    assert count(wms, "stock_ledger") == 0


def test_insufficient_stock_is_refused_atomically(wms: WmsService, world: World) -> None:
    wh = world.warehouses[0].code
    a, b = world.skus[0].item_code, world.skus[1].item_code
    # The first line alone would fit; the second does not, so the first must not stay reserved.
    with pytest.raises(WmsError) as caught:
        wms.create_delivery_order(order(world, lines=[(a, 10), (b, 5001)]))
    assert caught.value.code == STOCK_NOT_ENOUGH
    assert "5000" in caught.value.message
    assert stock(wms, wh, a) == (5000, 0)
    assert count(wms, "delivery_orders") == 0
    assert count(wms, "delivery_order_lines") == 0
    assert count(wms, "stock_ledger") == 0
    assert states(wms, "T0001") == []


def test_availability_counts_reservations(wms: WmsService, world: World) -> None:
    item = world.skus[0].item_code
    wms.create_delivery_order(order(world, code="T1", lines=[(item, 3000)]))
    # The same item twice on one order: together they exceed what is left.
    with pytest.raises(WmsError) as caught:
        wms.create_delivery_order(order(world, code="T2", lines=[(item, 1000), (item, 1001)]))
    assert caught.value.code == STOCK_NOT_ENOUGH
    exact = wms.create_delivery_order(order(world, code="T3", lines=[(item, 1000), (item, 1000)]))
    assert exact.created
    assert stock(wms, world.warehouses[0].code, item) == (5000, 5000)


def test_cancel_in_new_releases_stock_and_stops_fulfilment(
    wms: WmsService, world: World, clock: ManualClock, carrier: RecordingCarrier
) -> None:
    item = world.skus[0].item_code
    wms.create_delivery_order(order(world))
    assert wms.cancel_order("T0001") is DeliveryStatus.CANCELED
    assert stock(wms, world.warehouses[0].code, item) == (5000, 0)
    clock.advance(1000)
    assert status(wms, "T0001") == "CANCELED"
    assert states(wms, "T0001") == ["NEW", "CANCELED"]
    assert carrier.handed_over == []
    # Cancelling again is a success, and releases nothing twice.
    assert wms.cancel_order("T0001") is DeliveryStatus.CANCELED
    reasons = [r[0] for r in wms.conn.execute("SELECT reason FROM stock_ledger ORDER BY seq")]
    assert reasons == ["reserve", "cancel"]
    assert stock(wms, world.warehouses[0].code, item) == (5000, 0)


@pytest.fixture
def one_picker_wms(
    make_context: Callable[[str], SystemContext], carrier: RecordingCarrier
) -> tuple[WmsService, World]:
    small = build_world(seed=3, sku_count=5, customer_count=5, pickers=1, packers=1)
    service = WmsService(make_context("wms"), QimenCredentials(), FIXED, carrier)
    service.setup(small)
    return service, small


def test_backlog_builds_with_one_picker(
    one_picker_wms: tuple[WmsService, World], clock: ManualClock
) -> None:
    wms, small = one_picker_wms
    for n in range(3):
        wms.create_delivery_order(order(small, code=f"T{n}"))
    clock.advance(31)
    assert [status(wms, f"T{n}") for n in range(3)] == ["PICK", "ACCEPT", "ACCEPT"]
    clock.advance(100)
    assert [status(wms, f"T{n}") for n in range(3)] == ["PACKAGE", "PICK", "ACCEPT"]
    clock.advance(100)
    assert [status(wms, f"T{n}") for n in range(3)] == ["DELIVERED", "PACKAGE", "PICK"]
    clock.advance(200)
    delivered = [
        r[0]
        for r in wms.conn.execute(
            "SELECT delivered_sim FROM delivery_orders ORDER BY delivery_order_code"
        )
    ]
    expected = [format_qimen_time(clock.epoch + timedelta(seconds=s)) for s in (180, 280, 380)]
    assert delivered == expected


def test_cancel_while_queued_for_a_picker(
    one_picker_wms: tuple[WmsService, World], clock: ManualClock, carrier: RecordingCarrier
) -> None:
    wms, small = one_picker_wms
    for n in range(3):
        wms.create_delivery_order(order(small, code=f"T{n}"))
    clock.advance(31)
    assert status(wms, "T1") == "ACCEPT"
    wms.cancel_order("T1")
    clock.advance(1000)
    assert [status(wms, f"T{n}") for n in range(3)] == ["DELIVERED", "CANCELED", "DELIVERED"]
    assert states(wms, "T1") == ["NEW", "ACCEPT", "CANCELED"]
    # T2 took T1's turn at the picker: shipped at 280 instead of 380.
    t2 = wms.query_delivery_order("T2")
    assert t2.delivered_sim == format_qimen_time(clock.epoch + timedelta(seconds=280))
    assert len(carrier.handed_over) == 2
    item = small.skus[0].item_code
    assert stock(wms, small.warehouses[0].code, item) == (4996, 0)


def test_cancel_refused_once_picking_started(
    wms: WmsService, world: World, clock: ManualClock
) -> None:
    wms.create_delivery_order(order(world))
    clock.advance(31)
    assert status(wms, "T0001") == "PICK"
    with pytest.raises(WmsError) as caught:
        wms.cancel_order("T0001")
    assert caught.value.code == CANCELEDFAIL
    assert stock(wms, world.warehouses[0].code, world.skus[0].item_code) == (5000, 2)
    clock.advance(200)
    assert status(wms, "T0001") == "DELIVERED"
    with pytest.raises(WmsError) as caught:
        wms.cancel_order("T0001")
    assert caught.value.code == CANCELEDFAIL


def test_unknown_order_is_reported(wms: WmsService) -> None:
    for call in (lambda: wms.query_delivery_order("NOPE"), lambda: wms.cancel_order("NOPE")):
        with pytest.raises(WmsError) as caught:
            call()
        assert caught.value.code == ORDER_NOT_EXIST


def test_query_shows_lines_and_status(wms: WmsService, world: World, clock: ManualClock) -> None:
    created = wms.create_delivery_order(order(world))
    view = wms.query_delivery_order("T0001", owner_code="OWNER-A")
    assert view.delivery_order_id == created.delivery_order_id
    assert view.status is DeliveryStatus.NEW
    assert [(ln.item_code, ln.plan_qty, ln.actual_qty) for ln in view.lines] == [
        (world.skus[0].item_code, 2, 0)
    ]
    with pytest.raises(WmsError):
        wms.query_delivery_order("T0001", owner_code="OWNER-B")


# ------------------------------------------------------------------ confirm push


@pytest.mark.anyio
async def test_a_skewed_wms_stamps_its_confirm_with_its_own_clock(
    make_context: Callable[[str], SystemContext], world: World, clock: ManualClock
) -> None:
    """`clock_skew` +300 s: the confirm's `timestamp` and `orderConfirmTime` are 5 minutes
    ahead, while what the WMS keeps (delivered_sim) and the history stay on the true clock."""
    received: list[httpx.Request] = []

    def connector(request: httpx.Request) -> httpx.Response:
        received.append(request)
        return httpx.Response(200, text="<response><flag>success</flag></response>")

    ctx = make_context("wms")
    ctx.faults.add(FaultRule("wms", "*", "clock_skew", rate=1.0, params={"seconds": 300}))
    ctx.dispatcher.sender = mock_sender(connector)
    wms = WmsService(ctx, QimenCredentials(), FIXED, RecordingCarrier())
    wms.setup(world)
    QimenPushes.attach(wms, QimenCredentials())
    wms.confirm_callback_url = "http://connector.test/qimen/callback"
    wms.create_delivery_order(order(world, lines=[(world.skus[0].item_code, 1)]))
    wall_at_push = clock.wall()
    clock.advance(181)
    await ctx.dispatcher.drain(5)

    # The shipment's stock change is reported too (on by default): the confirm is the one here.
    (request,) = [r for r in received if r.url.params["method"] == CONFIRM]
    shipped = clock.epoch + timedelta(seconds=180)
    assert request.url.params["timestamp"] == format_qimen_time(
        datetime.fromtimestamp(wall_at_push + 300, CHINA)
    )
    confirm_time = etree.fromstring(request.content).findtext("deliveryOrder/orderConfirmTime")
    assert confirm_time == format_qimen_time(shipped + timedelta(seconds=300))
    kept = ctx.conn.execute("SELECT delivered_sim FROM delivery_orders").fetchone()[0]
    assert kept == format_qimen_time(shipped)
    faults = ctx.conn.execute(
        "SELECT operation, outcome, sim_time FROM events WHERE kind = 'fault'"
    ).fetchall()
    # One row, the first time the skewed clock was read: for the shipment's stock change
    # report (on by default), stamped before the confirm.
    assert [(row[0], row[1]) for row in faults] == [("stockchange.report", "clock_skew")]
    assert faults[0][2] == format_qimen_time(shipped)  # the row itself on the true clock


@pytest.mark.anyio
async def test_delivered_order_pushes_a_signed_confirm(
    make_context: Callable[[str], SystemContext], world: World, clock: ManualClock
) -> None:
    received: list[httpx.Request] = []

    def connector(request: httpx.Request) -> httpx.Response:
        received.append(request)
        return httpx.Response(
            200, text="<response><flag>success</flag><code>0</code><message>ok</message></response>"
        )

    credentials = QimenCredentials()
    ctx = make_context("wms")
    ctx.dispatcher.sender = mock_sender(connector)
    wms = WmsService(ctx, credentials, FIXED, RecordingCarrier())
    wms.setup(world)
    QimenPushes.attach(wms, credentials)  # the protocol side renders the service's events
    wms.confirm_callback_url = "http://connector.test/qimen/callback"
    a, b = world.skus[0], world.skus[1]
    created = wms.create_delivery_order(order(world, lines=[(a.item_code, 2), (b.item_code, 1)]))
    wall_at_push = clock.wall()  # the manual clock moves wall time only after each advance
    clock.advance(181)
    await ctx.dispatcher.drain(5)

    # One confirm, after the shipment's stock change report (on by default).
    assert [r.url.params["method"] for r in received] == [STOCK_CHANGE, CONFIRM]
    request = received[1]
    assert request.url.path == "/qimen/callback"
    params = dict(request.url.params)
    assert params["method"] == "taobao.qimen.deliveryorder.confirm"
    assert params["app_key"] == credentials.app_key
    assert params["customerId"] == credentials.customer_id
    assert (params["format"], params["v"], params["sign_method"]) == ("xml", "2.0", "md5")
    assert params["timestamp"] == format_qimen_time(datetime.fromtimestamp(wall_at_push, CHINA))
    body = request.content.decode()
    assert params["sign"] == independent_qimen_sign(credentials.secret, params, body)
    assert params["sign"] != independent_qimen_sign("wrong-secret", params, body)

    root = etree.fromstring(request.content)
    assert root.tag == "request"
    d = root.find("deliveryOrder")
    assert d is not None
    assert d.findtext("deliveryOrderCode") == "T0001"
    assert d.findtext("deliveryOrderId") == created.delivery_order_id
    assert d.findtext("warehouseCode") == world.warehouses[0].code
    assert d.findtext("orderType") == "JYCK"
    assert d.findtext("status") == "DELIVERED"
    assert d.findtext("outBizCode") == f"{created.delivery_order_id}-DELIVERED"
    assert d.findtext("confirmType") == "0"
    assert d.findtext("logisticsCode") == "SF"
    assert d.findtext("expressCode") == "SF1234567890"
    assert d.findtext("orderConfirmTime") == format_qimen_time(clock.epoch + timedelta(seconds=180))
    package = root.find("packages/package")
    assert package is not None
    assert package.findtext("expressCode") == "SF1234567890"
    assert float(package.findtext("weight") or 0) == pytest.approx(a.weight_kg * 2 + b.weight_kg)
    items = [(i.findtext("itemCode"), i.findtext("quantity")) for i in package.iter("item")]
    assert items == [(a.item_code, "2"), (b.item_code, "1")]
    lines = [
        tuple(line.findtext(k) for k in ("orderLineNo", "itemCode", "planQty", "actualQty"))
        for line in root.iter("orderLine")
    ]
    assert lines == [("1", a.item_code, "2", "2"), ("2", b.item_code, "1", "1")]

    outcomes = ctx.conn.execute(
        "SELECT outcome, entity FROM events WHERE kind = 'push_out'"
    ).fetchall()
    assert [tuple(r) for r in outcomes] == [("ok", "T0001"), ("ok", "T0001")]
    assert ctx.dispatcher.delivered == 2


@pytest.mark.anyio
async def test_confirm_not_accepted_unless_flag_success(
    make_context: Callable[[str], SystemContext], world: World, clock: ManualClock
) -> None:
    def connector(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text="<response><flag>failure</flag><code>x</code></response>")

    ctx = make_context("wms")
    ctx.dispatcher.sender = mock_sender(connector)
    ctx.dispatcher.retry_sim_seconds = ()  # one attempt: the verdict is what matters here
    wms = WmsService(ctx, QimenCredentials(), FIXED, RecordingCarrier())
    wms.setup(world)
    QimenPushes.attach(wms, wms.credentials)
    wms.confirm_callback_url = "http://connector.test/cb"
    wms.create_delivery_order(order(world))
    clock.advance(181)
    await ctx.dispatcher.drain(5)
    outcomes = [r[0] for r in ctx.conn.execute("SELECT outcome FROM events WHERE kind='push_out'")]
    # The confirm and the shipment's stock change report (on by default), each refused once.
    assert outcomes == ["refused:200", "refused:200"]
    assert ctx.dispatcher.abandoned == 2
