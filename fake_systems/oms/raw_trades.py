"""Reading a platform's raw trade push (`sales.RawTrade.pushSelf2`) into NewTrade values.

The real method takes the trades and their lines as two flat lists linked by `tid`
(QJB-DOCS `sales.RawTrade.pushSelf2`: `rawTradeList`, `rawTradeOrderList`). Pure functions,
no database: the service looks up shops, goods and warehouses and hands them in. A trade
with a bad field, or a bad line, is refused alone with a message naming the field as a path
(`rawTradeOrderList[3].num …`); the other trades of the call still go in, as the real method
answers per-trade errors in `error_list` with status 0.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from fake_systems.common.money import CENT
from fake_systems.common.wire import WireValueError, check_text, parse_decimal, parse_int
from fake_systems.oms.models import InvalidRequest
from simulator.clock import format_qimen_time, parse_qimen_time
from simulator.world import Customer, NewTrade, NewTradeLine

MAX_TRADES_PER_PUSH = 100  # QJB-DOCS: "单次推送建议单量不超过100单"; a hard cap here
MAX_LINES_PER_TRADE = 200
MAX_NUM = 1_000_000  # pieces per line; keeps amounts far inside 64-bit cents
MAX_AMOUNT = Decimal(10) ** 10  # yuan, exclusive: far inside 64-bit cents even summed

# What the fake can hold (see the service's LIMITATIONS): new, paid, unrefunded trades that
# are paid before shipping. The documented codes are listed so that a valid but unsupported
# value is told apart from a wrong one.
PROCESS_STATUSES = {10: True, 20: True, 30: False, 40: False, 60: False, 70: False}
PLATFORM_STATUSES = {10: False, 20: False, 30: True, 40: False, 50: False, 60: False}
PLATFORM_STATUSES |= {70: False, 80: False, 90: False}
TRADE_REFUND_STATUSES = {0: True, 1: False, 2: False, 3: False}
LINE_REFUND_STATUSES = {0: True, 1: False, 2: False, 3: False, 4: False, 5: False, 6: False}
PAY_STATUSES = {0: False, 1: False, 2: True}
DELIVERY_TERMS = {1: True, 2: False, 3: False}
PAY_METHODS = dict.fromkeys(range(1, 9), True)

# Codes and identifiers: no tab or line break (free text may have them).
CODES = frozenset({"tid", "oid", "goods_id", "spec_id", "goods_no", "spec_no", "warehouse_no"})
# Field lengths of the doc's tables (characters).
TEXT_LIMITS = {
    "tid": 40,
    "oid": 40,
    "goods_id": 40,
    "spec_id": 40,
    "goods_no": 40,
    "spec_no": 40,
    "goods_name": 255,
    "spec_name": 100,
    "buyer_nick": 100,
    "receiver_name": 100,
    "receiver_area": 40,
    "receiver_address": 256,
    "receiver_mobile": 40,
    "receiver_telno": 40,
    "receiver_zip": 20,
    "warehouse_no": 40,
    "remark": 1024,
    "json": 255,
}


class _Refused(Exception):
    """Internal: one trade's refusal, caught per trade and turned into a PushError."""


def _text(
    raw: Mapping[str, Any], name: str, path: str, *, empty: bool = False, limit: int = 0
) -> str:
    """A required text field within its documented length, without control characters
    (tab and line breaks allowed but in CODES); `empty` lets "" through; `limit`
    overrides the field's TEXT_LIMITS length."""
    value = raw.get(name)
    if not isinstance(value, str) or (not empty and not value.strip()):
        kind = "a string" if empty else "a non-empty string"
        raise _Refused(f"{path}.{name} is required ({kind})")
    limit = limit or TEXT_LIMITS.get(name, 255)
    try:
        return check_text(value, limit, multiline=name not in CODES).strip()
    except WireValueError as exc:
        raise _Refused(f"{path}.{name} {exc}") from None


