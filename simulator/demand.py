"""Demand: Poisson arrivals of paid orders (rate curves by thinning), baskets, Zipf popularity,
which of them the buyer cancels before shipment, and which they send back once delivered."""

from __future__ import annotations

import bisect
import dataclasses
import itertools
import math
import random
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass
from typing import Literal

import simpy

from simulator.scenario import DemandSettings, ReturnSettings
from simulator.world import NewTrade, NewTradeLine, World

# Platform order numbers look like the platforms' own: digits, of their usual length.
TID_DIGITS = {"TM": 19, "JD": 12, "DY": 19}
TAOBAO_FAMILY = frozenset({"TM"})


# The stages of a buyer's cancellation (issue 11): before the connector's poll, before the
# WMS picks the order, and after it did (the WMS then refuses order.cancel: CANCELEDFAIL).
CancelStage = Literal["before_pickup", "before_picking", "after_picking"]
# A buyer changes their mind within this many simulated seconds: of payment (before the
# connector's poll, usually), of the WMS receiving the order (before a picker comes to it),
# or of a picker starting on it.
CANCEL_DELAY_SECONDS = (0.0, 30.0)


@dataclass(frozen=True)
class CancelPlan:
    """That the buyer cancels a trade: at which stage, and how long after it is reached."""

    stage: CancelStage
    delay_seconds: float
    # after_picking only: the buyer refuses the parcel at the door if it reaches them.
    refuses: bool = False


# Why buyers send goods back (the reasons a 旺店通 售后单 carries); the quality complaint is
# the one whose units the warehouse is likeliest to find defective, but any may hold some.
RETURN_REASONS = ("七天无理由退货", "尺码不合适", "不喜欢/效果不好", "质量问题", "发错货")


@dataclass(frozen=True)
class ReturnLine:
    """Units of one trade line going back: `index` into the trade's lines, how many, and
    how many of those the warehouse's quality check will find defective."""

    index: int
    qty: int
    defective: int


@dataclass(frozen=True)
class ReturnPlan:
    """That the buyer returns a delivered trade: which units, why, and when (simulated
    seconds after the carrier's signed state, then on the way back to the warehouse)."""

    lines: tuple[ReturnLine, ...]
    reason: str
    apply_seconds: float
    transit_seconds: float


@dataclass(frozen=True)
class Arrival:
    """One customer paying: when (simulated seconds after the start) and what; `cancel` if
    the buyer will cancel it before shipment, `give_back` if they return it once delivered."""

    at_seconds: float
    trade: NewTrade
    cancel: CancelPlan | None = None
    give_back: ReturnPlan | None = None


