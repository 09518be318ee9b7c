"""Fuzzing the Kdniao adapter: whatever arrives, the answer is Kdniao's JSON and refusals change
nothing.

Property, for every generated request: HTTP 200 with a JSON object carrying a boolean
`Success` (no 5xx, no stack trace; the 504 fault path is off here); exactly one history row
is written for it; when `Success` is false no waybill, subscription or cancellation appeared.
Inputs: raw bytes, arbitrary forms, signed envelopes with non-JSON RequestData, signed JSON of
every shape for every RequestType, invalid UTF-8, injection-looking strings (which must be
stored verbatim) and bodies around the size limit. 2,000 inputs in all, split by `share`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fake_systems.carrier.api.kdniao import MAX_BODY_BYTES, create_app
from fake_systems.carrier.models import CarrierConfig
from fake_systems.carrier.service import CarrierService
from tests.support.carrier import CREDENTIALS, DIST, EORDER, ORDER, OTHER, QUERY, envelope
from tests.support.fuzzing import Post, asgi_poster, fuzz_settings, hostile_values

pytestmark = pytest.mark.fuzz

PATHS = (EORDER, DIST, QUERY)
FORM = {"Content-Type": "application/x-www-form-urlencoded;charset=utf-8"}
REQUEST_TYPES = ("1007", "1147", "1008", "8008", "1002", "8001", "2002", "101", "9999", "")
FIELDS = (
    "OrderCode",
    "ShipperCode",
    "LogisticCode",
    "ExpNo",
    "Sender",
    "Receiver",
    "CityName",
    "ExpAreaName",
    "PayType",
    "Commodity",
)
INJECTIONS = (
    "'; DROP TABLE waybills; --",
    "1' OR '1'='1",
    "<script>alert(1)</script>",
    "{{7*7}}",
    "${jndi:ldap://x/a}",
    "../../etc/passwd",
    "%s%s%n",
    "\\u0000",
    "Robert'); DELETE FROM subscriptions;--",
    "订单\u202e反转",
)


@pytest.fixture
def fuzzed(make_context, world) -> Iterator[tuple[CarrierService, Post]]:
    """The carrier app, with a tenant account, behind a synchronous `post(path, body)`."""
    # No query limit here: the fuzz should reach every path, not a wall of 405s.
    service = CarrierService(
        make_context("carrier"), CREDENTIALS, CarrierConfig(query_per_second=0, query_per_day=0)
    )
    service.setup(world)
    with asgi_poster(create_app(service, CREDENTIALS, [OTHER]), FORM) as post:
        yield service, post


def state(service: CarrierService) -> tuple[int, ...]:
    row = service.ctx.conn.execute(
        "SELECT (SELECT COUNT(*) FROM waybills), (SELECT COUNT(*) FROM subscriptions),"
        " (SELECT COUNT(*) FROM waybills WHERE cancelled_sim IS NOT NULL),"
        " (SELECT COUNT(*) FROM events WHERE kind = 'api_in')"
    ).fetchone()
    return tuple(row)


def check(service: CarrierService, post: Post, path: str, body: bytes) -> dict[str, Any]:
    """Post `body`; assert the property; return the answer."""
    before = state(service)
    response = post(path, body)
    assert response.status_code == 200, response.text[:200]
    assert response.headers["content-type"].startswith("application/json")
    answer = json.loads(response.content)
    assert isinstance(answer, dict)
    assert isinstance(answer["Success"], bool)
    assert "Traceback" not in response.text
    after = state(service)
    assert after[3] == before[3] + 1  # every request is in the history, once
    if answer["Success"] is False:
        assert after[:3] == before[:3]
        # A failure names its code (2002's is `Code`), except the 1002 "no trace yet"
        # answer, which has a State.
        assert answer.get("ResultCode") or answer.get("Code") or answer.get("State") == "0"
    return answer


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=30)
    | hostile_values,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


@given(path=st.sampled_from(PATHS), body=st.binary(max_size=600))
@fuzz_settings(share=0.15)
def test_raw_bytes(fuzzed, path, body):
    service, post = fuzzed
    check(service, post, path, body)


@given(
    path=st.sampled_from(PATHS),
    form=st.dictionaries(
        st.sampled_from(("RequestData", "EBusinessID", "RequestType", "DataSign", "DataType"))
        | st.text(max_size=10),
        st.text(max_size=60),
        max_size=7,
    ),
)
@fuzz_settings(share=0.15)
def test_arbitrary_forms(fuzzed, path, form):
    service, post = fuzzed
    answer = check(service, post, path, urlencode(form).encode())
    # Nothing unsigned gets through.
    assert answer["Success"] is False


@given(
    path=st.sampled_from(PATHS),
    request_type=st.sampled_from(REQUEST_TYPES),
    request_data=st.text(min_size=1, max_size=200),
)
@fuzz_settings(share=0.15)
def test_signed_request_data_that_is_not_an_object(fuzzed, path, request_type, request_data):
    service, post = fuzzed
    try:
        is_object = isinstance(json.loads(request_data), dict)
    except ValueError:
        is_object = False
    answer = check(service, post, path, urlencode(envelope(request_type, request_data)).encode())
    if not is_object:
        assert answer["Success"] is False
        assert answer["ResultCode"] in {"101", "103", "105"}


# Mostly each path with a RequestType it serves, so that requests get as far as the handler.
SERVED = (
    (EORDER, "1007"),
    (EORDER, "1147"),
    (DIST, "1008"),
    (DIST, "8008"),
    (QUERY, "1002"),
    (QUERY, "8001"),
    (QUERY, "2002"),
)
routes = st.sampled_from(SERVED) | st.tuples(st.sampled_from(PATHS), st.sampled_from(REQUEST_TYPES))
# Plausible values too, so that requests also get past validation and succeed.
field_values = st.sampled_from(("SF", "ZTO", "T-0001", " T-0002 ", "SF123456789012")) | json_values
# Some start from a complete 1007 (ORDER), so that waybills get created too.
request_objects = st.builds(
    lambda base, known, extra: {**base, **extra, **known},
    st.sampled_from(({}, ORDER)),
    st.fixed_dictionaries({}, optional=dict.fromkeys(FIELDS, field_values)),
    st.dictionaries(st.text(max_size=10), json_values, max_size=3),
)


@given(route=routes, data=request_objects, tenant=st.booleans())
@fuzz_settings(share=0.345)
def test_signed_json_of_every_shape(fuzzed, route, data, tenant):
    service, post = fuzzed
    path, request_type = route
    account = OTHER if tenant else CREDENTIALS
    form = envelope(request_type, data, account)
    answer = check(service, post, path, urlencode(form).encode())
    if answer["Success"] and request_type == "1007":
        row = service.ctx.conn.execute(
            "SELECT order_code, ebusiness_id FROM waybills WHERE logistic_code = ?",
            (answer["Order"]["LogisticCode"],),
        ).fetchone()
        assert tuple(row) == (str(data["OrderCode"]).strip(), account.ebusiness_id)


@given(
    injected=st.sampled_from(INJECTIONS),
    suffix=st.text(alphabet=st.characters(blacklist_categories=("Cs", "Zs", "Cc")), max_size=8),
    where=st.sampled_from(("OrderCode", "CityName")),
)
@fuzz_settings(share=0.1)
def test_injection_looking_strings_are_stored_verbatim(fuzzed, injected, suffix, where):
    service, post = fuzzed
    text = injected + suffix
    data = {**ORDER, "OrderCode": text if where == "OrderCode" else f"T-{text}"}
    if where == "CityName":
        data["Receiver"] = {**ORDER["Receiver"], "CityName": text}
    answer = check(service, post, EORDER, urlencode(envelope("1007", data)).encode())
    assert answer["Success"] is True
    row = service.ctx.conn.execute(
        "SELECT order_code, receiver_city, mark_destination FROM waybills WHERE logistic_code = ?",
        (answer["Order"]["LogisticCode"],),
    ).fetchone()
    assert row["order_code"] == data["OrderCode"] == answer["Order"]["OrderCode"]
    if where == "CityName":
        assert row["receiver_city"] == text
        assert row["mark_destination"] == f"{text} {ORDER['Receiver']['ExpAreaName']}"
    # The tables the strings tried to touch are all still there.
    tables = {r[0] for r in service.ctx.conn.execute("SELECT name FROM sqlite_master")}
    assert {"waybills", "subscriptions", "parcels", "traces", "events"} <= tables


@given(
    request_type=st.sampled_from(("1007", "1008", "1002")),
    position=st.integers(min_value=0, max_value=400),
    bad=st.sampled_from((b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80", b"\x80")),
)
@fuzz_settings(share=0.1)
def test_invalid_utf8_anywhere(fuzzed, request_type, position, bad):
    service, post = fuzzed
    data = {"OrderCode": "T-UTF8", "ShipperCode": "SF", "LogisticCode": "SF123456789012"}
    body = urlencode(envelope(request_type, data)).encode()
    at = position % (len(body) + 1)
    answer = check(service, post, EORDER, body[:at] + bad + body[at:])
    assert (answer["Success"], answer["ResultCode"]) == (False, "103")


@given(excess=st.integers(min_value=-64, max_value=64) | st.integers(1, 4 * MAX_BODY_BYTES))
@fuzz_settings(share=0.005)
def test_bodies_around_the_size_limit(fuzzed, excess):
    service, post = fuzzed
    form = envelope("1007", {**ORDER, "OrderCode": "T-BIG"})
    body = urlencode(form).encode() + b"&Padding="
    body += b"x" * max(0, MAX_BODY_BYTES + excess - len(body))
    answer = check(service, post, EORDER, body)
    if len(body) > MAX_BODY_BYTES:
        assert (answer["Success"], answer["ResultCode"]) == (False, "103")
    else:
        assert answer["Success"] is True
