"""Scenario files: YAML validated by pydantic, with errors that name the field."""

from __future__ import annotations

import bisect
import itertools
import math
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from simulator.clock import CHINA
from simulator.fault_plan import (
    EVERY_OPERATION,
    KINDS,
    PUSH_SUFFIX,
    FaultKind,
    FaultRule,
    Stage,
    params_problem,
    systems_with,
    unsupported,
)
from simulator.world import CATEGORIES, PLATFORMS, World, build_world

_DURATION = re.compile(r"^(?:\d+(?:\.\d+)?[smhd])+$")
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)([smhd])")
_NAMED_FIELD = re.compile(r"^[a-z_]+(?:\.[a-z0-9_]+)+: ")
_UNIT_SECONDS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(value: object, *, zero: bool = False) -> float:
    """ "90s", "15m", "22h", "2d", "1h30m" or a number of seconds -> seconds (> 0, or >= 0
    with `zero`)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str) and _DURATION.match(text := value.replace(" ", "")):
        seconds = sum(
            float(number) * _UNIT_SECONDS[unit] for number, unit in _DURATION_PART.findall(text)
        )
    else:
        raise ValueError('expected a duration such as "90s", "15m", "1h30m" or "2d"')
    if seconds < 0 or (seconds == 0 and not zero):
        raise ValueError("a duration must be positive" + (" or zero" if zero else ""))
    return seconds


def parse_offset(value: object) -> float:
    """A moment as simulated time since the start: a duration, or 0 for the start itself."""
    return parse_duration(value, zero=True)


Duration = Annotated[float, BeforeValidator(parse_duration)]
Offset = Annotated[float, BeforeValidator(parse_offset)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Range(Strict):
    """A closed interval; values are drawn uniformly unless the user of the range says otherwise."""

    low: float = Field(ge=0)
    high: float = Field(ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> Range:
        if self.high < self.low:
            raise ValueError("high must be >= low")
        return self

    def as_tuple(self) -> tuple[float, float]:
        return (self.low, self.high)


class ClockSettings(Strict):
    scale: float = Field(1.0, gt=0, le=100_000, description="simulated seconds per wall second")
    start: datetime = Field(
        datetime(2026, 11, 10, 20, 0, tzinfo=CHINA),
        description="simulated time when traffic starts",
    )


class WorldSettings(Strict):
    skus: int = Field(200, ge=1, le=100_000)
    customers: int = Field(2000, ge=1, le=1_000_000)
    warehouses: int = Field(2, ge=1, le=3)
    stock_per_sku: int = Field(5000, ge=0)
    pickers: int = Field(8, ge=1, le=10_000)
    packers: int = Field(6, ge=1, le=10_000)
    locale: str = "zh_CN"

    def build(self, seed: int) -> World:
        """The seeded world these settings describe (the same for the same seed)."""
        return build_world(
            seed,
            sku_count=self.skus,
            customer_count=self.customers,
            warehouse_count=self.warehouses,
            stock_per_sku=self.stock_per_sku,
            pickers=self.pickers,
            packers=self.packers,
            locale=self.locale,
        )


class CurveStep(Strict):
    """One stage of a rate curve, Locust's `stages` idiom: the rate that holds until `until`.

    `until` is simulated time since the start of traffic. The rate is either absolute
    (`orders_per_hour`) or a `factor` of the demand's `orders_per_hour` (so one number resizes
    a whole curve). With `ramp: true` the rate moves linearly from the previous step's rate
    (0 before the first step) to this one over the step, instead of jumping at its start.
    """

    until: Duration
    orders_per_hour: float | None = Field(None, ge=0, description="simulated hour")
    factor: float | None = Field(None, ge=0, description="times demand.orders_per_hour")
    ramp: bool = False

    @model_validator(mode="after")
    def _one_rate(self) -> CurveStep:
        if (self.orders_per_hour is None) == (self.factor is None):
            raise ValueError("give exactly one of orders_per_hour and factor")
        return self


@dataclass(frozen=True)
class Segment:
    """A piece of a rate curve: the rate goes linearly from `rate_start` to `rate_end`."""

    start: float  # simulated seconds
    end: float
    rate_start: float  # orders per simulated hour
    rate_end: float

    def rate_at(self, seconds: float) -> float:
        if self.rate_start == self.rate_end:  # also spares the unbounded last piece inf / inf
            return self.rate_start
        share = (seconds - self.start) / (self.end - self.start)
        return self.rate_start + (self.rate_end - self.rate_start) * share

    def orders(self, until: float) -> float:
        """Expected orders in [start, min(end, until)) (trapezoid rule: exact for a line)."""
        stop = min(self.end, until)
        if stop <= self.start:
            return 0.0
        return (self.rate_at(self.start) + self.rate_at(stop)) / 2 * (stop - self.start) / 3600


class CancellationSettings(Strict):
    """Shares of paid trades the buyer cancels before shipment, by stage. 0 by default: no
    draw is made, so existing scenarios play the same orders. TRAFFIC.md gives 2-8 % in all.

    Before picking, a type-1 refund agreed at once cancels the trade in the OMS (trade_status
    5). After picking the refund waits (20): the merchant agrees it once the goods are back
    (intercepted at the carrier, or refused by the buyer), docs/CONTRACT.md."""

    before_pickup: float = Field(
        0.0, ge=0, le=1, description="cancelled within seconds of payment, before the poll"
    )
    before_picking: float = Field(
        0.0, ge=0, le=1, description="cancelled once the WMS has the order, before picking"
    )
    after_picking: float = Field(
        0.0, ge=0, le=1, description="cancelled once a picker started: WMS CANCELEDFAIL"
    )
    refuse_on_delivery: float = Field(
        0.3,
        ge=0,
        le=1,
        description="share of after_picking buyers who refuse the parcel if it reaches them",
    )

    @model_validator(mode="after")
    def _shares(self) -> CancellationSettings:
        if self.before_pickup + self.before_picking + self.after_picking > 1:
            raise ValueError("before_pickup + before_picking + after_picking must not exceed 1")
        return self

    @property
    def rate(self) -> float:
        """The share of trades cancelled at any stage."""
        return self.before_pickup + self.before_picking + self.after_picking


# TRAFFIC.md's return rates by category (vendor blogs, rough): the middle of each range.
DEFAULT_RETURN_RATES_BY_CATEGORY: dict[str, float] = {
    "apparel": 0.30,
    "shoes": 0.30,
    "electronics": 0.115,
    "beauty": 0.085,
    "home": 0.075,
}


class ReturnSettings(Strict):
    """Which delivered trades the buyer sends back (a type-2 refund, 退货退款, after the carrier's
    signed state), how, and what the warehouse's quality check finds. 0 by default: no draw is
    made, so existing scenarios play the same orders. TRAFFIC.md gives 17-21 % online.

    A trade's chance is `by_category` of its dearest line's category, else `rate`.
    """

    rate: float = Field(0.0, ge=0, le=1, description="share of delivered trades returned")
    by_category: dict[str, float] = Field(
        default_factory=dict,
        description="return share per catalogue category; `traffic` for TRAFFIC.md's",
    )
    partial_share: float = Field(
        0.3, ge=0, le=1, description="share of returns taking back only some lines or units"
    )
    defective_share: float = Field(
        0.2, ge=0, le=1, description="share of returned units the warehouse finds defective"
    )
    apply_hours: Range = Field(
        default_factory=lambda: Range(low=2.0, high=72.0),
        description="from the carrier's signed state to the buyer's return application",
    )
    transit_hours: Range = Field(
        default_factory=lambda: Range(low=12.0, high=72.0),
        description="from the application to the parcel at the warehouse",
    )

    @field_validator("by_category", mode="before")
    @classmethod
    def _traffic(cls, shares: object) -> object:
        """`by_category: traffic` asks for TRAFFIC.md's figures by category."""
        if isinstance(shares, str):
            if shares != "traffic":
                raise ValueError(f"{shares!r}: give a mapping of category to share, or traffic")
            return dict(DEFAULT_RETURN_RATES_BY_CATEGORY)
        return shares

    @field_validator("by_category")
    @classmethod
    def _categories(cls, shares: dict[str, float]) -> dict[str, float]:
        for category, share in shares.items():
            if category not in CATEGORIES:
                raise ValueError(
                    f"unknown category {category!r}; one of {', '.join(sorted(CATEGORIES))}"
                )
            if not 0 <= share <= 1:
                raise ValueError(f"{category}: {share} is not a share between 0 and 1")
        return shares

    @property
    def enabled(self) -> bool:
        return self.rate > 0 or any(share > 0 for share in self.by_category.values())

    def rate_for(self, category: str) -> float:
        """The return share of a trade whose dearest line is of `category`."""
        return self.by_category.get(category, self.rate)


