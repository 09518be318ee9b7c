"""The K3 Cloud WebAPI adapter over HTTP: login, session cookie, write answers, query, errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import orjson
import pytest

from fake_systems.common.context import SystemContext
from fake_systems.common.credentials import K3Credentials
from fake_systems.common.faults import FaultInjector, FaultRule
from fake_systems.erp.api.k3 import create_app
from fake_systems.erp.service import ErpService
from simulator.world import World
from tests.support.erp import LOGIN, STUB, documents, form_url, login, outstock_model


@pytest.fixture
def client(
    erp: ErpService, creds: K3Credentials, asgi_client: Callable[[object], httpx.AsyncClient]
) -> httpx.AsyncClient:
    return asgi_client(create_app(erp, creds))


def receivable_model(world: World, trade_no: str) -> dict[str, Any]:
    return {
        "FBillNo": trade_no,
        "FDATE": "2026-11-10 20:00:00",
        "FCUSTOMERID": {"FNumber": world.shops[0].shop_no},
        "FCURRENCYID": {"FNumber": "PRE001"},
        "FSETTLEORGID": {"FNumber": "100"},
        "FEntityDetail": [
            {
                "FMATERIALID": {"FNumber": world.skus[0].item_code},
                "FPriceQty": 2,
                "FTaxPrice": 12.5,
                "FALLAMOUNTFOR": "25.00",
            }
        ],
    }


# ---------------------------------------------------------------- login and sessions


@pytest.mark.anyio
async def test_login_object_body_sets_session_cookie(
    client: httpx.AsyncClient, creds: K3Credentials
) -> None:
    response = await client.post(
        LOGIN,
        json={"acctID": creds.acct_id, "username": "connector", "password": "pw-123", "lcid": 2052},
    )
    assert response.status_code == 200
    body = response.json()
    assert body["LoginResultType"] == 1 and body["IsSuccessByAPI"] is True
    assert body["MessageCode"] == "CheckPasswordPolicy" and body["Message"] is None
    assert body["Context"]["UserName"] == "connector" and body["Context"]["DBid"] == "acct-1"
    assert response.cookies["kdservice-sessionid"] == body["KDSVCSessionId"]


@pytest.mark.anyio
async def test_login_parameters_array(client: httpx.AsyncClient, erp: ErpService) -> None:
    response = await client.post(
        LOGIN, json={"parameters": ["acct-1", "connector", "pw-123", 2052]}
    )
    body = response.json()
    assert body["LoginResultType"] == 1
    assert erp.session_valid(body["KDSVCSessionId"])
    # the password never reaches the history
    payloads = [
        row[0]
        for row in erp.conn.execute("SELECT payload FROM events WHERE operation = 'ValidateUser'")
    ]
    assert payloads and all("pw-123" not in (p or "") for p in payloads)


@pytest.mark.anyio
@pytest.mark.parametrize(
    "body",
    [
        {"acctID": "acct-1", "username": "connector", "password": "wrong", "lcid": 2052},
        {"parameters": ["acct-1", "intruder", "pw-123", 2052]},
        {"parameters": ["other", "connector", "pw-123", 2052]},
        {"acctID": "acct-1"},
        [1, 2],
    ],
)
async def test_login_refused_answers_login_result_type_0(
    client: httpx.AsyncClient, erp: ErpService, body: Any
) -> None:
    response = await client.post(LOGIN, json=body)
    assert response.status_code == 200
    answer = response.json()
    assert answer["LoginResultType"] == 0 and answer["IsSuccessByAPI"] is False
    assert answer["KDSVCSessionId"] is None and answer["Context"] is None and answer["Message"]
    assert "kdservice-sessionid" not in response.cookies
    assert erp.conn.execute("SELECT COUNT(*) FROM sessions").fetchone()[0] == 0


@pytest.mark.anyio
async def test_wrong_password_message(client: httpx.AsyncClient) -> None:
    response = await client.post(LOGIN, json={"parameters": ["acct-1", "connector", "nope", 2052]})
    assert response.json()["Message"] == "用户名或密码错误！"


@pytest.mark.anyio
async def test_malformed_login_body(client: httpx.AsyncClient) -> None:
    response = await client.post(LOGIN, content=b"{not json")
    assert response.status_code == 200
    assert response.json()["LoginResultType"] == 0


@pytest.mark.anyio
@pytest.mark.parametrize("cookie", [None, "forged-session"])
async def test_calls_without_a_valid_session_lose_context(
    client: httpx.AsyncClient, erp: ErpService, world: World, cookie: str | None
) -> None:
    # K3 signs nothing: the session cookie is the credential, so a forged one is the bad signature
    if cookie:
        client.cookies.set("kdservice-sessionid", cookie)
    body = {"formid": "SAL_OUTSTOCK", "data": {"Model": outstock_model(world, "T1")}}
    answer = (await client.post(form_url("Save"), json=body)).json()
    status = answer["Result"]["ResponseStatus"]
    assert status["IsSuccess"] is False and status["MsgCode"] == 1 and status["ErrorCode"] == 500
    assert status["Errors"] == [
        {"FieldName": None, "Message": "会话信息已丢失，请重新登录", "DIndex": 0}
    ]
    query = (
        await client.post(
            form_url("ExecuteBillQuery"),
            json={"data": {"FormId": "BD_MATERIAL", "FieldKeys": "FNumber"}},
        )
    ).json()
    assert query[0][0]["Result"]["ResponseStatus"]["MsgCode"] == 1
    assert documents(erp) == []


@pytest.mark.anyio
async def test_session_header_is_accepted_and_expiry_loses_context(
    client: httpx.AsyncClient, erp: ErpService, creds: K3Credentials
) -> None:
    session = await login(client, creds)
    client.cookies.clear()
    query = {
        "data": {
            "FormId": "BD_Currency",
            "FieldKeys": "FNumber",
            "FilterString": "FNumber='PRE001'",
        }
    }
    ok = await client.post(
        form_url("ExecuteBillQuery"), json=query, headers={"kdservice-sessionid": session}
    )
    assert ok.json() == [["PRE001"]]
    erp.expire_sessions()
    lost = await client.post(
        form_url("ExecuteBillQuery"), json=query, headers={"kdservice-sessionid": session}
    )
    assert (
        lost.json()[0][0]["Result"]["ResponseStatus"]["Errors"][0]["Message"]
        == "会话信息已丢失，请重新登录"
    )


@pytest.mark.anyio
async def test_logout_ends_the_session(
    client: httpx.AsyncClient, erp: ErpService, creds: K3Credentials
) -> None:
    session = await login(client, creds)
    response = await client.post(STUB.format("AuthService.Logout"), json={})
    assert response.json() is True
    assert not erp.session_valid(session)


# ---------------------------------------------------------------- the connector's flow


@pytest.mark.anyio
async def test_save_submit_audit_both_forms(
    client: httpx.AsyncClient, erp: ErpService, world: World, creds: K3Credentials
) -> None:
    await login(client, creds)
    save = await client.post(
        form_url("Save"),
        json={"formid": "SAL_OUTSTOCK", "data": {"Model": outstock_model(world, "TR1")}},
    )
    assert save.status_code == 200
    result = save.json()["Result"]
    assert (
        result["ResponseStatus"]["IsSuccess"] is True and result["ResponseStatus"]["MsgCode"] == 0
    )
    assert result["Number"] == "TR1" and isinstance(result["Id"], int)
    assert result["ResponseStatus"]["SuccessEntitys"] == [
        {"Id": result["Id"], "Number": "TR1", "DIndex": 0}
    ]
    # K3's own SDK form: parameters [formid, data-as-JSON-text]
    data = orjson.dumps({"Model": receivable_model(world, "TR1")}).decode()
    ar = await client.post(form_url("Save"), json={"parameters": ["AR_receivable", data]})
    assert ar.json()["Result"]["ResponseStatus"]["IsSuccess"] is True
    assert documents(erp) == [
        ("SAL_OUTSTOCK", "TR1", "A", 2500),
        ("AR_receivable", "TR1", "A", 2500),
    ]

    for op in ("Submit", "Audit"):
        for form in ("SAL_OUTSTOCK", "AR_receivable"):
            answer = (
                await client.post(form_url(op), json={"formid": form, "data": {"Numbers": ["TR1"]}})
            ).json()
            assert answer["Result"]["ResponseStatus"]["IsSuccess"] is True
            assert answer["Result"]["ResponseStatus"]["SuccessEntitys"][0]["Number"] == "TR1"
    assert documents(erp) == [
        ("SAL_OUTSTOCK", "TR1", "C", 2500),
        ("AR_receivable", "TR1", "C", 2500),
    ]
    audited = erp.conn.execute(
        "SELECT COUNT(*) FROM documents WHERE audited_wall IS NOT NULL"
    ).fetchone()[0]
    assert audited == 2
    ops = [
        tuple(row)
        for row in erp.conn.execute(
            "SELECT operation, outcome FROM events WHERE kind = 'api_in' AND entity = 'TR1'"
        )
    ]
    assert ops == [
        ("Save", "ok"),
        ("Save", "ok"),
        ("Submit", "ok"),
        ("Submit", "ok"),
        ("Audit", "ok"),
        ("Audit", "ok"),
    ]


@pytest.mark.anyio
async def test_view_by_number_and_id(
    client: httpx.AsyncClient, world: World, creds: K3Credentials
) -> None:
    await login(client, creds)
    save = await client.post(
        form_url("Save"),
        json={"formid": "SAL_OUTSTOCK", "data": {"Model": outstock_model(world, "V1")}},
    )
    fid = save.json()["Result"]["Id"]
    by_number = (
        await client.post(
            form_url("View"), json={"formid": "SAL_OUTSTOCK", "data": {"Number": "V1"}}
        )
    ).json()
    view = by_number["Result"]["Result"]
    assert by_number["Result"]["ResponseStatus"]["IsSuccess"] is True
    assert (view["Id"], view["BillNo"], view["DocumentStatus"], view["TotalAmount"]) == (
        fid,
        "V1",
        "A",
        25.0,
    )
    assert view["CustomerID"]["Number"] == world.shops[0].shop_no
    assert view["SAL_OUTSTOCKENTRY"][0]["MaterialID"]["Number"] == world.skus[0].item_code
    by_id = (
        await client.post(
            form_url("View"), json={"formid": "SAL_OUTSTOCK", "data": {"Id": str(fid)}}
        )
    ).json()
    assert by_id["Result"]["Result"]["BillNo"] == "V1"
    missing = (
        await client.post(
            form_url("View"), json={"formid": "SAL_OUTSTOCK", "data": {"Number": "V9"}}
        )
    ).json()
    assert (
        missing["Result"]["ResponseStatus"]["MsgCode"] == 10 and missing["Result"]["Result"] is None
    )


@pytest.mark.anyio
async def test_save_on_audited_document_refused(
    client: httpx.AsyncClient, erp: ErpService, world: World, creds: K3Credentials
) -> None:
    await login(client, creds)
    data = {"Model": outstock_model(world, "A1"), "IsAutoSubmitAndAudit": True}
    fid = (
        await client.post(form_url("Save"), json={"formid": "SAL_OUTSTOCK", "data": data})
    ).json()["Result"]["Id"]
    assert documents(erp) == [("SAL_OUTSTOCK", "A1", "C", 2500)]
    change = {"Model": {"FID": fid, "FNote": "late change"}}
    answer = (
        await client.post(form_url("Save"), json={"formid": "SAL_OUTSTOCK", "data": change})
    ).json()["Result"]
    assert answer["ResponseStatus"]["IsSuccess"] is False
    assert answer["ResponseStatus"]["Errors"][0]["Message"] == "单据已审核，不允许修改"
    assert answer["Id"] == "" and answer["Number"] == ""
    assert erp.conn.execute("SELECT note FROM documents").fetchone()[0] == "ecomock order"


@pytest.mark.anyio
async def test_required_field_missing_over_http(
    client: httpx.AsyncClient, erp: ErpService, world: World, creds: K3Credentials
) -> None:
    await login(client, creds)
    model = outstock_model(world, "M1")
    del model["FCustomerID"]
    answer = (
        await client.post(
            form_url("Save"), json={"formid": "SAL_OUTSTOCK", "data": {"Model": model}}
        )
    ).json()
    status = answer["Result"]["ResponseStatus"]
    assert status["MsgCode"] == 11 and status["ErrorCode"] == 500
    assert status["Errors"] == [
        {"FieldName": "FCustomerID", "Message": "字段[客户]是必录字段", "DIndex": 0}
    ]
    assert documents(erp) == []


@pytest.mark.anyio
async def test_partial_batch_over_http(
    client: httpx.AsyncClient, world: World, creds: K3Credentials
) -> None:
    await login(client, creds)
    await client.post(
        form_url("Save"),
        json={"formid": "SAL_OUTSTOCK", "data": {"Model": outstock_model(world, "P1")}},
    )
    answer = (
        await client.post(
            form_url("Submit"), json={"formid": "SAL_OUTSTOCK", "data": {"Numbers": ["NOPE", "P1"]}}
        )
    ).json()
    status = answer["Result"]["ResponseStatus"]
    assert status["IsSuccess"] is False and status["MsgCode"] == 10
    assert status["SuccessEntitys"] == [
        {"Id": status["SuccessEntitys"][0]["Id"], "Number": "P1", "DIndex": 1}
    ]
    assert status["Errors"] == [
        {"FieldName": None, "Message": "单据编号为[NOPE]的单据不存在", "DIndex": 0}
    ]


@pytest.mark.anyio
async def test_execute_bill_query_over_http(
    client: httpx.AsyncClient, world: World, creds: K3Credentials
) -> None:
    await login(client, creds)
    for i in range(5):
        await client.post(
            form_url("Save"),
            json={"formid": "SAL_OUTSTOCK", "data": {"Model": outstock_model(world, f"E{i}")}},
        )
    query = {
        "FormId": "SAL_OUTSTOCK",
        "FieldKeys": "FBillNo,FAllAmount",
        "FilterString": "FDocumentStatus = 'A' AND FCustomerID.FNumber = '"
        + world.shops[0].shop_no
        + "'",
        "OrderString": "",
        "TopRowCount": 0,
        "StartRow": 1,
        "Limit": 2,
    }
    rows = (await client.post(form_url("ExecuteBillQuery"), json={"data": query})).json()
    assert rows == [["E1", 25.0], ["E2", 25.0]]
    sdk_style = (
        await client.post(
            form_url("ExecuteBillQuery"), json={"parameters": [orjson.dumps(query).decode()]}
        )
    ).json()
    assert sdk_style == rows
    bad = (
        await client.post(
            form_url("ExecuteBillQuery"), json={"data": {**query, "FieldKeys": "FBillNo,FWhat"}}
        )
    ).json()
    assert bad == [
        [
            {
                "Result": {
                    "ResponseStatus": {
                        "ErrorCode": 500,
                        "IsSuccess": False,
                        "Errors": [
                            {
                                "FieldName": "FWhat",
                                "Message": "元数据中标识为FWhat的字段不存在",
                                "DIndex": 0,
                            }
                        ],
                        "SuccessEntitys": [],
                        "SuccessMessages": [],
                        "MsgCode": 9,
                    }
                }
            }
        ]
    ]
    junk = (
        await client.post(form_url("ExecuteBillQuery"), json={"data": {**query, "Limit": "ten"}})
    ).json()
    assert junk[0][0]["Result"]["ResponseStatus"]["MsgCode"] == 8


# ---------------------------------------------------------------- malformed requests


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"{oops", "请求数据不是合法的JSON格式"),
        (b"", "接口参数data不能为空"),
        (b'{"formid": "SAL_OUTSTOCK"}', "接口参数data不能为空"),
        (b'{"formid": "SAL_OUTSTOCK", "data": "{broken"}', "请求数据不是合法的JSON格式"),
        (b'{"formid": "SAL_OUTSTOCK", "data": 5}', "接口参数data格式不正确，应为JSON对象"),
        (b'{"data": {"Model": {"FBillNo": "X"}}}', "接口参数formid不能为空"),
        (b'{"formid": "SAL_NOPE", "data": {"Model": {"FBillNo": "X"}}}', "业务对象不存在"),
        (b'{"formid": "SAL_OUTSTOCK", "data": {}}', "参数Model不能为空"),
        (b'{"parameters": ["SAL_OUTSTOCK"]}', "接口参数data不能为空"),
        (b"[1, 2]", "请求数据格式不正确，应为JSON对象"),
    ],
)
async def test_malformed_save_bodies(
    client: httpx.AsyncClient, erp: ErpService, creds: K3Credentials, content: bytes, message: str
) -> None:
    await login(client, creds)
    response = await client.post(
        form_url("Save"), content=content, headers={"content-type": "application/json"}
    )
    assert response.status_code == 200
    status = response.json()["Result"]["ResponseStatus"]
    assert status["IsSuccess"] is False and status["MsgCode"] == 8
    assert status["Errors"][0]["Message"] == message
    assert documents(erp) == []


@pytest.mark.anyio
@pytest.mark.parametrize(
    "path",
    [
        STUB.format("DynamicFormService.Explode"),
        STUB.format("NoSuchService.Save"),
        "/Kingdee.Something.kdsvc",
        "/elsewhere/" + STUB.format("DynamicFormService.Save").lstrip("/"),
    ],
)
async def test_unknown_operations_answer_k3_errors(
    client: httpx.AsyncClient, creds: K3Credentials, path: str
) -> None:
    await login(client, creds)
    response = await client.post(path, json={"formid": "SAL_OUTSTOCK", "data": {}})
    assert response.status_code == 200
    status = response.json()["Result"]["ResponseStatus"]
    assert (
        status["IsSuccess"] is False
        and status["MsgCode"] == 8
        and "不存在" in status["Errors"][0]["Message"]
    )


@pytest.mark.anyio
async def test_k3cloud_prefix_and_case_insensitive_stub(
    client: httpx.AsyncClient, creds: K3Credentials
) -> None:
    response = await client.post(
        "/K3Cloud/kingdee.bos.webapi.servicesstub.authservice.validateuser.common.kdsvc",
        json={"parameters": [creds.acct_id, creds.username, creds.password, 2052]},
    )
    assert response.json()["LoginResultType"] == 1
    query = {"data": {"FormId": "ORG_Organizations", "FieldKeys": "FNumber"}}
    rows = await client.post("/k3cloud" + form_url("executebillquery"), json=query)
    assert rows.json() == [["100"]]


@pytest.mark.anyio
async def test_unexpected_failure_still_answers_in_k3_format(
    client: httpx.AsyncClient,
    erp: ErpService,
    world: World,
    creds: K3Credentials,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await login(client, creds)

    def explode(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr(erp, "save", explode)
    response = await client.post(
        form_url("Save"),
        json={"formid": "SAL_OUTSTOCK", "data": {"Model": outstock_model(world, "X")}},
    )
    assert response.status_code == 200
    status = response.json()["Result"]["ResponseStatus"]
    assert (
        status["IsSuccess"] is False
        and status["Errors"][0]["Message"] == "服务端内部错误：RuntimeError"
    )
    assert "Traceback" not in response.text and "boom" not in response.text


@pytest.mark.anyio
async def test_failure_outside_the_handler_answers_in_k3_format(
    erp: ErpService, world: World, creds: K3Credentials, monkeypatch: pytest.MonkeyPatch
) -> None:
    def explode(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr(erp, "session", explode)
    # uvicorn logs the exception after the answer went out; the test client must not re-raise it
    transport = httpx.ASGITransport(app=create_app(erp, creds), raise_app_exceptions=False)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://fake") as client:
        save = await client.post(form_url("Save"), json={"formid": "SAL_OUTSTOCK", "data": {}})
        query = await client.post(form_url("ExecuteBillQuery"), json={"data": {}})
    assert save.status_code == 200 and query.status_code == 200
    assert (
        save.json()["Result"]["ResponseStatus"]["Errors"][0]["Message"]
        == "服务端内部错误：RuntimeError"
    )
    assert query.json()[0][0]["Result"]["ResponseStatus"]["IsSuccess"] is False
    assert "boom" not in save.text + query.text


@pytest.mark.anyio
async def test_lost_response_fault_keeps_the_work(
    make_context: Callable[[str], SystemContext],
    world: World,
    creds: K3Credentials,
    asgi_client: Callable[[object], httpx.AsyncClient],
) -> None:
    ctx = make_context("erp")
    ctx.faults = FaultInjector([FaultRule("erp", "Save", "lost_response", 1.0)], seed=1)
    service = ErpService(ctx, creds)
    service.setup(world)
    client = asgi_client(create_app(service, creds))
    await login(client, creds)
    response = await client.post(
        form_url("Save"),
        json={"formid": "SAL_OUTSTOCK", "data": {"Model": outstock_model(world, "L1")}},
    )
    assert response.status_code == 504
    assert documents(service) == [("SAL_OUTSTOCK", "L1", "A", 2500)]
    fault = service.conn.execute(
        "SELECT outcome, entity FROM events WHERE kind = 'fault'"
    ).fetchone()
    assert tuple(fault) == ("lost_response", "L1")
    # the retry meets the bill-number rule, as it would in K3
    retry = await client.post(
        form_url("Save"),
        json={"formid": "SAL_OUTSTOCK", "data": {"Model": outstock_model(world, "L1")}},
    )
    assert "唯一性" in retry.json()["Result"]["ResponseStatus"]["Errors"][0]["Message"]


@pytest.mark.anyio
async def test_a_fault_on_a_look_up_by_number_names_the_bill(
    make_context: Callable[[str], SystemContext],
    world: World,
    creds: K3Credentials,
    asgi_client: Callable[[object], httpx.AsyncClient],
) -> None:
    # A connector reads a bill back by number before saving it again: a fault on that query
    # is about the bill's trade (the report's "recovered" counts it), a broader query's
    # about the form.
    ctx = make_context("erp")
    ctx.faults = FaultInjector([FaultRule("erp", "ExecuteBillQuery", "busy", 1.0)], seed=1)
    service = ErpService(ctx, creds)
    service.setup(world)
    client = asgi_client(create_app(service, creds))
    await login(client, creds)
    for filter_string in (" fbillno = 'L1' ", "FBillNo='L1' OR FBillNo='L2'", ""):
        query = {"FormId": "SAL_OUTSTOCK", "FieldKeys": "FBillNo", "FilterString": filter_string}
        await client.post(form_url("ExecuteBillQuery"), json={"data": query})
    entities = service.conn.execute(
        "SELECT entity FROM events WHERE kind = 'fault' ORDER BY seq"
    ).fetchall()
    assert [row[0] for row in entities] == ["L1", "SAL_OUTSTOCK", "SAL_OUTSTOCK"]


@pytest.mark.anyio
async def test_control_surface_still_served(client: httpx.AsyncClient) -> None:
    response = await client.get("/_fake/health")
    assert response.json() == {"system": "erp", "status": "ok"}
