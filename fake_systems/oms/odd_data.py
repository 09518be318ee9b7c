"""Odd but valid trades (the `odd_data` fault, docs/CHAOS.md): what real buyers type.

Each variant turns a new trade (the simulator's, or a platform's push) into one a correct
connector must carry through unchanged in meaning: a fuzzy address, emoji, a name and an
address at the real fields' limits, or 200 lines. Nothing here exceeds a limit of the
systems downstream (旺店通's `receiver_name` 100 characters; Qimen's and Kdniao's free text
255).
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import replace

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

    `goods` is the catalogue as (spec_no, name, price in cents), for the 200-line variant.
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
            name=f"{first}{receiver.name}{second}",
            address=f"{receiver.address} {second}收 {first}",
        )
        return replace(trade, receiver=odd), {"variant": variant}
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
    typed = f"{receiver.address} {rng.randint(1, 200)}号"
    address = "".join(
        chr(ord(char) + _FULL_WIDTH_OFFSET) if "!" <= char <= "~" else char for char in typed
    )
    address = f"  {receiver.area}{IDEOGRAPHIC_SPACE}{address.replace(' ', '  ')}  "
    mobile = receiver.mobile
    if len(mobile) == 11 and mobile.isdigit():
        mobile = f"+86 {mobile[:3]} {mobile[3:7]} {mobile[7:]}"
    return replace(receiver, area="", address=address, mobile=mobile)


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