class DemandSettings(Strict):
    """Poisson arrivals in simulated time; baskets, quantities and Zipf popularity.

    Without `curve` the rate is `orders_per_hour` throughout; with one, it follows the
    curve, and after the curve's last step that step's rate holds. `drill` multiplies every
    rate (1.5 plays a peak drill at 150 %).
    """

    orders_per_hour: float = Field(
        gt=0, description="simulated hour; the base of the curve's factors"
    )
    curve: list[CurveStep] | None = Field(None, min_length=1)
    drill: float = Field(1.0, gt=0, le=100, description="scales every rate")
    mean_lines: float = Field(1.6, ge=1, le=20)
    max_lines: int = Field(6, ge=1, le=200)
    mean_quantity: float = Field(1.3, ge=1, le=50)
    max_quantity: int = Field(5, ge=1, le=1000)
    zipf_exponent: float = Field(1.1, gt=0, le=5)
    discount_rate: float = Field(0.3, ge=0, le=1, description="share of orders with a coupon")
    freight_rate: float = Field(0.2, ge=0, le=1, description="share of orders paying freight")
    cancellations: CancellationSettings = CancellationSettings()
    returns: ReturnSettings = ReturnSettings()
    # TRAFFIC.md gives no figure; 0 like the other after-sales shares (docs/DECISIONS.md).
    split_share: float = Field(
        0.0,
        ge=0,
        le=1,
        description="share of trades of two lines or more whose lines two warehouses hold"
        " (the OMS splits them into sub-orders)",
    )

    @field_validator("curve")
    @classmethod
    def _increasing(cls, curve: list[CurveStep] | None) -> list[CurveStep] | None:
        for index, (before, after) in enumerate(itertools.pairwise(curve or []), start=1):
            if after.until <= before.until:
                raise ValueError(
                    f"step {index}: until ({after.until:g} s) must be later than the step"
                    f" before ({before.until:g} s)"
                )
        return curve

    def segments(self) -> tuple[Segment, ...]:
        """The curve as linear pieces, drill applied; the last piece runs on for ever.

        Not cached: `model_copy` would carry a cache over to a copy with another drill.
        """
        if not self.curve:
            rate = self.orders_per_hour * self.drill
            return (Segment(0.0, math.inf, rate, rate),)
        pieces: list[Segment] = []
        start, previous = 0.0, 0.0
        for step in self.curve:
            base = step.orders_per_hour
            rate = base if base is not None else (step.factor or 0.0) * self.orders_per_hour
            rate *= self.drill
            pieces.append(Segment(start, step.until, previous if step.ramp else rate, rate))
            start, previous = step.until, rate
        pieces.append(Segment(start, math.inf, previous, previous))
        return tuple(pieces)

    def rate_at(self, seconds: float) -> float:
        """Orders per simulated hour at `seconds` of simulated time after the start."""
        pieces = self.segments()
        # The first piece ending after `seconds` (the last one never ends).
        piece = pieces[bisect.bisect_right([p.end for p in pieces], seconds)]
        return piece.rate_at(max(seconds, piece.start))

    def peak_rate(self, until: float, since: float = 0.0) -> float:
        """The highest rate in [since, until), orders per simulated hour (bounds thinning)."""
        # Pieces are linear: the highest rate of each is at one of its (clipped) ends.
        return max(
            max(piece.rate_at(max(since, piece.start)), piece.rate_at(min(until, piece.end)))
            for piece in self.segments()
            if piece.start < until and piece.end > since
        )

    def expected_orders(self, until: float) -> float:
        return sum(piece.orders(until) for piece in self.segments())