class DemandModel:
    """Turns a seed into a reproducible stream of paid orders."""

    def __init__(self, world: World, settings: DemandSettings, seed: int) -> None:
        self.world = world
        self.settings = settings
        self.random = random.Random(f"demand-{seed}")
        ranks = [sku.popularity_rank for sku in world.skus]
        weights = [1.0 / rank**settings.zipf_exponent for rank in ranks]
        self._cumulative = list(itertools.accumulate(weights))
        self._tid_counter = itertools.count(1)
        # Its own stream: turning cancellations on changes no order's contents.
        self._cancel_random = random.Random(f"cancel-{seed}")
        # Returns too: turning them on changes neither the orders nor the cancellations.
        self._return_random = random.Random(f"returns-{seed}")
        self._platforms = {shop.shop_no: shop.platform for shop in world.shops}
        # Splits too: turning them on changes no order's contents, cancellation or return.
        self._split_random = random.Random(f"split-{seed}")
        # Item codes the business has discontinued (simulator/master_data.py): not drawn.
        self.withdrawn: set[str] = set()

    def arrivals(self, until_seconds: float) -> Iterator[Arrival]:
        """Arrivals in [0, until_seconds) following the scenario's rate curve.

        A non-homogeneous Poisson process by thinning (Lewis and Shedler): candidates come
        at the curve's peak rate and each is kept with probability rate(t) / peak. Where the
        rate is the peak (always, for a flat curve) no extra draw is made, so a flat curve
        gives exactly the stream of a plain Poisson process of that rate.
        """
        settings = self.settings
        peak = settings.peak_rate(until_seconds) / 3600.0
        if peak <= 0:
            return
        at = 0.0
        while True:
            at += self.random.expovariate(peak)
            if at >= until_seconds:
                return
            rate = settings.rate_at(at) / 3600.0
            if rate < peak and self.random.random() * peak >= rate:
                continue
            trade, cancel = self.next_trade(), self.next_cancel()
            give_back = self.next_return(trade)
            split = self.next_split(trade)
            if split is not None:
                # The buyers of split trades neither cancel nor return (docs/DECISIONS.md);
                # the draws were made all the same, so the other trades keep theirs.
                yield Arrival(at, split)
                continue
            # A cancelled trade is never delivered: the draw is made all the same, so that
            # the other trades' returns do not depend on the cancellations.
            yield Arrival(at, trade, cancel, None if cancel is not None else give_back)

    def next_trade(self) -> NewTrade:
        rng = self.random
        shop = rng.choice(self.world.shops)
        warehouse = rng.choice(self.world.warehouses)
        customer = rng.choice(self.world.customers)
        line_count = min(self.settings.max_lines, self._geometric(self.settings.mean_lines))
        item_codes = self._distinct_skus(line_count)
        lines = []
        for item_code in item_codes:
            sku = self.world.sku(item_code)
            num = min(self.settings.max_quantity, self._geometric(self.settings.mean_quantity))
            lines.append((sku, num))
        goods = [sku.price_cents * num for sku, num in lines]
        shares = self._apply_coupon(goods)
        post_cents = (
            rng.choice((600, 800, 1000, 1200)) if rng.random() < self.settings.freight_rate else 0
        )
        return NewTrade(
            src_tid=self._platform_tid(shop.platform),
            shop_no=shop.shop_no,
            warehouse_no=warehouse.code,
            logistics_code=warehouse.carrier_code,
            receiver=customer,
            lines=tuple(
                NewTradeLine(
                    spec_no=sku.item_code,
                    goods_name=sku.name,
                    num=num,
                    price_cents=sku.price_cents,
                    share_cents=share,
                )
                for (sku, num), share in zip(lines, shares, strict=True)
            ),
            post_cents=post_cents,
        )

    def next_cancel(self) -> CancelPlan | None:
        """Whether the buyer cancels the next trade, at which stage and after how long; no draw
        at all when the scenario has no cancellations."""
        shares = self.settings.cancellations
        if shares.rate <= 0:
            return None
        rng = self._cancel_random
        draw = rng.random()
        if draw >= shares.rate:
            return None
        stage: CancelStage = "before_pickup"
        if draw >= shares.before_pickup + shares.before_picking:
            stage = "after_picking"
        elif draw >= shares.before_pickup:
            stage = "before_picking"
        delay = rng.uniform(*CANCEL_DELAY_SECONDS)
        # Drawn for after_picking only, so the earlier stages' draws stay where they were.
        refuses = stage == "after_picking" and rng.random() < shares.refuse_on_delivery
        return CancelPlan(stage, delay, refuses)

    def next_split(self, trade: NewTrade) -> NewTrade | None:
        """`trade` with the warehouse of each line if its lines are not all in one warehouse
        (the OMS then splits it), else None; no draw when it cannot split (the scenario has
        no splits, one line, one warehouse)."""
        share = self.settings.split_share
        others = [w.code for w in self.world.warehouses if w.code != trade.warehouse_no]
        if share <= 0 or len(trade.lines) < 2 or not others:
            return None
        rng = self._split_random
        if rng.random() >= share:
            return None
        # Some lines, never all, are only in another warehouse; the first stays where the
        # trade was routed, so each sub-order has at least one line.
        moved = set(rng.sample(range(1, len(trade.lines)), rng.randint(1, len(trade.lines) - 1)))
        elsewhere = rng.choice(others)
        return dataclasses.replace(
            trade,
            line_warehouses=tuple(
                elsewhere if index in moved else trade.warehouse_no
                for index in range(len(trade.lines))
            ),
        )

    def returnable(self, trade: NewTrade) -> bool:
        """Only trades whose refunds the OMS's open API shows are returned: Taobao-family
        shops' after-sales reach 旺店通 through Taobao's own channel, which ecomock does not
        imitate (docs/protocols/oms.md), so a connector could never follow them."""
        return self._platforms[trade.shop_no] not in TAOBAO_FAMILY

    def return_chance(self, trade: NewTrade) -> float:
        """The scenario's return share for this trade: by its dearest line's category."""
        dearest = max(trade.lines, key=lambda line: line.share_cents)
        return self.settings.returns.rate_for(self.world.sku(dearest.spec_no).category)

    def next_return(self, trade: NewTrade) -> ReturnPlan | None:
        """Whether the buyer sends `trade` back once delivered, and what; no draw at all when
        the scenario has no returns."""
        settings: ReturnSettings = self.settings.returns
        if not settings.enabled or not self.returnable(trade):
            return None
        rng = self._return_random
        if rng.random() >= self.return_chance(trade):
            return None
        partial = rng.random() < settings.partial_share
        chosen = list(range(len(trade.lines)))
        if partial and len(chosen) > 1:
            chosen = sorted(rng.sample(chosen, rng.randint(1, len(chosen) - 1)))
        lines = []
        for index in chosen:
            num = trade.lines[index].num
            # A partial return of a one-line trade keeps some of its units, when it has some.
            qty = rng.randint(1, num - 1) if partial and len(trade.lines) == 1 and num > 1 else num
            defective = sum(1 for _ in range(qty) if rng.random() < settings.defective_share)
            lines.append(ReturnLine(index, qty, defective))
        return ReturnPlan(
            lines=tuple(lines),
            reason=rng.choice(RETURN_REASONS),
            apply_seconds=rng.uniform(*settings.apply_hours.as_tuple()) * 3600.0,
            transit_seconds=rng.uniform(*settings.transit_hours.as_tuple()) * 3600.0,
        )

    def _geometric(self, mean: float) -> int:
        """1, 2, 3 … with the given mean (a geometric law starting at 1)."""
        if mean <= 1.0:
            return 1
        p = 1.0 / mean
        return 1 + int(math.log(1.0 - self.random.random()) / math.log(1.0 - p))

    def _distinct_skus(self, count: int) -> list[str]:
        chosen: list[str] = []
        total = self._cumulative[-1]
        for _ in range(count * 4):  # bounded: popular SKUs may repeat
            index = bisect.bisect_left(self._cumulative, self.random.random() * total)
            code = self.world.skus[min(index, len(self.world.skus) - 1)].item_code
            if code not in chosen and code not in self.withdrawn:
                chosen.append(code)
            if len(chosen) == count:
                break
        if not chosen:  # every draw withdrawn: the most popular item still on sale
            chosen = [
                next(s.item_code for s in self.world.skus if s.item_code not in self.withdrawn)
            ]
        return chosen

    def _apply_coupon(self, goods: list[int]) -> list[int]:
        """Spread a 5–20 % coupon over the lines in proportion; shares add up to the cent."""
        if self.random.random() >= self.settings.discount_rate:
            return list(goods)
        total = sum(goods)
        discount = int(total * self.random.uniform(0.05, 0.20))
        return [g - cut for g, cut in zip(goods, spread(discount, goods), strict=True)]

    def _platform_tid(self, platform: str) -> str:
        digits = TID_DIGITS.get(platform, 16)
        # A zero-padded serial at the end keeps every number unique within a run.
        serial = str(next(self._tid_counter)).zfill(7)
        head = str(self.random.randrange(10 ** (digits - 8), 10 ** (digits - 7)))
        return head + serial


