"""Edge-case orders (issue 12, item 5) through the reference mapper, drawn by Hypothesis.

Trades of 1 to 200 lines, zero prices, one SKU on several lines, coupons larger than a line,
0.01 CNY totals, emoji and maximum-length names and addresses, and every runtime `odd_data`
variant on top: each is stored by the fake OMS and read back as its query renders it, then
the mapper's Qimen create, Kdniao 1007 and K3 Save bodies must pass the fakes' own
validators (in-process, no servers) and carry the trade's paid amount to the cent.

Hypothesis explores the shapes here only; at runtime the `odd_data` variants draw from the
fault rule's seeded dice (fake_systems/oms/odd_data.py), never from Hypothesis.
"""

from __future__ import annotations

import itertools
import json
import os
import random
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.reference.mapper import TradeMapper
from connectors.reference.money import to_cents
from fake_systems.carrier.api.kdniao import _create_waybill
from fake_systems.carrier.models import CarrierConfig
from fake_systems.carrier.service import CarrierService
from fake_systems.common.context import SystemContext
from fake_systems.erp.service import ErpService
from fake_systems.oms.api.wdt import trade_to_wire
from fake_systems.oms.odd_data import EMOJI, LONGEST_ADDRESS, LONGEST_NAME, MANY_LINES, odd_trade
from fake_systems.oms.service import OmsService
from fake_systems.wms.api.qimen import read_request
from fake_systems.wms.api.qimen_body import parse_create
from fake_systems.wms.service import WmsService
from simulator.demand import spread
from simulator.fault_plan import ODD_DATA_VARIANTS
from simulator.world import NewTrade, NewTradeLine, World
from tests.support import carrier as carrier_support
from tests.support import erp as erp_support
from tests.support import oms as oms_support
from tests.support import wms as wms_support

BILL_DATE = "2026-11-10 21:00:00"
# Platform order numbers, unique over the examples of a session.
SERIAL = itertools.count(1).__next__
# Text pieces a buyer types: CJK, astral emoji (with a skin tone, a ZWJ family), an astral
# ideograph, full-width letters, accents, spaces (ASCII and ideographic).
PIECES = (*EMOJI, "𠀋", "Ａ", "１", "é", "ß", " ", "\u3000", "号", "路", "-", "#", "&", "<")


def text_up_to(limit: int) -> st.SearchStrategy[str]:
    """Free text of 1..`limit` characters, or exactly `limit` (a field's maximum)."""
    piece = st.sampled_from(PIECES) | st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF)
    some = st.lists(piece, min_size=1, max_size=limit).map(lambda parts: "".join(parts)[:limit])
    full = some.map(lambda text: (text * limit)[:limit])
    return (some | full).filter(lambda text: text.strip() != "")


@st.composite
def edge_trades(draw: st.DrawFn, world: World, serial: Callable[[], int]) -> NewTrade:
    """A paid trade combining the edge cases, then (maybe) one runtime odd_data variant."""
    skus = world.skus
    count = draw(st.sampled_from((1, 2, 3, MANY_LINES)) | st.integers(1, MANY_LINES))
    lines: list[NewTradeLine] = []
    for _ in range(count):
        # 30 SKUs for up to 200 lines: the same SKU on several lines is common.
        sku = draw(st.sampled_from(skus))
        num = draw(st.integers(1, 5))
        price = draw(st.sampled_from((0, 1, sku.price_cents)) | st.integers(0, 10**6))
        lines.append(NewTradeLine(sku.item_code, sku.name, num, price, price * num))
    goods = [line.share_cents for line in lines]
    # A coupon anywhere from nothing to the whole order, spread as the platform does.
    coupon = draw(st.sampled_from((0, sum(goods))) | st.integers(0, sum(goods)))
    cuts = spread(coupon, goods)
    lines = [
        replace(line, share_cents=line.share_cents - cut)
        for line, cut in zip(lines, cuts, strict=True)
    ]
    customer = draw(st.sampled_from(world.customers))
    receiver = replace(
        customer,
        name=draw(st.just(customer.name) | text_up_to(LONGEST_NAME)),
        address=draw(st.just(customer.address) | text_up_to(LONGEST_ADDRESS)),
    )
    warehouse = draw(st.sampled_from(world.warehouses))
    trade = NewTrade(
        src_tid=f"EDGE{serial():08d}",
        shop_no=draw(st.sampled_from(world.shops)).shop_no,
        warehouse_no=warehouse.code,
        logistics_code=warehouse.carrier_code,
        receiver=receiver,
        lines=tuple(lines),
        post_cents=draw(st.sampled_from((0, 600)) | st.integers(0, 5000)),
    )
    variant = draw(st.none() | st.sampled_from(ODD_DATA_VARIANTS))
    if variant is None:
        return trade
    catalogue = [(sku.item_code, sku.name, sku.price_cents) for sku in skus]
    dice = random.Random(draw(st.integers(0, 2**32)))
    return odd_trade(trade, variant, dice, catalogue)[0]


