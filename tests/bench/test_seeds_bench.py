"""The seeds part of `make bench` (load/bench/all.py, issue 12's "no false positives"): every
shipped scenario on 20 seeds, or 3 for one longer than three wall minutes, a table per
scenario, and a part that fails when one run does not pass. The runs are stood in for here;
the shipped scenarios' seed counts are read from the real files."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest

from load.bench import all as bench
from load.bench import sweep_ledger
from tests.support.paths import ROOT


def stub_runs(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, failing: set[tuple[str, int]]
) -> list[tuple[str, int]]:
    """Record which (scenario, seed) the part plays; the runs in `failing` fail."""
    played: list[tuple[str, int]] = []

    def run(
        scenario: Path, run_dir: Path, seed: int | None = None, echo: bool = True
    ) -> dict[str, Any]:
        assert seed is not None
        name = scenario.relative_to("scenarios").with_suffix("").as_posix()
        played.append((name, seed))
        verdict = "fail" if (name, seed) in failing else "pass"
        return {"verdict": verdict, "orders": {"created": 100 + seed}, "wall_seconds": 10.0 + seed}

    monkeypatch.chdir(ROOT)
    monkeypatch.setattr(bench.tempfile, "mkdtemp", lambda prefix: str(tmp_path))
    monkeypatch.setattr(bench, "ecomock_run", run)
    return played


def test_every_shipped_scenario_is_played_on_many_seeds_and_long_ones_on_few(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    played = stub_runs(monkeypatch, tmp_path, failing=set())
    result = bench.seeds(quick=False)
    per_scenario: dict[str, list[int]] = {}
    for name, seed in played:
        per_scenario.setdefault(name, []).append(seed)
    shipped = {p.relative_to(ROOT / "scenarios").with_suffix("").as_posix()
               for p in (ROOT / "scenarios").glob("*.yaml")}  # fmt: skip
    shipped |= {f"chaos/{p.stem}" for p in (ROOT / "scenarios" / "chaos").glob("*.yaml")}
    assert set(per_scenario) == shipped
    # certification.yaml is ten wall minutes and double11 several: three seeds each.
    assert per_scenario["certification"] == [1, 2, 3]
    assert per_scenario["double11"] == [1, 2, 3]
    assert per_scenario["smoke"] == list(range(1, 21))
    assert per_scenario["chaos/webhook_storm"] == list(range(1, 21))
    assert (result["exit_code"], result["failing"]) == (0, [])


def test_one_failing_seed_fails_the_part_and_is_named_in_the_table(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stub_runs(monkeypatch, tmp_path, failing={("smoke", 7)})
    result = bench.seeds(quick=False)
    assert (result["exit_code"], result["failing"]) == (1, ["smoke seed 7"])
    smoke = next(line for line in result["table"].splitlines() if line.startswith("smoke "))
    assert smoke.split() == ["smoke", "20", "19", "7", "(fail)", "101-120", "30.0"]
    assert result["table"] in capsys.readouterr().out


def test_quick_plays_seed_one_of_the_short_scenarios_only(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    played = stub_runs(monkeypatch, tmp_path, failing=set())
    bench.seeds(quick=True)
    names = [name for name, _ in played]
    assert {seed for _, seed in played} == {1}
    assert "smoke" in names and "certification" not in names and "double11" not in names


def test_shards_split_the_sweep_into_parts_of_similar_wall_time(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Two shards play every run of the whole sweep once between them, each about half its
    wall time; runs played side by side come back in the sweep's order."""
    stub_runs(monkeypatch, tmp_path, failing=set())
    whole = [(run["scenario"], run["seed"]) for run in bench.seeds(quick=False)["runs"]]
    parts = []
    for index in (1, 2):
        played = stub_runs(monkeypatch, tmp_path, failing=set())
        result = bench.seeds(quick=False, jobs=3, shard=(index, 2))
        assert [(run["scenario"], run["seed"]) for run in result["runs"]] == [
            run for run in whole if run in played
        ]
        parts.append(played)
    assert sorted(parts[0] + parts[1]) == sorted(whole) and not set(parts[0]) & set(parts[1])
    cost = {name: bench.run_cost(Path("scenarios") / f"{name}.yaml") for name, _ in whole}
    halves = [sum(cost[name] for name, _ in part) for part in parts]
    assert max(halves) / min(halves) < 1.1


