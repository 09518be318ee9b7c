"""One faulty connector per level fails that level of `ecomock certify`, played on a scenario the
shipped suite (scenarios/certify/suite.yaml) itself uses for the level: a level's scenarios can
catch the defect that level exists for. The other levels are marked not available, so each
test plays one run of one level."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from simulator.certify import SUITE_FILE
from simulator.cli import app


@pytest.fixture(autouse=True)
def key_in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test makes or reads the user's own key (~/.config/ecomock/certify-key)."""
    monkeypatch.setenv("ECOMOCK_CERTIFY_KEY", str(tmp_path / "key.pem"))


def one_run_suite(folder: Path, level: int, scenario: str, seed: int) -> Path:
    """The shipped suite cut to one run of `level` (its own `scenario` file, one seed)."""
    shipped = yaml.safe_load(SUITE_FILE.read_text(encoding="utf-8"))
    levels: list[dict[str, Any]] = []
    for entry in shipped["levels"]:
        if entry["level"] > level:
            break
        if entry["level"] < level:
            levels.append({**entry, "available": False, "reason": "not played by this test"})
            levels[-1].pop("runs", None)
            continue
        scenarios = [run["scenario"] for run in entry.get("runs", [])]
        assert scenario in scenarios, f"L{level} of the shipped suite does not play {scenario}"
        path = (SUITE_FILE.parent / scenario).resolve()
        levels.append({**entry, "runs": [{"scenario": str(path), "seeds": [seed]}]})
    folder.mkdir(parents=True, exist_ok=True)
    suite = folder / "suite.yaml"
    suite.write_text(yaml.safe_dump({"version": 1, "levels": levels}), encoding="utf-8")
    return suite


# (level, scenario of the shipped suite's level, faulty connector, the invariant it must fail)
FAULTY_PER_LEVEL = [
    # Forgets what it took on a restart: the orders it had in hand are never completed.
    (6, "../smoke-crashes.yaml", "faulty/keeps_state_in_memory", "delivered_orders_completed"),
]


@pytest.mark.e2e
@pytest.mark.parametrize(
    ("level", "scenario", "connector", "invariant"),
    FAULTY_PER_LEVEL,
    ids=[f"L{level}-{connector}" for level, _, connector, _ in FAULTY_PER_LEVEL],
)
def test_a_faulty_connector_fails_its_level(
    tmp_path: Path, level: int, scenario: str, connector: str, invariant: str
) -> None:
    suite = one_run_suite(tmp_path / "suite", level, scenario, seed=11)
    out = tmp_path / "out"
    arguments = ["certify", "--connector", connector, "--suite", str(suite), "--out", str(out)]
    result = CliRunner().invoke(app, [*arguments, "--level", str(level)])
    assert result.exit_code == 1, result.output
    document = json.loads((out / "certificate.json").read_text())
    verdicts = [entry["verdict"] for entry in document["levels"]]
    assert verdicts == ["not_available"] * (level - 1) + ["fail"], verdicts
    assert invariant in document["levels"][-1]["runs"][0]["failed_invariants"]
