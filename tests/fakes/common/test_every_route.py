"""Every operation of every fake, through the apps a run serves: an unproven caller (bad
signature, no session, wrong password) and an oversized body are refused in the protocol's
own format, recorded under the operation's name, and change nothing; a valid request whose
answer a `lost_response` rule loses commits all the same, and its retry gets what the real
system answers a duplicate.

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
from fake_systems.common.faults import NO_FAULTS, FaultInjector, FaultRule
from fake_systems.ecosystem import Ecosystem, protocol_operations
from simulator.clock import ManualClock
from tests.support import carrier, oms, wms
from tests.support.bank import session as bank_session
from tests.support.erp import STUB
from tests.support.erp import login as erp_login
from tests.support.operations import ANSWERED, CODE_OF, VALID
from tests.support.site import (
    Site,
    comparable,
    comparable_state,
    history_since,
    last_seq,
    state,
)

pytestmark = pytest.mark.anyio

BIG = 3 * 1024 * 1024  # past every fake's body limit
Probe = Callable[[httpx.AsyncClient, str, bool], Awaitable[httpx.Response]]


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[tuple[Ecosystem, dict[str, httpx.AsyncClient]]]:
    opened = Site.open(tmp_path)
    yield opened.ecosystem, opened.clients
    await opened.close()


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


# ---------------------------------------------------------------- lost answers

CATALOGUE = sorted(
    (system, operation)
    for system, operations in protocol_operations().items()
    for operation in operations
)


def test_the_valid_requests_name_only_operations_the_fakes_serve() -> None:
    served = set(CATALOGUE)
    stale = [
        (system, op) for system, ops in VALID.items() for op in ops if (system, op) not in served
    ]
    assert not stale, f"tests/support/operations.py builds requests nobody serves: {stale}"


@pytest.mark.parametrize(
    ("system", "operation"), CATALOGUE, ids=[f"{system}:{op}" for system, op in CATALOGUE]
)
async def test_a_lost_answer_commits_and_a_retry_gets_the_duplicates_answer(
    tmp_path: Path, system: str, operation: str
) -> None:
    """Two sites alike, one with a `lost_response` rule on `operation`: the lost call leaves
    exactly the state and history the answered one does, plus one fault row; the same
    request again is answered as the real system answers a duplicate, on both alike."""
    valid = VALID.get(system, {}).get(operation)
    assert valid is not None, (
        f"{system} {operation} has no valid request: add its builder to tests/support/"
        f"{system}.py and a line to VALID in tests/support/operations.py"
    )
    lost = Site.open(tmp_path / "lost")
    answered = Site.open(tmp_path / "answered", lost.credentials)
    try:
        request = await valid.build(lost)
        twin = await valid.build(answered)
        ctx, conn = lost.ecosystem.contexts[system], answered.ecosystem.contexts[system].conn
        assert comparable_state(ctx.conn) == comparable_state(conn)
        mark, twin_mark = last_seq(ctx.conn), last_seq(conn)

        ctx.faults = FaultInjector([FaultRule(system, operation, "lost_response", 1.0)], seed=1)
        gone = await lost.clients[system].send(request)
        first = await answered.clients[system].send(twin)
        assert gone.status_code == 504, (gone.status_code, gone.text)
        assert CODE_OF[system](first) in ANSWERED[system], first.text
        assert comparable_state(ctx.conn) == comparable_state(conn)
        rows = history_since(ctx.conn, mark)
        api_rows = [row for row in rows if row[0] == "api_in"]
        assert len(api_rows) == 1 and api_rows[0][1::2] == (operation, "ok"), rows
        assert rows[-1] == ("fault", operation, api_rows[0][2], "lost_response")
        assert rows[:-1] == history_since(conn, twin_mark)

        ctx.faults = NO_FAULTS
        retry = await lost.clients[system].send(request)
        again = await answered.clients[system].send(twin)
        assert CODE_OF[system](retry) == valid.duplicate, retry.text
        assert comparable(retry) == comparable(again)
        if valid.same:
            assert comparable(retry) == comparable(first)
        assert comparable_state(ctx.conn) == comparable_state(conn)
    finally:
        await lost.close()
        await answered.close()