class FulfilmentSettings(Strict):
    """WMS timings, simulated seconds."""

    accept_seconds: Range = Range(low=30, high=120)
    pick_seconds: Range = Range(low=60, high=240)
    pack_seconds: Range = Range(low=60, high=180)
    # Share of orders (two units or more) the WMS ships in two packages (partial confirm).
    partial_delivery_share: float = Field(default=0.0, ge=0.0, le=1.0)
    # Push orderprocess.report on every delivery order state change (4+ pushes per order).
    process_reports: bool = False
    # Push stockchange.report on every stock movement (docs/DECISIONS.md, "Stock pushes").
    stock_change_reports: bool = True


class ProcurementSettings(Strict):
    """Replenishment (issue 13, simulator/procurement.py): every `review_minutes` the buyer
    raises a purchase order in the ERP for each warehouse's item whose available stock plus
    what is on order is below `reorder_point`, up to `order_up_to`; the supplier delivers
    `lead_hours` later, sometimes more, fewer or some damaged. At each review the buyer also
    sends goods back (`return_rate`) from some purchases whose stock-in is booked. 0 by
    default: no draw is made and entry orders receive what they plan, so existing scenarios
    play the same."""

    reorder_point: int = Field(0, ge=0, description="units; 0: no procurement")
    order_up_to: int = Field(0, ge=0, description="units a purchase order tops the stock up to")
    review_minutes: float = Field(30.0, gt=0, description="simulated minutes between reviews")
    lead_hours: Range = Field(
        default_factory=lambda: Range(low=2.0, high=8.0),
        description="from the purchase order to the goods at the warehouse",
    )
    over_rate: float = Field(0.03, ge=0, le=1, description="share of lines delivered over")
    short_rate: float = Field(0.03, ge=0, le=1, description="share of lines delivered short")
    damaged_rate: float = Field(0.02, ge=0, le=1, description="share of lines with damage")
    deviation: float = Field(
        0.1, gt=0, le=1, description="share of a line's units over, short or damaged"
    )
    return_rate: float = Field(
        0.0,
        ge=0,
        le=1,
        description=(
            "share of received purchase orders the buyer sends goods back from (PUR_MRB):"
            " an over-delivery's surplus, else some overstock of one line; 0: none"
        ),
    )
    return_share: float = Field(
        0.1,
        gt=0,
        le=1,
        description=(
            "an overstock return sends back up to this share of one line's received units"
            " (1: possibly the whole line, as for a wrong delivery)"
        ),
    )

    @model_validator(mode="after")
    def _levels(self) -> ProcurementSettings:
        if self.reorder_point and self.order_up_to <= self.reorder_point:
            raise ValueError(
                f"procurement.order_up_to: {self.order_up_to} must exceed reorder_point"
                f" {self.reorder_point}"
            )
        if self.over_rate + self.short_rate > 1:
            raise ValueError("procurement.over_rate + short_rate must not exceed 1")
        if self.return_rate and not self.reorder_point:
            raise ValueError("procurement.return_rate needs purchase orders (reorder_point > 0)")
        return self

    @property
    def enabled(self) -> bool:
        return self.reorder_point > 0