def spread(amount: int, weights: Sequence[int]) -> list[int]:
    """`amount` cents in whole cents over `weights` in proportion, no part above its weight
    (largest remainders first, ties to the earlier line): how a platform apportions an
    order's coupon over its lines (旺店通's `share_discount`). Needs 0 <= amount <= sum."""
    total = sum(weights)
    if not 0 <= amount <= total:
        raise ValueError(f"cannot spread {amount} over {total}")
    if total == 0:
        return [0] * len(weights)
    parts = [amount * weight // total for weight in weights]
    # The cents the floors left over go to the largest remainders: each at most one.
    order = sorted(range(len(weights)), key=lambda i: (-(amount * weights[i] % total), i))
    for i in order[: amount - sum(parts)]:
        parts[i] += 1
    return parts


def play_demand(
    env: simpy.Environment,
    model: DemandModel,
    until_seconds: float,
    place: Callable[[NewTrade], object],
    cancel: Callable[[str, CancelPlan], object] | None = None,
    give_back: Callable[[str, ReturnPlan], object] | None = None,
) -> simpy.events.Process:
    """Start the SimPy process that places each arrival at its simulated time; `cancel` gets
    the trade number `place` returned and the plan of each trade the buyer will cancel,
    `give_back` that of each trade the buyer will return."""

    def process() -> Generator[simpy.events.Event, object, None]:
        start = env.now
        for arrival in model.arrivals(until_seconds):
            delay = start + arrival.at_seconds - env.now
            if delay > 0:
                yield env.timeout(delay)
            trade_no = place(arrival.trade)
            if arrival.cancel is not None and cancel is not None:
                cancel(str(trade_no), arrival.cancel)
            if arrival.give_back is not None and give_back is not None:
                give_back(str(trade_no), arrival.give_back)

    return env.process(process())
