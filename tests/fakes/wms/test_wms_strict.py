"""Qimen strict values and answers: odd numerals, control characters and over-long codes get
`isv.invalid-parameter`; every answer is well-formed and in the request's format (JSON for a
JSON request), whatever the caller echoed into it."""

from __future__ import annotations

import threading
from typing import Any

import httpx
import orjson
import pytest
from lxml import etree

from fake_systems.common.pipeline import OFF_LOOP_BYTES
from fake_systems.wms.api import qimen
from fake_systems.wms.service import WmsService
from simulator.world import World
from tests.support.wms import (
    CREDS,
    LINE_PRICE,
    ORDER_EXTRAS,
    PATH,
    as_json_request,
    create_body,
    envelope,
    sign,
)

pytestmark = pytest.mark.anyio

INVALID = "isv.invalid-parameter"
# Echoed back by refusals: XML's specials, a CDATA end and what XML cannot carry at all.
HOSTILE = "x<y>&z]]>\"'\x01\x1f\ufffe\u0085end"


async def post(
    client: httpx.AsyncClient, operation: str, body: str, **overrides: str
) -> httpx.Response:
    """Call `operation`, signed, with envelope parameters replaced by `overrides`."""
    params = envelope(operation, body)
    params.update(overrides)
    params["sign"] = sign(CREDS.secret, {k: v for k, v in params.items() if k != "sign"}, body)
    return await client.post(PATH, params=params, content=body.encode())


def xml_outcome(response: httpx.Response) -> tuple[str | None, str | None, str]:
    """(flag, code, message) of an XML answer, which must be well-formed."""
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/xml")
    root = etree.fromstring(response.content)  # raises if the answer is not well-formed
    return root.findtext("flag"), root.findtext("code"), root.findtext("message") or ""


