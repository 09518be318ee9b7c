"""`ecomock up`'s core: the five fakes on free loopback ports and an endpoints.json."""

from __future__ import annotations

import asyncio
import json
import logging
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from simulator.runner import serve_fakes
from simulator.scenario import load_scenario
from tests.support.oms import QUERY, WINDOW, request
from tests.support.paths import SMOKE
from tests.support.scenarios import scenario_variant

CREDENTIAL_NAMES = {
    "oms": {
        "sid",
        "app_key",
        "app_secret",
        "qimen_app_key",
        "qimen_secret",
        "qimen_target_app_key",
    },
    "wms": {"app_key", "secret", "customer_id"},
    "carrier": {"ebusiness_id", "api_key"},
    "erp": {"acct_id", "username", "password", "lcid", "app_id", "app_secret"},
    "bank": {"account", "username", "password", "totp_seed", "webhook_secret"},
}

# One real path per system, called without a valid signature or login: each must answer
# its protocol's own refusal, never a 500 (compared with blanks removed).
UNSIGNED_CALLS = {
    "oms": ("POST", "/openapi?method=sales.TradeQuery.queryWithDetail", '"status":1,'),
    "wms": (
        "POST",
        "/router/qimen/service?method=taobao.qimen.deliveryorder.create",
        "<flag>failure</flag>",
    ),
    "carrier": ("POST", "/api/EOrderService", '"Success":false'),
    "erp": (
        "POST",
        "/Kingdee.BOS.WebApi.ServicesStub.DynamicFormService.Save.common.kdsvc",
        "会话信息已丢失",
    ),
    "bank": (
        "GET",
        "/iso20022/camt.053/statements?account=1&date=2026-11-10",
        "TOKEN_INVALID",
    ),
}


@pytest.mark.anyio
async def test_fakes_serve_on_loopback_and_write_endpoints(tmp_path: Path) -> None:
    scenario = load_scenario(SMOKE)
    async with serve_fakes(scenario, tmp_path) as fakes, httpx.AsyncClient(timeout=5) as client:
        endpoints = json.loads((tmp_path / "endpoints.json").read_text())
        assert set(endpoints) == set(CREDENTIAL_NAMES)
        for system, names in CREDENTIAL_NAMES.items():
            extra = {"server_url"} if system == "erp" else set()
            assert set(endpoints[system]) == names | extra | {"url", "owners", "tenants"}
            assert endpoints[system]["owners"] == []  # the connector may serve every owner
            tenants = endpoints[system]["tenants"]
            assert set(tenants) == {"OWNER-A", "OWNER-B"}
            assert all(tenants[code]["owners"] == [code] for code in tenants)
            assert endpoints[system]["url"].startswith("http://127.0.0.1:")
            clock = (await client.get(endpoints[system]["url"] + "/_fake/clock")).json()
            assert clock["scale"] == scenario.clock.scale
            method, path, refusal = UNSIGNED_CALLS[system]
            response = await client.request(method, endpoints[system]["url"] + path)
            assert response.status_code < 500, (system, response.text)
            assert refusal in response.text.replace(" ", ""), (system, response.text)
        assert fakes.servers.urls == {name: endpoints[name]["url"] for name in endpoints}
        # K3's SDKs append the service name to `server_url`: it must be a K3 site
        stub = UNSIGNED_CALLS["erp"][1].lstrip("/")
        site = await client.post(endpoints["erp"]["server_url"] + stub)
        assert "会话信息已丢失" in site.text.replace(" ", "")
    for name in ("oms", "wms", "erp", "bank", "carrier"):
        assert (tmp_path / f"{name}.db").is_file()


@pytest.mark.anyio
async def test_the_bank_account_opens_with_the_scenarios_balance(tmp_path: Path) -> None:
    """`payments.opening_balance` is what the merchant's account holds before anything is
    paid in or out (AM04 refuses payments beyond it)."""
    smoke = load_scenario(SMOKE)
    payments = smoke.payments.model_copy(update={"opening_balance": Decimal("4321.09")})
    scenario = smoke.model_copy(update={"payments": payments})
    async with serve_fakes(scenario, tmp_path) as fakes:
        assert fakes.ecosystem.bank.balance_cents() == 432_109
    default = load_scenario(SMOKE)
    assert default.payments.opening_balance == Decimal("1000000.00")


@pytest.mark.anyio
async def test_a_request_in_flight_at_the_end_is_answered_before_the_stores_close(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The fakes stop serving before their databases close: a call held by a latency fault
    when the run ends is answered from an open store, not failed on a closed one."""
    held = {"system": "oms", "operation": "*", "kind": "latency", "rate": 1,
            "params": {"seconds": 0.5}}  # fmt: skip
    scenario = load_scenario(scenario_variant(SMOKE, tmp_path, "held", faults=[held]))
    async with httpx.AsyncClient(timeout=5) as client:
        async with serve_fakes(scenario, tmp_path / "run") as fakes:
            client.base_url = httpx.URL(fakes.servers.urls["oms"])
            query = request(
                client, fakes.clock, QUERY, WINDOW, creds=fakes.ecosystem.credentials.oms
            )
            in_flight = asyncio.create_task(client.send(query))
            for _ in range(200):  # until the fault holds it (bounded: 2 s)
                if fakes.ecosystem.contexts["oms"].faults.listing()[0]["fired"]:
                    break
                await asyncio.sleep(0.01)
        answer = await in_flight
    assert answer.status_code == 200 and answer.json()["status"] == 0, answer.text
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
