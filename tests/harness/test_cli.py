"""The CLI's own answers: help, and clear errors (exit 2) before anything starts."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from fake_systems.common.storage import open_database
from simulator.cli import app
from tests.support.paths import SMOKE

runner = CliRunner()


def test_help_lists_the_commands() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("run", "up", "check"):
        assert command in result.output


def test_help_reflows_paragraphs_and_shows_placeholders() -> None:
    """A docstring's line breaks are not the terminal's: a paragraph is reflowed to the width,
    and `<time>` in a default is printed, not swallowed as a markup tag."""
    result = CliRunner().invoke(app, ["run", "--help"], env={"COLUMNS": "120"})
    assert result.exit_code == 0, result.output
    assert "the run is invalid (no orders, the connector died" in result.output
    assert "runs/<time>-<scenario>/" in result.output


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


def test_run_refuses_a_folder_holding_another_run(tmp_path: Path) -> None:
    """An older run's databases are never played on: a clear error, the folder left as it was."""
    (tmp_path / "erp.db").write_bytes(b"an older run")
    result = runner.invoke(app, ["run", str(SMOKE), "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert "is not empty; a run needs a fresh folder" in " ".join(result.output.split())
    assert [p.name for p in tmp_path.iterdir()] == ["erp.db"]
    assert (tmp_path / "erp.db").read_bytes() == b"an older run"


def test_check_refuses_a_missing_folder(tmp_path: Path) -> None:
    result = runner.invoke(app, ["check", str(tmp_path / "nope")])
    assert result.exit_code == 2
    assert "not a folder" in result.output


def test_a_fault_on_an_operation_the_fake_lacks_is_refused_naming_the_field(
    tmp_path: Path,
) -> None:
    plan = tmp_path / "typo.yaml"
    plan.write_text(
        (Path("scenarios/smoke.yaml").read_text(encoding="utf-8"))
        + "\nfaults:\n  - {system: wms, operation: deliveryorder.creat, kind: lost_response,"
        " rate: 0.1}\n",
        encoding="utf-8",
    )
    result = runner.invoke(app, ["run", str(plan)])
    assert result.exit_code == 2
    assert "faults.0.operation" in result.output
    assert "wms has no operation 'deliveryorder.creat'" in result.output


def test_coverage_lists_what_the_runs_touched_and_what_no_run_did(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    conn = open_database(run / "wms.db")
    conn.execute(
        "INSERT INTO events (sim_time, wall_time, kind, operation, outcome)"
        " VALUES ('', 0, 'api_in', 'deliveryorder.create', 'ok')"
    )
    conn.close()
    out = tmp_path / "COVERAGE.md"
    result = runner.invoke(app, ["coverage", str(run), "--out", str(out)])
    assert result.exit_code == 0, result.output
    page = out.read_text(encoding="utf-8")
    assert "| `deliveryorder.create` | 1 |" in page
    untouched = page.split("## Touched by no run")[1]
    assert "wms `order.cancel`" in untouched and "erp `Save`" in untouched
    assert "carrier `101 (push)`" in untouched
    assert runner.invoke(app, ["coverage", str(tmp_path / "nope")]).exit_code == 2
