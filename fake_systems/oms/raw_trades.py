"""Reading a platform's raw trade push (原始单推送) into NewTrade values, refusing bad input.

Pure functions, no database: the service looks up shops, goods and warehouses and hands
them in. Every refusal is an InvalidRequest whose message names the offending field as a
path (`trade_list[2].order_list[0].num`), so a platform sees what to fix.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from fake_systems.common.money import CENT
from fake_systems.common.wire import (
    MAX_CODE_CHARS,
    WireValueError,
    check_text,
    parse_decimal,
    parse_int,
)
from fake_systems.oms.models import InvalidRequest
from simulator.clock import format_qimen_time, parse_qimen_time
from simulator.world import Customer, NewTrade, NewTradeLine

MAX_TRADES_PER_PUSH = 50
MAX_LINES_PER_TRADE = 200
MAX_NUM = 1_000_000  # pieces per line; keeps amounts far inside 64-bit cents
MAX_TEXT = 255  # characters in a free-text field; longer is refused, not cut
MAX_AMOUNT = Decimal(10) ** 10  # yuan, exclusive: far inside 64-bit cents even summed

# Only paid trades are accepted (see the service's LIMITATIONS).
PUSH_TRADE_STATUS = 30
PUSH_PAY_STATUS = 2

RECEIVER_FIELDS = (
    "receiver_name",
    "receiver_mobile",
    "receiver_province",
    "receiver_city",
    "receiver_district",
    "receiver_address",
)


def _text(
    raw: Mapping[str, Any], name: str, path: str, *, required: bool = True, code: bool = False
) -> str:
    """A text field, refused with control characters or beyond its length (MAX_CODE_CHARS
    for a `code`, MAX_TEXT for free text, where tabs and line breaks may appear)."""
    value = raw.get(name)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        raise InvalidRequest(f"{path}.{name} is required (a non-empty string)")
    try:
        if code:
            return check_text(value, MAX_CODE_CHARS).strip()
        return check_text(value, MAX_TEXT, multiline=True).strip()
    except WireValueError as exc:
        raise InvalidRequest(f"{path}.{name} {exc}") from None


def _code(raw: Mapping[str, Any], name: str, path: str, expected: int) -> None:
    try:
        # Digit strings are accepted as everywhere in this API (PHP clients send them).
        value = parse_int(raw.get(name))
    except WireValueError:
        value = None
    if value != expected:
        raise InvalidRequest(f"{path}.{name} must be {expected} (only paid trades are accepted)")


def _count(raw: Mapping[str, Any], name: str, path: str) -> int:
    value = raw.get(name)
    if value is None:
        raise InvalidRequest(f"{path}.{name} is required (an integer)")
    try:
        return parse_int(value, 1, MAX_NUM)
    except WireValueError as exc:
        raise InvalidRequest(f"{path}.{name} {exc}") from None


def _cents(raw: Mapping[str, Any], name: str, path: str) -> int:
    """A non-negative amount in yuan, exact to the cent: "12.30" (text) or 12.3 (number)."""
    try:
        amount = parse_decimal(raw.get(name), MAX_AMOUNT)
    except WireValueError as exc:
        raise InvalidRequest(
            f"{path}.{name} {exc} (a decimal amount below {MAX_AMOUNT}, e.g. '12.30')"
        ) from None
    if amount < 0 or amount != amount.quantize(CENT):
        raise InvalidRequest(f"{path}.{name} must be a non-negative amount with at most 2 decimals")
    return int(amount * 100)


def _time(raw: Mapping[str, Any], name: str, path: str) -> str | None:
    value = raw.get(name)
    if value is None or value == "":
        return None
    try:
        return format_qimen_time(parse_qimen_time(value))
    except (TypeError, ValueError) as exc:
        raise InvalidRequest(f"{path}.{name} must be yyyy-MM-dd HH:mm:ss") from exc


def _list(raw: Mapping[str, Any], name: str, path: str, limit: int) -> Sequence[Any]:
    value = raw.get(name)
    if not isinstance(value, list) or not value:
        raise InvalidRequest(f"{path}{name} is required (a non-empty list)")
    if len(value) > limit:
        raise InvalidRequest(f"{path}{name} has {len(value)} entries, at most {limit} allowed")
    return value


def assign_warehouse(tid: str, warehouses: Sequence[tuple[str, str]]) -> tuple[str, str]:
    """(warehouse_no, logistics_code) for a platform order: the warehouses sorted by number,
    picked by crc32(tid) modulo their count; the carrier is the warehouse's default one.

    Deterministic across runs and processes (crc32, unlike hash(), is not salted).
    """
    ordered = sorted(warehouses)
    return ordered[zlib.crc32(tid.encode("utf-8")) % len(ordered)]


def read_raw_trade(
    index: int,
    raw: object,
    shop_no: str,
    goods: Mapping[str, str],
    warehouses: Sequence[tuple[str, str]],
) -> NewTrade:
    """One `trade_list` entry as a NewTrade; `goods` maps known spec_no to goods_name."""
    path = f"trade_list[{index}]"
    if not isinstance(raw, Mapping):
        raise InvalidRequest(f"{path} must be an object")
    tid = _text(raw, "tid", path, code=True)
    _code(raw, "trade_status", path, PUSH_TRADE_STATUS)
    _code(raw, "pay_status", path, PUSH_PAY_STATUS)
    texts = {name: _text(raw, name, path) for name in RECEIVER_FIELDS}
    lines = []
    for line_index, line in enumerate(_list(raw, "order_list", f"{path}.", MAX_LINES_PER_TRADE)):
        line_path = f"{path}.order_list[{line_index}]"
        if not isinstance(line, Mapping):
            raise InvalidRequest(f"{line_path} must be an object")
        spec_no = _text(line, "spec_no", line_path, code=True)
        if spec_no not in goods:
            raise InvalidRequest(f"{line_path}.spec_no {spec_no!r} is not a known goods spec")
        lines.append(
            NewTradeLine(
                spec_no=spec_no,
                goods_name=_text(line, "goods_name", line_path, required=False) or goods[spec_no],
                num=_count(line, "num", line_path),
                price_cents=_cents(line, "price", line_path),
                share_cents=_cents(line, "share_amount", line_path),
                oid=_text(line, "oid", line_path, code=True),
            )
        )
    oids = [line.oid for line in lines]
    if len(set(oids)) != len(oids):
        raise InvalidRequest(f"{path}.order_list repeats an oid")
    post = _cents(raw, "post_amount", path)
    paid = _cents(raw, "paid", path)
    shares = sum(line.share_cents for line in lines)
    if shares + post != paid:
        raise InvalidRequest(
            f"{path}.paid must equal the sum of share_amount plus post_amount"
            f" ({(shares + post) / 100:.2f}), not {paid / 100:.2f}"
        )
    warehouse_no, logistics_code = assign_warehouse(tid, warehouses)
    return NewTrade(
        src_tid=tid,
        shop_no=shop_no,
        warehouse_no=warehouse_no,
        logistics_code=logistics_code,
        receiver=Customer(
            name=texts["receiver_name"],
            mobile=texts["receiver_mobile"],
            province=texts["receiver_province"],
            city=texts["receiver_city"],
            area=texts["receiver_district"],
            address=texts["receiver_address"],
        ),
        lines=tuple(lines),
        post_cents=post,
        trade_time=_time(raw, "trade_time", path),
        pay_time=_time(raw, "pay_time", path),
        buyer_nick=_text(raw, "buyer_nick", path, required=False),
    )
