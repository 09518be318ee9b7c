"""Micro-benchmarks of the hot paths, so regressions show (`make bench` prints the figures).

Under `make test` they run once each as plain tests (pytest-benchmark is disabled there).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from connectors.reference.mapper import TradeMapper
from contract_tests.database import attach_run
from contract_tests.invariants import run_invariants
from fake_systems.common.context import SystemContext
from fake_systems.common.credentials import OmsCredentials
from fake_systems.common.signing import kdniao_data_sign, qimen_sign, wdt_sign
from fake_systems.common.storage import transaction
from fake_systems.erp.api.k3 import form_request
from fake_systems.oms.service import OmsService
from fake_systems.wms import qimen_xml
from fake_systems.wms.qimen_xml import parse_request, text
from load.bench.judge_scale import build
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


MID_ORDERS = 5_000
LOST_EVERY = 500


@pytest.fixture(scope="module")
def mid_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[sqlite3.Connection]:
    """A synthetic run of 5,000 orders and 50,000 events (load/bench/judge_scale.py)."""
    run_dir = tmp_path_factory.mktemp("mid-run")
    build(run_dir, MID_ORDERS, events=50_000, lost_every=LOST_EVERY)
    conn = attach_run(Path(run_dir))
    yield conn
    conn.close()


def test_invariants_on_mid_size_run(benchmark: Bench, mid_run: sqlite3.Connection) -> None:
    results = benchmark(run_invariants, mid_run)
    failing = {r.name: r.violations for r in results if not r.passed}
    assert failing == {"no_lost_orders": MID_ORDERS // LOST_EVERY}


K3_SAVE = {
    "formid": "SAL_OUTSTOCK",
    "data": {
        "Model": {
            "FBillNo": "2026111100000001",
            "FDate": "2026-11-11 00:00:01",
            "FCustomerID": {"FNumber": "TM-A"},
            "FEntity": [
                {
                    "FMaterialID": {"FNumber": f"10000000000000{i:02d}"},
                    "FRealQty": 2,
                    "FTaxPrice": "49.90",
                    "FAllAmount": "99.80",
                }
                for i in range(3)
            ],
        }
    },
}


def test_k3_json_decode(benchmark: Bench) -> None:
    raw = orjson.dumps(K3_SAVE)

    def decode() -> tuple[str | None, dict[str, Any]]:
        return form_request(orjson.loads(raw), "Save")

    form_id, data = benchmark(decode)
    assert form_id == "SAL_OUTSTOCK" and data["Model"]["FBillNo"] == "2026111100000001"


def test_k3_json_encode(benchmark: Bench) -> None:
    assert orjson.loads(benchmark(orjson.dumps, K3_SAVE)) == K3_SAVE


def test_qimen_xml_encode_confirm(benchmark: Bench) -> None:
    order = {
        "delivery_order_code": "2026111100000001",
        "delivery_order_id": "DO00000001",
        "owner_code": "OWNER-A",
        "warehouse_code": "WH-GZ01",
        "order_type": "JYCK",
        "logistics_code": "SF",
        "delivered_sim": "2026-11-11 00:05:00",
    }
    lines = [
        {"order_line_no": str(i), "item_code": f"10000000000000{i:02d}", "plan_qty": 2,
         "actual_qty": 2}
        for i in range(3)
    ]  # fmt: skip
    body = benchmark(qimen_xml.confirm_body, order, lines, "SF000000000001", 1.5, "DO1-DELIVERED")
    root = parse_request(body.encode())
    assert text(root, "deliveryOrder/deliveryOrderCode") == "2026111100000001"
    assert len(root.findall("packages/package/items/item")) == 3


def test_qimen_xml_encode_create(benchmark: Bench) -> None:
    trade = {
        "trade_no": "2026111100000001",
        "warehouse_no": "WH-GZ01",
        "shop_no": "TM-A",
        "logistics_code": "SF",
        "owner_code": "OWNER-A",
        "paid": "99.80",
        "detail_list": [
            {"rec_id": i, "spec_no": f"10000000000000{i:02d}", "num": 2, "share_amount": "33.26"}
            for i in range(3)
        ],
    }
    body = benchmark(TradeMapper().delivery_order_xml, trade, "2026111100000001", "SF1")
    assert text(parse_request(body.encode()), "deliveryOrder/deliveryOrderCode") == (
        "2026111100000001"
    )
