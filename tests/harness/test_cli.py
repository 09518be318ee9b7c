"""The CLI's own answers: help, and clear errors (exit 2) before anything starts."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from simulator.cli import app

runner = CliRunner()


def test_help_lists_the_commands() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("run", "up", "check"):
        assert command in result.output


def test_bad_scenario_names_the_field(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nduration: 1h\ndemand: {orders_per_hour: fast}\n")
    result = runner.invoke(app, ["run", str(bad)])
    assert result.exit_code == 2
    assert "demand.orders_per_hour" in result.output


def test_unknown_connector_lists_the_known_ones(tmp_path: Path) -> None:
    result = runner.invoke(app, ["run", "scenarios/smoke.yaml", "--connector", "nope"])
    assert result.exit_code == 2
    assert "faulty/skips_shop" in result.output and "reference" in result.output


def test_invalid_profile_names_the_field(tmp_path: Path) -> None:
    profile = tmp_path / "connector.yaml"
    profile.write_text("name: x\ncommand: []\nready: http://127.0.0.1:1/\n")
    result = runner.invoke(app, ["run", "scenarios/smoke.yaml", "--connector", str(profile)])
    assert result.exit_code == 2
    assert "command" in result.output and "callbacks" in result.output


def test_check_refuses_a_missing_folder(tmp_path: Path) -> None:
    result = runner.invoke(app, ["check", str(tmp_path / "nope")])
    assert result.exit_code == 2
    assert "not a folder" in result.output
