"""Every operation of every fake, through the apps a run serves: an unproven caller (bad
signature, no session, wrong password) and an oversized body are refused in the protocol's
own format, recorded under the operation's name, and change nothing.

The operations come from `protocol_operations()`, so a new operation is covered the day it
is added to its protocol's table.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import orjson
import pytest

from fake_systems.carrier.api.kdniao import PATHS
from fake_systems.common.credentials import Credentials
from fake_systems.common.faults import NO_FAULTS, FaultInjector, FaultRule
from fake_systems.ecosystem import Ecosystem, NoPushes, protocol_operations
from simulator.clock import ManualClock
from simulator.world import build_world
from tests.support import carrier, oms, wms
from tests.support.bank import session as bank_session
from tests.support.erp import STUB
from tests.support.erp import login as erp_login

pytestmark = pytest.mark.anyio

BIG = 3 * 1024 * 1024  # past every fake's body limit
Probe = Callable[[httpx.AsyncClient, str, bool], Awaitable[httpx.Response]]


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[tuple[Ecosystem, dict[str, httpx.AsyncClient]]]:
    world = build_world(seed=3, sku_count=3, customer_count=3)
    credentials = Credentials.issue([owner.code for owner in world.owners])
    clock = ManualClock()
    ecosystem = Ecosystem.create(
        tmp_path, world, clock, NoPushes(), seed=3, credentials=credentials, faults=NO_FAULTS
    )
    clients = {
        system: httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://fake")  # type: ignore[arg-type]
        for system, app in ecosystem.apps().items()
    }
    yield ecosystem, clients
    for client in clients.values():
        await client.aclose()


def state(conn: sqlite3.Connection) -> dict[str, list[tuple[Any, ...]]]:
    """Every table but the history: what a refusal must leave alone."""
    tables = [
        row[0]
        for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        if row[0] != "events" and not row[0].startswith("sqlite_")
    ]
    return {t: [tuple(r) for r in conn.execute(f"SELECT * FROM {t} ORDER BY 1")] for t in tables}


def last_api_row(conn: sqlite3.Connection) -> tuple[str, str]:
    row = conn.execute(
        "SELECT operation, outcome FROM events WHERE kind = 'api_in' ORDER BY seq DESC LIMIT 1"
    ).fetchone()
    return (str(row[0]), str(row[1])) if row else ("", "")


def probes(ecosystem: Ecosystem) -> dict[str, Probe]:
    """Per system: send operation `op` unproven (or, with `big`, proven but oversized)."""
    creds = ecosystem.credentials
    clock = ecosystem.contexts["oms"].clock
    assert isinstance(clock, ManualClock)

    async def oms_probe(client: httpx.AsyncClient, op: str, big: bool) -> httpx.Response:
        if big:
            return await oms.call(client, clock, op, None, creds=creds.oms, raw=b" " * BIG)
        return await oms.call(client, clock, op, {}, creds=creds.oms, secret="wrong")

    async def wms_probe(client: httpx.AsyncClient, op: str, big: bool) -> httpx.Response:
        body = " " * BIG if big else "<request/>"
        params = wms.envelope(
            op,
            body,
            secret=creds.wms.secret if big else "wrong",
            app_key=creds.wms.app_key,
            customerId=creds.wms.customer_id,
        )
        return await client.post(wms.PATH, params=params, content=body.encode())

    async def erp_probe(client: httpx.AsyncClient, op: str, big: bool) -> httpx.Response:
        service = "AuthService" if op in AUTH_OPS else "DynamicFormService"
        body: dict[str, Any] = {"parameters": ["acct", creds.erp.username, "wrong", 2052]}
        content = b" " * BIG if big else orjson.dumps(body)
        # no session cookie: the form operations need one, the logins are refused
        return await client.post(STUB.format(f"{service}.{op}"), content=content)

    async def carrier_probe(client: httpx.AsyncClient, op: str, big: bool) -> httpx.Response:
        path = next(path for path, types in PATHS.items() if op in types)
        form = carrier.envelope(op, {"LogisticCode": "SF1"}, creds.carrier)
        if big:
            form["RequestData"] = "x" * BIG
        else:
            form["DataSign"] = carrier.sign(form["RequestData"], "wrong")
        return await client.post(
            path,
            content=urlencode(form).encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )

    async def bank_probe(client: httpx.AsyncClient, op: str, big: bool) -> httpx.Response:
        content = b" " * BIG if big else b'{"account": "x", "password": "y", "otp": "000000"}'
        if op == "login":
            return await client.post("/iso20022/login", content=content)
        if op == "pain.001":
            return await client.post("/iso20022/pain.001", content=content)
        path = "/iso20022/pain.002/M1" if op == "pain.002" else "/iso20022/camt.053/statements"
        return await client.get(path, params={"account": "x", "date": "2026-11-10"})

    return {
        "oms": oms_probe,
        "wms": wms_probe,
        "erp": erp_probe,
        "carrier": carrier_probe,
        "bank": bank_probe,
    }


AUTH_OPS = frozenset({"ValidateUser", "LoginByAppSecret", "LoginBySign", "Logout"})
# What each protocol's refusal looks like on the wire (docs/protocols/<system>.md).
REFUSED: dict[str, Callable[[httpx.Response], bool]] = {
    "oms": lambda r: r.status_code == 200 and r.json()["status"] != 0,
    "wms": lambda r: r.status_code == 200 and b"<flag>failure</flag>" in r.content,
    "erp": lambda r: (
        (r.status_code == 200 and b'"IsSuccess":false' in r.content.replace(b" ", b""))
        or b'"LoginResultType":0' in r.content.replace(b" ", b"")
    ),
    "carrier": lambda r: (
        r.status_code == 200 and (r.json().get("Success") is False or "ResultCode" in r.json())
    ),
    "bank": lambda r: r.status_code in (400, 401, 404, 413) and "tppMessages" in r.json(),
}
# Operations an unproven caller may legitimately complete: K3's Logout needs no session.
OPEN_OPERATIONS = {("erp", "Logout")}


@pytest.mark.parametrize("big", [False, True], ids=["unproven", "oversized"])
async def test_every_operation_refuses_in_its_protocols_format_and_changes_nothing(
    site: tuple[Ecosystem, dict[str, httpx.AsyncClient]], big: bool
) -> None:
    ecosystem, clients = site
    send = probes(ecosystem)
    checked = 0
    for system, operations in protocol_operations().items():
        conn = ecosystem.contexts[system].conn
        for op in sorted(operations):
            if (system, op) in OPEN_OPERATIONS and not big:
                continue
            before = state(conn)
            response = await send[system](clients[system], op, big)
            assert REFUSED[system](response), (system, op, response.status_code, response.text)
            operation, outcome = last_api_row(conn)
            assert outcome != "ok", (system, op, outcome)
            assert op in operation.split("/"), (system, op, operation)
            assert state(conn) == before, (system, op)
            checked += 1
    assert checked >= 40  # every table of every fake was walked


async def test_every_operation_refuses_a_malformed_body_from_a_proven_caller(
    site: tuple[Ecosystem, dict[str, httpx.AsyncClient]],
) -> None:
    ecosystem, clients = site
    creds = ecosystem.credentials
    clock = ecosystem.contexts["oms"].clock
    assert isinstance(clock, ManualClock)
    # Sessions first: logging in changes state, the malformed calls must not.
    k3_session = await erp_login(clients["erp"], creds.erp)
    bank_auth = await bank_session(clients["bank"], clock, creds.bank)
    broken = "{not json <xml"

    async def send(system: str, op: str) -> httpx.Response:
        client = clients[system]
        if system == "oms":
            return await oms.call(client, clock, op, None, creds=creds.oms, raw=broken.encode())
        if system == "wms":
            params = wms.envelope(
                op,
                broken,
                secret=creds.wms.secret,
                app_key=creds.wms.app_key,
                customerId=creds.wms.customer_id,
            )
            return await client.post(wms.PATH, params=params, content=broken.encode())
        if system == "erp":
            service = "AuthService" if op in AUTH_OPS else "DynamicFormService"
            return await client.post(
                STUB.format(f"{service}.{op}"),
                content=broken.encode(),
                headers={"Cookie": f"kdservice-sessionid={k3_session}"},
            )
        if system == "carrier":
            path = next(path for path, types in PATHS.items() if op in types)
            form = carrier.envelope(op, broken, creds.carrier)
            return await client.post(
                path,
                content=urlencode(form).encode(),
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            )
        if op in ("login", "pain.001"):
            return await client.post(f"/iso20022/{op}", content=broken.encode(), headers=bank_auth)
        if op == "pain.002":
            return await client.get("/iso20022/pain.002/%00", headers=bank_auth)
        return await client.get(
            "/iso20022/camt.053/statements", params={"date": broken}, headers=bank_auth
        )

    checked = 0
    for system, operations in protocol_operations().items():
        conn = ecosystem.contexts[system].conn
        for op in sorted(operations):
            if (system, op) in OPEN_OPERATIONS:
                continue
            before = state(conn)
            response = await send(system, op)
            assert REFUSED[system](response), (system, op, response.status_code, response.text)
            operation, outcome = last_api_row(conn)
            assert outcome != "ok" and op in operation.split("/"), (system, op, operation)
            assert state(conn) == before, (system, op)
            checked += 1
    assert checked >= 40


async def test_a_lost_answer_hits_any_fake_after_its_commit(
    site: tuple[Ecosystem, dict[str, httpx.AsyncClient]],
) -> None:
    """A `lost_response` rule on one operation of each fake: the call commits (its `ok` row
    is there), then the caller sees a gateway timeout and the fault is recorded."""
    ecosystem, clients = site
    creds = ecosystem.credentials
    clock = ecosystem.contexts["oms"].clock
    assert isinstance(clock, ManualClock)
    k3_session = await erp_login(clients["erp"], creds.erp)
    bank_auth = await bank_session(clients["bank"], clock, creds.bank)
    world_item = ecosystem.wms.conn.execute("SELECT item_code FROM items LIMIT 1").fetchone()[0]
    warehouse = ecosystem.wms.conn.execute("SELECT warehouse_code FROM warehouses").fetchone()[0]
    body = wms_create_body(warehouse, world_item)
    calls: dict[str, tuple[str, Callable[[], Awaitable[httpx.Response]]]] = {
        "oms": (
            "setting.Shop.queryShop",
            lambda: oms.call(clients["oms"], clock, "setting.Shop.queryShop", {}, creds=creds.oms),
        ),
        "wms": (
            "deliveryorder.create",
            lambda: clients["wms"].post(
                wms.PATH,
                params=wms.envelope(
                    "deliveryorder.create",
                    body,
                    secret=creds.wms.secret,
                    app_key=creds.wms.app_key,
                    customerId=creds.wms.customer_id,
                ),
                content=body.encode(),
            ),
        ),
        "erp": (
            "ExecuteBillQuery",
            lambda: clients["erp"].post(
                STUB.format("DynamicFormService.ExecuteBillQuery"),
                json={"data": {"FormId": "BD_STOCK", "FieldKeys": "FNumber"}},
                headers={"Cookie": f"kdservice-sessionid={k3_session}"},
            ),
        ),
        "carrier": (
            "1002",
            lambda: clients["carrier"].post(
                carrier.QUERY,
                content=urlencode(
                    carrier.envelope(
                        "1002", {"ShipperCode": "SF", "LogisticCode": "SF1"}, creds.carrier
                    )
                ).encode(),
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            ),
        ),
        "bank": (
            "camt.053",
            lambda: clients["bank"].get(
                "/iso20022/camt.053/statements",
                params={"account": creds.bank.account, "date": "2026-11-10"},
                headers=bank_auth,
            ),
        ),
    }
    for system, (operation, send) in calls.items():
        ctx = ecosystem.contexts[system]
        ctx.faults = FaultInjector([FaultRule(system, operation, "lost_response", 1.0)], seed=1)
        response = await send()
        assert response.status_code == 504, (system, response.text)
        rows = ctx.conn.execute(
            "SELECT kind, outcome FROM events WHERE operation = ? ORDER BY seq DESC LIMIT 2",
            (operation,),
        ).fetchall()
        assert [tuple(row) for row in rows] == [("fault", "lost_response"), ("api_in", "ok")]


def wms_create_body(warehouse: str, item: str) -> str:
    """A deliveryorder.create for OWNER-A without a waybill (the WMS issues one)."""
    return (
        "<request><deliveryOrder><deliveryOrderCode>LOST-1</deliveryOrderCode>"
        f"<orderType>JYCK</orderType><warehouseCode>{warehouse}</warehouseCode>"
        f"{wms.ORDER_EXTRAS}<logisticsCode>SF</logisticsCode></deliveryOrder><orderLines>"
        "<orderLine><orderLineNo>1</orderLineNo><ownerCode>OWNER-A</ownerCode>"
        f"<itemCode>{item}</itemCode><planQty>1</planQty>{wms.LINE_PRICE}</orderLine>"
        "</orderLines></request>"
    )