class TransferSettings(Strict):
    """Transfers between warehouses (issue 13, simulator/transfers.py): about
    `per_hour` times a simulated hour the warehouse ships some surplus stock of one cargo
    owner's items to another warehouse (DBCK out, DBRK in); it arrives `transit_hours` later,
    and a `loss_rate` share of the transfers lose up to `loss_share` of a line's units on the
    way. 0 by default: no transfer and no draw, so existing scenarios play the same."""

    per_hour: float = Field(0.0, ge=0, description="transfers a simulated hour; 0: none")
    transit_hours: Range = Field(
        default_factory=lambda: Range(low=1.0, high=6.0),
        description="from the sender's stockout to the goods at the receiver",
    )
    loss_rate: float = Field(0.1, ge=0, le=1, description="share of transfers losing units")
    loss_share: float = Field(
        0.3, gt=0, le=1, description="at most this share of a line's units is lost"
    )
    min_available: int = Field(
        10, ge=1, description="only items with this many units available at the sender move"
    )
    move_share: float = Field(
        0.25, gt=0, le=1, description="share of the sender's available units a line moves"
    )
    max_lines: int = Field(3, ge=1, description="items per transfer, at most")

    @property
    def enabled(self) -> bool:
        return self.per_hour > 0


class MasterDataSettings(Strict):
    """Master-data changes (issue 13, simulator/master_data.py): the business creates new
    materials in the ERP, renames, re-prices and relabels (new barcode) existing ones, and
    discontinues some, each kind at its own rate per simulated day (a Poisson process). All
    0 by default: no draw is made, so existing scenarios play the same."""

    new_per_day: float = Field(0.0, ge=0, le=10_000, description="new materials a day")
    renames_per_day: float = Field(0.0, ge=0, le=10_000, description="renamed materials a day")
    price_changes_per_day: float = Field(0.0, ge=0, le=10_000, description="re-priced a day")
    barcode_changes_per_day: float = Field(
        0.0, ge=0, le=10_000, description="materials relabelled with a new barcode a day"
    )
    discontinued_per_day: float = Field(
        0.0, ge=0, le=10_000, description="materials discontinued (FForbidStatus B) a day"
    )

    @property
    def per_day(self) -> dict[str, float]:
        """The rate of each kind of change, by its name in `material_changes`."""
        return {
            "new": self.new_per_day,
            "rename": self.renames_per_day,
            "price": self.price_changes_per_day,
            "barcode": self.barcode_changes_per_day,
            "discontinue": self.discontinued_per_day,
        }

    @property
    def enabled(self) -> bool:
        return any(rate > 0 for rate in self.per_day.values())


class CountSettings(Strict):
    """Cycle counts by ABC class (issue 13, simulator/counts.py): every `a_hours`,
    `b_hours`, `c_hours` simulated hours each warehouse counts one cargo owner's items of
    that class (A: the `a_share` most popular items, B: the next `b_share`, C: the rest),
    in `waves` groups spread over the period;
    a `shrinkage_rate` share of the items counted are found short by up to `shrinkage_share`
    of their units, a `miscount_rate` share miscounted by up to `miscount_units` either way.
    Off by default: no count and no draw, so existing scenarios play the same."""

    enabled: bool = Field(False, description="play cycle counts")
    a_hours: float = Field(168.0, gt=0, description="A items counted this often (weekly)")
    b_hours: float = Field(720.0, gt=0, description="B items counted this often (monthly)")
    c_hours: float = Field(2160.0, gt=0, description="C items counted this often (quarterly)")
    a_share: float = Field(0.2, gt=0, lt=1, description="share of the catalogue in class A")
    b_share: float = Field(0.3, gt=0, lt=1, description="share of the catalogue in class B")
    shrinkage_rate: float = Field(0.05, ge=0, le=1, description="share of items found short")
    shrinkage_share: float = Field(
        0.05, gt=0, le=1, description="at most this share of an item's units is gone"
    )
    miscount_rate: float = Field(0.03, ge=0, le=1, description="share of items miscounted")
    miscount_units: int = Field(2, ge=1, description="a miscount is off by up to this many")
    # A rolling count: a class's items in `waves` groups, one group every period / waves, so
    # that each item is still counted once a period but the work is spread over it (a month
    # sees a third of the quarterly C items with 3). 1: the whole class at once, as before.
    waves: int = Field(
        1, ge=1, le=52, description="groups each class's items are counted in, spread evenly"
    )

    @model_validator(mode="after")
    def _classes_fit(self) -> CountSettings:
        if self.a_share + self.b_share >= 1:
            raise ValueError("b_share: a_share + b_share must leave some items to class C")
        return self

    def period_hours(self, abc_class: str) -> float:
        """How often items of `abc_class` are counted, simulated hours."""
        return {"A": self.a_hours, "B": self.b_hours, "C": self.c_hours}[abc_class]


