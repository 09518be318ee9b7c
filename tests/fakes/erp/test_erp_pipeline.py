"""The K3 adapter on the shared pipeline: what the pipeline brings (a bug's traceback, faults
on any operation) and what K3 keeps of its own (batch outcomes, login-shaped refusals)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import httpx
import orjson
import pytest

from fake_systems.common.context import SystemContext
from fake_systems.common.credentials import K3Credentials
from fake_systems.common.faults import FaultInjector, FaultRule
from fake_systems.erp.api.k3 import MAX_BODY_BYTES, create_app
from fake_systems.erp.models import MSG_TOO_LARGE
from fake_systems.erp.service import ErpService
from simulator.world import World

pytestmark = pytest.mark.anyio

STUB = "/Kingdee.BOS.WebApi.ServicesStub.{}.common.kdsvc"
LOGIN = STUB.format("AuthService.ValidateUser")
CREDS = K3Credentials(acct_id="acct-1", username="connector", password="pw-123")
LOGIN_BODY = {"acctID": "acct-1", "username": "connector", "password": "pw-123", "lcid": 2052}


def form_url(op: str) -> str:
    return STUB.format(f"DynamicFormService.{op}")


def fake(
    make_context: Callable[[str], SystemContext], world: World, *rules: FaultRule
) -> ErpService:
    ctx = make_context("erp")
    ctx.faults = FaultInjector(list(rules), seed=1)
    service = ErpService(ctx, CREDS)
    service.setup(world)
    return service


def model(world: World, bill_no: str) -> dict[str, Any]:
    return {
        "FBillNo": bill_no,
        "FCustomerID": {"FNumber": world.shops[0].shop_no},
        "FEntity": [{"FMaterialID": {"FNumber": world.skus[0].item_code}, "FRealQty": 1}],
    }


def events(erp: ErpService, kind: str = "api_in") -> list[tuple[Any, ...]]:
    rows = erp.conn.execute(
        "SELECT operation, outcome, entity, payload FROM events WHERE kind = ? ORDER BY seq",
        (kind,),
    )
    return [tuple(row) for row in rows]


async def test_a_bug_is_logged_with_its_traceback_and_answered_as_k3_does(
    make_context: Callable[[str], SystemContext],
    world: World,
    asgi_client: Callable[[object], httpx.AsyncClient],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    erp = fake(make_context, world)
    client = asgi_client(create_app(erp, CREDS))
    await client.post(LOGIN, json=LOGIN_BODY)

    def explode(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr(erp, "save", explode)
    with caplog.at_level(logging.ERROR, logger="fake_systems.common.pipeline"):
        response = await client.post(
            form_url("Save"), json={"formid": "SAL_OUTSTOCK", "data": {"Model": model(world, "X")}}
        )
    status = response.json()["Result"]["ResponseStatus"]
    assert status["Errors"][0]["Message"] == "服务端内部错误：RuntimeError"
    assert any(record.exc_info for record in caplog.records)
    assert events(erp)[-1][:3] == ("Save", "internal:RuntimeError", "X")


async def test_a_fault_fires_on_a_login_too(
    make_context: Callable[[str], SystemContext],
    world: World,
    asgi_client: Callable[[object], httpx.AsyncClient],
) -> None:
    erp = fake(make_context, world, FaultRule("erp", "ValidateUser", "lost_response", 1.0))
    client = asgi_client(create_app(erp, CREDS))
    response = await client.post(LOGIN, json=LOGIN_BODY)
    assert response.status_code == 504
    assert erp.conn.execute("SELECT COUNT(*) FROM sessions").fetchone()[0] == 1  # work done
    assert [row[:3] for row in events(erp, "fault")] == [
        ("ValidateUser", "lost_response", "connector")
    ]


async def test_batches_record_what_was_refused(
    make_context: Callable[[str], SystemContext],
    world: World,
    asgi_client: Callable[[object], httpx.AsyncClient],
) -> None:
    erp = fake(make_context, world)
    erp.save("SAL_OUTSTOCK", model(world, "B1"))
    client = asgi_client(create_app(erp, CREDS))
    await client.post(LOGIN, json=LOGIN_BODY)
    for numbers in (["B1", "NOPE"], ["NOPE"]):
        body = {"formid": "SAL_OUTSTOCK", "data": {"Numbers": numbers}}
        assert (await client.post(form_url("Submit"), json=body)).status_code == 200
    assert [row[1] for row in events(erp) if row[0] == "Submit"] == ["partial", "msgcode:10"]


async def test_an_oversized_login_is_a_failed_login(
    make_context: Callable[[str], SystemContext],
    world: World,
    asgi_client: Callable[[object], httpx.AsyncClient],
) -> None:
    erp = fake(make_context, world)
    client = asgi_client(create_app(erp, CREDS))
    big = orjson.dumps({**LOGIN_BODY, "pad": "x" * MAX_BODY_BYTES})
    answer = (await client.post(LOGIN, content=big)).json()
    assert (answer["LoginResultType"], answer["Message"]) == (0, MSG_TOO_LARGE)
    assert events(erp)[-1][:2] == ("ValidateUser", "login_failed")


async def test_unknown_services_are_recorded_under_one_name_with_their_path(
    make_context: Callable[[str], SystemContext],
    world: World,
    asgi_client: Callable[[object], httpx.AsyncClient],
) -> None:
    erp = fake(make_context, world)
    client = asgi_client(create_app(erp, CREDS))
    # "Save" alone is no stub: it names no operation, and needs no session to say so
    for path in ("/Save", STUB.format("DynamicFormService.Push")):
        answer = (await client.post(path, json={})).json()
        assert answer["Result"]["ResponseStatus"]["MsgCode"] == 8
    assert [(op, outcome) for op, outcome, _, _ in events(erp)] == [("unknown", "msgcode:8")] * 2
    assert '"path":"/Save"' in events(erp)[0][3]
