"""K3 strict values: huge integers and amounts, odd numerals, control characters, over-long
codes and over-large saves get K3's own refusals (IsSuccess false, MsgCode, FieldName), never
服务端内部错误, and change nothing."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import httpx
import orjson
import pytest

from fake_systems.common.pipeline import OFF_LOOP_BYTES
from fake_systems.erp.api import k3
from fake_systems.erp.models import MsgCode
from fake_systems.erp.service import ErpService
from simulator.world import World
from tests.support.erp import CREDS, LOGIN, documents, form_url, login, outstock_model

pytestmark = pytest.mark.anyio

ODD_NUMERALS = ("²", "٣", "--5", "1_0", "1e3", "NaN", "Infinity", "1" * 1000, "0x10")


@pytest.fixture
async def client(
    erp: ErpService, asgi_client: Callable[[object], httpx.AsyncClient]
) -> httpx.AsyncClient:
    made = asgi_client(k3.create_app(erp, CREDS))
    await login(made, CREDS)
    return made


def status(answer: Any) -> dict[str, Any]:
    if isinstance(answer, list):  # ExecuteBillQuery errors come wrapped in the 2-D array
        return dict(answer[0][0]["Result"]["ResponseStatus"])
    return dict(answer["Result"]["ResponseStatus"])


async def post(client: httpx.AsyncClient, op: str, body: Any) -> dict[str, Any]:
    response = await client.post(
        form_url(op), content=orjson.dumps(body), headers={"content-type": "application/json"}
    )
    assert response.status_code == 200
    return status(response.json())


def refusal(answer: dict[str, Any], msg_code: MsgCode) -> dict[str, Any]:
    """The first error, after checking the answer is K3's refusal with `msg_code`."""
    assert answer["IsSuccess"] is False, answer
    assert answer["MsgCode"] == msg_code, answer
    assert "服务端内部错误" not in answer["Errors"][0]["Message"], answer
    return dict(answer["Errors"][0])


async def save(client: httpx.AsyncClient, model: dict[str, Any]) -> dict[str, Any]:
    return await post(client, "Save", {"formid": "SAL_OUTSTOCK", "data": {"Model": model}})


@pytest.mark.parametrize("fid", [2**63, str(2**63), "9" * 30, 18446744073709551615])
async def test_fid_beyond_64_bits_is_a_parameter_error(
    client: httpx.AsyncClient, erp: ErpService, world: World, fid: object
) -> None:
    error = refusal(
        await save(client, {**outstock_model(world, "S1"), "FID": fid}), MsgCode.PARAMETER_ERROR
    )
    assert error["FieldName"] == "FID"
    assert documents(erp) == []


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("FAllAmount", "100000000000000000"),  # 10^17 yuan: its cents overflowed SQLite
        ("FAllAmount", 1e17),
        ("FAllAmount", "1000000000000.00"),  # above 999,999,999,999.99
        ("FAllAmount", "1e400"),
        ("FTaxPrice", "1_0"),
        ("FRealQty", 2**63),
        ("FRealQty", "1000000001"),
        *(("FRealQty", numeral) for numeral in ODD_NUMERALS),
    ],
)
async def test_entry_numbers_out_of_range_or_odd_are_validation_errors(
    client: httpx.AsyncClient, erp: ErpService, world: World, key: str, value: object
) -> None:
    model = outstock_model(world, "S2")
    model["FEntity"][0][key] = value
    error = refusal(await save(client, model), MsgCode.VALIDATION_FAILED)
    assert error["FieldName"].lower() == key.lower()
    assert documents(erp) == []


async def test_an_amount_computed_beyond_the_range_is_refused(
    client: httpx.AsyncClient, erp: ErpService, world: World
) -> None:
    model = outstock_model(world, "S3")
    entry = model["FEntity"][0]
    del entry["FAllAmount"]
    entry.update(FRealQty=1_000_000_000, FTaxPrice="999999999999.99")
    error = refusal(await save(client, model), MsgCode.VALIDATION_FAILED)
    assert error["FieldName"].lower() == "fallamount"
    assert documents(erp) == []


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("FBillNo", "S\x00NUL"),
        ("FBillNo", "B" * 100_000),
        ("FBillNo", "B" * 65),
        ("FBillNo", "S\tTAB"),
        ("FNote", "note \x1b[31m red"),
        ("FNote", "n" * 2001),
    ],
)
async def test_control_characters_and_over_long_text_are_refused(
    client: httpx.AsyncClient, erp: ErpService, world: World, field: str, value: str
) -> None:
    model = {**outstock_model(world, "S4"), field: value}
    error = refusal(await save(client, model), MsgCode.PARAMETER_ERROR)
    assert error["FieldName"] == field
    assert len(error["Message"]) < 200  # the refusal does not echo 100,000 characters back
    assert documents(erp) == []


async def test_codes_inside_basedata_and_lists_are_checked_too(
    client: httpx.AsyncClient, erp: ErpService, world: World
) -> None:
    model = outstock_model(world, "S5")
    model["FEntity"][0]["FMaterialID"] = {"FNumber": "M\x00"}
    assert refusal(await save(client, model), MsgCode.PARAMETER_ERROR)["FieldName"] == "FNumber"
    submit = await post(
        client, "Submit", {"formid": "SAL_OUTSTOCK", "data": {"Numbers": ["A\x01"]}}
    )
    assert refusal(submit, MsgCode.PARAMETER_ERROR)["FieldName"] == "Numbers"