def json_outcome(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    return dict(orjson.loads(response.content)["response"])


def orders(wms: WmsService) -> int:
    return int(wms.conn.execute("SELECT COUNT(*) FROM delivery_orders").fetchone()[0])


@pytest.mark.parametrize(
    "qty", ["1_0", "٣", "３", "²", "--2", "+2", "1e3", "1" * 5000, "1000000001"]
)
async def test_plan_qty_must_be_a_plain_numeral_in_range(
    client: httpx.AsyncClient, wms: WmsService, world: World, qty: str
) -> None:
    flag, code, message = xml_outcome(
        await post(client, "deliveryorder.create", create_body(world, qty=qty))
    )
    assert (flag, code) == ("failure", INVALID)
    assert "planQty" in message
    assert orders(wms) == 0


@pytest.mark.parametrize("weight", ["1_0", "٣", "1e3", "NaN", "inf", "-1", "100000"])
async def test_gross_weight_must_be_a_plain_decimal_in_range(
    client: httpx.AsyncClient, wms: WmsService, weight: str
) -> None:
    body = (
        "<request><actionType>add</actionType><warehouseCode>OTHER</warehouseCode><ownerCode>OWNER-A</ownerCode><item>"
        f"<itemCode>W-1</itemCode><itemName>n</itemName><grossWeight>{weight}</grossWeight>"
        "</item></request>"
    )
    flag, code, message = xml_outcome(await post(client, "singleitem.synchronize", body))
    assert (flag, code) == ("failure", INVALID)
    assert "grossWeight" in message
    assert wms.conn.execute("SELECT COUNT(*) FROM items WHERE item_code = 'W-1'").fetchone()[0] == 0


@pytest.mark.parametrize(
    ("code", "item"),
    [
        ("D" * 100_000, None),
        ("D" * 65, None),
        ("D\tTAB", None),
        ("D\u0085NEL", None),
        ("D\x7fDEL", None),
        ("D-OK", "I" * 65),
    ],
)
async def test_codes_over_long_or_with_control_characters_are_refused(
    client: httpx.AsyncClient, wms: WmsService, world: World, code: str, item: str | None
) -> None:
    flag, result, message = xml_outcome(
        await post(client, "deliveryorder.create", create_body(world, code=code, item=item))
    )
    assert (flag, result) == ("failure", INVALID)
    assert "Invalid arguments:" in message and len(message) < 200
    assert orders(wms) == 0


async def test_actual_price_must_be_a_plain_decimal(
    client: httpx.AsyncClient, wms: WmsService, world: World
) -> None:
    body = create_body(world).replace(
        "<actualPrice>99.00</actualPrice>", "<actualPrice>1e400</actualPrice>"
    )
    assert xml_outcome(await post(client, "deliveryorder.create", body))[:2] == ("failure", INVALID)
    assert orders(wms) == 0


@pytest.mark.parametrize("where", ["method", "customerId"])
async def test_xml_answers_stay_well_formed_whatever_is_echoed(
    client: httpx.AsyncClient, wms: WmsService, where: str
) -> None:
    value = ("taobao.qimen." if where == "method" else "") + HOSTILE
    response = await post(client, "deliveryorder.query", "<request/>", **{where: value})
    flag, _, message = xml_outcome(response)
    assert flag == "failure"
    assert "x<y>&z]]>" in message  # echoed, escaped; what XML cannot carry is dropped


@pytest.mark.parametrize("where", ["method", "customerId"])
async def test_json_requests_get_json_answers_even_with_control_characters(
    client: httpx.AsyncClient, where: str
) -> None:
    value = ("taobao.qimen." if where == "method" else "") + HOSTILE
    body = '{"request": {"deliveryOrderCode": "J1"}}'
    answer = json_outcome(
        await post(client, "deliveryorder.query", body, format="json", **{where: value})
    )
    assert answer["flag"] == "failure"
    assert answer["code"] in (INVALID, "isv.invalid-method")


async def test_json_values_with_control_characters_are_refused_in_json(
    client: httpx.AsyncClient, wms: WmsService, world: World
) -> None:
    request = as_json_request(create_body(world))
    request["deliveryOrder"]["deliveryOrderCode"] = "J\u0085"
    request["orderLines"][0]["planQty"] = "1_0"
    body = orjson.dumps({"request": request}).decode()
    answer = json_outcome(await post(client, "deliveryorder.create", body, format="json"))
    assert (answer["flag"], answer["code"]) == ("failure", INVALID)
    assert orders(wms) == 0


async def test_unforeseen_failures_answer_in_the_requests_format(
    wms: WmsService, monkeypatch: pytest.MonkeyPatch
) -> None:
    def explode(*args: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(qimen.QimenProtocol, "authenticate", explode)
    transport = httpx.ASGITransport(app=qimen.create_app(wms, CREDS), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://fake") as client:
        as_json = json_outcome(await post(client, "deliveryorder.query", "{}", format="json"))
        as_xml = xml_outcome(await post(client, "deliveryorder.query", "<request/>"))
    assert (as_json["flag"], as_json["code"]) == ("failure", qimen.UNKNOWN_ERROR)
    assert as_xml[:2] == ("failure", qimen.UNKNOWN_ERROR)


def batch(world: World, orders_count: int, lines: int) -> str:
    """A batchcreate body of `orders_count` orders of `lines` lines each."""

    def order(code: str) -> str:
        rows = "".join(
            f"<orderLine><orderLineNo>{i}</orderLineNo><ownerCode>OWNER-A</ownerCode>"
            f"<itemCode>{world.skus[i % len(world.skus)].item_code}</itemCode>"
            f"<planQty>1</planQty>{LINE_PRICE}</orderLine>"
            for i in range(lines)
        )
        return (
            f"<order><deliveryOrder><deliveryOrderCode>{code}</deliveryOrderCode>"
            f"<orderType>JYCK</orderType><warehouseCode>{world.warehouses[0].code}"
            f"</warehouseCode>{ORDER_EXTRAS}<logisticsCode>SF</logisticsCode></deliveryOrder>"
            f"<orderLines>{rows}</orderLines></order>"
        )

    orders_xml = "".join(order(f"B-{lines}-{k}") for k in range(orders_count))
    return f"<request><orders>{orders_xml}</orders></request>"


async def test_a_batch_over_the_line_limit_is_refused_whole(
    client: httpx.AsyncClient, wms: WmsService, world: World
) -> None:
    # 100 orders of 11 lines: each order is legal, together they held the loop ~0.2 s.
    body = batch(world, 100, 11)
    flag, code, message = xml_outcome(await post(client, "deliveryorder.batchcreate", body))
    assert (flag, code) == ("failure", INVALID)
    assert str(qimen.MAX_LINES_PER_CALL) in message
    assert orders(wms) == 0
    at_limit = batch(world, 100, 10)
    assert xml_outcome(await post(client, "deliveryorder.batchcreate", at_limit))[0] == "success"


def padded(code: str, padding: int, as_json: bool) -> str:
    """A deliveryorder.query body carrying `padding` characters the fake ignores."""
    if as_json:
        return orjson.dumps(
            {"request": {"deliveryOrderCode": code, "extra": "x" * padding}}
        ).decode()
    extra = "x" * padding
    return f"<request><deliveryOrderCode>{code}</deliveryOrderCode><extra>{extra}</extra></request>"


@pytest.mark.parametrize("as_json", [False, True])
async def test_big_bodies_are_read_off_the_event_loop(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch, as_json: bool
) -> None:
    threads: list[int] = []
    read = qimen.read_request

    def spy(raw: bytes, as_json: bool) -> Any:
        threads.append(threading.get_ident())
        return read(raw, as_json=as_json)

    monkeypatch.setattr(qimen, "read_request", spy)
    fmt = "json" if as_json else "xml"
    small, big = padded("S", 10, as_json), padded("B", OFF_LOOP_BYTES, as_json)
    await post(client, "deliveryorder.query", small, format=fmt)
    await post(client, "deliveryorder.query", big, format=fmt)
    assert threads[0] == threading.get_ident()  # small bodies: no thread hop
    assert threads[1] != threading.get_ident()
