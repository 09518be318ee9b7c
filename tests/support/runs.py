"""End-to-end runs through the CLI: play a scenario against a connector, judge a folder again."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from simulator.cli import app
from tests.support.scenarios import with_latency_margin

Report = dict[str, Any]


def play(
    scenario: Path | str,
    connector: str,
    out: Path,
    seed: int | None = None,
    latency_as_written: bool = False,
) -> tuple[int, Report]:
    """`ecomock run` (on the scenario's own seed unless `seed`); its exit code and report.json
    (which every run must leave). The latency objectives get LATENCY_MARGIN unless
    `latency_as_written`."""
    if not latency_as_written:
        scenario = with_latency_margin(scenario, out.parent / f"{out.name}.scenario")
    arguments = ["run", str(scenario), "--connector", connector, "--out", str(out)]
    if seed is not None:
        arguments += ["--seed", str(seed)]
    result = CliRunner().invoke(app, arguments)
    report_path = out / "report.json"
    assert report_path.is_file(), result.output
    return result.exit_code, json.loads(report_path.read_text())


def check(run_dir: Path) -> tuple[int, Report]:
    """`ecomock check` on a finished run whose report.json is gone: judges again from the
    databases and run-status.json alone, with the run's own objectives (the tests' latency
    margin), which run-status.json kept."""
    report = run_dir / "report.json"
    objectives = json.loads(report.read_text())["run"]["objectives"]
    report.unlink()
    result = CliRunner().invoke(app, ["check", str(run_dir)])
    again: Report = json.loads(report.read_text())
    assert again["run"]["objectives"] == objectives, "the re-judge lost the run's objectives"
    return result.exit_code, again


def failed(report: Report) -> set[str]:
    return {inv["name"] for inv in report["invariants"] if not inv["passed"]}


def invariant(report: Report, name: str) -> dict[str, Any]:
    result: dict[str, Any] = next(inv for inv in report["invariants"] if inv["name"] == name)
    return result
