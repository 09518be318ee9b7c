"""Property: a phone number placed anywhere in a request never reaches the history in full.

For every adapter, Hypothesis builds a body around a Chinese mobile number: as a JSON string
or number, inside a longer text, as a field name, as an XML attribute or CDATA, or pasted at
any position of the serialized body (which often breaks it, so that the refusal paths and the
pattern masking run), and sends it signed or not, for a known operation or not. Afterwards
no column of any new history row may hold the number. "Anywhere" means with no digit right
before or after it: inside a longer run of digits it is not a phone number any more.
Budget: tests/fuzzing.py (each test takes a tenth of its adapter's inputs).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode
from xml.sax.saxutils import escape, quoteattr

import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.testclient import TestClient

from fake_systems.bank import totp
from fake_systems.bank.api.iso20022 import create_app as bank_app
from fake_systems.bank.iso_xml import render_pain001
from fake_systems.bank.service import BankService
from fake_systems.carrier.api.kdniao import create_app as carrier_app
from fake_systems.carrier.models import CarrierConfig
from fake_systems.carrier.service import CarrierService
from fake_systems.common.context import SystemContext
from fake_systems.erp.api.k3 import create_app as erp_app
from fake_systems.erp.service import ErpService
from fake_systems.oms.api import wdt
from fake_systems.oms.service import OmsService
from fake_systems.wms.api.qimen import create_app as wms_app
from fake_systems.wms.service import WmsService
from simulator.world import World
from tests.support import bank as bank_tests
from tests.support import carrier as carrier_tests
from tests.support import erp as erp_tests
from tests.support import oms as oms_tests
from tests.support import wms as wms_tests
from tests.support.bank import message, transfer
from tests.support.erp import CREDS as ERP_CREDS
from tests.support.fuzzing import fuzz_settings

pytestmark = pytest.mark.fuzz

SHARE = 0.1
PHONES = st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True)
NAMES = st.sampled_from(
    ("mobile", "receiver_mobile", "Tel", "remark", "buyer_nick", "FLinkPhone", "OrderCode", "x")
) | st.text(min_size=1, max_size=8)
# Text around the number: anything but a digit next to it.
NOT_DIGITS = st.text(st.characters(blacklist_categories=("Nd", "Cs")), max_size=6)
# For a URL path: no control characters (a newline never reaches the bank's routes) and no
# "%" (Starlette's TestClient decodes a path twice: %2513 would arrive as \x13).
PATH_NOT_DIGITS = st.text(
    st.characters(blacklist_categories=("Nd", "Cc", "Cs"), blacklist_characters="%"), max_size=6
)
LEAVES = st.none() | st.booleans() | st.integers(-(10**6), 10**6) | st.text(max_size=20)
TREES = st.recursive(
    LEAVES,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(NAMES, inner, max_size=3),
    max_leaves=10,
)
XML_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,63}")
JSON_WAYS = ("text", "number", "inside", "key", "pasted")
XML_WAYS = ("text", "inside", "attribute", "cdata", "pasted")


@dataclass(frozen=True)
class Attribute:
    """A phone as an XML attribute of its element."""

    name: str
    value: str


@dataclass(frozen=True)
class Cdata:
    """A phone as the CDATA section of its element."""

    text: str


def place(data: st.DataObject, tree: Any, value: Any) -> Any:
    """`tree` with `value` put at a position Hypothesis chooses."""
    if isinstance(tree, dict) and tree and data.draw(st.booleans()):
        key = data.draw(st.sampled_from(sorted(tree)))
        return {**tree, key: place(data, tree[key], value)}
    if isinstance(tree, list) and tree and data.draw(st.booleans()):
        index = data.draw(st.integers(0, len(tree) - 1))
        return [*tree[:index], place(data, tree[index], value), *tree[index + 1 :]]
    if isinstance(value, dict):  # a phone as a field name
        return {**tree, **value} if isinstance(tree, dict) else value
    name = data.draw(NAMES)
    if isinstance(tree, dict):
        return {**tree, name: value}
    if isinstance(tree, list):
        return [*tree, value]
    return {name: value}


def paste(data: st.DataObject, text: str, phone: str) -> str:
    """`text` with `phone` pasted where no digit touches it."""
    spots = [
        i
        for i in range(len(text) + 1)
        if not (i > 0 and text[i - 1].isdigit()) and not (i < len(text) and text[i].isdigit())
    ]
    if not spots:  # all digits, like the body `0`
        return f"{text} {phone}"
    spot = data.draw(st.sampled_from(spots))
    return text[:spot] + phone + text[spot:]


def json_body(data: st.DataObject, tree: Any, phone: str, wrap: Callable[[Any], Any]) -> str:
    """A JSON body (`wrap` puts the tree where the protocol wants it) holding `phone`."""
    way = data.draw(st.sampled_from(JSON_WAYS), label="way")
    if way == "pasted":
        return paste(data, json.dumps(wrap(tree), ensure_ascii=False), phone)
    value = {
        "text": phone,
        "number": int(phone),
        "inside": data.draw(NOT_DIGITS) + phone + data.draw(NOT_DIGITS),
        "key": {phone: data.draw(LEAVES)},
    }[way]
    return json.dumps(wrap(place(data, tree, value)), ensure_ascii=False)


def to_xml(value: Any, tag: str = "request") -> str:
    """A tree as Qimen-style XML: dicts are elements, lists repeat <item>, the rest is text."""
    name = tag if XML_NAME.fullmatch(tag) else "field"
    attributes = ""
    if isinstance(value, dict):
        attributes = "".join(
            f" {item.name}={quoteattr(item.value)}"
            for item in value.values()
            if isinstance(item, Attribute)
        )
        inner = "".join(
            to_xml(item, key) for key, item in value.items() if not isinstance(item, Attribute)
        )
    elif isinstance(value, list):
        inner = "".join(to_xml(item, "item") for item in value)
    elif isinstance(value, Cdata):
        inner = f"<![CDATA[{value.text}]]>"
    elif isinstance(value, Attribute):
        return to_xml({"attribute": value}, tag)
    else:
        inner = "" if value is None else escape(str(value))
    return f"<{name}{attributes}>{inner}</{name}>"


def xml_body(data: st.DataObject, tree: Any, phone: str) -> str:
    way = data.draw(st.sampled_from(XML_WAYS), label="way")
    if way == "pasted":
        return paste(data, to_xml(tree), phone)
    value = {
        "text": phone,
        "inside": data.draw(NOT_DIGITS) + phone + data.draw(NOT_DIGITS),
        "attribute": Attribute(data.draw(st.sampled_from(("mobile", "tel", "note"))), phone),
        "cdata": Cdata(phone),
    }[way]
    return to_xml(place(data, tree, value))


@dataclass
class Fake:
    """A fake's app behind a synchronous client, and its context (for the history)."""

    client: TestClient
    ctx: SystemContext

    def last_seq(self) -> int:
        return int(self.ctx.conn.execute("SELECT COALESCE(MAX(seq), 0) FROM events").fetchone()[0])

    def assert_never_stored(self, before: int, phone: str) -> None:
        """No column of a history row written after `before` holds `phone`."""
        rows = self.ctx.conn.execute("SELECT * FROM events WHERE seq > ?", (before,)).fetchall()
        assert rows, "the request left no history"
        for row in rows:
            leaked = [column for column in tuple(row) if phone in str(column)]
            assert not leaked, leaked


