"""A profile's `longest_wait`: the drain waits at least that long (and a margin) for a
connector's next try, so a vendor whose back-off is longer than a scenario's stall window is
not cut short; without it, the scenario's window stands."""

from __future__ import annotations

from pathlib import Path

import pytest

import simulator.runner
from simulator.connector import LONGEST_WAIT_MARGIN_SECONDS, ConnectorError, load_profile
from simulator.scenario import load_scenario
from tests.support.runs import play

REFERENCE = Path("connectors/reference/connector.yaml")
SMOKE = Path("scenarios/smoke.yaml")


def profile_with(tmp_path: Path, line: str) -> Path:
    """The reference's profile, with one more line."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / "connector.yaml"
    path.write_text(REFERENCE.read_text(encoding="utf-8") + line + "\n", encoding="utf-8")
    return path


def test_the_window_is_the_longer_of_the_scenarios_and_the_connectors_wait(
    tmp_path: Path,
) -> None:
    scenario = load_scenario(SMOKE)
    window = scenario.run.stall_timeout
    assert load_profile(str(REFERENCE)).stall_window(scenario) == window
    longer = load_profile(str(profile_with(tmp_path, "longest_wait: 1m")))
    assert longer.longest_wait == 60.0
    assert longer.stall_window(scenario) == 60.0 + LONGEST_WAIT_MARGIN_SECONDS
    shorter = load_profile(str(profile_with(tmp_path / "short", "longest_wait: 1s")))
    assert shorter.stall_window(scenario) == window


def test_a_bad_longest_wait_names_the_field(tmp_path: Path) -> None:
    with pytest.raises(ConnectorError, match="longest_wait"):
        load_profile(str(profile_with(tmp_path, "longest_wait: soon")))


@pytest.mark.e2e
def test_the_run_drains_with_the_profiles_window(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The phases replaced by a recorder: the connector starts, no traffic is placed, and the
    # run is judged invalid (no orders); what matters is the window the phases were given.
    windows: list[float] = []

    async def record(*args: object) -> None:
        windows.append(float(args[-1]))  # type: ignore[arg-type]

    monkeypatch.setattr(simulator.runner, "play_phases", record)
    exit_code, report = play(
        SMOKE, str(profile_with(tmp_path, "longest_wait: 40s")), tmp_path / "run"
    )
    assert (exit_code, report["verdict"]) == (2, "invalid")
    assert windows == [40.0 + LONGEST_WAIT_MARGIN_SECONDS]
