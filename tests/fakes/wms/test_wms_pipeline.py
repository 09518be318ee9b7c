"""The WMS on the shared pipeline, and its service speaking the domain: a lost answer on any
operation, a bug logged and answered in the request's format with nothing changed, and
the service's events without any protocol attached."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from datetime import datetime

import httpx
import orjson
import pytest
from lxml import etree

from fake_systems.common.context import SystemContext
from fake_systems.common.credentials import QimenCredentials
from fake_systems.common.faults import FaultInjector, FaultRule
from fake_systems.wms.api.qimen import create_app
from fake_systems.wms.events import PackageShipped, ReportLine, StockChanged, WmsEvent
from fake_systems.wms.models import DeliveryOrderRequest, OrderLineRequest
from fake_systems.wms.service import WmsConfig, WmsService
from simulator.clock import CHINA, ManualClock, format_qimen_time
from simulator.world import World
from tests.support.wms import LINE_PRICE, ORDER_EXTRAS, as_json_request

FIXED = WmsConfig(accept_seconds=(30, 30), pick_seconds=(100, 100), pack_seconds=(50, 50))
PATH = "/router/qimen/service"
CREDS = QimenCredentials(app_key="qm_pipe", secret="pipe-secret", customer_id="ECOMOCK_CUST")
WALL_NOW = format_qimen_time(datetime.fromtimestamp(ManualClock().wall(), CHINA))

pytestmark = pytest.mark.anyio


def signed(method: str, body: str, fmt: str = "xml") -> dict[str, str]:
    """A Qimen envelope, signed as docs/protocols/wms.md describes (not the fake's helper)."""
    params = {
        "method": f"taobao.qimen.{method}",
        "timestamp": WALL_NOW,
        "format": fmt,
        "app_key": CREDS.app_key,
        "v": "2.0",
        "sign_method": "md5",
        "customerId": CREDS.customer_id,
    }
    joined = "".join(k + params[k] for k in sorted(params) if k != "sign")
    digest = hashlib.md5(f"{CREDS.secret}{joined}{body}{CREDS.secret}".encode()).hexdigest()
    params["sign"] = digest.upper()
    return params


def create_body(world: World, code: str = "P1") -> str:
    return (
        f"<request><deliveryOrder><deliveryOrderCode>{code}</deliveryOrderCode>"
        f"<orderType>JYCK</orderType><warehouseCode>{world.warehouses[0].code}</warehouseCode>"
        f"{ORDER_EXTRAS}<logisticsCode>SF</logisticsCode></deliveryOrder><orderLines><orderLine>"
        f"<ownerCode>OWNER-A</ownerCode><itemCode>{world.skus[0].item_code}</itemCode>"
        f"<planQty>2</planQty>{LINE_PRICE}</orderLine></orderLines></request>"
    )


def entry_body(world: World, code: str = "E1") -> str:
    return (
        f"<request><entryOrder><entryOrderCode>{code}</entryOrderCode>"
        f"<ownerCode>OWNER-A</ownerCode><warehouseCode>{world.warehouses[0].code}"
        "</warehouseCode><orderType>CGRK</orderType></entryOrder><orderLines>"
        f"<orderLine><itemCode>{world.skus[0].item_code}</itemCode><planQty>5</planQty>"
        "</orderLine></orderLines></request>"
    )


@pytest.fixture
def wms(make_context: Callable[[str], SystemContext], world: World) -> WmsService:
    service = WmsService(make_context("wms"), CREDS, FIXED)
    service.setup(world)
    return service


@pytest.fixture
def client(
    wms: WmsService, asgi_client: Callable[[object], httpx.AsyncClient]
) -> httpx.AsyncClient:
    return asgi_client(create_app(wms, CREDS))


async def post(
    client: httpx.AsyncClient, method: str, body: str, fmt: str = "xml"
) -> httpx.Response:
    return await client.post(PATH, params=signed(method, body, fmt), content=body.encode())


def count(wms: WmsService, table: str) -> int:
    return int(wms.conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])