@contextmanager
def serve(app: Any, ctx: SystemContext) -> Iterator[Fake]:
    with TestClient(app) as client:
        yield Fake(client, ctx)


# ---------------------------------------------------------------- OMS


@pytest.fixture
def oms(make_context: Callable[[str], SystemContext], world: World) -> Iterator[Fake]:
    service = OmsService(make_context("oms"), oms_tests.CREDS)
    service.setup(world)
    with serve(wdt.create_app(service, oms_tests.CREDS), service.ctx) as fake:
        yield fake


@fuzz_settings(SHARE)
@given(
    data=st.data(),
    phone=PHONES,
    tree=TREES,
    method=st.sampled_from((wdt.METHOD_RAW_TRADE_PUSH, wdt.METHOD_SHIP, "no.such")),
    signed=st.booleans(),
)
def test_oms(
    oms: Fake, data: st.DataObject, phone: str, tree: Any, method: str, signed: bool
) -> None:
    body = json_body(data, tree, phone, lambda tree: ["TM-A", [tree], [tree]])
    secret, salt = oms_tests.CREDS.app_secret.split(":")
    params = {
        "sid": oms_tests.CREDS.sid,
        "key": oms_tests.CREDS.app_key,
        "salt": salt,
        "method": method,
        "timestamp": str(int(oms.ctx.clock.wall()) - oms_tests.EPOCH_2012),
        "v": "1.0",
    }
    secret = secret if signed else "wrong"
    params["sign"] = oms_tests.reference_sign(secret, {**params, "body": body})
    before = oms.last_seq()
    oms.client.post("/openapi", params=params, content=body.encode())
    oms.assert_never_stored(before, phone)


# ---------------------------------------------------------------- WMS


@pytest.fixture
def wms(make_context: Callable[[str], SystemContext], world: World) -> Iterator[Fake]:
    service = WmsService(make_context("wms"), wms_tests.CREDS, wms_tests.FIXED)
    service.setup(world)
    with serve(wms_app(service, wms_tests.CREDS), service.ctx) as fake:
        yield fake


WMS_METHODS = st.sampled_from(("deliveryorder.create", "deliveryorder.query", "no.such"))


@fuzz_settings(SHARE)
@given(data=st.data(), phone=PHONES, tree=TREES, method=WMS_METHODS, signed=st.booleans())
def test_wms_xml(
    wms: Fake, data: st.DataObject, phone: str, tree: Any, method: str, signed: bool
) -> None:
    post_qimen(wms, method, xml_body(data, tree, phone), "xml", signed, phone)


