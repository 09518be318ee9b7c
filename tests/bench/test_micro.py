"""Micro-benchmarks of the hot paths, so regressions show (`make bench` prints the figures).

Under `make test` they run once each as plain tests (pytest-benchmark is disabled there).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fake_systems.common.context import SystemContext
from fake_systems.common.credentials import OmsCredentials
from fake_systems.common.signing import kdniao_data_sign, qimen_sign, wdt_sign
from fake_systems.common.storage import transaction
from fake_systems.oms.service import OmsService
from fake_systems.wms.qimen_xml import parse_request, text
from simulator.demand import DemandModel
from simulator.scenario import DemandSettings
from simulator.world import World

QIMEN_PARAMS = {
    "method": "taobao.qimen.deliveryorder.create",
    "timestamp": "2026-11-11 00:00:01",
    "format": "xml",
    "app_key": "qm_abcdef",
    "v": "2.0",
    "sign_method": "md5",
    "customerId": "ECOMOCK_CUST",
}
CREATE_BODY = (
    "<request><deliveryOrder><deliveryOrderCode>2026111100000001</deliveryOrderCode>"
    "<orderType>JYCK</orderType><warehouseCode>WH-GZ01</warehouseCode>"
    "<receiverInfo><name>张三</name><mobile>13800000000</mobile><province>广东省</province>"
    "<city>广州市</city><area>天河区</area><detailAddress>体育西路1号</detailAddress></receiverInfo>"
    "</deliveryOrder><orderLines>"
    + "".join(
        f"<orderLine><orderLineNo>{i}</orderLineNo><ownerCode>OWNER-A</ownerCode>"
        f"<itemCode>10000000000000{i:02d}</itemCode><planQty>2</planQty></orderLine>"
        for i in range(3)
    )
    + "</orderLines></request>"
)
Bench = Callable[..., Any]


def test_qimen_sign(benchmark: Bench) -> None:
    sign = benchmark(qimen_sign, "secret", QIMEN_PARAMS, CREATE_BODY)
    assert len(sign) == 32 and sign.isupper()


def test_kdniao_data_sign(benchmark: Bench) -> None:
    assert benchmark(kdniao_data_sign, '{"OrderCode":"1"}', "key").endswith("=")


def test_wdt_sign(benchmark: Bench) -> None:
    params = {"sid": "s", "key": "k", "method": "m", "timestamp": "1", "v": "1.0", "body": "{}"}
    assert len(benchmark(wdt_sign, "secret", params)) == 32


def test_qimen_xml_parse(benchmark: Bench) -> None:
    body = CREATE_BODY.encode()

    def parse() -> str | None:
        return text(parse_request(body), "deliveryOrder/deliveryOrderCode")

    assert benchmark(parse) == "2026111100000001"


def test_history_writes_100_per_transaction(
    benchmark: Bench, make_context: Callable[[str], SystemContext]
) -> None:
    ctx = make_context("wms")

    def write() -> None:
        with transaction(ctx.conn):
            for i in range(100):
                ctx.history.record("api_in", "deliveryorder.create", "ok", f"T{i}", {"n": i})

    benchmark(write)
    assert ctx.conn.execute("SELECT count(*) FROM events").fetchone()[0] >= 100


def test_demand_next_trade(benchmark: Bench, world: World) -> None:
    model = DemandModel(world, DemandSettings(orders_per_hour=100), seed=1)
    assert benchmark(model.next_trade).lines


def test_oms_create_paid_order(
    benchmark: Bench, world: World, make_context: Callable[[str], SystemContext]
) -> None:
    oms = OmsService(make_context("oms"), OmsCredentials())
    oms.setup(world)
    model = DemandModel(world, DemandSettings(orders_per_hour=100), seed=1)
    assert len(benchmark(lambda: oms.create_paid_order(model.next_trade()))) == 16
