"""`ecomock check` on folders that prove nothing: verdict "invalid", the reason, exit 2.

An empty folder, a run without orders, a damaged database, a run that never finished: each
must be named as what it is, in the console and in the three reports, never a traceback and
never a "pass".
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import defusedxml.ElementTree as SafeET
import pytest
from typer.testing import CliRunner, Result

from simulator.cli import app
from tests.support.judge import RunBuilder


def check(run_dir: Path) -> Result:
    return CliRunner().invoke(app, ["check", str(run_dir)])


def assert_invalid(result: Result, run_dir: Path, *reason_parts: str) -> dict:  # type: ignore[type-arg]
    """Exit 2 and no traceback; console, report.json, junit.xml and report.html say why."""
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit), result.exception  # typer.Exit, no crash
    assert "Traceback" not in result.output
    assert "INVALID" in result.output
    report = json.loads((run_dir / "report.json").read_text())
    assert report["verdict"] == "invalid"
    reasons = "\n".join(report["invalid_reasons"])
    for part in reason_parts:
        assert part in reasons, reasons
        assert part in result.output
    suite = SafeET.parse(run_dir / "junit.xml").getroot().find("testsuite")
    assert suite.get("errors") == "1"
    validity = next(case for case in suite.iter("testcase") if case.get("name") == "run_valid")
    error = validity.find("error")
    assert error is not None and error.get("type") == "InvalidRun"
    assert all(part in (error.text or "") for part in reason_parts)
    page = (run_dir / "report.html").read_text()
    assert '<span class="verdict invalid">INVALID</span>' in page
    assert 'class="invalid-box"' in page
    return report  # type: ignore[no-any-return]


def good_run(run_dir: Path) -> RunBuilder:
    builder = RunBuilder(run_dir)
    builder.good_mix()
    builder.close()
    return builder


def test_a_good_run_is_valid_and_passes(tmp_path: Path) -> None:
    good_run(tmp_path / "run")
    result = check(tmp_path / "run")
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "run" / "report.json").read_text())
    assert (report["verdict"], report["invalid_reasons"]) == ("pass", [])
    suite = SafeET.parse(tmp_path / "run" / "junit.xml").getroot().find("testsuite")
    assert suite.get("errors") == "0"
    validity = next(case for case in suite.iter("testcase") if case.get("name") == "run_valid")
    assert list(validity) == []  # a passing test case


def test_check_on_an_empty_folder(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    result = check(tmp_path / "empty")
    report = assert_invalid(
        result, tmp_path / "empty", f"cannot judge oms.db: {tmp_path / 'empty' / 'oms.db'}"
    )
    assert report["missing_databases"] == ["oms", "wms", "erp", "bank", "carrier"]


def test_check_on_a_run_without_orders(tmp_path: Path) -> None:
    RunBuilder(tmp_path / "run").close()  # all five databases, not one order
    result = check(tmp_path / "run")
    report = assert_invalid(result, tmp_path / "run", "no orders in the run")
    assert report["missing_databases"] == []
    # Every invariant holds, vacuously: exactly why "no orders" must not be a pass.
    assert all(inv["passed"] for inv in report["invariants"])


def overwrite_whole_file(path: Path) -> None:
    path.write_bytes(os.urandom(path.stat().st_size))


def overwrite_after_first_page(path: Path) -> None:
    # The header and schema stay readable: only SQLite's own check finds the damage.
    with path.open("r+b") as db:
        db.seek(4096)
        db.write(b"\xff" * (path.stat().st_size - 4096))


@pytest.mark.parametrize("damage", [overwrite_whole_file, overwrite_after_first_page])
def test_check_on_a_corrupt_database_names_the_file(tmp_path: Path, damage: object) -> None:
    run_dir = tmp_path / "run"
    good_run(run_dir)
    oms = run_dir / "oms.db"
    assert oms.stat().st_size > 4096 and not (run_dir / "oms.db-wal").exists()
    damage(oms)  # type: ignore[operator]
    result = check(run_dir)
    report = assert_invalid(result, run_dir, f"cannot judge oms.db: {oms}")
    assert report["missing_databases"] == ["oms"]


def test_check_on_a_run_that_never_finished(tmp_path: Path) -> None:
    # What a run killed by SIGKILL leaves behind: its status still says running.
    run_dir = tmp_path / "run"
    good_run(run_dir)
    status = {"state": "running", "reason": "the run did not finish (test)", "pid": 1}
    (run_dir / "run-status.json").write_text(json.dumps(status))
    result = check(run_dir)
    report = assert_invalid(result, run_dir, "the run did not finish (test)")
    assert report["run"]["status"]["state"] == "running"
    # Its invariants all hold: the half-run would have passed before.
    assert all(inv["passed"] for inv in report["invariants"])


def test_check_on_a_garbage_run_status(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    good_run(run_dir)
    (run_dir / "run-status.json").write_text("{half a")
    result = check(run_dir)
    assert_invalid(result, run_dir, "run-status.json cannot be read")


def crash(index: int, ready: bool) -> dict:  # type: ignore[type-arg]
    """A crash as run-status.json records it (simulator/crashes.py, CrashRecord.as_dict)."""
    return {
        "index": index,
        "signal": "SIGKILL",
        "planned_at_sim_seconds": 1800.0 * (index + 1),
        "restart_after_sim_seconds": 30.0,
        "killed_sim": "2026-11-10 20:30:00",
        "killed_wall": 1_790_000_010.0,
        "exit_code": -9,
        "exit": "signal SIGKILL",
        "restarted_wall": 1_790_000_010.2,
        "ready_wall": 1_790_000_011.0 if ready else None,
        "down_wall_seconds": 1.0 if ready else None,
        "error": None,
    }


def test_a_crash_run_whose_crashes_all_happened_is_judged(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    good_run(run_dir)
    crashes = [crash(0, True), crash(1, True)]
    status = {"state": "finished", "crashes_planned": 2, "crashes": crashes}
    (run_dir / "run-status.json").write_text(json.dumps(status))
    result = check(run_dir)
    assert result.exit_code == 0, result.output
    report = json.loads((run_dir / "report.json").read_text())
    assert [c["exit"] for c in report["crashes"]] == ["signal SIGKILL", "signal SIGKILL"]
    page = (run_dir / "report.html").read_text()
    assert "<h2>Connector crashes</h2><p>2 of 2 planned crash(es) played" in page
    assert "2026-11-10 20:30:00" in page


def test_a_crash_run_whose_planned_crash_never_happened_is_invalid(tmp_path: Path) -> None:
    """Restarts were not tested: whatever the invariants say, the run proves nothing of them."""
    run_dir = tmp_path / "run"
    good_run(run_dir)
    status = {"state": "finished", "crashes_planned": 2, "crashes": [crash(0, True)]}
    (run_dir / "run-status.json").write_text(json.dumps(status))
    result = check(run_dir)
    report = assert_invalid(result, run_dir, "planned 2 connector crash(es) and 1 were played")
    assert all(inv["passed"] for inv in report["invariants"])
    assert "1 of 2 planned crash(es) played" in (run_dir / "report.html").read_text()


def test_traffic_far_behind_its_curve_makes_the_run_invalid(tmp_path: Path) -> None:
    """The curve planned 1,000 orders a minute and 4 were paid over 3 s (a second apart,
    60 a minute): the run measured a load it does not claim, whatever its invariants say."""
    run_dir = tmp_path / "run"
    good_run(run_dir)
    status = {"state": "finished", "planned_orders": 1000, "planned_wall_seconds": 60}
    (run_dir / "run-status.json").write_text(json.dumps(status))
    result = check(run_dir)
    report = assert_invalid(result, run_dir, "the traffic fell 94% behind the scenario's curve")
    assert "4 orders paid over 3.0 wall s (60/min) where the curve plans 1,000 in 60.0 s" in (
        "\n".join(report["invalid_reasons"])
    )


def test_traffic_on_its_curve_keeps_the_run_valid(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    good_run(run_dir)
    status = {"state": "finished", "planned_orders": 4.4, "planned_wall_seconds": 60}
    (run_dir / "run-status.json").write_text(json.dumps(status))
    result = check(run_dir)
    assert result.exit_code == 0, result.output