@fuzz_settings(SHARE)
@given(data=st.data(), phone=PHONES, tree=TREES, method=WMS_METHODS, signed=st.booleans())
def test_wms_json(
    wms: Fake, data: st.DataObject, phone: str, tree: Any, method: str, signed: bool
) -> None:
    body = json_body(data, tree, phone, lambda tree: {"request": tree})
    post_qimen(wms, method, body, "json", signed, phone)


def post_qimen(
    wms: Fake, method: str, body: str, body_format: str, signed: bool, phone: str
) -> None:
    secret = wms_tests.CREDS.secret if signed else "wrong"
    params = wms_tests.envelope(method, body, secret=secret, format=body_format)
    before = wms.last_seq()
    wms.client.post(wms_tests.PATH, params=params, content=body.encode())
    wms.assert_never_stored(before, phone)


# ---------------------------------------------------------------- ERP


@pytest.fixture
def erp(make_context: Callable[[str], SystemContext], world: World) -> Iterator[Fake]:
    service = ErpService(make_context("erp"), ERP_CREDS)
    service.setup(world)
    with serve(erp_app(service, ERP_CREDS), service.ctx) as fake:
        login = {"acctID": ERP_CREDS.acct_id, "username": ERP_CREDS.username}
        answer = fake.client.post(erp_tests.LOGIN, json=login | {"password": ERP_CREDS.password})
        fake.client.headers["kdservice-sessionid"] = answer.json()["KDSVCSessionId"]
        yield fake


@fuzz_settings(SHARE)
@given(
    data=st.data(),
    phone=PHONES,
    tree=TREES,
    operation=st.sampled_from(("Save", "ExecuteBillQuery", "NoSuch")),
    form_id=st.sampled_from(("SAL_OUTSTOCK", "BD_NoSuchForm")),
)
def test_erp(
    erp: Fake, data: st.DataObject, phone: str, tree: Any, operation: str, form_id: str
) -> None:
    body = json_body(data, tree, phone, lambda tree: {"formid": form_id, "data": {"Model": tree}})
    before = erp.last_seq()
    erp.client.post(erp_tests.form_url(operation), content=body.encode())
    erp.assert_never_stored(before, phone)


# ---------------------------------------------------------------- bank


@pytest.fixture
def bank(make_context: Callable[[str], SystemContext], world: World) -> Iterator[Fake]:
    service = BankService(make_context("bank"), bank_tests.CREDENTIALS)
    service.setup(world)
    with serve(bank_app(service, bank_tests.CREDENTIALS), service.ctx) as fake:
        credentials = bank_tests.CREDENTIALS
        login = {"account": credentials.account, "password": credentials.password}
        otp = totp.totp(credentials.totp_seed, service.ctx.clock.wall())
        token = fake.client.post("/iso20022/login", json=login | {"otp": otp}).json()
        fake.client.headers["Authorization"] = f"Bearer {token['session_token']}"
        yield fake


@fuzz_settings(SHARE)
@given(
    data=st.data(),
    phone=PHONES,
    where=st.sampled_from(("path", "query", "pain.001")),
    around=st.tuples(PATH_NOT_DIGITS, PATH_NOT_DIGITS),
)
def test_bank(bank: Fake, data: st.DataObject, phone: str, where: str, around: Any) -> None:
    text = around[0] + phone + around[1]
    before = bank.last_seq()
    if where == "path":
        bank.client.post(f"/iso20022/{quote(text, safe='')}")
    elif where == "query":
        params = {"account": bank_tests.CREDENTIALS.account, "date": text}
        bank.client.get("/iso20022/camt.053/statements", params=params)
    else:
        document = paste(data, render_pain001(message("M-1", transfer("E1"))).decode(), phone)
        bank.client.post("/iso20022/pain.001", content=document.encode())
    bank.assert_never_stored(before, phone)


# ---------------------------------------------------------------- carrier


@pytest.fixture
def carrier(make_context: Callable[[str], SystemContext], world: World) -> Iterator[Fake]:
    config = CarrierConfig(query_per_second=0, query_per_day=0)
    service = CarrierService(make_context("carrier"), carrier_tests.CREDENTIALS, config)
    service.setup(world)
    with serve(carrier_app(service, carrier_tests.CREDENTIALS), service.ctx) as fake:
        yield fake


@fuzz_settings(SHARE)
@given(
    data=st.data(),
    phone=PHONES,
    tree=TREES,
    request_type=st.sampled_from(("1007", "1008", "9999")),
    signed=st.booleans(),
)
def test_carrier(
    carrier: Fake, data: st.DataObject, phone: str, tree: Any, request_type: str, signed: bool
) -> None:
    request_data = json_body(data, tree, phone, lambda tree: tree)
    form = carrier_tests.envelope(request_type, request_data)
    if not signed:
        form["DataSign"] = "bm90IHNpZ25lZA=="
    before = carrier.last_seq()
    carrier.client.post(
        carrier_tests.EORDER,
        content=urlencode(form).encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    carrier.assert_never_stored(before, phone)
