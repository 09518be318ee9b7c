"""The chaos part of `make bench` (load/bench/all.py): every scenario of the folder on every
seed, a table of the runs, and a part that fails when one run does not pass. The runs
themselves are `ecomock run`s, stood in for here; tests/harness/test_chaos_scenarios.py plays
the scenarios."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from load.bench import all as bench


def fake_runs(
    monkeypatch: pytest.MonkeyPatch, folder: Path, failing: set[tuple[str, int]]
) -> list[tuple[str, int]]:
    """Point the part at `folder` and record which (scenario, seed) it runs; the runs in
    `failing` fail on an invariant."""
    played: list[tuple[str, int]] = []

    def run(scenario: Path, run_dir: Path, seed: int | None = None) -> dict[str, Any]:
        assert seed is not None
        played.append((scenario.stem, seed))
        verdict = "fail" if (scenario.stem, seed) in failing else "pass"
        return {
            "exit_code": 0 if verdict == "pass" else 1,
            "verdict": verdict,
            "orders": {"created": 100 + seed},
            "faults": {"http_503": 3, "hang": 1},
            "calls": {"invoke": 500, "ok": 494, "fail": 3, "info": 3},
            "recovered": {"met_fault": 4, "recovered": 4 if verdict == "pass" else 3},
            "paid_to_wms": {"p99": 0.456},
            "shipped_to_erp": {},
            "wall_seconds": 61.0,
        }

    for name in ("b_storm", "a_flaky"):
        (folder / f"{name}.yaml").write_text("name: x\n")
    (folder / "notes.txt").write_text("not a scenario")
    monkeypatch.setattr(bench, "CHAOS", folder)
    monkeypatch.setattr(bench.tempfile, "mkdtemp", lambda prefix: str(folder / "runs"))
    monkeypatch.setattr(bench, "ecomock_run", run)
    return played


def test_every_scenario_on_every_seed_and_a_table(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    played = fake_runs(monkeypatch, tmp_path, failing=set())
    result = bench.chaos(quick=False)
    assert played == [(name, seed) for name in ("a_flaky", "b_storm") for seed in (1, 2, 3, 4, 5)]
    assert (result["exit_code"], result["failing"], result["seeds"]) == (0, [], [1, 2, 3, 4, 5])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:4] == ["scenario", "seed", "verdict", "orders"]
    assert lines[2].split() == [
        "a_flaky",
        "1",
        "pass",
        "101",
        "4",
        "3",
        "3",
        "4/4",
        "0.46",
        "-",
        "61.0",
    ]
    assert len(lines) == 2 + 10


def test_one_failing_run_fails_the_part(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    fake_runs(monkeypatch, tmp_path, failing={("b_storm", 4)})
    result = bench.chaos(quick=False)
    assert (result["exit_code"], result["failing"]) == (1, ["b_storm seed 4"])


def test_quick_plays_one_seed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    played = fake_runs(monkeypatch, tmp_path, failing=set())
    assert bench.chaos(quick=True)["seeds"] == [1]
    assert played == [("a_flaky", 1), ("b_storm", 1)]
