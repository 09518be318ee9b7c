"""Scenario files: YAML validated by pydantic, with errors that name the field."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from simulator.clock import CHINA

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)\s*$")
_UNIT_SECONDS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(value: object) -> float:
    """ "90s", "15m", "22h", "2d" or a number of seconds -> seconds."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str) and (match := _DURATION.match(value)):
        seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    else:
        raise ValueError('expected a duration such as "90s", "15m", "22h" or "2d"')
    if seconds <= 0:
        raise ValueError("a duration must be positive")
    return seconds


Duration = Annotated[float, BeforeValidator(parse_duration)]


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


class DemandSettings(Strict):
    """Poisson arrivals in simulated time; baskets, quantities and Zipf popularity."""

    orders_per_hour: float = Field(gt=0, description="simulated hour")
    mean_lines: float = Field(1.6, ge=1, le=20)
    max_lines: int = Field(6, ge=1, le=200)
    mean_quantity: float = Field(1.3, ge=1, le=50)
    max_quantity: int = Field(5, ge=1, le=1000)
    zipf_exponent: float = Field(1.1, gt=0, le=5)
    discount_rate: float = Field(0.3, ge=0, le=1, description="share of orders with a coupon")
    freight_rate: float = Field(0.2, ge=0, le=1, description="share of orders paying freight")


class FulfilmentSettings(Strict):
    """WMS timings, simulated seconds."""

    accept_seconds: Range = Range(low=30, high=120)
    pick_seconds: Range = Range(low=60, high=240)
    pack_seconds: Range = Range(low=60, high=180)


class CarrierSettings(Strict):
    """Carrier timings, simulated hours."""

    collect_hours: Range = Range(low=0.5, high=2.0)
    transit_hours: Range = Range(low=4.0, high=48.0)
    transit_mode_hours: float = Field(12.0, ge=0, description="most likely transit time")
    dispatch_hours: Range = Range(low=0.5, high=3.0)
    delivery_hours: Range = Range(low=1.0, high=4.0)


class FaultSettings(Strict):
    system: Literal["oms", "wms", "erp", "bank", "carrier"]
    operation: str
    kind: Literal["lost_response"]
    rate: float = Field(ge=0, le=1)


class Objectives(Strict):
    paid_to_wms_p99_seconds: float = Field(3.0, gt=0)


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
    faults: list[FaultSettings] = []
    objectives: Objectives = Objectives()
    run: RunSettings = RunSettings()

    @property
    def wall_duration_seconds(self) -> float:
        return self.duration / self.clock.scale

    @property
    def expected_orders(self) -> float:
        return self.demand.orders_per_hour * self.duration / 3600.0

    @property
    def expected_orders_per_wall_minute(self) -> float:
        return self.demand.orders_per_hour / 3600.0 * self.clock.scale * 60.0


class ScenarioError(ValueError):
    """A scenario file that cannot be played; the message names the file and the field."""


def load_scenario(path: Path | str) -> Scenario:
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot read: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise ScenarioError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise ScenarioError(f"{path}: expected a mapping of settings at the top level")
    try:
        return Scenario.model_validate(raw)
    except ValidationError as exc:
        raise ScenarioError(f"{path}: " + describe_validation_error(exc)) from exc


def describe_validation_error(exc: ValidationError) -> str:
    """One line per problem: `field.path: what is wrong`."""
    lines = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error["loc"]) or "(top level)"
        message = error["msg"].removeprefix("Value error, ")
        lines.append(f"{where}: {message}")
    return "; ".join(lines)