@dataclass
class Fakes:
    oms: OmsService
    wms: WmsService
    carrier: CarrierService
    erp: ErpService


@pytest.fixture
def fakes(make_context: Callable[[str], SystemContext], world: World) -> Fakes:
    made = Fakes(
        OmsService(make_context("oms"), oms_support.CREDS),
        WmsService(make_context("wms"), wms_support.CREDS, wms_support.FIXED),
        CarrierService(make_context("carrier"), carrier_support.CREDENTIALS, CarrierConfig()),
        ErpService(make_context("erp"), erp_support.CREDS),
    )
    for fake in (made.oms, made.wms, made.carrier, made.erp):
        fake.setup(world)
    return made


def as_read(fakes: Fakes, trade: NewTrade) -> dict[str, Any]:
    """The trade stored by the OMS and read back as its query sends it (JSON numbers)."""
    stored = fakes.oms.get_trade(fakes.oms.create_paid_order(trade))
    assert stored is not None
    decoded: dict[str, Any] = orjson.loads(orjson.dumps(trade_to_wire(stored)))
    return decoded


def entry_cents(fakes: Fakes, form_id: str, bill_no: str) -> list[int]:
    document = fakes.erp.document(form_id, bill_no)
    assert document is not None, f"{form_id} {bill_no} not saved"
    return [int(entry["amount_cents"]) for entry in document["entries"]]


# The fakes are built once per test and shared by its examples: each example is a new trade
# (a fresh trade number, waybill and bill number), so no example sees another's documents.
@settings(
    max_examples=40,
    deadline=None,
    # Reproducible in CI as the fuzz tests are (tests/support/fuzzing.py); ECOMOCK_FUZZ_RANDOM
    # explores anew.
    derandomize=os.environ.get("ECOMOCK_FUZZ_RANDOM") is None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
@given(data=st.data())
def test_edge_case_trades_map_to_bodies_the_fakes_accept_with_the_same_money(
    fakes: Fakes, world: World, data: st.DataObject
) -> None:
    new_trade = data.draw(edge_trades(world, SERIAL))
    trade = as_read(fakes, new_trade)
    paid = sum(line.share_cents for line in new_trade.lines) + new_trade.post_cents
    assert to_cents(str(trade["paid"])) == paid
    # Odd, never beyond 旺店通's own limits (a name of 100, 200 lines a trade) or the 255
    # characters of text the fakes downstream take.
    assert len(trade["receiver_name"]) <= LONGEST_NAME
    assert len(trade["receiver_address"]) <= LONGEST_ADDRESS
    assert len(trade["detail_list"]) <= MANY_LINES
    mapper = TradeMapper()

    # Kdniao 1007 (RequestData is JSON text on the wire).
    request = json.loads(json.dumps(mapper.waybill_request(trade), ensure_ascii=False))
    answer = _create_waybill(fakes.carrier, request, carrier_support.CREDENTIALS)
    assert answer["Success"] is True
    waybill = str(answer["Order"]["LogisticCode"])

    # Qimen deliveryorder.create: the adapter's parser, then the service.
    code = mapper.delivery_order_code(trade, 1)
    body = mapper.delivery_order_xml(trade, code, waybill).encode()
    root = read_request(body, False)
    assert not isinstance(root, Exception), root
    order = parse_create(root, wms_support.CREDS.customer_id)
    # The text as the buyer typed it, in both bodies: no truncation, no re-encoding.
    typed = (new_trade.receiver.name, new_trade.receiver.address)
    assert (request["Receiver"]["Name"], request["Receiver"]["Address"]) == typed
    xml_receiver = root.find("deliveryOrder/receiverInfo")
    assert xml_receiver is not None
    assert (xml_receiver.findtext("name"), xml_receiver.findtext("detailAddress")) == typed
    assert [(line.item_code, line.plan_qty) for line in order.lines] == [
        (line.spec_no, line.num) for line in new_trade.lines
    ]
    assert order.lines and all(line.actual_price is not None for line in order.lines)
    assert (
        sum(to_cents(str(line.actual_price)) for line in order.lines) == paid - new_trade.post_cents
    )
    assert fakes.wms.create_delivery_order(order).created
    stored = fakes.wms.query_delivery_order(code).lines
    assert [(line.item_code, line.plan_qty) for line in stored] == [
        (line.spec_no, line.num) for line in new_trade.lines
    ]

    # K3 Save of both documents; the ERP keeps the trade's money to the cent.
    bill_no = str(trade["trade_no"])
    fakes.erp.save("SAL_OUTSTOCK", mapper.outstock_model(trade, BILL_DATE))
    fakes.erp.save("AR_receivable", mapper.receivable_model(trade, BILL_DATE))
    for form_id in ("SAL_OUTSTOCK", "AR_receivable"):
        amounts = entry_cents(fakes, form_id, bill_no)
        assert len(amounts) == len(new_trade.lines)
        assert min(amounts) >= 0
        assert sum(amounts) == paid, form_id