def _code(raw: Mapping[str, Any], name: str, path: str, allowed: Mapping[int, bool]) -> int:
    """A documented integer code that the fake supports (digit strings accepted)."""
    try:
        value = parse_int(raw.get(name), -(2**31), 2**31 - 1)
    except WireValueError:
        raise _Refused(f"{path}.{name} is required (an integer)") from None
    if value not in allowed:
        raise _Refused(f"{path}.{name} must be one of {sorted(allowed)}, not {value}")
    if not allowed[value]:
        supported = sorted(code for code, ok in allowed.items() if ok)
        raise _Refused(f"{path}.{name} {value} is not supported by ecomock (only {supported})")
    return value


def _cents(
    raw: Mapping[str, Any],
    name: str,
    path: str,
    *,
    required: bool = True,
    negative: bool = False,
) -> int:
    """An amount in yuan (Decimal(19,4) in the doc: a JSON number or its text) exact to the
    cent; "" or a missing optional one is 0, as the doc's examples send `"refund_amount": ""`."""
    value = raw.get(name)
    if value == "" or (value is None and not required):
        return 0
    try:
        amount = parse_decimal(value, MAX_AMOUNT)
    except WireValueError as exc:
        raise _Refused(f"{path}.{name} {exc} (an amount in yuan, e.g. 12.3 or '12.30')") from None
    if amount != amount.quantize(CENT):
        raise _Refused(f"{path}.{name} must be exact to the cent (ecomock keeps cents)")
    if amount < 0 and not negative:
        raise _Refused(f"{path}.{name} must not be negative")
    return int(amount * 100)


def _pieces(raw: Mapping[str, Any], name: str, path: str) -> int:
    """A count (Decimal(19,4) in the doc) that must be a whole positive number here."""
    try:
        amount = parse_decimal(raw.get(name), Decimal(MAX_NUM + 1))
    except WireValueError:
        raise _Refused(f"{path}.{name} is required (a number)") from None
    if amount != amount.to_integral_value() or not 1 <= amount <= MAX_NUM:
        raise _Refused(f"{path}.{name} must be a whole number from 1 to {MAX_NUM}")
    return int(amount)


def _time(raw: Mapping[str, Any], name: str, path: str, *, required: bool) -> str | None:
    value = raw.get(name)
    if value is None or value == "":
        if required:
            raise _Refused(f"{path}.{name} is required (yyyy-MM-dd HH:mm:ss)")
        return None
    try:
        return format_qimen_time(parse_qimen_time(value))
    except (TypeError, ValueError):
        raise _Refused(f"{path}.{name} must be yyyy-MM-dd HH:mm:ss") from None


def assign_warehouse(tid: str, warehouses: Sequence[tuple[str, str]]) -> tuple[str, str]:
    """(warehouse_no, logistics_code) for a platform order: the warehouses sorted by number,
    picked by crc32(tid) modulo their count; the carrier is the warehouse's default one.

    Deterministic across runs and processes (crc32, unlike hash(), is not salted).
    """
    ordered = sorted(warehouses)
    return ordered[zlib.crc32(tid.encode("utf-8")) % len(ordered)]


def tid_of(raw: object, fallback: str) -> str:
    """The `tid` of a list entry, which links its lines; `fallback` when it has none."""
    tid = raw.get("tid") if isinstance(raw, Mapping) else None
    return tid.strip() if isinstance(tid, str) and tid.strip() else fallback


def group_lines(orders: Sequence[object]) -> tuple[dict[str, list[tuple[int, Any]]], list[int]]:
    """The `rawTradeOrderList` entries by their tid, each with its index; the indexes of
    entries without a usable tid."""
    by_tid: dict[str, list[tuple[int, Any]]] = {}
    orphans: list[int] = []
    for index, line in enumerate(orders):
        tid = line.get("tid") if isinstance(line, Mapping) else None
        if isinstance(tid, str) and tid.strip():
            by_tid.setdefault(tid.strip(), []).append((index, line))
        else:
            orphans.append(index)
    return by_tid, orphans


