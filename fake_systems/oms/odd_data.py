"""Odd but valid trades (the `odd_data` fault, docs/CHAOS.md): what real buyers type.

Each variant turns a new trade (the simulator's, or a platform's push) into one a correct
connector must carry through unchanged in meaning: a fuzzy address, emoji, a name and an
address at the real fields' limits, 200 lines, a free gift line, the same SKU on two lines,
a coupon larger than a line, or an order of 0.01 CNY. Nothing here exceeds a limit of the
systems downstream (旺店通's `receiver_name` 100 characters; Qimen's and Kdniao's free text
255), and the money stays valid: whole cents, no negative share, the paid total the lines'
shares plus postage (docs/protocols/oms.md).

The draws come from the rule's own dice (FaultInjector.dice), so a seed replays them; the
Hypothesis strategies of tests/connector/test_connector_edge_cases.py explore the same
shapes in tests, never at runtime.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import replace

from simulator.demand import spread
from simulator.fault_plan import ODD_DATA_VARIANTS
from simulator.world import Customer, NewTrade, NewTradeLine

# 旺店通 rawTradeList `receiver_name` is 100 characters (docs/protocols/oms.md); the address
# 256 there, but Qimen's receiverInfo and Kdniao's Receiver take 255 (the fakes'
# MAX_TEXT_CHARS, fake_systems/common/wire.py): a correct connector can pass 255 through.
LONGEST_NAME = 100
LONGEST_ADDRESS = 255
MANY_LINES = 200
# Astral-plane emoji (four UTF-8 bytes: MySQL's old `utf8` cannot store them), one with a
# skin tone and one ZWJ family: several code points for one picture.
EMOJI = ("🌸", "🏠", "😀", "👍🏽", "👨‍👩‍👧", "🎁")
_FILL_NAME = "欧阳诸葛司马长孙慕容"
_FILL_ADDRESS = "幸福小区东门进左转第三栋二单元十八楼快递请放门口丰巢柜谢谢"
_FULL_WIDTH_OFFSET = 0xFEE0  # ASCII "!".."~" -> "！".."～"
IDEOGRAPHIC_SPACE = "\u3000"


def odd_trade(
    trade: NewTrade,
    variant: str,
    rng: random.Random,
    goods: Sequence[tuple[str, str, int]],
) -> tuple[NewTrade, dict[str, object]]:
    """`trade` made odd as `variant` says, and what changed (for the fault row).

    `goods` is the catalogue as (spec_no, name, price in cents): the goods of the 200 lines,
    of a gift, and of the line a coupon adds to a one-line trade.
    """
    if variant not in ODD_DATA_VARIANTS:
        raise ValueError(f"unknown odd_data variant {variant!r}")
    receiver = trade.receiver
    if variant == "fuzzy_address":
        return replace(trade, receiver=_fuzzy(receiver, rng)), {"variant": variant}
    if variant == "emoji":
        first, second = rng.sample(EMOJI, 2)
        odd = replace(
            receiver,
            name=_within(lambda name: f"{first}{name}{second}", receiver.name, LONGEST_NAME),
            address=_within(
                lambda address: f"{address} {second}收 {first}", receiver.address, LONGEST_ADDRESS
            ),
        )
        return replace(trade, receiver=odd), {"variant": variant}
    if variant in _MONEY_VARIANTS:
        return _MONEY_VARIANTS[variant](trade, rng, goods)
    if variant == "long_text":
        odd = replace(
            receiver,
            name=_fill(receiver.name, _FILL_NAME, LONGEST_NAME),
            address=_fill(receiver.address, _FILL_ADDRESS, LONGEST_ADDRESS),
        )
        return replace(trade, receiver=odd), {"variant": variant}
    return _many_lines(trade, goods), {"variant": variant, "lines": MANY_LINES}


def _fuzzy(receiver: Customer, rng: random.Random) -> Customer:
    """No district (it is in the address line instead), spaces too many, full-width digits
    and letters (a house number typed on a Chinese keyboard), and the mobile written +86 with
    spaces: all of it at once."""
    number = rng.randint(1, 200)

    def typed_so(address: str) -> str:
        typed = f"{address} {number}号"
        wide = "".join(
            chr(ord(char) + _FULL_WIDTH_OFFSET) if "!" <= char <= "~" else char for char in typed
        )
        return f"  {receiver.area}{IDEOGRAPHIC_SPACE}{wide.replace(' ', '  ')}  "

    mobile = receiver.mobile
    if len(mobile) == 11 and mobile.isdigit():
        mobile = f"+86 {mobile[:3]} {mobile[3:7]} {mobile[7:]}"
    address = _within(typed_so, receiver.address, LONGEST_ADDRESS)
    return replace(receiver, area="", address=address, mobile=mobile)


def _within(make: Callable[[str], str], text: str, limit: int) -> str:
    """`make(text)` in at most `limit` characters: the buyer's own `text` is cut from its end
    as far as needed, so that the odd additions stay whole and a field already at its limit
    (a pushed trade's) stays valid downstream."""
    odd = make(text)
    while len(odd) > limit and text:
        text = text[: max(0, len(text) - (len(odd) - limit))]  # one character fewer at least
        odd = make(text)
    return odd


def _fill(text: str, filler: str, length: int) -> str:
    """`text` padded with `filler` (repeated) to exactly `length` characters (cut if longer)."""
    padding = filler * (length // len(filler) + 1)
    return (text + padding)[:length]


def _many_lines(trade: NewTrade, goods: Sequence[tuple[str, str, int]]) -> NewTrade:
    """MANY_LINES lines of distinct goods; when the catalogue has fewer, one line per item
    with enough units each that the order still holds MANY_LINES units or more."""
    count = min(MANY_LINES, len(goods))
    units = math.ceil(MANY_LINES / count)
    lines = tuple(
        NewTradeLine(
            spec_no=spec_no,
            goods_name=name,
            num=units,
            price_cents=price,
            share_cents=price * units,
        )
        for spec_no, name, price in goods[:count]
    )
    return replace(trade, lines=lines)


Detail = dict[str, object]


def _gift_line(
    trade: NewTrade, rng: random.Random, goods: Sequence[tuple[str, str, int]]
) -> tuple[NewTrade, Detail]:
    """One more line, priced 0 and paid 0: a free gift (赠品) of a catalogue good."""
    spec_no, name, _ = rng.choice(goods) if goods else (trade.lines[0].spec_no, "", 0)
    gift = NewTradeLine(spec_no=spec_no, goods_name=name, num=1, price_cents=0, share_cents=0)
    detail: Detail = {"variant": "gift_line", "spec_no": spec_no}
    return replace(trade, lines=(*_room_for_one(trade.lines), gift)), detail


def _duplicate_sku(
    trade: NewTrade, rng: random.Random, goods: Sequence[tuple[str, str, int]]
) -> tuple[NewTrade, Detail]:
    """One line's SKU again on a line of its own (bought twice in one cart, as platforms
    keep it: two sub-orders), one unit at the line's price."""
    kept = _room_for_one(trade.lines)
    first = rng.choice(kept)
    again = NewTradeLine(
        spec_no=first.spec_no,
        goods_name=first.goods_name,
        num=1,
        price_cents=first.price_cents,
        share_cents=first.price_cents,
    )
    detail: Detail = {"variant": "duplicate_sku", "spec_no": first.spec_no}
    return replace(trade, lines=(*kept, again)), detail


def _room_for_one(lines: tuple[NewTradeLine, ...]) -> tuple[NewTradeLine, ...]:
    """The lines, less the last of a trade that already has MANY_LINES (旺店通's 200 lines a
    trade), so that one more keeps it within the limit."""
    return lines[: MANY_LINES - 1] if len(lines) >= MANY_LINES else lines


def _coupon(
    trade: NewTrade, rng: random.Random, goods: Sequence[tuple[str, str, int]]
) -> tuple[NewTrade, Detail]:
    """A coupon worth more than the cheapest line's share: that line is paid 0 and the
    excess comes off the other lines, in proportion to their shares, none below 0.

    旺店通 keeps a trade's discount on its lines: `share_discount` is the trade-level
    discount apportioned to a line and `share_amount` what the line is paid
    (docs/protocols/oms.md); here that share is `share_cents`. A trade of one line gets a
    second (a catalogue good at its price) so that there is a line for the excess."""
    lines = list(trade.lines)
    if len(lines) == 1 or sum(line.share_cents for line in lines[1:]) < 2:
        spec_no, name, price = max(goods, key=lambda good: good[2]) if goods else ("", "", 0)
        spec_no = spec_no or lines[0].spec_no
        price = max(price, 2)
        lines.append(NewTradeLine(spec_no, name, 1, price, price))
    target = min(range(len(lines)), key=lambda i: (lines[i].share_cents, i))
    others = [i for i in range(len(lines)) if i != target]
    rest = sum(lines[i].share_cents for i in others)
    # At least one cent over the line, and at least a cent left for the buyer to pay.
    excess = rng.randint(1, max(1, rest // 2))
    coupon = lines[target].share_cents + excess
    cuts = spread(excess, [lines[i].share_cents for i in others])
    shares = dict.fromkeys(range(len(lines)), 0)
    for i, cut in zip(others, cuts, strict=True):
        shares[i] = lines[i].share_cents - cut
    made = tuple(replace(line, share_cents=shares[i]) for i, line in enumerate(lines))
    detail: Detail = {"variant": "coupon", "coupon_cents": coupon, "line": target + 1}
    return replace(trade, lines=made), detail


def _one_fen(
    trade: NewTrade, rng: random.Random, goods: Sequence[tuple[str, str, int]]
) -> tuple[NewTrade, Detail]:
    """An order whose paid total is 0.01 CNY: one unit of its first good at one fen, no
    postage (a platform's 一分钱 promotion)."""
    first = trade.lines[0]
    line = NewTradeLine(first.spec_no, first.goods_name, 1, 1, 1, first.oid)
    return replace(trade, lines=(line,), post_cents=0), {"variant": "one_fen"}


_MONEY_VARIANTS = {
    "gift_line": _gift_line,
    "duplicate_sku": _duplicate_sku,
    "coupon": _coupon,
    "one_fen": _one_fen,
}
