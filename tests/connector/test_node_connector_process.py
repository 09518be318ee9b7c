"""The Node.js connector's process alone (no fakes): its callbacks verify signatures, store a
push before acknowledging it, de-duplicate after a restart, and its journal survives a crash
cut mid-line; a missing variable stops it with exit code 2."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest

from fake_systems.common.signing import kdniao_data_sign, qimen_sign
from simulator.runner import free_port
from tests.support.paths import ROOT

NODE_DIR = ROOT / "connectors" / "node-reference"
WMS_SECRET = "wms-secret"
API_KEY = "kdniao-key"
READY_SECONDS = 15.0

CONFIRM = """<?xml version="1.0" encoding="utf-8"?><request>
<deliveryOrder><deliveryOrderCode>2026111000000001</deliveryOrderCode>
<deliveryOrderId>DO00000000000001</deliveryOrderId><ownerCode>OWNER-A</ownerCode>
<warehouseCode>WH-GZ01</warehouseCode><status>DELIVERED</status>
<outBizCode>DO00000000000001-DELIVERED</outBizCode><confirmType>0</confirmType>
<logisticsCode>SF</logisticsCode><expressCode>SF000000000001</expressCode></deliveryOrder>
<orderLines><orderLine><orderLineNo>1</orderLineNo><itemCode>I1</itemCode>
<actualQty>2</actualQty></orderLine></orderLines></request>"""
TRADE = {
    "trade_no": "2026111000000001",
    "trade_status": 30,
    "owner_code": "OWNER-A",
    "shop_no": "JD-A",
    "warehouse_no": "WH-GZ01",
    "logistics_code": "SF",
    "paid": 20.0,
    "detail_list": [{"rec_id": 1, "spec_no": "I1", "num": 2, "share_amount": 20.0}],
}


def environment(state: Path, port: int) -> dict[str, str]:
    """Every peer at a closed port: polls and steps fail and retry, the callbacks still work."""
    closed = "http://127.0.0.1:9"
    return {
        "PATH": os.environ["PATH"],
        "ECOMOCK_OMS_URL": closed,
        "ECOMOCK_OMS_SID": "sid",
        "ECOMOCK_OMS_APP_KEY": "key",
        "ECOMOCK_OMS_APP_SECRET": "secret:salt",
        "ECOMOCK_OMS_QIMEN_APP_KEY": "qm",
        "ECOMOCK_OMS_QIMEN_SECRET": "qms",
        "ECOMOCK_OMS_QIMEN_TARGET_APP_KEY": "target",
        "ECOMOCK_WMS_URL": closed,
        "ECOMOCK_WMS_APP_KEY": "wms-key",
        "ECOMOCK_WMS_SECRET": WMS_SECRET,
        "ECOMOCK_WMS_CUSTOMER_ID": "CUST",
        "ECOMOCK_CARRIER_URL": closed,
        "ECOMOCK_CARRIER_EBUSINESS_ID": "1234567",
        "ECOMOCK_CARRIER_API_KEY": API_KEY,
        "ECOMOCK_ERP_URL": closed,
        "ECOMOCK_ERP_ACCT_ID": "acct",
        "ECOMOCK_ERP_USERNAME": "user",
        "ECOMOCK_ERP_PASSWORD": "password",
        "ECOMOCK_CONNECTOR_PORT": str(port),
        "ECOMOCK_STATE_DIR": str(state),
        "ECOMOCK_TIME_SCALE": "720",
        "NODE_REFERENCE_POLL_SECONDS": "1",
    }


class Node:
    """The connector's process on a free port; stopped with SIGTERM."""

    def __init__(self, state: Path, log: Path) -> None:
        self.port = free_port()
        self.log = log
        with log.open("ab") as out:
            self.process = subprocess.Popen(
                ["node", str(NODE_DIR / "main.js")],
                env=environment(state, self.port),
                stdout=out,
                stderr=out,
            )
        self.url = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + READY_SECONDS
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.05)  # polling for readiness, bounded by the deadline
        self.stop()
        raise AssertionError(f"node connector not ready: {log.read_text()}")

    def confirm(self, body: str, secret: str = WMS_SECRET) -> str:
        params = {
            "method": "taobao.qimen.deliveryorder.confirm",
            "timestamp": "2026-11-10 20:03:00",
            "format": "xml",
            "app_key": "wms-key",
            "v": "2.0",
            "sign_method": "md5",
            "customerId": "CUST",
        }
        params["sign"] = qimen_sign(secret, params, body)
        answer = httpx.post(
            f"{self.url}/qimen/callback?{urlencode(params)}", content=body.encode(), timeout=5
        )
        assert answer.status_code == 200
        return answer.text

    def track(self, state: str, key: str = API_KEY) -> dict[str, object]:
        data = json.dumps(
            {
                "EBusinessID": "1234567",
                "Count": "1",
                "Data": [{"LogisticCode": "SF000000000001", "ShipperCode": "SF", "State": state}],
            }
        )
        form = {
            "RequestData": data,
            "RequestType": "101",
            "DataSign": kdniao_data_sign(data, key),
            "DataType": "2",
        }
        answer: dict[str, object] = httpx.post(
            f"{self.url}/kdniao/push", data=form, timeout=5
        ).json()
        return answer

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=10)


def journal(state: Path) -> list[dict[str, object]]:
    lines = (state / "journal.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]


@pytest.fixture
def state(tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / "state"
    folder.mkdir()
    # A journal as a crash leaves it: one trade, then a line cut short mid-write.
    records = [{"t": "trade", "trade": TRADE}, {"t": "waybill", "trade_no": TRADE["trade_no"]}]
    records[1]["waybill"] = "SF000000000001"
    text = "".join(json.dumps(r) + "\n" for r in records) + '{"t": "step", "trade_no": "20261'
    (folder / "journal.jsonl").write_text(text)
    yield folder


def test_pushes_are_verified_stored_then_acknowledged_and_survive_a_restart(
    state: Path, tmp_path: Path
) -> None:
    log = tmp_path / "connector.log"
    node = Node(state, log)
    try:
        assert "1 trade(s) in the journal" in log.read_text()  # the cut line was skipped
        forged = node.confirm(CONFIRM, secret="not-the-secret")
        assert "<flag>failure</flag>" in forged and "sign-check-failure" in forged
        assert not [r for r in journal(state) if r["t"] == "shipment"]
        assert "<flag>success</flag>" in node.confirm(CONFIRM)
        shipments = [r for r in journal(state) if r["t"] == "shipment"]
        assert len(shipments) == 1 and '"expressCode": "SF000000000001"' in json.dumps(shipments)
        assert node.track("3", key="forged")["Success"] is False
        assert node.track("3")["Success"] is True
        completion = [r for r in journal(state) if r.get("step") == "oms_completed"]
        assert completion  # asked for, and waiting for oms_shipped (the OMS is unreachable)
    finally:
        assert node.stop() == 0
    assert not (state / "journal.jsonl.tmp").exists()
    again = Node(state, log)
    try:
        assert "<flag>success</flag>" in again.confirm(CONFIRM)  # a redelivery: acknowledged
        shipments = [r for r in journal(state) if r["t"] == "shipment"]
        assert len(shipments) == 1  # compacted on start, and the duplicate stored nothing
    finally:
        assert again.stop() == 0


def test_a_missing_variable_exits_2_naming_it(tmp_path: Path) -> None:
    env = environment(tmp_path, free_port())
    del env["ECOMOCK_WMS_SECRET"]
    done = subprocess.run(
        ["node", str(NODE_DIR / "main.js")], env=env, capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 2
    assert "ECOMOCK_WMS_SECRET" in done.stderr
