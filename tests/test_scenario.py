"""Scenario files are validated with errors that name the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from simulator.scenario import ScenarioError, load_scenario, parse_duration

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"


@pytest.mark.parametrize("name", ["demo", "smoke"])
def test_shipped_scenarios_load(name: str) -> None:
    scenario = load_scenario(SCENARIOS / f"{name}.yaml")
    assert scenario.name == name
    assert scenario.expected_orders > 10


def test_demo_is_sized_for_the_walking_skeleton_goal() -> None:
    demo = load_scenario(SCENARIOS / "demo.yaml")
    assert demo.expected_orders >= 2000
    assert demo.expected_orders_per_wall_minute >= 1000
    assert demo.wall_duration_seconds <= 150


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
