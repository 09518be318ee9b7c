"""Fuzzing the WMS Qimen adapter: any input gets Qimen's answer, and refusals change nothing.

Budget: 2,000 generated inputs for this adapter (tests/support/fuzzing.py), split by `share`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from xml.sax.saxutils import escape

import httpx
import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st
from lxml import etree
from starlette.testclient import TestClient

from fake_systems.common.credentials import QimenCredentials
from fake_systems.wms.api.qimen import MAX_BODY_BYTES, create_app
from fake_systems.wms.service import WmsConfig, WmsService
from simulator.clock import CHINA, format_qimen_time
from simulator.world import World
from tests.support.fuzzing import (
    control_text,
    fuzz_context,
    fuzz_settings,
    hostile_text,
    odd_numerals,
)

pytestmark = pytest.mark.fuzz

CREDS = QimenCredentials(app_key="qm_fuzz", secret="fuzz-secret", customer_id="ECOMOCK_CUST")
TENANT = QimenCredentials(
    app_key="qm_t", secret="t-secret", customer_id="CUST-B", owners=("OWNER-B",)
)
PATH = "/router/qimen/service"
# A complete senderInfo/receiverInfo, so the fuzzed fields decide the outcome.
CONTACT = {
    "name": "张三",
    "mobile": "13800000000",
    "province": "广东省",
    "city": "广州市",
    "detailAddress": "体育西路1号",
}
METHODS = (
    "deliveryorder.create",
    "deliveryorder.batchcreate",
    "deliveryorder.query",
    "order.cancel",
    "singleitem.synchronize",
    "inventory.query",
    "entryorder.create",
    "entryorder.query",
    "returnorder.create",
    "returnorder.query",
    "transferorder.create",
    "stockout.create",
)
INJECTIONS = (
    "'; DROP TABLE delivery_orders;--",
    "<script>alert(1)</script>",
    "${jndi:ldap://evil/x}",
    "{{7*7}}",
    "../../etc/passwd",
    "1 OR 1=1",
    "%00%0a",
)


@pytest.fixture(scope="module")
def fake(
    tmp_path_factory: pytest.TempPathFactory, fuzz_world: World
) -> Iterator[tuple[TestClient, WmsService]]:
    ctx = fuzz_context("wms", tmp_path_factory)
    service = WmsService(ctx, CREDS, WmsConfig())
    service.setup(fuzz_world)
    with TestClient(create_app(service, CREDS, [TENANT]), raise_server_exceptions=False) as client:
        yield client, service


def timestamp(service: WmsService) -> str:
    return format_qimen_time(datetime.fromtimestamp(service.ctx.clock.wall(), CHINA))


def signed(
    service: WmsService, method: str, body: bytes, fmt: str, creds: QimenCredentials = CREDS
) -> dict[str, str]:
    params = {
        "method": f"taobao.qimen.{method}",
        "timestamp": timestamp(service),
        "format": fmt,
        "app_key": creds.app_key,
        "v": "2.0",
        "sign_method": "md5",
        "customerId": creds.customer_id,
    }
    text = body.decode("utf-8", "replace")
    joined = "".join(k + params[k] for k in sorted(params))
    params["sign"] = (
        hashlib.md5((creds.secret + joined + text + creds.secret).encode()).hexdigest().upper()
    )
    return params


def state(service: WmsService) -> tuple[object, ...]:
    row = service.conn.execute(
        "SELECT (SELECT COUNT(*) FROM delivery_orders),"
        " (SELECT COUNT(*) FROM delivery_order_lines),"
        " (SELECT COUNT(*) FROM inbound_orders), (SELECT COUNT(*) FROM transfer_orders),"
        " (SELECT COUNT(*) FROM items), (SELECT SUM(on_hand) FROM stock),"
        " (SELECT SUM(reserved) FROM stock), (SELECT COUNT(*) FROM stock_ledger)"
    ).fetchone()
    return tuple(row)


def flag_of(response: httpx.Response) -> tuple[str, str]:
    """(flag, code) of a Qimen answer in either format; fails the test on anything else."""
    assert response.status_code in (200, 504), response.status_code
    if response.headers["content-type"].startswith("application/json"):
        answer = orjson.loads(response.content)["response"]
        flag, code = answer["flag"], answer["code"]
    else:
        root = etree.fromstring(response.content, etree.XMLParser(resolve_entities=False))
        assert root.tag == "response"
        flag, code = root.findtext("flag") or "", root.findtext("code") or ""
    assert flag in ("success", "failure")
    return flag, code


def post_and_check(
    client: TestClient, service: WmsService, params: dict[str, str], body: bytes
) -> tuple[str, str]:
    before = state(service)
    events = service.conn.execute("SELECT COUNT(*) FROM events WHERE kind = 'api_in'").fetchone()[0]
    response = client.post(PATH, params=params, content=body)
    flag, code = flag_of(response)
    if flag == "failure":
        assert state(service) == before, code
    after = service.conn.execute("SELECT COUNT(*) FROM events WHERE kind = 'api_in'").fetchone()[0]
    assert after == events + 1  # every call, refused or not, is in the history
    return flag, code


xml_text = st.text(st.characters(blacklist_categories=("Cs", "Cc", "Cn")), max_size=40)
fragments = st.sampled_from(
    [
        b"<request>",
        b"</request>",
        b"<deliveryOrder><deliveryOrderCode>X</deliveryOrderCode></deliveryOrder>",
        b"<orderLines><orderLine><itemCode>1</itemCode><planQty>-1</planQty></orderLine></orderLines>",
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa">'
        b'<!ENTITY b "&a;&a;&a;&a;&a;&a;">]>',
        b'<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>',
        b"&x;&b;",
        b'{"request": {"deliveryOrder": {"deliveryOrderCode": 1}}}',
        b'{"request": [1, 2]}',
        b'{"request": {"orderLines": [[[]]]}}',
        b"\xff\xfe\x00",
        b"\xed\xa0\x80",
        b"null",
    ]
)


@fuzz_settings(share=0.4)
@given(
    method=st.sampled_from(METHODS),
    fmt=st.sampled_from(["xml", "json"]),
    parts=st.lists(
        st.one_of(fragments, st.binary(max_size=30), xml_text.map(str.encode)), max_size=6
    ),
)
def test_any_body_gets_a_qimen_answer(
    fake: tuple[TestClient, WmsService], method: str, fmt: str, parts: list[bytes]
) -> None:
    client, service = fake
    body = b"".join(parts)
    post_and_check(client, service, signed(service, method, body, fmt), body)


@fuzz_settings(share=0.2)
@given(
    params=st.dictionaries(
        st.sampled_from(
            [
                "method",
                "timestamp",
                "format",
                "app_key",
                "v",
                "sign_method",
                "customerId",
                "sign",
                "x",
            ]
        ),
        st.one_of(
            xml_text,
            control_text,
            st.sampled_from(["taobao.qimen.deliveryorder.create", "qm_fuzz", "xml", "json", "md5"]),
        ),
        max_size=9,
    ),
    body=st.binary(max_size=60),
)
def test_unsigned_or_garbled_envelopes_are_refused(
    fake: tuple[TestClient, WmsService], params: dict[str, str], body: bytes
) -> None:
    client, service = fake
    flag, _ = post_and_check(client, service, params, body)
    assert flag == "failure"
    answer = client.post(PATH, params=params, content=body)
    as_json = answer.headers["content-type"].startswith("application/json")
    assert as_json == (params.get("format") == "json")  # the request's format, always


@fuzz_settings(share=0.4)
@given(
    code=st.one_of(st.sampled_from(INJECTIONS), xml_text, hostile_text),
    qty=st.one_of(st.integers(-5, 8).map(str), xml_text, odd_numerals),
    item_index=st.integers(0, 12),
    owner=st.sampled_from(["OWNER-A", "OWNER-B", "OWNER-Z", ""]),
    tenant=st.booleans(),
    fmt=st.sampled_from(["xml", "json"]),
)
def test_create_fields_of_any_shape(
    fake: tuple[TestClient, WmsService],
    fuzz_world: World,
    code: str,
    qty: str,
    item_index: int,
    owner: str,
    tenant: bool,
    fmt: str,
) -> None:
    client, service = fake
    item = fuzz_world.skus[item_index].item_code if item_index < len(fuzz_world.skus) else code
    order = {
        "deliveryOrderCode": code,
        "orderType": "JYCK",
        "warehouseCode": fuzz_world.warehouses[0].code,
        "sourcePlatformCode": "TM",
        "createTime": "2026-11-10 09:00:00",
        "placeOrderTime": "2026-11-10 09:00:00",
        "operateTime": "2026-11-10 09:00:00",
        "shopNick": "店",
        "logisticsCode": "SF",
        "senderInfo": CONTACT,
        "receiverInfo": CONTACT,
    }
    line = {"itemCode": item, "planQty": qty, "ownerCode": owner, "actualPrice": "9.90"}
    if fmt == "json":
        body = orjson.dumps({"request": {"deliveryOrder": order, "orderLines": [line]}})
    else:

        def xml(fields: dict[str, Any]) -> str:
            return "".join(
                f"<{k}>{xml(v) if isinstance(v, dict) else escape(v)}</{k}>"
                for k, v in fields.items()
            )

        body = (
            f"<request><deliveryOrder>{xml(order)}</deliveryOrder>"
            f"<orderLines><orderLine>{xml(line)}</orderLine></orderLines></request>"
        ).encode()
    creds = TENANT if tenant else CREDS
    flag, _ = post_and_check(
        client, service, signed(service, "deliveryorder.create", body, fmt, creds), body
    )
    if flag == "success":
        stored = service.conn.execute(
            "SELECT COUNT(*) FROM delivery_orders WHERE delivery_order_code = ?", (code.strip(),)
        ).fetchone()[0]
        # Kept verbatim (only surrounding blanks trimmed), never interpreted; one per owner.
        assert stored >= 1
        assert not tenant or owner in ("OWNER-B", "")


def test_oversized_body_is_refused_unread(fake: tuple[TestClient, WmsService]) -> None:
    client, service = fake
    body = b"<request>" + b"x" * MAX_BODY_BYTES + b"</request>"
    flag, code = post_and_check(
        client, service, signed(service, "deliveryorder.create", body, "xml"), body
    )
    assert (flag, code) == ("failure", "isv.body-too-large")
    payload = service.conn.execute(
        "SELECT payload FROM events ORDER BY seq DESC LIMIT 1"
    ).fetchone()[0]
    assert len(payload) < 2000  # the body is not copied into the history


def test_entity_bomb_is_not_expanded(fake: tuple[TestClient, WmsService]) -> None:
    client, service = fake
    levels = "".join(
        f'<!ENTITY l{i} "{"".join(f"&l{i - 1};" for _ in range(10))}">' for i in range(1, 10)
    )
    body = (
        f'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY l0 "lol">{levels}]>'
        "<request><deliveryOrderCode>&l9;</deliveryOrderCode></request>"
    ).encode()
    flag, _ = post_and_check(
        client, service, signed(service, "deliveryorder.query", body, "xml"), body
    )
    assert flag == "failure"
