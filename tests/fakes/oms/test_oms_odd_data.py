"""The OMS's `odd_data` fault: odd but valid trades, as the connector reads them over the
wire, each a `fault` row of the trade; the same seed gives the same odd trades."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import replace

import httpx
import pytest

from fake_systems.common.context import SystemContext
from fake_systems.common.faults import FaultRule
from fake_systems.common.money import to_cents
from fake_systems.common.webhooks import HttpxSender
from fake_systems.oms.api import wdt
from fake_systems.oms.odd_data import LONGEST_ADDRESS, LONGEST_NAME, MANY_LINES, odd_trade
from fake_systems.oms.service import OmsService
from simulator.clock import ManualClock
from simulator.world import NewTradeLine, World, build_world
from tests.support.oms import CREDS, QUERY, WINDOW, call, raw_push, simple, trade


def odd_oms(
    make_context: Callable[[str], SystemContext],
    world: World,
    variant: str | None = None,
    rate: float = 1.0,
) -> OmsService:
    ctx = make_context("oms")
    params = {} if variant is None else {"variant": variant}
    ctx.faults.add(FaultRule("oms", "*", "odd_data", rate=rate, params=params))
    service = OmsService(ctx, CREDS)
    service.setup(world)
    return service


async def read_back(
    oms: OmsService, clock: ManualClock, asgi_client: Callable[[object], httpx.AsyncClient]
) -> dict[str, object]:
    """The one trade, as the connector's query reads it."""
    answer = (await call(asgi_client(wdt.create_app(oms, CREDS)), clock, QUERY, WINDOW)).json()
    assert answer["status"] == 0, answer
    [trade] = answer["data"]["order"]
    return dict(trade)


def fault_rows(oms: OmsService) -> list[tuple[str, str, str, dict[str, object]]]:
    rows = oms.conn.execute(
        "SELECT operation, outcome, entity, payload FROM events WHERE kind = 'fault' ORDER BY seq"
    ).fetchall()
    return [(r[0], r[1], r[2], json.loads(r[3])) for r in rows]


@pytest.mark.anyio
async def test_a_fuzzy_address(
    make_context: Callable[[str], SystemContext],
    world: World,
    clock: ManualClock,
    asgi_client: Callable[[object], httpx.AsyncClient],
) -> None:
    oms = odd_oms(make_context, world, "fuzzy_address")
    trade_no = oms.create_paid_order(simple(world, "TB-1"))
    got = await read_back(oms, clock, asgi_client)
    customer = world.customers[3]
    # No district in the area; it is typed in the address line, among extra and full-width
    # spaces and full-width digits.
    assert got["receiver_area"] == f"{customer.province} {customer.city} "
    address = str(got["receiver_address"])
    assert address.startswith(f"  {customer.area}\u3000") and address.endswith("  ")
    assert any("０" <= char <= "９" for char in address)  # the house number, full-width
    assert not any(char.isascii() and char.isalnum() for char in address)
    mobile = customer.mobile
    assert got["receiver_mobile"] == f"+86 {mobile[:3]} {mobile[3:7]} {mobile[7:]}"
    assert fault_rows(oms) == [
        (
            "trade",
            "odd_data",
            trade_no,
            {"stage": "world", "rule": 1, "src_tid": "TB-1", "variant": "fuzzy_address"},
        )
    ]


@pytest.mark.anyio
async def test_emoji_in_the_name_and_address(
    make_context: Callable[[str], SystemContext],
    world: World,
    clock: ManualClock,
    asgi_client: Callable[[object], httpx.AsyncClient],
) -> None:
    oms = odd_oms(make_context, world, "emoji")
    oms.create_paid_order(simple(world, "TB-1"))
    got = await read_back(oms, clock, asgi_client)
    customer = world.customers[3]
    for field, plain in (("receiver_name", customer.name), ("receiver_address", customer.address)):
        text = str(got[field])
        assert plain in text and text != plain
        assert any(ord(char) > 0xFFFF for char in text)  # beyond the BMP: 4 bytes in UTF-8


@pytest.mark.anyio
async def test_a_name_and_address_at_the_fields_limits(
    make_context: Callable[[str], SystemContext],
    world: World,
    clock: ManualClock,
    asgi_client: Callable[[object], httpx.AsyncClient],
) -> None:
    oms = odd_oms(make_context, world, "long_text")
    oms.create_paid_order(simple(world, "TB-1"))
    got = await read_back(oms, clock, asgi_client)
    customer = world.customers[3]
    assert (len(str(got["receiver_name"])), len(str(got["receiver_address"]))) == (100, 255)
    assert (LONGEST_NAME, LONGEST_ADDRESS) == (100, 255)
    assert str(got["receiver_name"]).startswith(customer.name)
    assert str(got["receiver_address"]).startswith(customer.address)


