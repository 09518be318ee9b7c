"""What Locust sends, without Locust: the order feed, the raw trade payloads and their signing.

Kept free of Locust (and of gevent's monkey-patching) so that ecomock itself and the unit
tests can use it. `load/locustfile.py` is the thin Locust layer on top.

The feed is the simulator's own: the same seeded world and `DemandModel` produce the same
arrivals, and each Locust worker takes every N-th of them (worker i of N: arrivals i, i + N,
i + 2N, …), so workers never send the same platform order number (`tid`) and together send
exactly the orders `ecomock run` would place.
"""

from __future__ import annotations

import itertools
import json
import math
import time
import urllib.request
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import orjson

from fake_systems.common.money import cents_to_text
from fake_systems.common.signing import WDT_EPOCH, wdt_sign, wdt_split_appsecret
from simulator.clock import format_qimen_time
from simulator.demand import Arrival, DemandModel
from simulator.scenario import Scenario
from simulator.world import NewTrade

PUSH_METHOD = "sales.RawTrade.pushSelf2"
MAX_TRADES_PER_PUSH = 50  # per call; QJB-DOCS advises at most 100
# pushSelf2's codes (QJB-DOCS): platform status 30 待发货 (paid, awaiting shipment),
# pay_status 2 paid, process_status 10 待递交, pay_method 1 online, delivery_term 1 pay first.
TRADE_PAID = 30
PAY_STATUS_PAID = 2
PROCESS_WAITING = 10
PAY_ONLINE = 1
PAY_BEFORE_DELIVERY = 1


@dataclass(frozen=True)
class OmsAccess:
    """Where the OMS is and the credential that signs the pushes (from endpoints.json)."""

    url: str
    sid: str
    app_key: str
    app_secret: str

    @classmethod
    def from_endpoints(cls, path: Path | str) -> OmsAccess:
        oms = json.loads(Path(path).read_text(encoding="utf-8"))["oms"]
        return cls(oms["url"], oms["sid"], oms["app_key"], oms["app_secret"])

    def signed_query(self, method: str, body: str, timestamp: int | None = None) -> str:
        """The 旗舰版 `/openapi` query string of one call (`timestamp`: Unix seconds, sent
        counted from 2012-01-01); the sign covers the body as `body`."""
        secret, salt = wdt_split_appsecret(self.app_secret)
        unix = int(time.time()) if timestamp is None else timestamp
        params = {
            "sid": self.sid,
            "key": self.app_key,
            "salt": salt,
            "method": method,
            "timestamp": str(unix - WDT_EPOCH),
            "v": "1.0",
        }
        params["sign"] = wdt_sign(secret, {**params, "body": body})
        return urlencode(params)


