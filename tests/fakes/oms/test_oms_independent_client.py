"""An OMS client written only from docs/protocols/oms.md, over ASGI.

Signing and envelope are re-derived here (no import of fake_systems.common.signing), so the
fake and its own client cannot agree on a mistake unnoticed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from fake_systems.common.context import SystemContext
from fake_systems.common.credentials import OmsCredentials
from fake_systems.oms.api import wdt
from fake_systems.oms.service import OmsService
from simulator.world import World

CREDS = OmsCredentials(sid="doc-sid", app_key="doc-key", app_secret="doc-secret")


class DocClient:
    """The doc's recipe: params + `body` sorted, `LL-name:LLLL-value` joined by `;`, secret
    appended, md5 lower hex; JSON body; `{status, message, data}` answers."""

    def __init__(self, http: httpx.AsyncClient, wall: Callable[[], float]) -> None:
        self.http = http
        self.wall = wall
        self.nonce = 0

    @staticmethod
    def sign(secret: str, params: dict[str, str]) -> str:
        pieces = []
        for name in sorted(params):
            value = params[name]
            pieces.append(f"{len(name):02d}-{name}:{len(value):04d}-{value}")
        return hashlib.md5((";".join(pieces) + secret).encode("utf-8")).hexdigest()

    async def call(self, method: str, business: dict[str, Any]) -> dict[str, Any]:
        body = json.dumps(business, ensure_ascii=False)
        self.nonce += 1
        params = {
            "sid": CREDS.sid,
            "key": CREDS.app_key,
            "method": method,
            "timestamp": str(int(self.wall())),
            "v": "1.0",
            "nonce": f"doc-{self.nonce}",
        }
        params["sign"] = self.sign(CREDS.app_secret, {**params, "body": body})
        response = await self.http.post(
            "/openapi",
            params=params,
            content=body.encode("utf-8"),
            headers={"Content-Type": "application/json"},
        )
        assert response.status_code == 200
        answer: dict[str, Any] = response.json()
        return answer


def test_the_docs_worked_example() -> None:
    body = '{"trade_no":"2026111000000001","logistics_code":"SF","logistics_no":"SF1234567890"}'
    params = {
        "sid": "ecomock",
        "key": "oms_demo",
        "method": "sales.LogisticsSync.update",
        "timestamp": "1800000000",
        "v": "1.0",
        "body": body,
    }
    assert DocClient.sign("s3cr3t", params) == "7d630d413e85c096a35ee253f7384466"


@pytest.mark.anyio
async def test_a_documented_flow_end_to_end(
    make_context: Callable[[str], SystemContext],
    world: World,
    asgi_client: Callable[[object], httpx.AsyncClient],
) -> None:
    service = OmsService(make_context("oms"), CREDS)
    service.setup(world)
    client = DocClient(asgi_client(wdt.create_app(service, CREDS)), service.ctx.clock.wall)
    sku = world.skus[0]

    shops = await client.call("setting.Shop.queryShop", {})
    assert shops["status"] == 0 and shops["data"]["total_count"] == len(world.shops)
    trade = {
        "tid": "T-1",
        "trade_status": 30,
        "pay_status": 2,
        "receiver_name": "王五",
        "receiver_mobile": "13700000000",
        "receiver_province": "广东省",
        "receiver_city": "深圳市",
        "receiver_district": "南山区",
        "receiver_address": "科技园 3 号",
        "post_amount": "6.00",
        "paid": "26.00",
        "order_list": [
            {
                "oid": "T-1-1",
                "spec_no": sku.item_code,
                "num": 2,
                "price": "10.00",
                "share_amount": "20.00",
            }
        ],
    }
    pushed = await client.call(
        "sales.RawTrade.pushSelf", {"shop_no": "TM-A", "trade_list": [trade]}
    )
    assert pushed == {"status": 0, "message": "ok", "data": {"new_count": 1, "chg_count": 0}}

    waiting = await client.call("sales.LogisticsSync.getSyncListExt", {"shop_no": "TM-A"})
    [entry] = waiting["data"]["trades"]
    page = await client.call(
        "sales.TradeQuery.queryWithDetail",
        {"start_time": "2026-11-10 19:30:00", "end_time": "2026-11-10 20:30:00", "status": 30},
    )
    [order] = page["data"]["order"]
    assert (order["trade_no"], order["paid"], order["goods_amount"]) == (
        entry["trade_no"],
        "26.00",
        "20.00",
    )
    shipped = await client.call(
        "sales.LogisticsSync.update",
        {
            "trade_no": order["trade_no"],
            "logistics_code": entry["logistics_code"],
            "logistics_no": "WB1",
        },
    )
    assert shipped["data"] == {"trade_no": order["trade_no"], "changed": True}
    signed = await client.call(
        "sales.LogisticsTrace.upload",
        {"trade_no": order["trade_no"], "logistics_no": "WB1", "state": 3},
    )
    assert signed["data"]["changed"] is True
    refunds = await client.call(
        "aftersales.refund.Refund.search",
        {"modified_from": "2026-11-01 00:00:00", "modified_to": "2026-11-30 00:00:00"},
    )
    assert refunds["data"] == {"total_count": 0, "order": []}
    # A documented refusal: {status, message}, no data.
    refused = await client.call("sales.TradeQuery.queryWithDetail", {"start_time": "x"})
    assert refused["status"] == 1500 and refused["message"] and "data" not in refused
