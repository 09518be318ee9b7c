"""Unknown paths and wrong HTTP methods answer 404 / 405 in each protocol's own error format,
never FastAPI's `{"detail": …}`; the /_fake/ control surface keeps FastAPI's answers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from lxml import etree

from fake_systems.common.credentials import Credentials
from fake_systems.common.faults import NO_FAULTS
from fake_systems.common.webhooks import HttpxSender
from fake_systems.ecosystem import Ecosystem
from simulator.clock import ManualClock
from simulator.world import World

pytestmark = pytest.mark.anyio

# Each protocol's refusal, recognised from its answer's body.
JsonCheck = Callable[[Any], bool]
JSON_REFUSALS: dict[str, JsonCheck] = {
    "oms": lambda body: body["status"] == 1 and bool(body["message"]),
    "erp": lambda body: (
        body["Result"]["ResponseStatus"]["IsSuccess"] is False
        and body["Result"]["ResponseStatus"]["MsgCode"] == 8
    ),
    "carrier": lambda body: body["Success"] is False and body["ResultCode"] == "105",
    "bank": lambda body: body["tppMessages"][0]["code"] in ("RESOURCE_UNKNOWN", "SERVICE_INVALID"),
}
# (system, HTTP method, path, expected status): a path the protocol does not have, or one it
# has with a method it does not serve.
UNROUTED = [
    ("oms", "GET", "/openapi", 405),
    ("oms", "PUT", "/openapi", 405),
    ("oms", "POST", "/nothing/here", 404),
    ("oms", "GET", "/", 404),
    ("wms", "HEAD", "/router/qimen/service", 405),
    ("wms", "OPTIONS", "/router/qimen/service", 405),
    ("wms", "POST", "/router/qimen/other", 404),
    ("erp", "GET", "/Kingdee.BOS.WebApi.ServicesStub.DynamicFormService.Save.common.kdsvc", 405),
    ("erp", "POST", "/k3cloud/a/b/c", 404),
    ("carrier", "GET", "/api/EOrderService", 405),
    ("carrier", "POST", "/api/Nothing", 404),
    ("bank", "OPTIONS", "/iso20022/login", 405),
    ("bank", "GET", "/elsewhere", 404),
]


@pytest.fixture
async def apps(tmp_path: Path, world: World) -> AsyncIterator[dict[str, object]]:
    sender = HttpxSender(httpx.AsyncClient())
    ecosystem = Ecosystem.create(
        tmp_path,
        world,
        ManualClock(),
        sender,
        seed=1,
        credentials=Credentials.issue([owner.code for owner in world.owners]),
        faults=NO_FAULTS,
    )
    yield ecosystem.apps()
    for ctx in ecosystem.contexts.values():
        ctx.conn.close()


@pytest.mark.parametrize(("system", "method", "path", "status"), UNROUTED)
async def test_unrouted_requests_answer_in_the_protocols_format(
    apps: dict[str, object],
    asgi_client: Callable[[object], httpx.AsyncClient],
    system: str,
    method: str,
    path: str,
    status: int,
) -> None:
    response = await asgi_client(apps[system]).request(method, path)
    assert response.status_code == status
    assert b"detail" not in response.content
    if method == "HEAD":
        return  # no body to look at
    if system == "wms":
        root = etree.fromstring(response.content)
        assert (root.tag, root.findtext("flag")) == ("response", "failure")
        assert root.findtext("code", "").startswith("isv.")
    else:
        assert JSON_REFUSALS[system](orjson.loads(response.content)), response.text


async def test_qimen_answers_json_when_the_request_asks_for_it(
    apps: dict[str, object], asgi_client: Callable[[object], httpx.AsyncClient]
) -> None:
    response = await asgi_client(apps["wms"]).post("/router/qimen/other?format=json")
    assert response.status_code == 404
    assert response.json()["response"]["flag"] == "failure"


async def test_the_control_surface_keeps_fastapis_answers(
    apps: dict[str, object], asgi_client: Callable[[object], httpx.AsyncClient]
) -> None:
    client = asgi_client(apps["oms"])
    missing = await client.get("/_fake/nothing")
    assert (missing.status_code, missing.json()) == (404, {"detail": "Not Found"})
    wrong = await client.post("/_fake/clock")
    assert (wrong.status_code, wrong.json()) == (405, {"detail": "Method Not Allowed"})
