"""Variants of the shipped scenario files for tests: one setting changed, written to a folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from simulator.scenario import Objectives
from tests.support.paths import AFTER_SALES, MONTH_END, SMOKE

# A wall-second p99 measures the machine as much as the connector: on CI's two shared cores,
# under three test workers each playing servers and a connector, correct connectors have
# slipped past 3 s (stop 22's CI run: eight runs failed on latency alone). Runs in the tests
# keep every latency check, with this margin on its objective; the real figures are `make
# bench`'s (docs/PERFORMANCE.md), and a test about latency asks for the objectives as written.
# Not cancel_to_wms: the judge also reads it as the grace a connector has to carry a
# cancellation (a trade picked later is judged by cancelled_not_shipped, sooner by
# cancelled_after_picking_returned), and ten times it moves every cancellation of
# after_sales.yaml (240x) across that boundary.
LATENCY_MARGIN = 10.0
LATENCY_OBJECTIVES = tuple(
    name
    for name in Objectives.model_fields
    if name.endswith("_p99_seconds") and name != "cancel_to_wms_p99_seconds"
)


def scenario_variant(source: Path, folder: Path, name: str, **settings: Any) -> Path:
    """The scenario file `source` renamed `name`, its top-level `settings` replaced, written
    to `folder`; the new file's path."""
    raw = yaml.safe_load(source.read_text(encoding="utf-8"))
    raw.update(settings, name=name)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return path


def objectives_with_latency_margin(raw: dict[str, Any]) -> dict[str, Any]:
    """The `objectives` section of the scenario `raw`, each latency objective (a default's
    too) LATENCY_MARGIN times its own."""
    written: dict[str, Any] = raw.get("objectives") or {}
    objectives = Objectives.model_validate(written)
    margins = {name: LATENCY_MARGIN * getattr(objectives, name) for name in LATENCY_OBJECTIVES}
    return {**written, **margins}


def with_latency_margin(source: Path | str, folder: Path) -> Path:
    """A copy of the scenario file `source` in `folder`, under its own name, with the latency
    objectives LATENCY_MARGIN times theirs; the copy's path."""
    raw = yaml.safe_load(Path(source).read_text(encoding="utf-8"))
    objectives = objectives_with_latency_margin(raw)
    return scenario_variant(Path(source), folder, raw["name"], objectives=objectives)


def smoke_variant(folder: Path, name: str, **settings: Any) -> Path:
    """scenarios/smoke.yaml renamed `name`, its top-level `settings` replaced; the file's path."""
    return scenario_variant(SMOKE, folder, name, **settings)


def returns_only_cut() -> dict[str, Any]:
    """The sections that cut scenarios/after_sales.yaml to its returns: a quarter of a
    simulated hour of orders, none cancelled (no parcel to intercept and wait back for), and a
    shorter stall, so that returns nobody books end a run soon after nothing moves (a faulty
    connector's run: 48 s on the whole scenario)."""
    raw = yaml.safe_load(AFTER_SALES.read_text(encoding="utf-8"))
    stages = ("before_pickup", "before_picking", "after_picking")
    cancellations = {**raw["demand"]["cancellations"], **dict.fromkeys(stages, 0.0)}
    return {
        "duration": "15m",
        "demand": {**raw["demand"], "cancellations": cancellations},
        "run": {"drain_timeout": "90s", "stall_timeout": "6s"},
    }


def after_sales_returns_only(folder: Path) -> Path:
    """scenarios/after_sales.yaml cut to its returns (returns_only_cut), written to `folder`."""
    return scenario_variant(AFTER_SALES, folder, "after_sales-returns", **returns_only_cut())


def short_month_end() -> dict[str, Any]:
    """The sections that cut scenarios/month_end.yaml to two simulated days at a lower rate and
    with faster parcels, every platform settling the next night (T+0) and two bills in five
    adjusted (seed 11: two of its twelve over a reconciliation threshold, two below), so a short
    run sees a bill per shop paid and flags to raise; every item sold topped up again within
    hours, payables due at once (terms 0), and a quarter of the payments refused AC04, so two
    days see payments settled and rejected; the carrier bills its fees daily (a statement per
    day, closed at 01:00, each payable due at once); the bank charges each payment and, on the
    2nd, the account."""
    raw = yaml.safe_load(MONTH_END.read_text(encoding="utf-8"))
    return {
        "duration": "2d",
        "world": {**raw["world"], "skus": 30, "customers": 200},
        "demand": {"orders_per_hour": 1.2},
        # Parcels signed within hours, so most of the first day's trades complete by midnight.
        "carrier": {"transit_hours": {"low": 2, "high": 8}, "transit_mode_hours": 4},
        "settlement": {
            **raw["settlement"],
            "terms": {
                code: {**terms, "days": 0} for code, terms in raw["settlement"]["terms"].items()
            },
            "adjustment_share": 0.4,
        },
        "procurement": {
            "reorder_point": 1999,
            "order_up_to": 2000,
            "review_minutes": 240,
            "lead_hours": {"low": 1, "high": 4},
        },
        "payments": {"enabled": True, "terms_days": 0, "closed_share": 0.25},
        "carrier_fees": {**raw["carrier_fees"], "period": "day", "terms_days": 0},
        # The account fee on the 2nd, so the two days see both kinds of bank fee.
        "bank_fees": {**raw["bank_fees"], "account_fee_day": 2},
        "run": {"drain_timeout": "60s", "stall_timeout": "8s"},
    }


def smoke_with_faults(folder: Path, name: str, faults: list[dict[str, Any]]) -> Path:
    """scenarios/smoke.yaml renamed `name`, with `faults` added to its own; the file's path."""
    raw = yaml.safe_load(SMOKE.read_text(encoding="utf-8"))
    return smoke_variant(folder, name, faults=[*raw.get("faults", []), *faults])