def read_raw_trade(
    index: int,
    raw: object,
    lines: Sequence[tuple[int, Any]],
    shop_no: str,
    goods: Mapping[str, str],
    warehouses: Sequence[tuple[str, str]],
) -> NewTrade:
    """One `rawTradeList` entry and its `rawTradeOrderList` lines as a NewTrade; `goods` maps
    known spec_no to goods_name. Raises InvalidRequest naming the field."""
    try:
        return _read(index, raw, lines, shop_no, goods, warehouses)
    except _Refused as exc:
        raise InvalidRequest(str(exc)) from None


def _read(
    index: int,
    raw: object,
    lines: Sequence[tuple[int, Any]],
    shop_no: str,
    goods: Mapping[str, str],
    warehouses: Sequence[tuple[str, str]],
) -> NewTrade:
    path = f"rawTradeList[{index}]"
    if not isinstance(raw, Mapping):
        raise _Refused(f"{path} must be an object")
    tid = _text(raw, "tid", path)
    _code(raw, "process_status", path, PROCESS_STATUSES)
    _code(raw, "trade_status", path, PLATFORM_STATUSES)
    _code(raw, "refund_status", path, TRADE_REFUND_STATUSES)
    _code(raw, "pay_status", path, PAY_STATUSES)
    _code(raw, "pay_method", path, PAY_METHODS)
    _code(raw, "delivery_term", path, DELIVERY_TERMS)
    trade_time = _time(raw, "trade_time", path, required=True)
    pay_time = _time(raw, "pay_time", path, required=False)
    if "end_time" not in raw:  # required, "若无则传null": the key must be there
        raise _Refused(f"{path}.end_time is required (a time, or null)")
    _time(raw, "end_time", path, required=False)
    buyer_nick = _text(raw, "buyer_nick", path)
    receiver = _receiver(raw, path)
    post = _cents(raw, "post_amount", path)
    # Read, not kept, and not checked against the lines: the doc's own example sends
    # receivable 17.6 for shares of 17.6 with post_amount 2 and other_amount 5.2.
    for name in ("other_amount", "received", "paid", "cod_amount", "platform_cost"):
        _cents(raw, name, path, required=False)
    _cents(raw, "discount", path)
    _cents(raw, "receivable", path)
    warehouse_no, logistics_code = _warehouse(raw, path, tid, warehouses)

    if not lines:
        raise _Refused(f"{path}: rawTradeOrderList has no line with tid {tid!r}")
    if len(lines) > MAX_LINES_PER_TRADE:
        raise _Refused(f"{path}: {len(lines)} lines, at most {MAX_LINES_PER_TRADE} allowed")
    read = [_line(line_index, line, goods) for line_index, line in lines]
    oids = [line.oid for line in read]
    if len(set(oids)) != len(oids):
        raise _Refused(f"{path}: rawTradeOrderList repeats an oid of tid {tid!r}")
    if _count(raw, "order_count", path) != len(read):
        raise _Refused(f"{path}.order_count must be {len(read)}, the lines of tid {tid!r}")
    pieces = sum(line.num for line in read)
    try:
        goods_count = parse_decimal(raw.get("goods_count"), MAX_AMOUNT)
    except WireValueError:
        raise _Refused(f"{path}.goods_count is required (a number)") from None
    if goods_count != pieces:
        raise _Refused(f"{path}.goods_count must be {pieces}, the sum of the lines' num")
    return NewTrade(
        src_tid=tid,
        shop_no=shop_no,
        warehouse_no=warehouse_no,
        logistics_code=logistics_code,
        receiver=receiver,
        lines=tuple(read),
        post_cents=post,
        trade_time=trade_time,
        pay_time=pay_time,
        buyer_nick=buyer_nick,
    )