class CarrierSettings(Strict):
    """Carrier timings, simulated hours."""

    collect_hours: Range = Range(low=0.5, high=2.0)
    transit_hours: Range = Range(low=4.0, high=48.0)
    transit_mode_hours: float = Field(12.0, ge=0, description="most likely transit time")
    dispatch_hours: Range = Range(low=0.5, high=3.0)
    delivery_hours: Range = Range(low=1.0, high=4.0)
    # Problem parcels, shares of all parcels (docs/protocols/carrier.md, "The journey").
    refused_rate: float = Field(0.0, ge=0, le=1, description="refused at the door (4/404)")
    stuck_rate: float = Field(0.0, ge=0, le=1, description="stuck (4/401 or 4/402)")
    locker_rate: float = Field(0.0, ge=0, le=1, description="left in a locker (2/211)")
    locker_overdue_rate: float = Field(
        0.0, ge=0, le=1, description="share of locker parcels never picked up (4/412)"
    )
    stuck_hours: float = Field(
        48.0, gt=0, description="until a stuck (401/402) or lost (403) parcel is flagged"
    )
    locker_overdue_hours: float = Field(48.0, gt=0, description="in a locker until 412")

    @model_validator(mode="after")
    def _shares(self) -> CarrierSettings:
        if self.refused_rate + self.stuck_rate + self.locker_rate > 1:
            raise ValueError("refused_rate + stuck_rate + locker_rate must not exceed 1")
        return self


class FaultSettings(Strict):
    """One rule of the fault plan (docs/CHAOS.md): a kind of fault on one operation of one
    system (`*`: every operation), in a window of simulated time, at a rate or on every
    Nth matching call.

    The fakes' operations come in through the validation context (the world layer does not
    know the fakes): `{"operations": {system: requests}, "pushes": {system: pushes}}`, as
    `load_scenario` and the fakes' `/_fake/faults` pass them. Without it, only what the
    plan's vocabulary knows is checked (kinds, systems, rates, windows).
    """

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    system: Literal["oms", "wms", "erp", "bank", "carrier"]
    operation: str = Field(min_length=1)
    kind: FaultKind
    rate: float | None = Field(None, ge=0, le=1, description="share of matching calls hit")
    every_nth: int | None = Field(
        None, ge=1, validate_default=True, description="or: every Nth matching call"
    )
    start: Offset = Field(0.0, alias="from", description="simulated time from the start")
    until: Duration | None = Field(None, description="simulated time the window closes")
    params: dict[str, float | str] = Field(
        default_factory=dict, validate_default=True, description="the kind's own"
    )

    @field_validator("operation")
    @classmethod
    def _known_operation(cls, operation: str, info: ValidationInfo) -> str:
        # A push may be named as `ecomock coverage` lists it ("deliveryorder.confirm (push)").
        operation = operation.removesuffix(PUSH_SUFFIX)
        requests, pushes = _catalogue(info)
        if requests is None or operation == EVERY_OPERATION:
            return operation
        if operation not in requests and operation not in pushes:
            system = info.data["system"]
            offered = f"it has {', '.join(sorted(requests))}"
            if pushes:
                offered += f"; its pushes: {', '.join(sorted(pushes))}"
            raise ValueError(
                f"{system} has no operation {operation!r}; {offered}"
                f" (or {EVERY_OPERATION!r} for all)"
            )
        return operation

    @field_validator("kind")
    @classmethod
    def _kind_fits(cls, kind: FaultKind, info: ValidationInfo) -> FaultKind:
        system = info.data.get("system")
        if system is None:
            return kind  # the system itself is wrong: that error says enough
        owners = systems_with(kind)
        if system not in owners:
            verb = "has" if len(owners) == 1 else "have"
            raise ValueError(f"{system} has no {kind} fault; only {', '.join(owners)} {verb} it")
        operation = info.data.get("operation")
        if kind == "clock_skew" and operation not in (None, EVERY_OPERATION):
            # The fake has one clock: a skew cannot be kept to one of its operations.
            raise ValueError(
                f"clock_skew puts the whole {system} clock off: declare it on operation"
                f" {EVERY_OPERATION!r}, not {operation!r}"
            )
        # A kind some operations of the system have, but not this one (the bank's `rejected`
        # answers a pain.001 alone).
        problem = unsupported(system, operation, kind) if operation else None
        if problem is not None:
            raise ValueError(problem)
        requests, pushes = _catalogue(info)
        if requests is None or operation in (None, EVERY_OPERATION):
            return kind
        stage = KINDS[kind]
        if stage is Stage.PUSH and operation not in pushes:
            raise ValueError(
                f"{kind} acts on pushes, and {operation!r} is a request {system} serves;"
                f" its pushes: {', '.join(sorted(pushes))}"
            )
        if stage is not Stage.PUSH and operation not in requests:
            raise ValueError(
                f"{kind} acts on requests (or the business), and {operation!r} is a push"
                f" {system} sends; give one of its requests or {EVERY_OPERATION!r}"
            )
        return kind

    @field_validator("rate")
    @classmethod
    def _whole_window(cls, rate: float | None, info: ValidationInfo) -> float | None:
        # A skewed clock is a state over the window, not a share of calls (docs/CHAOS.md).
        if info.data.get("kind") == "clock_skew" and rate is not None and rate != 1:
            raise ValueError(
                f"clock_skew holds for its whole window (from, until): give rate: 1, not {rate:g}"
            )
        return rate

    @field_validator("every_nth")
    @classmethod
    def _rate_or_every_nth(cls, every_nth: int | None, info: ValidationInfo) -> int | None:
        if "rate" not in info.data:
            return every_nth  # the rate itself is wrong: that error says enough
        if info.data.get("kind") == "clock_skew" and every_nth is not None:
            raise ValueError(
                "clock_skew holds for its whole window (from, until): give rate: 1, not every_nth"
            )
        if (info.data["rate"] is None) == (every_nth is None):
            raise ValueError(
                "give either rate (a share of calls) or every_nth, not both or neither"
            )
        return every_nth

    @field_validator("params")
    @classmethod
    def _params_of_the_kind(
        cls, params: dict[str, float | str], info: ValidationInfo
    ) -> dict[str, float | str]:
        kind = info.data.get("kind")
        problem = params_problem(kind, params) if kind else None
        if problem is not None:
            raise ValueError(problem)
        return params

    @field_validator("until")
    @classmethod
    def _after_start(cls, until: float | None, info: ValidationInfo) -> float | None:
        start = info.data.get("start")
        if until is not None and start is not None and until <= start:
            raise ValueError(f"until ({until:g} s) must come after from ({start:g} s)")
        return until

    def rule(self) -> FaultRule:
        """The plan's rule the fakes play."""
        return FaultRule(
            self.system,
            self.operation,
            self.kind,
            rate=self.rate or 0.0,
            every_nth=self.every_nth or 0,
            start=self.start,
            until=math.inf if self.until is None else self.until,
            params=dict(self.params),
        )


