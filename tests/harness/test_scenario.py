"""Scenario files are validated with errors that name the field."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from fake_systems.ecosystem import PUSHES, protocol_operations
from simulator.scenario import (
    DEFAULT_RETURN_RATES_BY_CATEGORY,
    Objectives,
    ScenarioError,
    load_scenario,
    parse_duration,
)
from tests.support.paths import SCENARIOS, SMOKE
from tests.support.scenarios import LATENCY_MARGIN, LATENCY_OBJECTIVES, with_latency_margin


@pytest.mark.parametrize("name", ["demo", "smoke", "double11", "smoke-crashes"])
def test_shipped_scenarios_load(name: str) -> None:
    scenario = load_scenario(SCENARIOS / f"{name}.yaml")
    assert scenario.name == name
    assert scenario.expected_orders > 10


@pytest.mark.parametrize("name", ["demo", "smoke", "double11", "certification", "smoke-crashes"])
def test_shipped_scenarios_fault_only_operations_the_fakes_have(name: str) -> None:
    load_scenario(SCENARIOS / f"{name}.yaml", protocol_operations(), PUSHES)


def test_the_operation_catalogue_is_what_the_protocols_route() -> None:
    operations = protocol_operations()
    assert set(operations) == {"oms", "wms", "erp", "bank", "carrier"}
    assert {"deliveryorder.create", "order.cancel", "returnorder.create"} <= operations["wms"]
    assert {"sales.TradeQuery.queryWithDetail"} <= operations["oms"]
    assert {"Save", "ExecuteBillQuery", "ValidateUser"} <= operations["erp"]
    assert {"1007", "1008", "1002"} <= operations["carrier"]
    assert {"login", "pain.001", "camt.053"} <= operations["bank"]
    assert "deliveryorder.creat" not in operations["wms"]


def test_demo_is_sized_for_the_walking_skeleton_goal() -> None:
    demo = load_scenario(SCENARIOS / "demo.yaml")
    assert demo.expected_orders >= 2000
    assert demo.expected_orders_per_wall_minute >= 1000
    assert demo.wall_duration_seconds <= 150


def test_demo_carries_after_sales_at_traffic_md_rates() -> None:
    """TRAFFIC.md: cancellations 2-8 % of orders, returns 16.6-20.8 % (by category)."""
    demand = load_scenario(SCENARIOS / "demo.yaml").demand
    assert 0.02 <= demand.cancellations.rate <= 0.08
    assert min(demand.cancellations.before_pickup, demand.cancellations.before_picking) > 0
    assert demand.cancellations.after_picking > 0
    assert 0.166 <= demand.returns.rate <= 0.208
    assert demand.returns.by_category == DEFAULT_RETURN_RATES_BY_CATEGORY


def test_demo_carries_a_lighter_share_of_stock() -> None:
    """Issue 13: make run's demo plays purchasing, transfers, counts and master data, less of
    each than scenarios/stock.yaml, with stock pushes on (the default)."""
    demo, stock = (load_scenario(SCENARIOS / f"{name}.yaml") for name in ("demo", "stock"))
    assert demo.procurement.enabled and demo.transfers.enabled and demo.counts.enabled
    assert demo.master_data.enabled and demo.fulfilment.stock_change_reports
    hours = demo.duration / 3600, stock.duration / 3600
    assert demo.transfers.per_hour * hours[0] < stock.transfers.per_hour * hours[1]
    assert (
        sum(demo.master_data.per_day.values()) * hours[0]
        < sum(stock.master_data.per_day.values()) * hours[1]
    )


def test_stock_plays_a_month_with_counts_at_their_real_periods() -> None:
    """Issue 13: a simulated month of ~2.5 wall minutes; A weekly, B monthly, C quarterly (a
    third of C in the month: three waves); the master-data objective within the seeds' 15
    minutes to 24 hours."""
    stock = load_scenario(SCENARIOS / "stock.yaml")
    assert stock.duration == 30 * 86_400
    assert 120 <= stock.wall_duration_seconds <= 150
    counts = stock.counts
    assert (counts.a_hours, counts.b_hours, counts.c_hours, counts.waves) == (168, 720, 2160, 3)
    assert 900 <= stock.objectives.master_data_sync_seconds <= 86_400
    assert stock.procurement.enabled and stock.transfers.enabled and stock.master_data.enabled


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("name: x\nduration: 1h\ndemand: {orders_per_hour: -5}\n", "demand.orders_per_hour"),
        ("name: x\nduration: soon\ndemand: {orders_per_hour: 5}\n", "duration"),
        ("name: x\nduration: 1h\n", "demand"),
        ("name: x\nduration: 1h\ndemand: {orders_per_hour: 5}\ncolour: red\n", "colour"),
        ("name: x\nduration: 1h\ndemand: {orders_per_hour: 5}\nclock: {scale: 0}\n", "clock.scale"),
        (
            "name: x\nduration: 1h\ndemand: {orders_per_hour: 5}\n"
            "faults: [{system: wms, operation: a, kind: lost_response, rate: 2}]\n",
            "faults.0.rate",
        ),
        (
            "name: x\nduration: 1h\ndemand: {orders_per_hour: 5}\n"
            "fulfilment: {pick_seconds: {low: 9, high: 1}}\n",
            "fulfilment.pick_seconds",
        ),
        (
            "name: x\nduration: 1h\n"
            "demand: {orders_per_hour: 5, cancellations: {before_pickup: 1.5}}\n",
            "demand.cancellations.before_pickup",
        ),
        (
            "name: x\nduration: 1h\ndemand: {orders_per_hour: 5,"
            " cancellations: {before_pickup: 0.6, before_picking: 0.6}}\n",
            "demand.cancellations",
        ),
        (
            "name: x\nduration: 1h\ndemand: {orders_per_hour: 5}\n"
            "payments: {opening_balance: -5}\n",
            "payments.opening_balance",
        ),
        (
            "name: x\nduration: 1h\ndemand: {orders_per_hour: 5}\n"
            "payments: {opening_balance: 1.005}\n",
            "payments.opening_balance",
        ),
    ],
)
def test_bad_files_name_the_field(tmp_path: Path, text: str, field: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    assert f"{field}:" in str(caught.value)
    assert str(path) in str(caught.value)


def test_not_yaml_and_not_a_mapping(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("name: [unclosed\n")
    with pytest.raises(ScenarioError, match="not valid YAML"):
        load_scenario(path)
    path.write_text("- just\n- a list\n")
    with pytest.raises(ScenarioError, match="mapping"):
        load_scenario(path)
    with pytest.raises(ScenarioError, match="cannot read"):
        load_scenario(tmp_path / "missing.yaml")


@pytest.mark.parametrize(
    ("text", "seconds"), [("90s", 90), ("15m", 900), ("2h", 7200), ("1.5d", 129600), (30, 30)]
)
def test_durations(text: object, seconds: float) -> None:
    assert parse_duration(text) == seconds


CURVE_HEAD = "name: x\nduration: 1h\ndemand:\n  orders_per_hour: 100\n  curve:\n"


@pytest.mark.parametrize(
    ("steps", "field", "why"),
    [
        (
            "    - {until: 30m, factor: 1}\n    - {until: 20m, factor: 2}\n",
            "demand.curve",
            "step 1",
        ),
        ("    - {until: 30m}\n", "demand.curve.0", "exactly one of"),
        ("    - {until: 30m, factor: 1, orders_per_hour: 5}\n", "demand.curve.0", "exactly one"),
        ("    - {until: 30m, factor: -1}\n", "demand.curve.0.factor", "greater than"),
        ("    - {until: later, factor: 1}\n", "demand.curve.0.until", "duration"),
        ("    - {until: 30m, factor: 1, ramp: sideways}\n", "demand.curve.0.ramp", "bool"),
        ("    []\n", "demand.curve", "at least 1"),
    ],
)
def test_bad_curves_name_the_step(tmp_path: Path, steps: str, field: str, why: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(CURVE_HEAD + steps)
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    assert f"{field}:" in str(caught.value)
    assert why in str(caught.value)


def test_double11_spikes_to_36_times_the_average_and_fits_the_machine() -> None:
    d11 = load_scenario(SCENARIOS / "double11.yaml")
    average = d11.demand.orders_per_hour
    midnight = 3600  # the file starts at 23:00
    assert d11.clock.start.hour == 23
    assert d11.demand.rate_at(midnight - 1) == pytest.approx(1.5 * average)
    assert d11.demand.rate_at(midnight + 30) == pytest.approx(36 * average)
    assert d11.demand.rate_at(midnight + 60 + 1) < 36 * average  # decaying after the minute
    assert d11.demand.rate_at(d11.duration - 1) == pytest.approx(2 * average, rel=0.01)
    # Sized for 2 cores (docs/LOAD.md): peak <= 2,000 orders a wall minute, a few wall minutes.
    assert d11.peak_orders_per_wall_minute <= 2000
    assert d11.wall_duration_seconds <= 300
    drill = d11.with_drill(1.5)
    assert drill.peak_orders_per_wall_minute == pytest.approx(1.5 * d11.peak_orders_per_wall_minute)
    with pytest.raises(ValidationError):
        d11.with_drill(0)


def test_compound_durations() -> None:
    assert parse_duration("1h1m") == 3660
    assert parse_duration("1h 30m") == 5400
    with pytest.raises(ValueError):
        parse_duration("1x")


CRASH_BASE = "name: x\nduration: 2h\ndemand: {orders_per_hour: 5}\n"


def test_crashes_read_signal_and_restart_delay(tmp_path: Path) -> None:
    path = tmp_path / "crashes.yaml"
    path.write_text(
        CRASH_BASE + "crashes: [{at: 30m, restart_after: 1m}, {at: 1h30m, signal: TERM}]\n"
    )
    first, second = load_scenario(path).crashes
    assert (first.at, first.signal, first.restart_after) == (1800.0, "KILL", 60.0)
    assert (second.at, second.signal, second.restart_after) == (5400.0, "TERM", 5.0)


@pytest.mark.parametrize(
    ("crashes", "field", "why"),
    [
        ("[{at: 30m, signal: HUP}]", "crashes.0.signal", "'KILL' or 'TERM'"),
        ("[{signal: KILL}]", "crashes.0.at", "Field required"),
        ("[{at: -5}]", "crashes.0.at", "positive"),
        ("[{at: 30m, restart_after: 0}]", "crashes.0.restart_after", "positive"),
        ("[{at: 30m, when: now}]", "crashes.0.when", "Extra inputs"),
        ("[{at: 3h}]", "crashes.0.at", "not before the end of traffic"),
        (
            "[{at: 1h}, {at: 1h, signal: TERM}]",
            "crashes.1.at",
            "before crash 0 is restarted",
        ),
        (
            "[{at: 1h, restart_after: 10m}, {at: 1h5m}]",
            "crashes.1.at",
            "before crash 0 is restarted",
        ),
    ],
)
def test_bad_crashes_name_the_field(tmp_path: Path, crashes: str, field: str, why: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(CRASH_BASE + f"crashes: {crashes}\n")
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    assert f"{field}: " in str(caught.value)
    assert why in str(caught.value)


def test_the_tests_latency_margin_changes_the_latency_objectives_alone(tmp_path: Path) -> None:
    """Runs in the tests play scenarios with a margin on their latency objectives (a shipped
    file's own and the defaults): nothing else of the scenario may move."""
    for source in (SMOKE, SCENARIOS / "chaos" / "erp_outage.yaml"):
        original = load_scenario(source)
        copy = load_scenario(with_latency_margin(source, tmp_path / source.stem))
        for name in LATENCY_OBJECTIVES:
            assert getattr(copy.objectives, name) == LATENCY_MARGIN * getattr(
                original.objectives, name
            )
        assert copy.model_dump(exclude={"objectives"}) == original.model_dump(
            exclude={"objectives"}
        )
        unchanged = set(Objectives.model_fields) - set(LATENCY_OBJECTIVES)
        assert copy.objectives.model_dump(include=unchanged) == original.objectives.model_dump(
            include=unchanged
        )