def _count(raw: Mapping[str, Any], name: str, path: str) -> int:
    try:
        return parse_int(raw.get(name), 0, 2**31 - 1)
    except WireValueError:
        raise _Refused(f"{path}.{name} is required (an integer)") from None


def _receiver(raw: Mapping[str, Any], path: str) -> Customer:
    """The receiver; the area as its "省 市 区" text, the one form the fake can read (it has
    no city or district code table for the `receiver_*_no` ids)."""
    area = _text(raw, "receiver_area", path)
    parts = area.split(maxsplit=2)
    if len(parts) != 3:
        raise _Refused(f"{path}.receiver_area must be '省 市 区' separated by spaces")
    return Customer(
        name=_text(raw, "receiver_name", path),
        mobile=_text(raw, "receiver_mobile", path),
        province=parts[0],
        city=parts[1],
        area=parts[2],
        address=_text(raw, "receiver_address", path),
    )


def _warehouse(
    raw: Mapping[str, Any], path: str, tid: str, warehouses: Sequence[tuple[str, str]]
) -> tuple[str, str]:
    """A 自流转 (is_auto_wms) trade goes to the warehouse it names; any other is assigned."""
    auto = raw.get("is_auto_wms")
    if not isinstance(auto, bool):
        raise _Refused(f"{path}.is_auto_wms is required (true or false)")
    if not auto:
        # "非自流转订单传入空字符串即可" (empty for the others); the doc's example leaves it out.
        return assign_warehouse(tid, warehouses)
    warehouse_no = _text(raw, "warehouse_no", path)
    for code, carrier in warehouses:
        if code == warehouse_no:
            return code, carrier
    raise _Refused(f"{path}.warehouse_no {warehouse_no!r} is not a known warehouse")


def _line(index: int, raw: Any, goods: Mapping[str, str]) -> NewTradeLine:
    path = f"rawTradeOrderList[{index}]"
    if not isinstance(raw, Mapping):
        raise _Refused(f"{path} must be an object")
    oid = _text(raw, "oid", path)
    _code(raw, "status", path, PLATFORM_STATUSES)
    _code(raw, "refund_status", path, LINE_REFUND_STATUSES)
    for name in ("goods_id", "spec_id", "goods_no"):
        _text(raw, name, path)
    spec_no = _text(raw, "spec_no", path)
    if spec_no not in goods:
        raise _Refused(f"{path}.spec_no {spec_no!r} is not a known goods spec")
    goods_name = _text(raw, "goods_name", path, empty=True) or goods[spec_no]
    num = _pieces(raw, "num", path)
    price = _cents(raw, "price", path)
    discount = _cents(raw, "discount", path)
    adjust = _cents(raw, "adjust_amount", path, negative=True)
    share_discount = _cents(raw, "share_discount", path)
    total = _cents(raw, "total_amount", path)
    _cents(raw, "refund_amount", path)
    _text(raw, "remark", path, empty=True, limit=255)  # a line's remark: 255, a trade's 1024
    _text(raw, "json", path, empty=True)
    # The doc's PHP example: total_amount = price * num + adjust_amount - discount.
    if total != price * num + adjust - discount:
        raise _Refused(
            f"{path}.total_amount must be price * num + adjust_amount - discount"
            f" ({(price * num + adjust - discount) / 100:.2f})"
        )
    # What the buyer pays for the line; the doc's JSON example sends it as share_amount
    # (9 - 0.2 = 8.8), which is not in its field table: checked when sent.
    share = total - share_discount
    if share < 0:
        raise _Refused(f"{path}.share_discount must not exceed total_amount")
    if raw.get("share_amount") not in (None, "") and _cents(raw, "share_amount", path) != share:
        raise _Refused(f"{path}.share_amount must be total_amount - share_discount")
    return NewTradeLine(
        spec_no=spec_no,
        goods_name=goods_name,
        num=num,
        price_cents=price,
        share_cents=share,
        oid=oid,
    )