def _catalogue(info: ValidationInfo) -> tuple[Collection[str] | None, Collection[str]]:
    """The requests and pushes of the rule's system, from the validation context (None for
    the requests when the context does not say: nothing to check against)."""
    context = info.context or {}
    system = info.data.get("system")
    requests = context.get("operations", {}).get(system)
    pushes = context.get("pushes", {}).get(system, ())
    return requests, pushes


class CrashSettings(Strict):
    """One planned death of the connector (docs/CHAOS.md, "Connector crash and restart"):
    the signal its process group gets at `at`, and when it is started again."""

    at: Duration = Field(description="simulated time since the start of traffic")
    signal: Literal["KILL", "TERM"] = Field(
        "KILL", description="KILL: dies at once; TERM: a graceful stop"
    )
    restart_after: Duration = Field(
        5.0, description="simulated time between its exit and its start again"
    )


class PlatformTerms(Strict):
    """How one platform settles with the merchant (docs/DECISIONS.md gives the defaults' basis)."""

    days: int = Field(ge=0, le=90, description="T+N: days after completion before it settles")
    commission_rate: float = Field(ge=0, lt=1, description="share of paid - refunded it keeps")


# Assumptions, not published figures (docs/DECISIONS.md, "Settlement terms").
DEFAULT_SETTLEMENT_TERMS: dict[str, PlatformTerms] = {
    "TM": PlatformTerms(days=1, commission_rate=0.05),
    "JD": PlatformTerms(days=7, commission_rate=0.08),
    "DY": PlatformTerms(days=7, commission_rate=0.05),
}


# The seeds' reconciliation thresholds: a difference at or over either needs approval.
THRESHOLD_CENTS = 50_000  # 500 CNY
THRESHOLD_SHARE_DIVISOR = 200  # 0.5 % = 1/200


def needs_approval(difference_cents: int, expected_cents: int) -> bool:
    """Whether a reconciliation difference is at or over either of the seeds' thresholds:
    >= 500 CNY, or >= 0.5 % of what was expected (any difference on nothing expected)."""
    size = abs(difference_cents)
    return size >= THRESHOLD_CENTS or (
        size > 0 and size * THRESHOLD_SHARE_DIVISOR >= abs(expected_cents)
    )


