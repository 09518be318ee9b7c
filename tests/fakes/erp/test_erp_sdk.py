"""SDK conformance: K3's official Python SDK (PyPI `kingdee-cdp-webapi-sdk`, unchanged) drives
the fake over HTTP without logging in, and requests built as the public clients build them
(LoginBySign's five sorted values, the classic envelope with `parameters` as JSON text, the
signed headers of the research notes' worked example) are accepted; their old or broken forms
are refused in K3's envelope and change nothing.

Expected values come from docs/protocols/research/issue15-public-sources.md (section 4), not
from the fake's code.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import urllib.parse
from collections.abc import AsyncIterator, Callable
from functools import partial
from typing import Any

import anyio
import httpx
import pytest
from k3cloud_webapi_sdk.main import K3CloudApiSdk

from fake_systems.common.context import SystemContext
from fake_systems.common.credentials import K3Credentials
from fake_systems.common.faults import FaultRule
from fake_systems.common.server import ServerGroup
from fake_systems.erp.api.k3 import create_app
from fake_systems.erp.service import ErpService
from simulator.clock import ManualClock
from simulator.world import World
from tests.support.erp import STUB, documents

# The research notes' worked example (section 4.1 and 4.3); ManualClock's wall starts at
# 1800000000, the example's timestamp.
EXAMPLE = K3Credentials(
    acct_id="ecomock-acct",
    username="connector",
    password="pw-example",
    app_id="301234_ZWNvbW9jay1rMy1hcHAtc2VjcmV0LTI0",
    app_secret="0123456789abcdef0123456789abcdef",
)
TENANT_A = K3Credentials(acct_id="ecomock-acct", username="user-a", owners=("OWNER-A",))
EXAMPLE_STAMP = "1800000000"
FIVE_VALUE_SIGN = "b6d5006572568f4398b075c195d494d0df2245a41a67d34c830e2e9bfad69cd1"
FIVE_VALUE_SIGN_SHA1 = "3d069756778daaa59baac7bc30bc127103a03187"
FOUR_VALUE_SIGN = "ee2c9ef654425649f550d1a9db2d388ad74a9b42a5b0771c265b44e00ebfd32f"  # old ecomock
SAVE_PATH = "/k3cloud/Kingdee.BOS.WebApi.ServicesStub.DynamicFormService.Save.common.kdsvc"
# The headers PY-OFFICIAL's BuildHeader makes for SAVE_PATH at EXAMPLE_STAMP, orgNum 100.
EXAMPLE_HEADERS = {
    "X-Api-ClientID": "301234",
    "X-Api-Auth-Version": "2.0",
    "x-api-timestamp": EXAMPLE_STAMP,
    "x-api-nonce": EXAMPLE_STAMP,
    "x-api-signheaders": "x-api-timestamp,x-api-nonce",
    "X-Api-Signature": (
        "MTEzZTJlMzAyODViYmMxNmQ4MGM4ZjA0MTc0NjgzN2U5MzVhNGQ4NmQ5NWU0Mjg5ODJjYjUyODg4MTA0M2FhMA=="
    ),
    "X-Kd-Appkey": EXAMPLE.app_id,
    "X-Kd-Appdata": "ZWNvbW9jay1hY2N0LGNvbm5lY3RvciwyMDUyLDEwMA==",
    "X-Kd-Signature": (
        "Y2I0OWFlZDg5NjM1YzQ0NzRkMDQ2MmFmYTdkYTI1ODM1OTZkNjQ1OTZiMzVjYzJiMzQwY2NhNWIyMTRmZjAzYg=="
    ),
    "Content-Type": "application/json",
}
SESSION_LOST = 1
NOT_FOUND = 10


@pytest.fixture
def erp(make_context: Callable[[str], SystemContext], world: World) -> ErpService:
    service = ErpService(make_context("erp"), EXAMPLE)
    service.setup(world)
    return service


@pytest.fixture
def app(erp: ErpService) -> object:
    return create_app(erp, EXAMPLE, tenants=[TENANT_A])


@pytest.fixture
async def server_url(app: object) -> AsyncIterator[str]:
    """The fake on a free loopback port, as the SDK's `server_url` (a K3 site's address)."""
    servers = ServerGroup()
    await servers.start({"erp": app})  # type: ignore[dict-item]
    try:
        yield servers.urls["erp"] + "/k3cloud/"
    finally:
        await servers.stop()


@pytest.fixture
def host_time(clock: ManualClock) -> ManualClock:
    """The fake's wall clock set to the host's, which the SDK stamps its calls with (a test
    may then move the fake's clock away from it)."""
    clock.wall_now = time.time()
    return clock


def sdk(server_url: str, user: K3Credentials, app_secret: str | None = None) -> K3CloudApiSdk:
    """An SDK client set up through `InitConfig` with the endpoints.json values."""
    client = K3CloudApiSdk(server_url)
    client.InitConfig(
        user.acct_id,
        user.username,
        user.app_id,
        user.app_secret if app_secret is None else app_secret,
        server_url,
        lcid=2052,
        org_num=100,
    )
    return client


async def run(call: Callable[..., str], *args: Any) -> Any:
    """One SDK call (blocking `requests`) off the event loop the server runs on; its JSON."""
    return json.loads(await anyio.to_thread.run_sync(partial(call, *args)))


def outstock(world: World, bill_no: str, owner: str | None = None) -> dict[str, Any]:
    shop = next(s.shop_no for s in world.shops if owner is None or s.owner_code == owner)
    return {
        "FBillNo": bill_no,
        "FDate": "2026-11-10 20:00:00",
        "FCustomerID": {"FNumber": shop},
        "FEntity": [
            {
                "FMaterialID": {"FNumber": world.skus[0].item_code},
                "FRealQty": 2,
                "FTaxPrice": 12.5,
                "FStockID": {"FNumber": world.warehouses[0].code},
            }
        ],
    }


def login_ops(erp: ErpService) -> list[str]:
    rows = erp.conn.execute(
        "SELECT operation FROM events WHERE kind = 'api_in' AND operation IN"
        " ('ValidateUser', 'LoginByAppSecret', 'LoginBySign')"
    )
    return [row[0] for row in rows]


# ---------------------------------------------------------------- the official Python SDK


@pytest.mark.anyio
async def test_official_sdk_works_unchanged_without_logging_in(
    server_url: str, host_time: ManualClock, erp: ErpService, world: World
) -> None:
    api = sdk(server_url, EXAMPLE)
    saved = await run(api.Save, "SAL_OUTSTOCK", {"Model": outstock(world, "SDK-1")})
    assert saved["Result"]["ResponseStatus"]["IsSuccess"] is True, saved
    assert saved["Result"]["Number"] == "SDK-1"
    for op in (api.Submit, api.Audit):
        answer = await run(op, "SAL_OUTSTOCK", {"Numbers": ["SDK-1"]})
        entities = answer["Result"]["ResponseStatus"]["SuccessEntitys"]
        assert [e["Number"] for e in entities] == ["SDK-1"]
    viewed = await run(api.View, "SAL_OUTSTOCK", {"Number": "SDK-1"})
    assert viewed["Result"]["Result"]["DocumentStatus"] == "C"
    query = {
        "FormId": "SAL_OUTSTOCK",
        "FieldKeys": "FBillNo,FDocumentStatus,FBillAllAmount",
        "FilterString": "FBillNo = 'SDK-1'",
    }
    rows = await run(api.ExecuteBillQuery, query)
    assert rows == [["SDK-1", "C", 25.0]]
    # The SDK never logged in and got no session: each call proved itself by its headers.
    assert login_ops(erp) == []
    assert erp.conn.execute("SELECT COUNT(*) FROM sessions").fetchone()[0] == 0
    assert api.cookiesStore.SID in ("", None)
    outcomes = erp.conn.execute(
        "SELECT operation, outcome FROM events WHERE kind = 'api_in' ORDER BY seq"
    ).fetchall()
    assert [tuple(row) for row in outcomes] == [
        (op, "ok") for op in ("Save", "Submit", "Audit", "View", "ExecuteBillQuery")
    ]


@pytest.mark.anyio
async def test_official_sdk_string_data_and_batch_operations(
    server_url: str, host_time: ManualClock, erp: ErpService, world: World
) -> None:
    api = sdk(server_url, EXAMPLE)
    # The SDK passes `data` through: a caller may hand it JSON text, as the Java SDK does.
    models = json.dumps({"Model": [outstock(world, "SDK-2"), outstock(world, "SDK-3")]})
    saved = await run(api.BatchSave, "SAL_OUTSTOCK", models)
    assert saved["Result"]["ResponseStatus"]["IsSuccess"] is True, saved
    for op in (api.Submit, api.Audit, api.UnAudit):
        answer = await run(op, "SAL_OUTSTOCK", '{"Numbers": ["SDK-2"]}')
        assert answer["Result"]["ResponseStatus"]["IsSuccess"] is True, answer
    deleted = await run(api.Delete, "SAL_OUTSTOCK", {"Numbers": ["SDK-3"]})
    assert deleted["Result"]["ResponseStatus"]["IsSuccess"] is True, deleted
    assert [(row[1], row[2]) for row in documents(erp)] == [("SDK-2", "D")]


@pytest.mark.anyio
async def test_official_sdk_caller_gets_its_users_owner_scope(
    server_url: str, host_time: ManualClock, erp: ErpService, world: World
) -> None:
    connector, tenant = sdk(server_url, EXAMPLE), sdk(server_url, TENANT_A)
    for bill_no, owner in (("A-1", "OWNER-A"), ("B-1", "OWNER-B")):
        model = {"Model": outstock(world, bill_no, owner)}
        saved = await run(connector.Save, "SAL_OUTSTOCK", model)
        assert saved["Result"]["ResponseStatus"]["IsSuccess"] is True, saved
    query = {"FormId": "SAL_OUTSTOCK", "FieldKeys": "FBillNo", "OrderString": "FBillNo"}
    assert await run(tenant.ExecuteBillQuery, query) == [["A-1"]]
    assert await run(connector.ExecuteBillQuery, query) == [["A-1"], ["B-1"]]
    # another owner's bill answers exactly like a missing one, and stays as it was
    other = await run(tenant.Audit, "SAL_OUTSTOCK", {"Numbers": ["B-1"]})
    status = other["Result"]["ResponseStatus"]
    assert (status["MsgCode"], status["Errors"][0]["Message"]) == (
        NOT_FOUND,
        "单据编号为[B-1]的单据不存在",
    )
    assert [row[2] for row in documents(erp)] == ["A", "A"]


@pytest.mark.parametrize(
    ("secret", "offset", "message"),
    [
        ("0" * 32, 0.0, "第三方系统登录授权验证失败：签名不正确"),
        (EXAMPLE.app_secret, -360.0, "第三方系统登录授权验证失败：时间戳已过期"),
        (EXAMPLE.app_secret, 360.0, "第三方系统登录授权验证失败：时间戳已过期"),
    ],
)
@pytest.mark.anyio
async def test_official_sdk_with_a_bad_or_stale_signature_is_refused(
    server_url: str,
    host_time: ManualClock,
    erp: ErpService,
    world: World,
    secret: str,
    offset: float,
    message: str,
) -> None:
    host_time.wall_now -= offset  # the SDK's stamps lie `offset` seconds off the fake's clock
    api = sdk(server_url, EXAMPLE, app_secret=secret)
    saved = await run(api.Save, "SAL_OUTSTOCK", {"Model": outstock(world, "SDK-X")})
    status = saved["Result"]["ResponseStatus"]
    assert (status["IsSuccess"], status["MsgCode"]) == (False, SESSION_LOST)
    assert status["Errors"][0]["Message"] == message
    rows = await run(api.ExecuteBillQuery, {"FormId": "SAL_OUTSTOCK", "FieldKeys": "FID"})
    assert rows[0][0]["Result"]["ResponseStatus"]["MsgCode"] == SESSION_LOST
    assert documents(erp) == []
    outcomes = erp.conn.execute("SELECT outcome FROM events WHERE kind = 'api_in'").fetchall()
    assert [row[0] for row in outcomes] == ["msgcode:1", "msgcode:1"]
    assert secret not in str(erp.conn.execute("SELECT payload FROM events").fetchall())


@pytest.mark.anyio
async def test_official_sdk_with_an_unknown_app_is_refused(
    server_url: str, host_time: ManualClock, erp: ErpService, world: World
) -> None:
    stranger = K3Credentials(acct_id=EXAMPLE.acct_id, username=EXAMPLE.username)  # new AppId
    api = sdk(server_url, stranger)
    saved = await run(api.Save, "SAL_OUTSTOCK", {"Model": outstock(world, "SDK-X")})
    status = saved["Result"]["ResponseStatus"]
    assert status["MsgCode"] == SESSION_LOST
    assert status["Errors"][0]["Message"] == "第三方系统登录授权验证失败：应用ID或应用密钥不正确"
    assert documents(erp) == []


# ---------------------------------------------------------------- the worked example's headers


@pytest.mark.anyio
async def test_worked_example_headers_are_accepted_verbatim(
    app: object, asgi_client: Callable[[object], httpx.AsyncClient], world: World
) -> None:
    client = asgi_client(app)
    body = {"formid": "SAL_OUTSTOCK", "data": {"Model": outstock(world, "EX-1")}}
    answer = (await client.post(SAVE_PATH, json=body, headers=EXAMPLE_HEADERS)).json()
    assert answer["Result"]["ResponseStatus"]["IsSuccess"] is True, answer
    assert "kdservice-sessionid" not in client.cookies


@pytest.mark.parametrize(
    ("header", "value"),
    [
        # X-Kd-Appdata naming the tenant's user, not re-signed: the app's signature breaks
        ("X-Kd-Appdata", "ZWNvbW9jay1hY2N0LHVzZXItYSwyMDUyLDEwMA=="),
        ("X-Kd-Signature", EXAMPLE_HEADERS["X-Api-Signature"]),
        # a later stamp without a new X-Api-Signature
        ("x-api-timestamp", "1800000001"),
        ("X-Api-Signature", EXAMPLE_HEADERS["X-Kd-Signature"]),
    ],
)
@pytest.mark.anyio
async def test_worked_example_with_a_changed_header_is_refused(
    app: object,
    asgi_client: Callable[[object], httpx.AsyncClient],
    erp: ErpService,
    world: World,
    header: str,
    value: str,
) -> None:
    client = asgi_client(app)
    body = {"formid": "SAL_OUTSTOCK", "data": {"Model": outstock(world, "EX-1")}}
    headers = {**EXAMPLE_HEADERS, header: value}
    answer = (await client.post(SAVE_PATH, json=body, headers=headers)).json()
    status = answer["Result"]["ResponseStatus"]
    assert status["MsgCode"] == SESSION_LOST
    assert status["Errors"][0]["Message"] == "第三方系统登录授权验证失败：签名不正确"
    assert documents(erp) == []


@pytest.mark.anyio
async def test_worked_example_headers_on_another_path_are_refused(
    app: object, asgi_client: Callable[[object], httpx.AsyncClient], erp: ErpService
) -> None:
    # X-Api-Signature covers the path: the Save headers do not open ExecuteBillQuery.
    client = asgi_client(app)
    query = {"data": {"FormId": "SAL_OUTSTOCK", "FieldKeys": "FBillNo"}}
    path = SAVE_PATH.replace(".Save.", ".ExecuteBillQuery.")
    rows = (await client.post(path, json=query, headers=EXAMPLE_HEADERS)).json()
    assert rows[0][0]["Result"]["ResponseStatus"]["MsgCode"] == SESSION_LOST


def java_headers(path: str, stamp: str, user: K3Credentials) -> dict[str, str]:
    """The headers as JAVA-OFFICIAL's `ApiRequester.buildHeader` makes them (research notes
    4.3): a millisecond stamp, `X-Api-TimeStamp,X-Api-Nonce` as the signed-header list;
    kdsig = base64 of the hex HMAC-SHA256; the gateway key decoded from the AppId by XOR."""

    def kdsig(content: str, key: str) -> str:
        digest = hmac.new(key.encode(), content.encode(), hashlib.sha256).hexdigest()
        return base64.b64encode(digest.encode()).decode()

    client_id, secret_part = user.app_id.split("_")
    xor_key = b"0054f397c6234378b09ca7d3e5debce7"
    raw = base64.b64decode(secret_part)
    client_sec = base64.b64encode(bytes(b ^ xor_key[i] for i, b in enumerate(raw))).decode()
    encoded_path = urllib.parse.quote(path, safe="")
    api_sign = f"POST\n{encoded_path}\n\nx-api-nonce:{stamp}\nx-api-timestamp:{stamp}\n"
    app_data = f"{user.acct_id},{user.username},2052,0"
    return {
        "X-Api-ClientID": client_id,
        "X-Api-Auth-Version": "2.0",
        "x-api-timestamp": stamp,
        "x-api-nonce": stamp,
        "x-api-signheaders": "X-Api-TimeStamp,X-Api-Nonce",
        "X-Api-Signature": kdsig(api_sign, client_sec),
        "X-Kd-Appkey": user.app_id,
        "X-Kd-Appdata": base64.b64encode(app_data.encode()).decode(),
        "X-Kd-Signature": kdsig(user.app_id + app_data, user.app_secret),
    }


@pytest.mark.anyio
async def test_java_sdk_headers_with_a_millisecond_stamp_are_accepted(
    app: object,
    asgi_client: Callable[[object], httpx.AsyncClient],
    clock: ManualClock,
    erp: ErpService,
    world: World,
) -> None:
    client = asgi_client(app)
    millis = int(clock.wall() * 1000)
    model = outstock(world, "JAVA-1", "OWNER-A")  # the tenant's app, its owner's customer
    headers = java_headers(SAVE_PATH, str(millis), TENANT_A)
    body = {"formid": "SAL_OUTSTOCK", "data": {"Model": model}}
    answer = (await client.post(SAVE_PATH, json=body, headers=headers)).json()
    assert answer["Result"]["ResponseStatus"]["IsSuccess"] is True, answer
    stale = java_headers(SAVE_PATH, str(millis - 301_000), TENANT_A)
    body = {"formid": "SAL_OUTSTOCK", "data": {"Model": {**model, "FBillNo": "JAVA-2"}}}
    refused = (await client.post(SAVE_PATH, json=body, headers=stale)).json()
    message = refused["Result"]["ResponseStatus"]["Errors"][0]["Message"]
    assert message == "第三方系统登录授权验证失败：时间戳已过期"
    assert [(row[1], row[2]) for row in documents(erp)] == [("JAVA-1", "A")]


@pytest.mark.anyio
@pytest.mark.parametrize(("skew", "accepted"), [(250.0, True), (-250.0, True), (-350.0, False)])
async def test_signed_headers_are_checked_against_the_erps_own_clock(
    app: object,
    asgi_client: Callable[[object], httpx.AsyncClient],
    clock: ManualClock,
    erp: ErpService,
    world: World,
    skew: float,
    accepted: bool,
) -> None:
    """A `clock_skew` fault: a stamp from a correct clock passes while the ERP's clock is off
    by less than 300 s, and is refused as stale beyond, the refusal a fault row."""
    erp.ctx.faults.add(FaultRule("erp", "*", "clock_skew", rate=1.0, params={"seconds": skew}))
    headers = java_headers(SAVE_PATH, str(int(clock.wall() * 1000)), TENANT_A)
    body = {"formid": "SAL_OUTSTOCK", "data": {"Model": outstock(world, "SKEW-1", "OWNER-A")}}
    status = (await asgi_client(app).post(SAVE_PATH, json=body, headers=headers)).json()["Result"][
        "ResponseStatus"
    ]
    faults = erp.ctx.conn.execute(
        "SELECT operation, outcome, payload FROM events WHERE kind = 'fault' ORDER BY seq"
    ).fetchall()
    payloads = [json.loads(row["payload"]) for row in faults]
    assert {(row["operation"], row["outcome"]) for row in faults} == {("Save", "clock_skew")}
    if accepted:
        assert status["IsSuccess"] is True, status
        assert payloads == [{"stage": "world", "seconds": skew}]
    else:
        assert status["Errors"][0]["Message"] == "第三方系统登录授权验证失败：时间戳已过期"
        assert status["MsgCode"] == 1
        assert payloads[1]["refused_offset"] == pytest.approx(-skew, abs=1)
        assert documents(erp) == []


# ---------------------------------------------------------------- LoginBySign, publicly built


def login_by_sign(sign: str, *, as_text: bool, lcid: int | str = 2052) -> dict[str, Any]:
    """YiKdWebClient sends `parameters` as JSON text (lcid "2052"), the PHP and Node clients
    as an array (lcid 2052)."""
    parameters = [EXAMPLE.acct_id, EXAMPLE.username, EXAMPLE.app_id, EXAMPLE_STAMP, sign, lcid]
    return {"parameters": json.dumps(parameters) if as_text else parameters}


LOGIN_BY_SIGN = STUB.format("AuthService.LoginBySign")


@pytest.mark.parametrize(
    ("sign", "as_text", "lcid"),
    [
        (FIVE_VALUE_SIGN, True, "2052"),
        (FIVE_VALUE_SIGN, False, 2052),
        (FIVE_VALUE_SIGN_SHA1, False, 2052),
    ],
)
@pytest.mark.anyio
async def test_login_by_sign_hashes_five_sorted_values_with_the_app_id(
    app: object,
    asgi_client: Callable[[object], httpx.AsyncClient],
    world: World,
    sign: str,
    as_text: bool,
    lcid: int | str,
) -> None:
    client = asgi_client(app)
    answer = (
        await client.post(LOGIN_BY_SIGN, json=login_by_sign(sign, as_text=as_text, lcid=lcid))
    ).json()
    assert answer["LoginResultType"] == 1, answer["Message"]
    assert client.cookies.get("kdservice-sessionid") == answer["KDSVCSessionId"]
    body = {"formid": "SAL_OUTSTOCK", "data": {"Model": outstock(world, "SIGNED-1")}}
    saved = (await client.post(STUB.format("DynamicFormService.Save"), json=body)).json()
    assert saved["Result"]["ResponseStatus"]["IsSuccess"] is True


@pytest.mark.anyio
async def test_login_by_sign_refuses_the_four_value_sign(
    app: object, asgi_client: Callable[[object], httpx.AsyncClient], erp: ErpService
) -> None:
    client = asgi_client(app)
    response = await client.post(LOGIN_BY_SIGN, json=login_by_sign(FOUR_VALUE_SIGN, as_text=False))
    answer = response.json()
    assert response.status_code == 200
    assert (answer["LoginResultType"], answer["KDSVCSessionId"]) == (0, None)
    assert answer["Message"] == "第三方系统登录授权验证失败：签名不正确"
    assert "kdservice-sessionid" not in response.cookies
    assert erp.conn.execute("SELECT COUNT(*) FROM sessions").fetchone()[0] == 0


# ---------------------------------------------------------------- the classic envelope


def classic(*parameters: Any) -> dict[str, Any]:
    """YiKdWebClient's envelope: `parameters` is the JSON text of [formid, data text]."""
    return {
        "format": 1,
        "useragent": "ApiClient",
        "rid": "1",
        "parameters": json.dumps(list(parameters), ensure_ascii=True),
        "timestamp": "2026-11-10 20:00:00",
        "v": "1.0",
    }


@pytest.mark.anyio
async def test_parameters_as_json_text_on_every_operation(
    app: object, asgi_client: Callable[[object], httpx.AsyncClient], erp: ErpService, world: World
) -> None:
    client = asgi_client(app)
    credentials = (EXAMPLE.acct_id, EXAMPLE.username, EXAMPLE.password, 2052)
    login = await client.post(STUB.format("AuthService.ValidateUser"), json=classic(*credentials))
    assert login.json()["LoginResultType"] == 1

    async def call(op: str, *parameters: Any) -> Any:
        path = STUB.format(f"DynamicFormService.{op}")
        return (await client.post(path, json=classic(*parameters))).json()

    def numbers(*bills: str) -> str:
        return json.dumps({"Numbers": list(bills)})

    saved = await call("Save", "SAL_OUTSTOCK", json.dumps({"Model": outstock(world, "CL-1")}))
    assert saved["Result"]["ResponseStatus"]["IsSuccess"] is True, saved
    batch = json.dumps({"Model": [outstock(world, "CL-2")]})
    assert (await call("BatchSave", "SAL_OUTSTOCK", batch))["Result"]["ResponseStatus"]["IsSuccess"]
    for op in ("Submit", "Audit", "UnAudit"):
        answer = await call(op, "SAL_OUTSTOCK", numbers("CL-1"))
        assert answer["Result"]["ResponseStatus"]["IsSuccess"] is True, (op, answer)
    deleted = await call("Delete", "SAL_OUTSTOCK", numbers("CL-2"))
    assert deleted["Result"]["ResponseStatus"]["IsSuccess"] is True, deleted
    viewed = await call("View", "SAL_OUTSTOCK", json.dumps({"Number": "CL-1"}))
    assert viewed["Result"]["Result"]["DocumentStatus"] == "D"
    query = {"FormId": "SAL_OUTSTOCK", "FieldKeys": "FBillNo,FDocumentStatus"}
    assert await call("ExecuteBillQuery", json.dumps(query)) == [["CL-1", "D"]]
    assert [(row[1], row[2]) for row in documents(erp)] == [("CL-1", "D")]


@pytest.mark.anyio
async def test_parameters_text_that_is_no_json_is_refused(
    app: object, asgi_client: Callable[[object], httpx.AsyncClient], erp: ErpService
) -> None:
    client = asgi_client(app)
    credentials = (EXAMPLE.acct_id, EXAMPLE.username, EXAMPLE.password, 2052)
    login = await client.post(STUB.format("AuthService.ValidateUser"), json=classic(*credentials))
    assert login.json()["LoginResultType"] == 1
    body = {**classic(), "parameters": '["SAL_OUTSTOCK", {"Model":'}
    answer = (await client.post(STUB.format("DynamicFormService.Save"), json=body)).json()
    status = answer["Result"]["ResponseStatus"]
    assert (status["IsSuccess"], status["MsgCode"]) == (False, 8)
    assert status["Errors"][0]["Message"] == "请求数据不是合法的JSON格式"
    assert documents(erp) == []