def last_events(wms: WmsService, kind: str) -> list[tuple[str, str, str | None]]:
    rows = wms.conn.execute(
        "SELECT operation, outcome, entity FROM events WHERE kind = ? ORDER BY seq", (kind,)
    )
    return [tuple(row) for row in rows]


@pytest.mark.parametrize(
    ("operation", "table"),
    [("entryorder.create", "inbound_orders"), ("deliveryorder.batchcreate", "delivery_orders")],
)
async def test_a_lost_answer_hits_any_operation_a_scenario_names(
    client: httpx.AsyncClient, wms: WmsService, world: World, operation: str, table: str
) -> None:
    # Before the pipeline only deliveryorder.create could lose its answer; a scenario naming
    # another operation was accepted and its fault never fired.
    wms.ctx.faults = FaultInjector([FaultRule("wms", operation, "lost_response", 1.0)], seed=1)
    if operation == "entryorder.create":
        body, entity = entry_body(world), "E1"
    else:
        body = f"<request><orders><order>{create_body(world)[9:-10]}</order></orders></request>"
        entity = "P1"
    lost = await post(client, operation, body)
    assert (lost.status_code, lost.content) == (504, b"")
    assert count(wms, table) == 1  # the work was done and committed
    assert last_events(wms, "fault") == [(operation, "lost_response", entity)]
    assert last_events(wms, "api_in") == [(operation, "ok", entity)]


@pytest.mark.parametrize("fmt", ["xml", "json"])
async def test_a_bug_is_logged_answered_as_qimen_and_changes_nothing(
    client: httpx.AsyncClient,
    wms: WmsService,
    world: World,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    fmt: str,
) -> None:
    def broken_start(order_id: str, code: str, warehouse: str) -> None:
        raise RuntimeError("a bug after the order was written")

    monkeypatch.setattr(wms.fulfilment, "start", broken_start)
    body = create_body(world)
    if fmt == "json":
        body = orjson.dumps({"request": as_json_request(body)}).decode()
    with caplog.at_level(logging.ERROR):
        response = await post(client, "deliveryorder.create", body, fmt)
    assert response.status_code == 200
    if fmt == "json":
        answer = response.json()["response"]
        flag, code = answer["flag"], answer["code"]
    else:
        tree = etree.fromstring(response.content)
        flag, code = tree.findtext("flag"), tree.findtext("code")
    assert (flag, code) == ("failure", "isp.unknown-error")
    assert "a bug" not in response.text  # no internals on the wire
    assert any(r.exc_info and "a bug after" in str(r.exc_info[1]) for r in caplog.records)
    assert count(wms, "delivery_orders") == 0  # the half-done create was rolled back
    assert wms.conn.execute("SELECT SUM(reserved) FROM stock").fetchone()[0] == 0
    assert last_events(wms, "api_in") == [("deliveryorder.create", "isp.unknown-error", "P1")]


async def test_the_service_emits_domain_events_without_any_protocol(
    wms: WmsService, world: World, clock: ManualClock
) -> None:
    heard: list[WmsEvent] = []
    wms.listen(heard.append)
    wms.config = WmsConfig(**{**FIXED.__dict__, "stock_change_reports": True})
    item = world.skus[0].item_code
    line = OrderLineRequest("1", item, 2, owner_code="OWNER-A")
    order = DeliveryOrderRequest("D1", world.warehouses[0].code, "JYCK", "SF", (line,))
    created = wms.create_delivery_order(order)
    clock.advance(181)
    stock, shipped = heard
    assert isinstance(stock, StockChanged) and isinstance(shipped, PackageShipped)
    assert [(m.item_code, m.quantity) for m in stock.moves] == [(item, -2)]
    assert (shipped.order.code, shipped.order.order_id) == ("D1", created.delivery_order_id)
    assert shipped.order.owner_code == "OWNER-A" and shipped.final
    assert shipped.lines == (ReportLine("1", "OWNER-A", item, "ZP", 2, 2),)
    assert shipped.out_biz_code == f"{created.delivery_order_id}-DELIVERED"