def raw_trade(trade: NewTrade, pay_time: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """One trade of `sales.RawTrade.pushSelf2`: its `rawTradeList` entry and its
    `rawTradeOrderList` lines; amounts as yuan text, counts and codes as the doc's types.

    Each line's paid share is `total_amount` (price × num − discount, or + adjust_amount when
    the share is above the list price) with no share_discount. No warehouse (is_auto_wms
    false): the OMS assigns it, as a real OMS does for platform orders.
    """
    receiver = trade.receiver
    lines = []
    for number, line in enumerate(trade.lines, start=1):
        goods = line.price_cents * line.num
        lines.append(
            {
                "tid": trade.src_tid,
                "oid": f"{trade.src_tid}-{number}",
                "status": TRADE_PAID,
                "refund_status": 0,
                "goods_id": line.spec_no,
                "spec_id": line.spec_no,
                "goods_no": line.spec_no,
                "spec_no": line.spec_no,
                "goods_name": line.goods_name,
                "num": line.num,
                "price": cents_to_text(line.price_cents),
                "discount": cents_to_text(max(goods - line.share_cents, 0)),
                "adjust_amount": cents_to_text(max(line.share_cents - goods, 0)),
                "share_discount": "0.00",
                "total_amount": cents_to_text(line.share_cents),
                "refund_amount": "0.00",
                "remark": "",
                "json": "",
            }
        )
    shares = sum(line.share_cents for line in trade.lines)
    goods_amount = sum(line.price_cents * line.num for line in trade.lines)
    receivable = shares + trade.post_cents
    entry = {
        "tid": trade.src_tid,
        "process_status": PROCESS_WAITING,
        "trade_status": TRADE_PAID,
        "refund_status": 0,
        "pay_status": PAY_STATUS_PAID,
        "order_count": len(lines),
        "goods_count": sum(line.num for line in trade.lines),
        "pay_method": PAY_ONLINE,
        "trade_time": pay_time,
        "pay_time": pay_time,
        "end_time": None,
        "buyer_nick": receiver.mobile[-4:] + receiver.name,
        "receiver_name": receiver.name,
        "receiver_area": f"{receiver.province} {receiver.city} {receiver.area}",
        "receiver_address": receiver.address,
        "receiver_mobile": receiver.mobile,
        "post_amount": cents_to_text(trade.post_cents),
        "discount": cents_to_text(max(goods_amount - shares, 0)),
        "receivable": cents_to_text(receivable),
        "paid": cents_to_text(receivable),
        "delivery_term": PAY_BEFORE_DELIVERY,
        "is_auto_wms": False,
        "warehouse_no": "",
    }
    return entry, lines


def push_body(trades: list[NewTrade], pay_time: str) -> str:
    """The JSON body of one push, its positional arguments `[shop_no, rawTradeList,
    rawTradeOrderList]`: trades of one shop, at most MAX_TRADES_PER_PUSH."""
    shops = {trade.shop_no for trade in trades}
    if len(shops) != 1 or not 1 <= len(trades) <= MAX_TRADES_PER_PUSH:
        raise ValueError(f"a push carries 1 to {MAX_TRADES_PER_PUSH} trades of one shop")
    entries, lines = [], []
    for trade in trades:
        entry, its_lines = raw_trade(trade, pay_time)
        entries.append(entry)
        lines.extend(its_lines)
    return orjson.dumps([trades[0].shop_no, entries, lines]).decode()


@dataclass(frozen=True)
class SimClock:
    """The fakes' simulated clock as read once from `/_fake/clock`, extrapolated from there."""

    now: datetime
    read_at: float  # time.monotonic() of the reading
    scale: float

    @classmethod
    def read(cls, base_url: str, timeout: float = 10.0) -> SimClock:
        with urllib.request.urlopen(f"{base_url}/_fake/clock", timeout=timeout) as answer:
            data = json.loads(answer.read())
        return cls(datetime.fromisoformat(data["now"]), time.monotonic(), float(data["scale"]))

    def text(self, monotonic: float | None = None) -> str:
        """Simulated now as `yyyy-MM-dd HH:mm:ss`."""
        elapsed = (time.monotonic() if monotonic is None else monotonic) - self.read_at
        return format_qimen_time(self.now + timedelta(seconds=elapsed * self.scale))


def worker_arrivals(scenario: Scenario, index: int, count: int) -> Iterator[Arrival]:
    """Worker `index` of `count`: every `count`-th arrival of the scenario, from `index`."""
    if not 0 <= index < count:
        raise ValueError(f"worker index {index} outside 0..{count - 1}")
    world = scenario.world.build(scenario.seed)
    model = DemandModel(world, scenario.demand, scenario.seed)
    return itertools.islice(model.arrivals(scenario.duration), index, None, count)


class Feed:
    """Arrivals due at wall instants: `start + at_seconds / scale` (monotonic seconds).

    Users `claim()` the next arrival in time order, wait until it is due, then may take the
    further arrivals of the same shop already due (`also_due`) to push them together. Each
    arrival is handed out once, so concurrent users never send an order twice.
    """

    def __init__(self, arrivals: Iterator[Arrival], scale: float, start: float) -> None:
        self._source = arrivals
        self._pending: deque[Arrival] = deque()  # pulled from the source, not yet handed out
        self.scale = scale
        self.start = start
        self.claimed = 0

    def due_at(self, arrival: Arrival) -> float:
        return self.start + arrival.at_seconds / self.scale

    def claim(self) -> Arrival | None:
        """The next arrival, or None when the scenario has no more."""
        arrival = self._pending.popleft() if self._pending else next(self._source, None)
        if arrival is not None:
            self.claimed += 1
        return arrival

    def also_due(self, first: Arrival, now: float, limit: int) -> list[Arrival]:
        """Up to `limit` - 1 more arrivals of `first`'s shop due by `now`, in time order."""
        taken: list[Arrival] = []
        kept: deque[Arrival] = deque()
        shop = first.trade.shop_no
        while len(taken) < limit - 1:
            arrival = self._pending.popleft() if self._pending else next(self._source, None)
            if arrival is None:
                break
            if self.due_at(arrival) > now:
                kept.append(arrival)
                break
            if arrival.trade.shop_no == shop:
                taken.append(arrival)
            else:
                kept.append(arrival)
        # What was looked at and not taken goes back in front, in its order.
        kept.extend(self._pending)
        self._pending = kept
        self.claimed += len(taken)
        return taken


# Locust users needed at a rate: each user is busy from claiming an order until its answer,
# so by Little's law users = rate x time busy; one second leaves ample headroom for latency.
USER_BUSY_SECONDS = 1.0
LOOKAHEAD_SECONDS = 1.0  # users are spawned ahead of a rise, not after it


def users_needed(scenario: Scenario, wall_seconds: float, minimum: int) -> int:
    """Locust users for wall second `wall_seconds` of the scenario's curve (drill applied)."""
    scale = scenario.clock.scale
    since = wall_seconds * scale
    peak_per_hour = scenario.demand.peak_rate(since + LOOKAHEAD_SECONDS * scale, since)
    per_wall_second = peak_per_hour / 3600.0 * scale
    return max(minimum, math.ceil(per_wall_second * USER_BUSY_SECONDS))