def cents(amount: object) -> int:
    return to_cents(str(amount))


def money(trade: dict[str, object]) -> tuple[list[tuple[str, int, int, int]], int, int]:
    """The lines as (spec_no, num, price, share) in cents, the postage and the paid total."""
    details = trade["detail_list"]
    assert isinstance(details, list)
    lines = [
        (str(d["spec_no"]), int(d["num"]), cents(d["price"]), cents(d["share_amount"]))
        for d in details
    ]
    return lines, cents(trade["post_amount"]), cents(trade["paid"])


TWO_LINES = (
    NewTradeLine("1000000000000001", "坚果礼盒", 2, 5900, 11800),
    NewTradeLine("1000000000000002", "保温杯", 1, 3900, 3900),
)


@pytest.mark.anyio
@pytest.mark.parametrize("post", [0, 800])
async def test_a_free_gift_line(
    make_context: Callable[[str], SystemContext],
    world: World,
    clock: ManualClock,
    asgi_client: Callable[[object], httpx.AsyncClient],
    post: int,
) -> None:
    oms = odd_oms(make_context, world, "gift_line")
    oms.create_paid_order(trade(world, "TB-1", TWO_LINES, post))
    lines, postage, paid = money(await read_back(oms, clock, asgi_client))
    assert lines[:2] == [("1000000000000001", 2, 5900, 11800), ("1000000000000002", 1, 3900, 3900)]
    assert len(lines) == 3
    spec_no, num, price, share = lines[2]
    assert (num, price, share) == (1, 0, 0) and spec_no in {sku.item_code for sku in world.skus}
    assert (postage, paid) == (post, 11800 + 3900 + post)
    [(_, _, _, detail)] = fault_rows(oms)
    assert detail["variant"] == "gift_line" and detail["spec_no"] == spec_no


@pytest.mark.anyio
async def test_the_same_sku_on_two_lines(
    make_context: Callable[[str], SystemContext],
    world: World,
    clock: ManualClock,
    asgi_client: Callable[[object], httpx.AsyncClient],
) -> None:
    oms = odd_oms(make_context, world, "duplicate_sku")
    oms.create_paid_order(trade(world, "TB-1", TWO_LINES))
    got = await read_back(oms, clock, asgi_client)
    lines, _, paid = money(got)
    assert len(lines) == 3 and len({line[0] for line in lines}) == 2
    spec_no, num, price, share = lines[2]
    first = next(line for line in lines[:2] if line[0] == spec_no)
    assert (num, price, share) == (1, first[2], first[2])  # one more unit at its price
    assert paid == 11800 + 3900 + price
    # Two sub-orders of one SKU: each its own line number and platform sub-order id.
    details = got["detail_list"]
    assert isinstance(details, list)
    assert len({d["rec_id"] for d in details}) == len({d["src_oid"] for d in details}) == 3


@pytest.mark.anyio
@pytest.mark.parametrize(
    "lines",
    [TWO_LINES, TWO_LINES[:1], (*TWO_LINES, NewTradeLine("1000000000000003", "袜子", 1, 1, 1))],
    ids=["two lines", "one line", "a line of one fen"],
)
async def test_a_coupon_larger_than_a_line(
    make_context: Callable[[str], SystemContext],
    world: World,
    clock: ManualClock,
    asgi_client: Callable[[object], httpx.AsyncClient],
    lines: tuple[NewTradeLine, ...],
) -> None:
    oms = odd_oms(make_context, world, "coupon")
    oms.create_paid_order(trade(world, "TB-1", lines, 600))
    got = await read_back(oms, clock, asgi_client)
    made, postage, paid = money(got)
    [(_, _, _, detail)] = fault_rows(oms)
    coupon, target = int(str(detail["coupon_cents"])), int(str(detail["line"])) - 1
    goods = sum(num * price for _, num, price, _ in made)
    # The coupon is more than its line; that line is paid 0, the excess came off the others,
    # no share is negative, and the buyer still pays something.
    assert len(made) >= 2 and coupon > made[target][1] * made[target][2]
    assert made[target][3] == 0 and all(share >= 0 for *_, share in made)
    assert sum(share for *_, share in made) == goods - coupon > 0
    assert (postage, paid) == (600, goods - coupon + 600)
    assert cents(got["discount"]) == coupon  # 旺店通: goods_amount - sum of share_amount
    assert [line[:3] for line in made[: len(lines)]] == [
        (line.spec_no, line.num, line.price_cents) for line in lines
    ]


@pytest.mark.anyio
async def test_an_order_of_one_fen(
    make_context: Callable[[str], SystemContext],
    world: World,
    clock: ManualClock,
    asgi_client: Callable[[object], httpx.AsyncClient],
) -> None:
    oms = odd_oms(make_context, world, "one_fen")
    oms.create_paid_order(trade(world, "TB-1", TWO_LINES, 800))
    got = await read_back(oms, clock, asgi_client)
    assert money(got) == ([("1000000000000001", 1, 1, 1)], 0, 1)
    assert got["paid"] == 0.01