async def test_sdk_style_data_string_is_checked_like_an_object(
    client: httpx.AsyncClient, erp: ErpService, world: World
) -> None:
    data = orjson.dumps({"Model": {**outstock_model(world, "S6"), "FBillNo": "S\x00"}}).decode()
    answer = await post(client, "Save", {"parameters": ["SAL_OUTSTOCK", data]})
    assert refusal(answer, MsgCode.PARAMETER_ERROR)["FieldName"] == "FBillNo"
    assert documents(erp) == []


async def test_free_text_keeps_line_breaks(
    client: httpx.AsyncClient, erp: ErpService, world: World
) -> None:
    answer = await save(client, {**outstock_model(world, "S7"), "FNote": "line 1\r\nline 2"})
    assert answer["IsSuccess"] is True
    assert len(documents(erp)) == 1


@pytest.mark.parametrize("ids", [[2**63], "9223372036854775808", ["1_0"], [str(10**30)]])
async def test_batch_ids_beyond_64_bits_are_not_found(
    client: httpx.AsyncClient, erp: ErpService, ids: object
) -> None:
    answer = await post(client, "Submit", {"formid": "SAL_OUTSTOCK", "data": {"Ids": ids}})
    refusal(answer, MsgCode.NOT_FOUND)


@pytest.mark.parametrize("fid", [2**63, "9" * 30, "²"])
async def test_view_id_beyond_64_bits_is_a_parameter_error(
    client: httpx.AsyncClient, fid: object
) -> None:
    answer = await post(client, "View", {"formid": "SAL_OUTSTOCK", "data": {"Id": fid}})
    assert refusal(answer, MsgCode.PARAMETER_ERROR)["FieldName"] == "FID"


@pytest.mark.parametrize("name", ["StartRow", "Limit", "TopRowCount"])
@pytest.mark.parametrize("value", [2**63, str(2**31), "1_0", "²", -1])
async def test_query_paging_numbers_are_strict(
    client: httpx.AsyncClient, name: str, value: object
) -> None:
    query = {"FormId": "SAL_OUTSTOCK", "FieldKeys": "FBillNo", name: value}
    answer = await post(client, "ExecuteBillQuery", {"data": query})
    assert refusal(answer, MsgCode.PARAMETER_ERROR)["FieldName"] == name


async def test_login_with_a_huge_lcid_still_logs_in(
    erp: ErpService, asgi_client: Callable[[object], httpx.AsyncClient]
) -> None:
    client = asgi_client(k3.create_app(erp, CREDS))
    body = {"parameters": [CREDS.acct_id, CREDS.username, CREDS.password, 18446744073709551615]}
    answer = (await client.post(LOGIN, json=body)).json()
    assert answer["LoginResultType"] == 1
    assert answer["Lcid"] == CREDS.lcid  # an impossible locale falls back to the user's


async def test_deeply_nested_bodies_are_refused(client: httpx.AsyncClient, erp: ErpService) -> None:
    raw = b'{"formid": "SAL_OUTSTOCK", "data": {"Model": ' + b"[" * 500 + b"]" * 500 + b"}}"
    response = await client.post(form_url("Save"), content=raw)
    refusal(status(response.json()), MsgCode.PARAMETER_ERROR)
    assert documents(erp) == []


def big_model(world: World, bill_no: str, entries: int) -> dict[str, Any]:
    model = outstock_model(world, bill_no)
    model["FEntity"] = model["FEntity"] * entries
    return model


async def test_a_save_over_the_entry_limit_is_refused_unvalidated(
    client: httpx.AsyncClient, erp: ErpService, world: World
) -> None:
    # About 2 MB, under the 2 MiB body limit: it used to hold the event loop ~0.45 s.
    body = {"formid": "SAL_OUTSTOCK", "data": {"Model": big_model(world, "BIG", 16_000)}}
    assert 2_000_000 < len(orjson.dumps(body)) < k3.MAX_BODY_BYTES
    refusal(await post(client, "Save", body), MsgCode.PARAMETER_ERROR)
    over = big_model(world, "OVER", k3.MAX_ENTRIES_PER_CALL + 1)
    error = refusal(await save(client, over), MsgCode.PARAMETER_ERROR)
    assert str(k3.MAX_ENTRIES_PER_CALL) in error["Message"]
    assert documents(erp) == []
    at_limit = big_model(world, "EDGE", k3.MAX_ENTRIES_PER_CALL)
    assert (await save(client, at_limit))["IsSuccess"] is True


async def test_big_bodies_are_read_off_the_event_loop(
    client: httpx.AsyncClient, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    threads: list[int] = []
    parse = k3.read_form_call

    def spy(*args: Any, **kwargs: Any) -> Any:
        threads.append(threading.get_ident())
        return parse(*args, **kwargs)

    monkeypatch.setattr(k3, "read_form_call", spy)
    small = {"formid": "SAL_OUTSTOCK", "data": {"Model": outstock_model(world, "T1")}}
    big = {"formid": "SAL_OUTSTOCK", "data": {"Model": big_model(world, "T2", 2_000)}}
    assert len(orjson.dumps(big)) > OFF_LOOP_BYTES > len(orjson.dumps(small))
    await post(client, "Save", small)
    await post(client, "Save", big)
    loop_thread = threading.get_ident()
    assert threads[0] == loop_thread  # small bodies: no thread hop
    assert threads[1] != loop_thread