def test_long_and_heavy_runs_play_alone_after_the_runs_side_by_side(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    played = stub_runs(monkeypatch, tmp_path, failing=set())
    bench.seeds(quick=False, jobs=2)
    # The long ones (3 seeds each) and the sustained loads (demo: 1,260 orders a wall minute
    # for 110 s; stock, month_end) come last; a short burst (stock_smoke, 720 a minute for
    # 10 s) and a long light one (chaos/double11_crashes, 300 a minute) share the machine.
    alone = {name for name, _ in played if bench.plays_alone(Path("scenarios") / f"{name}.yaml")}
    assert alone == {"certification", "double11", "demo", "stock", "month_end"}
    last = [i for i, (name, _) in enumerate(played) if name in alone]
    assert last == list(range(len(played) - len(last), len(played))) and len(last) == 66


def test_scenario_plays_those_scenarios_alone_on_all_their_seeds(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    played = stub_runs(monkeypatch, tmp_path, failing=set())
    result = bench.seeds(quick=False, only=["smoke-crashes", "chaos/webhook_storm"])
    assert played == [("smoke-crashes", seed) for seed in range(1, 21)] + [
        ("chaos/webhook_storm", seed) for seed in range(1, 21)
    ]
    assert result["exit_code"] == 0
    with pytest.raises(ValueError, match="no shipped scenario smoke2"):
        bench.seeds(quick=False, only=["smoke2"])


@pytest.mark.parametrize("text", ["3/2", "0/2", "a/b", "2"])
def test_a_bad_shard_is_refused(text: str) -> None:
    with pytest.raises(SystemExit) as exit_info:
        bench.main(["--only", "seeds", "--shard", text])
    assert exit_info.value.code == 2


def test_make_bench_without_only_leaves_the_seeds_sweep_out() -> None:
    assert "seeds" in bench.PARTS and "seeds" not in bench.DEFAULT_PARTS


def test_each_run_lands_in_the_ledger_and_pending_replays_only_what_has_no_current_pass(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ledger = tmp_path / "sweep.csv"
    stub_runs(monkeypatch, tmp_path, failing={("smoke", 7)})
    bench.seeds(quick=False, jobs=2, only=["smoke", "chaos/webhook_storm"], ledger=ledger)
    lines = sweep_ledger.read(ledger)
    assert len(lines) == 40
    seven = next(line for line in lines if (line["scenario"], line["seed"]) == ("smoke", "7"))
    smoke_sha = sweep_ledger.scenario_sha(ROOT / "scenarios" / "smoke.yaml")
    assert (seven["verdict"], seven["orders"], seven["scenario_sha"]) == ("fail", "107", smoke_sha)
    assert seven["connector_sha"] == sweep_ledger.connector_sha()
    # A pass played with another version of the scenario file does not count.
    stale = next(line for line in lines if (line["scenario"], line["seed"]) == ("smoke", "3"))
    stale["scenario_sha"] = "0" * 12
    with ledger.open("w", newline="", encoding="utf-8") as file:
        writer = csv.DictWriter(file, fieldnames=sweep_ledger.FIELDS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(line for line in lines if line is not stale)
        writer.writerow(stale)
    played = stub_runs(monkeypatch, tmp_path, failing=set())
    capsys.readouterr()
    result = bench.seeds(quick=False, only=["smoke", "chaos/webhook_storm"], ledger=ledger,
                         pending=True)  # fmt: skip
    assert played == [("smoke", 3), ("smoke", 7)]
    # The sweep so far, from the ledger: seed 7 passes now (its last line).
    smoke = next(line for line in result["sweep"].splitlines() if line.startswith("smoke "))
    assert smoke.split()[:5] == ["smoke", "20", "20", "-", "-"]
    assert result["sweep"] in capsys.readouterr().out


def test_the_sweep_so_far_names_failing_and_unplayed_seeds(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    ledger = tmp_path / "sweep.csv"
    smoke = ROOT / "scenarios" / "smoke.yaml"
    stub_runs(monkeypatch, tmp_path, failing={("smoke", 2)})
    monkeypatch.setattr(bench, "seeds_for", lambda path, quick: (1, 2))
    bench.seeds(quick=False, only=["smoke"], ledger=ledger)
    rows = sweep_ledger.progress(sweep_ledger.read(ledger), [(smoke, "smoke", (1, 2, 3))])
    assert rows[1][:5] == ("smoke", "3", "1", "2: fail", "3")
    # Pending: the failed seed and the unplayed one, the reason of an invalid run kept.
    played: list[int] = []

    def invalid(path: Path, run_dir: Path, seed: int, echo: bool = True) -> dict[str, Any]:
        played.append(seed)
        return {"verdict": "invalid", "invalid_reasons": ["no orders"]}

    monkeypatch.setattr(bench, "seeds_for", lambda path, quick: (1, 2, 3))
    monkeypatch.setattr(bench, "ecomock_run", invalid)
    result = bench.seeds(quick=False, only=["smoke"], ledger=ledger, pending=True)
    assert played == [2, 3] and result["exit_code"] == 1
    rows = sweep_ledger.progress(sweep_ledger.read(ledger), [(smoke, "smoke", (1, 2, 3))])
    assert rows[1][:5] == ("smoke", "3", "1", "2: no orders; 3: no orders", "-")


def test_a_run_is_filed_under_the_scenario_file_it_started_with(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """An edit to the scenario or the connector while its run plays does not lend the run
    to the new version."""
    ledger = tmp_path / "sweep.csv"
    on_disk = {"scenario": "before", "connector": "c-before"}
    monkeypatch.setattr(sweep_ledger, "scenario_sha", lambda path: on_disk["scenario"])
    monkeypatch.setattr(sweep_ledger, "connector_sha", lambda: on_disk["connector"])
    stub_runs(monkeypatch, tmp_path, failing=set())
    plays = bench.ecomock_run

    def edited_while_playing(*args: Any, **kwargs: Any) -> dict[str, Any]:
        on_disk.update(scenario="after", connector="c-after")
        return plays(*args, **kwargs)

    monkeypatch.setattr(bench, "ecomock_run", edited_while_playing)
    monkeypatch.setattr(bench, "seeds_for", lambda path, quick: (1,))
    bench.seeds(quick=False, only=["smoke"], ledger=ledger)
    line = sweep_ledger.read(ledger)[0]
    assert (line["scenario_sha"], line["connector_sha"]) == ("before", "c-before")


def test_status_plays_nothing_and_passes_only_once_every_run_has_a_pass(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    ledger = tmp_path / "sweep.csv"
    played = stub_runs(monkeypatch, tmp_path, failing={("smoke", 2)})
    monkeypatch.setattr(bench, "seeds_for", lambda path, quick: (1, 2))
    bench.seeds(quick=False, only=["smoke"], ledger=ledger)
    played.clear()
    status = bench.seeds(quick=False, only=["smoke"], ledger=ledger, status=True)
    assert played == [] and (status["exit_code"], status["failing"]) == (1, ["smoke seed 2"])
    played = stub_runs(monkeypatch, tmp_path, failing=set())  # seed 2 passes when replayed
    bench.seeds(quick=False, only=["smoke"], ledger=ledger, pending=True)
    assert played == [("smoke", 2)]
    status = bench.seeds(quick=False, only=["smoke"], ledger=ledger, status=True)
    assert (status["exit_code"], status["failing"]) == (0, [])