class SettlementSettings(Strict):
    """The platforms' settlements (simulator/settlement.py): off by default, so existing
    scenarios play the same. Each day at `cutoff_hour` (China time) every platform bills each
    shop for the trades completed N days before, net of refunds and commission, and pays the
    bill into the merchant's bank account `pay_hours` later. A share of bills carries a
    platform adjustment, some at or over the seeds' reconciliation thresholds (>= 500 CNY or
    >= 0.5 %), the others below both."""

    enabled: bool = False
    terms: dict[str, PlatformTerms] = Field(
        default_factory=lambda: dict(DEFAULT_SETTLEMENT_TERMS),
        description="per platform code (TM, JD, DY): days (T+N) and commission_rate",
    )
    cutoff_hour: float = Field(2.0, ge=0, lt=24, description="China hour the bills are issued")
    pay_hours: float = Field(2.0, ge=0, le=72, description="from the bill to the bank credit")
    adjustment_share: float = Field(
        0.1, ge=0, le=1, description="share of bills the platform adjusts"
    )
    large_adjustment_share: float = Field(
        0.5, ge=0, le=1, description="of the adjusted bills, the share at or over a threshold"
    )

    @field_validator("terms")
    @classmethod
    def _platforms(cls, terms: dict[str, PlatformTerms]) -> dict[str, PlatformTerms]:
        for code in terms:
            if code not in PLATFORMS:
                raise ValueError(f"unknown platform {code!r}; one of {', '.join(PLATFORMS)}")
        return terms


class PaymentSettings(Strict):
    """Supplier payments (issue 14): off by default, so existing scenarios play the same.
    Every supplier's payables fall due `terms_days` after their date (the ERP's FENDDATE_H;
    30 days when off), and the creditors' banks refuse `closed_share` of the payments as a
    closed account (AC04), drawn per EndToEndId from the seed."""

    enabled: bool = False
    terms_days: int = Field(
        30, ge=0, le=365, description="days from a payable's date to its due date"
    )
    closed_share: float = Field(
        0.0, ge=0, le=1, description="share of payments rejected AC04 (account closed)"
    )
    opening_balance: Decimal = Field(
        Decimal("1000000.00"),
        ge=0,
        le=Decimal("1000000000000"),
        decimal_places=2,
        description="CNY on the merchant's bank account when the run starts: payments beyond"
        " what it holds are rejected AM04 (insufficient funds)",
    )


class CarrierFeeSettings(Strict):
    """Carrier fees (issue 14, simulator/carrier_fees.py): off by default, so existing
    scenarios play the same. The carrier bills each merchant account per express company and
    `period` (a calendar month, or a day for short runs, China time) with a fee statement
    closed `close_hours` after the period ends: every parcel handed over and every parcel back
    with its sender in the period, priced by weight and zone (fake_systems/carrier/fees.py).
    The express companies' payables fall due `terms_days` after their date."""

    enabled: bool = False
    period: Literal["month", "day"] = Field("month", description="what one statement covers")
    close_hours: float = Field(
        1.0, ge=0, le=72, description="from the period's end to the statement's close"
    )
    terms_days: int = Field(
        30, ge=0, le=365, description="days from a fee payable's date to its due date"
    )


class BankFeeSettings(Strict):
    """Bank fees (issue 14, fake_systems/bank/service.py `set_fees`): off by default, so
    existing scenarios play the same. The bank charges each executed supplier payment by the
    PBOC-guided inter-bank schedule (5 / 10 / 15 / 20 CNY up to 10k / 100k / 500k / 1M, then
    0.002 % up to 200 CNY) and, when `account_fee` > 0, the merchant's account every month at
    China midnight of `account_fee_day` (账户管理费); each fee is a DBIT entry of its own in
    the statements (docs/DECISIONS.md, "Bank fees")."""

    enabled: bool = False
    transfer_fees: bool = Field(True, description="charge each executed outgoing transfer")
    account_fee: float = Field(
        50.0, ge=0, le=10_000, description="CNY charged monthly for the account (0: none)"
    )
    account_fee_day: int = Field(
        21, ge=1, le=28, description="day of the month the account fee is charged"
    )


class Objectives(Strict):
    """Wall-second p99s of the flows the judge times (the seeds' core interfaces <= 3 s),
    optionally a throughput, and the master-data sync time in simulated seconds (business
    time: the seeds' 15 minutes to 24 hours) (docs/JUDGE.md)."""

    paid_to_wms_p99_seconds: float = Field(3.0, gt=0)
    shipped_to_oms_p99_seconds: float = Field(3.0, gt=0)
    shipped_to_erp_p99_seconds: float = Field(3.0, gt=0)
    cancel_to_wms_p99_seconds: float = Field(3.0, gt=0)
    orders_per_min: float | None = Field(
        None, gt=0, description="orders the connector must carry to the WMS per wall minute"
    )
    master_data_sync_seconds: float = Field(
        86_400.0,
        gt=0,
        description="simulated seconds from an ERP master-data change to the WMS and the OMS"
        " (the seeds: 15 minutes to 24 hours)",
    )


class RunSettings(Strict):
    drain_timeout: Duration = Field(90.0, description="wall time to finish in-flight work")
    stall_timeout: Duration = Field(
        15.0, description="stop draining early when nothing moved for this long (wall)"
    )
    connector_start_timeout: Duration = 30.0


