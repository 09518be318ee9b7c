"""K3 security over HTTP: users per owner, tenant isolation, session expiry, app-secret and
signed logins, and that refusals change nothing, are recorded and keep secrets out."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from fake_systems.common.context import SystemContext
from fake_systems.common.credentials import K3Credentials
from fake_systems.erp.api.k3 import create_app
from fake_systems.erp.service import ErpService
from simulator.clock import ManualClock
from simulator.world import World
from tests.support.erp import STUB

TTL = 600.0  # wall seconds of idleness before a session is lost


def url(op: str, service: str = "DynamicFormService") -> str:
    return STUB.format(f"{service}.{op}")


@pytest.fixture
def connector() -> K3Credentials:
    return K3Credentials(acct_id="acct-1", username="connector", password="pw-conn")


@pytest.fixture
def tenant_a() -> K3Credentials:
    return K3Credentials(acct_id="acct-1", username="user-a", password="pw-a", owners=("OWNER-A",))


@pytest.fixture
def tenant_b() -> K3Credentials:
    return K3Credentials(acct_id="acct-1", username="user-b", password="pw-b", owners=("OWNER-B",))


@pytest.fixture
def erp(
    make_context: Callable[[str], SystemContext], world: World, connector: K3Credentials
) -> ErpService:
    service = ErpService(make_context("erp"), connector, session_ttl=TTL)
    service.setup(world)
    return service


@pytest.fixture
def app(
    erp: ErpService, connector: K3Credentials, tenant_a: K3Credentials, tenant_b: K3Credentials
) -> object:
    return create_app(erp, connector, tenants=[tenant_a, tenant_b])


# FilterStrings that tried to escape the owner scope spliced around them (issue 8).
BREAKOUTS = (
    "1=1) OR (1=1",
    "FBillNo = 'A-1') OR (FBillNo = 'B-1'",
    "1=1)) OR ((1=1",
    "(1=1) OR 1=1",
    "FBillNo = 'x' OR 1=1 --",
    "1=1 /* ) OR ( */",
)


def shop_of(world: World, owner: str) -> str:
    return next(shop.shop_no for shop in world.shops if shop.owner_code == owner)


def outstock(world: World, bill_no: str, shop: str) -> dict[str, Any]:
    return {
        "FBillNo": bill_no,
        "FCustomerID": {"FNumber": shop},
        "FEntity": [
            {"FMaterialID": {"FNumber": world.skus[0].item_code}, "FRealQty": 1, "FAllAmount": 9}
        ],
    }


async def login(client: httpx.AsyncClient, user: K3Credentials) -> dict[str, Any]:
    response = await client.post(
        url("ValidateUser", "AuthService"),
        json={"parameters": [user.acct_id, user.username, user.password, 2052]},
    )
    assert response.status_code == 200
    return dict(response.json())


async def call(client: httpx.AsyncClient, op: str, body: dict[str, Any]) -> Any:
    response = await client.post(url(op), json=body)
    assert response.status_code == 200
    return response.json()


def status(answer: Any) -> dict[str, Any]:
    if isinstance(answer, list):  # ExecuteBillQuery errors come wrapped in the 2-D array
        return dict(answer[0][0]["Result"]["ResponseStatus"])
    return dict(answer["Result"]["ResponseStatus"])


def snapshot(erp: ErpService) -> list[tuple[Any, ...]]:
    return [
        tuple(row)
        for row in erp.conn.execute(
            "SELECT d.bill_no, d.document_status, d.owner_code, d.modified_wall,"
            " COUNT(e.entry_id) FROM documents d LEFT JOIN document_entries e ON e.fid = d.fid"
            " GROUP BY d.fid ORDER BY d.fid"
        )
    ]


@pytest.fixture
async def clients(
    app: object,
    asgi_client: Callable[[object], httpx.AsyncClient],
    connector: K3Credentials,
    tenant_a: K3Credentials,
    tenant_b: K3Credentials,
) -> dict[str, httpx.AsyncClient]:
    """A logged-in client per user; each keeps its own session cookie."""
    made = {}
    for name, user in (("connector", connector), ("a", tenant_a), ("b", tenant_b)):
        client = asgi_client(app)
        assert (await login(client, user))["LoginResultType"] == 1
        made[name] = client
    return made


# ---------------------------------------------------------------- users and tenancy


@pytest.mark.anyio
async def test_every_issued_user_logs_in_and_the_context_names_it(
    app: object, asgi_client: Callable[[object], httpx.AsyncClient], tenant_b: K3Credentials
) -> None:
    answer = await login(asgi_client(app), tenant_b)
    assert answer["LoginResultType"] == 1
    assert answer["Context"]["UserName"] == "user-b"


@pytest.mark.anyio
async def test_tenant_cannot_save_for_another_owners_customer(
    clients: dict[str, httpx.AsyncClient], erp: ErpService, world: World
) -> None:
    foreign = shop_of(world, "OWNER-B")
    answer = await call(
        clients["a"],
        "Save",
        {"formid": "SAL_OUTSTOCK", "data": {"Model": outstock(world, "X-1", foreign)}},
    )
    # another owner's customer looks exactly like a missing one: nothing leaks
    assert status(answer)["MsgCode"] == 11
    assert status(answer)["Errors"][0]["Message"] == (
        f"字段[客户]的值[{foreign}]在基础资料中不存在或未审核"
    )
    assert snapshot(erp) == []
    own = await call(
        clients["a"],
        "Save",
        {
            "formid": "SAL_OUTSTOCK",
            "data": {"Model": outstock(world, "X-1", shop_of(world, "OWNER-A"))},
        },
    )
    assert status(own)["IsSuccess"] is True
    assert [row[2] for row in snapshot(erp)] == ["OWNER-A"]


@pytest.mark.anyio
async def test_tenant_sees_and_moves_only_its_owners_documents(
    clients: dict[str, httpx.AsyncClient], erp: ErpService, world: World
) -> None:
    for bill_no, owner in (("A-1", "OWNER-A"), ("B-1", "OWNER-B")):
        saved = await call(
            clients["connector"],
            "Save",
            {
                "formid": "SAL_OUTSTOCK",
                "data": {"Model": outstock(world, bill_no, shop_of(world, owner))},
            },
        )
        assert status(saved)["IsSuccess"] is True
    query = {"data": {"FormId": "SAL_OUTSTOCK", "FieldKeys": "FBillNo"}}
    assert await call(clients["connector"], "ExecuteBillQuery", query) == [["A-1"], ["B-1"]]
    assert await call(clients["a"], "ExecuteBillQuery", query) == [["A-1"]]
    assert await call(clients["b"], "ExecuteBillQuery", query) == [["B-1"]]
    # a filter cannot widen the scope: the owner restriction is outside the caller's condition
    widened = {
        "data": {"FormId": "SAL_OUTSTOCK", "FieldKeys": "FBillNo", "FilterString": "1=1 OR 1=1"}
    }
    assert await call(clients["a"], "ExecuteBillQuery", widened) == [["A-1"]]
    # nor can one that closes the bracket around it: the filter is parsed, never spliced
    for breakout in BREAKOUTS:
        answer = await call(
            clients["a"],
            "ExecuteBillQuery",
            {"data": {"FormId": "SAL_OUTSTOCK", "FieldKeys": "FBillNo", "FilterString": breakout}},
        )
        assert ["B-1"] not in answer, breakout

    before = snapshot(erp)
    view = await call(clients["a"], "View", {"formid": "SAL_OUTSTOCK", "data": {"Number": "B-1"}})
    assert status(view)["MsgCode"] == 10 and view["Result"]["Result"] is None
    fid_b = erp.document("SAL_OUTSTOCK", "B-1")["fid"]  # type: ignore[index]
    for op, data in (
        ("Submit", {"Numbers": ["B-1"]}),
        ("Delete", {"Ids": str(fid_b)}),
        ("Save", {"Model": {**outstock(world, "B-1", shop_of(world, "OWNER-A")), "FID": fid_b}}),
    ):
        answer = await call(clients["a"], op, {"formid": "SAL_OUTSTOCK", "data": data})
        assert status(answer)["IsSuccess"] is False
        assert status(answer)["MsgCode"] == 10, op
    assert snapshot(erp) == before
    submitted = await call(
        clients["b"], "Submit", {"formid": "SAL_OUTSTOCK", "data": {"Numbers": ["B-1"]}}
    )
    assert status(submitted)["IsSuccess"] is True


@pytest.mark.anyio
async def test_tenant_master_data_scope(
    clients: dict[str, httpx.AsyncClient], erp: ErpService, world: World
) -> None:
    customers = await call(
        clients["a"],
        "ExecuteBillQuery",
        {"data": {"FormId": "BD_Customer", "FieldKeys": "FNumber"}},
    )
    assert sorted(row[0] for row in customers) == sorted(
        shop.shop_no for shop in world.shops if shop.owner_code == "OWNER-A"
    )
    # materials are shared: every owner reads them, only the integrator writes them
    materials = await call(
        clients["a"],
        "ExecuteBillQuery",
        {"data": {"FormId": "BD_MATERIAL", "FieldKeys": "FNumber"}},
    )
    assert len(materials) == len(world.skus)
    refused = await call(
        clients["a"],
        "Save",
        {"formid": "BD_MATERIAL", "data": {"Model": {"FNumber": "M-NEW", "FName": "新物料"}}},
    )
    assert status(refused)["MsgCode"] == 2
    assert status(refused)["Errors"][0]["Message"] == "没有BD_MATERIAL的保存权限"
    # customers too are the integrator's to write (their numbers are one namespace): a
    # tenant's Save is refused whatever the number, so it cannot probe another owner's
    for number in ("C-A", shop_of(world, "OWNER-B")):
        refused = await call(
            clients["a"],
            "Save",
            {"formid": "BD_Customer", "data": {"Model": {"FNumber": number, "FName": "新客户"}}},
        )
        assert status(refused)["MsgCode"] == 2
        assert status(refused)["Errors"][0]["Message"] == "没有BD_Customer的保存权限"
    query = {
        "data": {"FormId": "BD_Customer", "FieldKeys": "FNumber", "FilterString": "FNumber = 'C-A'"}
    }
    assert await call(clients["connector"], "ExecuteBillQuery", query) == []
    # the integrator's new customer belongs to no owner: no tenant sees or uses it
    saved = await call(
        clients["connector"],
        "Save",
        {
            "formid": "BD_Customer",
            "data": {"Model": {"FNumber": "C-A", "FName": "新客户"}, "IsAutoSubmitAndAudit": True},
        },
    )
    assert status(saved)["IsSuccess"] is True
    assert await call(clients["connector"], "ExecuteBillQuery", query) == [["C-A"]]
    assert await call(clients["a"], "ExecuteBillQuery", query) == []
    foreign = await call(
        clients["b"],
        "Save",
        {"formid": "SAL_OUTSTOCK", "data": {"Model": outstock(world, "Y-1", "C-A")}},
    )
    assert status(foreign)["MsgCode"] == 11


def keyed(answer: Any, key: str) -> str:
    """An answer as text with the key it was asked about replaced, for comparing answers."""
    return json.dumps(answer, ensure_ascii=False, sort_keys=True).replace(key, "@KEY@")


@pytest.mark.anyio
async def test_another_owners_records_answer_exactly_like_missing_ones(
    clients: dict[str, httpx.AsyncClient], erp: ErpService, world: World
) -> None:
    """Finding 8 (ERP): for tenant A, each of B's bill numbers, ids and customers gets the
    answer a never-used one gets (the key replaced). Saving a bill under B's number used to
    answer 违反字段唯一性要求 where a fresh number succeeded; a customer likewise."""
    shop_a, shop_b = shop_of(world, "OWNER-A"), shop_of(world, "OWNER-B")
    saved = await call(
        clients["connector"],
        "Save",
        {"formid": "SAL_OUTSTOCK", "data": {"Model": outstock(world, "B-1", shop_b)}},
    )
    fid_b = str(status(saved)["SuccessEntitys"][0]["Id"])
    bills_of_b = snapshot(erp)

    def form(data: dict[str, Any], formid: str = "SAL_OUTSTOCK") -> dict[str, Any]:
        return {"formid": formid, "data": data}

    cases: list[tuple[str, Callable[[str], dict[str, Any]], str, str]] = [
        ("View", lambda k: form({"Number": k}), "B-1", "NEVER-1"),
        ("View", lambda k: form({"Id": k}), fid_b, "999901"),
        ("Submit", lambda k: form({"Numbers": [k]}), "B-1", "NEVER-2"),
        ("Audit", lambda k: form({"Ids": k}), fid_b, "999902"),
        ("UnAudit", lambda k: form({"Numbers": [k]}), "B-1", "NEVER-3"),
        ("Delete", lambda k: form({"Ids": k}), fid_b, "999903"),
        (
            "Save",
            lambda k: form({"Model": {**outstock(world, "Z-1", shop_a), "FID": k}}),
            fid_b,
            "999904",
        ),
        ("Save", lambda k: form({"Model": outstock(world, "Q-1", k)}), shop_b, "SHOP-NEVER"),
        (
            "Save",
            lambda k: form({"Model": {"FNumber": k, "FName": "x"}}, "BD_Customer"),
            shop_b,
            "C-NEVER",
        ),
        ("Audit", lambda k: form({"Numbers": [k]}, "BD_Customer"), shop_b, "C-NEVER-2"),
        (
            "ExecuteBillQuery",
            lambda k: {
                "data": {
                    "FormId": "SAL_OUTSTOCK",
                    "FieldKeys": "FBillNo",
                    "FilterString": f"FBillNo='{k}'",
                }
            },
            "B-1",
            "NEVER-4",
        ),
    ]
    for op, body, foreign, missing in cases:
        answers = [
            keyed(await call(clients["a"], op, body(key)), key) for key in (foreign, missing)
        ]
        assert answers[0] == answers[1], (op, foreign, answers)
    assert snapshot(erp) == bills_of_b
    # a bill under B's number is A's own new bill, answered as for a fresh number
    fresh = []
    for number in ("B-1", "NEVER-5"):
        answer = await call(clients["a"], "Save", form({"Model": outstock(world, number, shop_a)}))
        assert status(answer)["IsSuccess"] is True
        fresh.append(keyed(answer, number).replace(str(answer["Result"]["Id"]), "@ID@"))
    assert fresh[0] == fresh[1]
    owners = erp.conn.execute("SELECT owner_code FROM documents WHERE bill_no = 'B-1' ORDER BY fid")
    assert [row[0] for row in owners] == ["OWNER-B", "OWNER-A"]


@pytest.mark.anyio
async def test_the_integrator_acts_by_id_on_a_number_two_owners_use(
    clients: dict[str, httpx.AsyncClient], erp: ErpService, world: World
) -> None:
    ids = {}
    for owner, client in (("OWNER-A", clients["a"]), ("OWNER-B", clients["b"])):
        saved = await call(
            client,
            "Save",
            {
                "formid": "SAL_OUTSTOCK",
                "data": {"Model": outstock(world, "DUP-1", shop_of(world, owner))},
            },
        )
        ids[owner] = status(saved)["SuccessEntitys"][0]["Id"]
    # by number the integrator would have to guess whose bill it means: refused, nothing moves
    for op, data in (("View", {"Number": "DUP-1"}), ("Submit", {"Numbers": ["DUP-1"]})):
        answer = await call(clients["connector"], op, {"formid": "SAL_OUTSTOCK", "data": data})
        assert status(answer)["IsSuccess"] is False and status(answer)["MsgCode"] == 8, op
        assert "不唯一" in status(answer)["Errors"][0]["Message"]
    assert {row[1] for row in snapshot(erp)} == {"A"}
    by_id = await call(
        clients["connector"],
        "Submit",
        {"formid": "SAL_OUTSTOCK", "data": {"Ids": str(ids["OWNER-B"])}},
    )
    assert status(by_id)["IsSuccess"] is True
    assert sorted((row[2], row[1]) for row in snapshot(erp)) == [("OWNER-A", "A"), ("OWNER-B", "B")]
    # each tenant, by number, reaches its own
    own = await call(clients["a"], "View", {"formid": "SAL_OUTSTOCK", "data": {"Number": "DUP-1"}})
    assert own["Result"]["Result"]["Id"] == ids["OWNER-A"]


# ---------------------------------------------------------------- sessions


@pytest.mark.anyio
async def test_idle_session_expires_and_a_new_login_works(
    clients: dict[str, httpx.AsyncClient],
    clock: ManualClock,
    tenant_a: K3Credentials,
    erp: ErpService,
) -> None:
    query = {"data": {"FormId": "BD_STOCK", "FieldKeys": "FNumber"}}
    # use within the timeout keeps the session alive (sliding expiry)
    for _ in range(3):
        clock.advance((TTL - 100) * clock.scale)
        rows = await call(clients["a"], "ExecuteBillQuery", query)
        assert rows and isinstance(rows[0], list) and isinstance(rows[0][0], str)
    clock.advance((TTL + 1) * clock.scale)
    lost = await call(clients["a"], "ExecuteBillQuery", query)
    assert status(lost)["MsgCode"] == 1
    assert status(lost)["Errors"][0]["Message"] == "会话信息已丢失，请重新登录"
    saved = await call(clients["a"], "Save", {"formid": "SAL_OUTSTOCK", "data": {"Model": {}}})
    assert status(saved)["MsgCode"] == 1 and saved["Result"]["Id"] == ""
    assert (await login(clients["a"], tenant_a))["LoginResultType"] == 1
    assert len(await call(clients["a"], "ExecuteBillQuery", query)) >= 1
    outcomes = [
        row[0]
        for row in erp.conn.execute(
            "SELECT outcome FROM events WHERE kind = 'api_in' AND operation = 'ExecuteBillQuery'"
        )
    ]
    assert outcomes.count("msgcode:1") == 1


# ---------------------------------------------------------------- logins


@pytest.mark.anyio
async def test_login_by_app_secret(
    app: object,
    asgi_client: Callable[[object], httpx.AsyncClient],
    tenant_a: K3Credentials,
    erp: ErpService,
) -> None:
    client = asgi_client(app)
    endpoint = url("LoginByAppSecret", "AuthService")
    good = [tenant_a.acct_id, tenant_a.username, tenant_a.app_id, tenant_a.app_secret, 2052]
    answer = (await client.post(endpoint, json={"parameters": good})).json()
    assert answer["LoginResultType"] == 1 and answer["Context"]["UserName"] == "user-a"
    assert erp.session(answer["KDSVCSessionId"]).owners == ("OWNER-A",)  # type: ignore[union-attr]
    for parameters in (
        [*good[:3], "wrong-secret", 2052],
        [*good[:2], "999999_other", good[3], 2052],
        [good[0], "nobody", *good[2:]],
    ):
        refused = await client.post(endpoint, json={"parameters": parameters})
        body = refused.json()
        assert refused.status_code == 200
        assert body["LoginResultType"] == 0 and body["KDSVCSessionId"] is None
        assert body["Message"] == "第三方系统登录授权验证失败：应用ID或应用密钥不正确"
        assert "kdservice-sessionid" not in refused.cookies
    unknown_acct = (await client.post(endpoint, json={"parameters": ["acct-x", *good[1:]]})).json()
    assert unknown_acct["Message"] == "数据中心[acct-x]不存在，请检查账套ID(acctID)！"
    history = " ".join(str(row[0]) for row in erp.conn.execute("SELECT payload FROM events"))
    assert tenant_a.app_secret not in history


def sign(*parts: str) -> str:
    # K3 LoginBySign, re-derived here: SHA-256 over the five values (acctID, username, appId,
    # appSecret, timestamp) sorted and concatenated
    return hashlib.sha256("".join(sorted(parts)).encode()).hexdigest()


@pytest.mark.anyio
async def test_login_by_sign_checks_signature_time_and_replay(
    app: object,
    asgi_client: Callable[[object], httpx.AsyncClient],
    connector: K3Credentials,
    clock: ManualClock,
    erp: ErpService,
) -> None:
    client = asgi_client(app)
    endpoint = url("LoginBySign", "AuthService")
    user = connector

    def parameters(timestamp: str, signature: str) -> dict[str, Any]:
        return {
            "parameters": [user.acct_id, user.username, user.app_id, timestamp, signature, 2052]
        }

    now = str(int(clock.wall()))
    good = sign(user.acct_id, user.username, user.app_id, user.app_secret, now)
    answer = (await client.post(endpoint, json=parameters(now, good))).json()
    assert answer["LoginResultType"] == 1
    replay = (await client.post(endpoint, json=parameters(now, good))).json()
    assert replay["LoginResultType"] == 0
    assert replay["Message"] == "第三方系统登录授权验证失败：签名已使用"
    later = str(int(clock.wall()) + 1)
    wrong = sign(user.acct_id, user.username, user.app_id, "not-the-secret", later)
    bad = (await client.post(endpoint, json=parameters(later, wrong))).json()
    assert bad["Message"] == "第三方系统登录授权验证失败：签名不正确"
    stale = str(int(clock.wall()) - 301)
    old = (
        await client.post(
            endpoint,
            json=parameters(
                stale, sign(user.acct_id, user.username, user.app_id, user.app_secret, stale)
            ),
        )
    ).json()
    assert old["Message"] == "第三方系统登录授权验证失败：时间戳已过期"
    assert erp.conn.execute("SELECT COUNT(*) FROM sessions").fetchone()[0] == 1
    outcomes = [
        row[0]
        for row in erp.conn.execute(
            "SELECT outcome FROM events WHERE operation = 'LoginBySign' ORDER BY seq"
        )
    ]
    assert outcomes == ["ok", "login_failed", "login_failed", "login_failed"]


@pytest.mark.anyio
async def test_wrong_password_and_unknown_user_for_tenants(
    app: object, asgi_client: Callable[[object], httpx.AsyncClient], tenant_a: K3Credentials
) -> None:
    client = asgi_client(app)
    for username, password in (("user-a", "pw-b"), ("user-z", "pw-a"), ("user-a", "")):
        answer = (
            await client.post(
                url("ValidateUser", "AuthService"),
                json={"acctID": "acct-1", "username": username, "password": password},
            )
        ).json()
        assert answer["LoginResultType"] == 0
        assert answer["Message"] in ("用户名或密码错误！", "账套ID、用户名和密码不能为空！")
    # the tenant's password does not open the connector's account
    crossed = (
        await client.post(
            url("ValidateUser", "AuthService"),
            json={"parameters": ["acct-1", "connector", tenant_a.password, 2052]},
        )
    ).json()
    assert crossed["Message"] == "用户名或密码错误！"


@pytest.mark.anyio
async def test_oversized_body_is_refused_unread(
    clients: dict[str, httpx.AsyncClient], erp: ErpService
) -> None:
    huge = (
        b'{"formid": "SAL_OUTSTOCK", "data": {"Model": {"FNote": "'
        + b"x" * (2 * 1024 * 1024)
        + b'"}}}'
    )
    response = await clients["connector"].post(url("Save"), content=huge)
    assert response.status_code == 200
    assert status(response.json())["Errors"][0]["Message"] == "请求数据超过最大长度限制"
    assert status(response.json())["MsgCode"] == 8
    assert snapshot(erp) == []
    login_too_big = await clients["connector"].post(
        url("ValidateUser", "AuthService"), content=huge
    )
    assert login_too_big.json()["LoginResultType"] == 0