@pytest.mark.anyio
@pytest.mark.parametrize(("skus", "lines", "units"), [(250, 200, 1), (30, 30, 7)])
async def test_two_hundred_lines_or_as_many_as_the_catalogue_has(
    make_context: Callable[[str], SystemContext],
    clock: ManualClock,
    asgi_client: Callable[[object], httpx.AsyncClient],
    skus: int,
    lines: int,
    units: int,
) -> None:
    world = build_world(seed=7, sku_count=skus, customer_count=50)
    oms = odd_oms(make_context, world, "many_lines")
    oms.create_paid_order(simple(world, "TB-1"))
    got = await read_back(oms, clock, asgi_client)
    details = got["detail_list"]
    assert isinstance(details, list) and len(details) == lines
    assert len({d["spec_no"] for d in details}) == lines
    assert {int(d["num"]) for d in details} == {units}
    # The money adds up: what was paid is the lines' shares.
    paid = sum(round(float(d["share_amount"]) * 100) for d in details)
    assert round(float(str(got["paid"])) * 100) == paid


def odd_variants(
    make_context: Callable[[str], SystemContext], world: World
) -> list[tuple[str, object]]:
    """Thirty trades under a seeded mix at 40 %: which were hit, with which variant."""
    oms = odd_oms(make_context, world, rate=0.4)
    for n in range(30):
        oms.create_paid_order(simple(world, f"TB-{n}"))
    hits = [(entity, detail["variant"]) for _, _, entity, detail in fault_rows(oms)]
    oms.conn.close()
    return hits


def test_the_same_seed_makes_the_same_trades_odd_the_same_way(
    make_context: Callable[[str], SystemContext],
    world: World,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    first = odd_variants(make_context, world)
    assert 0 < len(first) < 30
    assert len({variant for _, variant in first}) > 1  # a mix, not one variant
    folder, twin_clock = tmp_path_factory.mktemp("twin"), ManualClock()

    def make_twin(name: str) -> SystemContext:
        return SystemContext.create(
            name, folder, twin_clock, HttpxSender(httpx.AsyncClient()), seed=7
        )

    assert odd_variants(make_twin, world) == first


def test_a_pushed_trade_is_made_odd_too_and_a_repeat_push_is_not_hit(
    make_context: Callable[[str], SystemContext], world: World
) -> None:
    # `ecomock load` places its trades by pushSelf2: the rule plays there as well.
    oms = odd_oms(make_context, world, "emoji")
    assert oms.push_raw_trades("TM-A", *raw_push(world, "TM1")).new_count == 1
    assert oms.push_raw_trades("TM-A", *raw_push(world, "TM1")).chg_count == 1  # known tid
    [(operation, kind, trade_no, detail)] = fault_rows(oms)
    assert (operation, kind, detail["src_tid"], detail["variant"]) == (
        "trade",
        "odd_data",
        "TM1",
        "emoji",
    )
    stored = oms.get_trade(trade_no)
    assert stored is not None
    assert any(ord(char) > 0xFFFF for char in stored.receiver_name)


@pytest.mark.parametrize("variant", ["fuzzy_address", "emoji"])
def test_text_at_its_limit_stays_within_it_when_made_odd(world: World, variant: str) -> None:
    # A pushed trade may already hold a name of 100 and an address of 255 characters.
    long = replace(world.customers[3], name="名" * LONGEST_NAME, address="路" * LONGEST_ADDRESS)
    base = replace(simple(world, "TB-1"), receiver=long)
    odd, _ = odd_trade(base, variant, random.Random(1), [])
    assert len(odd.receiver.name) <= LONGEST_NAME
    assert len(odd.receiver.address) == LONGEST_ADDRESS
    # Still odd: the buyer's text was cut, the additions kept whole.
    ending = "号  " if variant == "fuzzy_address" else "收 "
    assert ending in odd.receiver.address[-12:], odd.receiver.address[-12:]
    assert "路" * 200 in odd.receiver.address


@pytest.mark.parametrize("variant", ["gift_line", "duplicate_sku"])
def test_one_more_line_keeps_a_full_trade_at_two_hundred(world: World, variant: str) -> None:
    full = tuple(
        NewTradeLine(sku.item_code, sku.name, 1, sku.price_cents, sku.price_cents)
        for sku in (world.skus * 7)[:MANY_LINES]
    )
    odd, _ = odd_trade(trade(world, "TB-1", full), variant, random.Random(1), [])
    assert len(odd.lines) == MANY_LINES
    assert odd.lines[:-1] == full[:-1]