class Scenario(Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    description: str = ""
    seed: int = 7
    duration: Duration = Field(description="simulated time of traffic")
    clock: ClockSettings = ClockSettings()
    world: WorldSettings = WorldSettings()
    demand: DemandSettings
    fulfilment: FulfilmentSettings = FulfilmentSettings()
    carrier: CarrierSettings = CarrierSettings()
    procurement: ProcurementSettings = ProcurementSettings()
    transfers: TransferSettings = TransferSettings()
    counts: CountSettings = CountSettings()
    master_data: MasterDataSettings = MasterDataSettings()
    faults: list[FaultSettings] = []
    crashes: list[CrashSettings] = []
    objectives: Objectives = Objectives()
    run: RunSettings = RunSettings()
    settlement: SettlementSettings = SettlementSettings()
    payments: PaymentSettings = PaymentSettings()
    carrier_fees: CarrierFeeSettings = CarrierFeeSettings()
    bank_fees: BankFeeSettings = BankFeeSettings()

    @model_validator(mode="after")
    def _crashes_in_turn(self) -> Scenario:
        # The field is named in the message, since the error belongs to the whole scenario.
        previous: CrashSettings | None = None
        for index, crash in enumerate(self.crashes):
            if crash.at >= self.duration:
                raise ValueError(
                    f"crashes.{index}.at: {crash.at:g} s is not before the end of traffic"
                    f" (duration {self.duration:g} s)"
                )
            if previous is not None and crash.at < previous.at + previous.restart_after:
                raise ValueError(
                    f"crashes.{index}.at: {crash.at:g} s comes before crash {index - 1} is"
                    f" restarted ({previous.at:g} s + restart_after {previous.restart_after:g} s)"
                )
            previous = crash
        return self

    @model_validator(mode="after")
    def _split_needs_two_warehouses(self) -> Scenario:
        if self.demand.split_share > 0 and self.world.warehouses < 2:
            raise ValueError(
                f"demand.split_share: {self.demand.split_share:g} needs two warehouses or more"
                f" (world.warehouses is {self.world.warehouses})"
            )
        return self

    @property
    def wall_duration_seconds(self) -> float:
        return self.duration / self.clock.scale

    @property
    def expected_orders(self) -> float:
        return self.demand.expected_orders(self.duration)

    @property
    def expected_orders_per_wall_minute(self) -> float:
        """The average over the run."""
        return self.expected_orders / self.wall_duration_seconds * 60.0

    @property
    def peak_orders_per_wall_minute(self) -> float:
        return self.demand.peak_rate(self.duration) / 3600.0 * self.clock.scale * 60.0

    def with_drill(self, drill: float) -> Scenario:
        """The same scenario with every demand rate scaled by `drill` (replacing its own)."""
        # Validated again, so a drill out of range is refused with the field's name.
        demand = DemandSettings.model_validate({**self.demand.model_dump(), "drill": drill})
        return self.model_copy(update={"demand": demand})


class ScenarioError(ValueError):
    """A scenario file that cannot be played; the message names the file and the field."""


def read_yaml(path: Path, error: type[Exception]) -> object:
    """A YAML file a user wrote (a scenario, a fault plan, a suite, a connector profile), or
    `error` naming the file and what is wrong with it."""
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise error(f"{path}: cannot read: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise error(f"{path}: not valid YAML: {exc}") from exc


def load_scenario(
    path: Path | str,
    operations: Mapping[str, Collection[str]] | None = None,
    pushes: Mapping[str, Collection[str]] | None = None,
) -> Scenario:
    """Read and validate a scenario file; with `operations` (each fake's operation names)
    and `pushes` (the pushes each sends), a fault naming an operation its system does not
    have, or one of the wrong kind for it (a push fault on a request…), is refused, naming
    the field."""
    path = Path(path)
    raw = read_yaml(path, ScenarioError)
    if not isinstance(raw, dict):
        raise ScenarioError(f"{path}: expected a mapping of settings at the top level")
    try:
        return Scenario.model_validate(raw, context=fault_context(operations, pushes))
    except ValidationError as exc:
        raise ScenarioError(f"{path}: " + describe_validation_error(exc)) from exc


def fault_context(
    operations: Mapping[str, Collection[str]] | None,
    pushes: Mapping[str, Collection[str]] | None = None,
) -> dict[str, Mapping[str, Collection[str]]]:
    """The validation context that checks `faults:` against the fakes' operations."""
    return {"operations": operations or {}, "pushes": pushes or {}}


def describe_validation_error(exc: ValidationError) -> str:
    """One line per problem: `field.path: what is wrong`."""
    lines = []
    for error in exc.errors():
        message = error["msg"].removeprefix("Value error, ")
        where = ".".join(str(part) for part in error["loc"])
        if not where and _NAMED_FIELD.match(message):
            # A check across fields names the field it blames at the start of its message.
            where, _, message = message.partition(": ")
        lines.append(f"{where or '(top level)'}: {message}")
    return "; ".join(lines)
