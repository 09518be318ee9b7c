"""Stopping `ecomock run`: the connector never outlives it, and a stopped run is invalid.

SIGTERM once traffic flows ends the run cleanly (reports marked interrupted, exit 2);
SIGKILL of ecomock still stops the connector's whole process group (the reaper); a connector
that dies mid-run stops the run at once and makes it invalid. Each plays scenarios/smoke.yaml
and is stopped a few seconds in.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import defusedxml.ElementTree as SafeET
import pytest
from typer.testing import CliRunner

from contract_tests.database import attach_run
from contract_tests.metrics import count_orders
from simulator.cli import app
from simulator.scenario import load_scenario
from tests.support.paths import ROOT, SMOKE

POLL_SECONDS = 0.1
START_TIMEOUT = 90.0  # fakes up, connector ready, first orders: seconds on a quiet machine
GONE_TIMEOUT = 30.0  # the reaper's grace is 5 s; ecomock's own stop grace 10 s

pytestmark = pytest.mark.e2e

# A connector behind a shell wrapper: the group holds sh and the connector, and killing only
# the direct child (sh) would leave the connector polling and holding its port.
WRAPPED_PROFILE = """\
name: wrapped
command: ["sh", "-c", "{python} -m connectors.reference & wait"]
env: {REFERENCE_POLL_SECONDS: "0.25"}
callbacks:
  wms_confirm: "http://127.0.0.1:{port}/qimen/callback"
  carrier_push: "http://127.0.0.1:{port}/kdniao/push"
ready: "http://127.0.0.1:{port}/health"
"""


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not {what} after {timeout:.0f} s")
        time.sleep(POLL_SECONDS)


def group_members(pgid: int) -> dict[int, str]:
    """pid -> state letter of every process in the group, from /proc."""
    members = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            # comm may hold spaces and parentheses: the fields start after the last ')'.
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[2]) == pgid:
                members[int(stat.parent.name)] = fields[0]
    return members


def group_gone(pgid: int) -> bool:
    """No process of the group runs any more.

    Zombies count as gone: they run no code and hold no port, and once their parent (ecomock)
    is dead, reaping them is up to whatever init the machine has.
    """
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    return all(state == "Z" for state in group_members(pgid).values())


def orders_created(run_dir: Path) -> int:
    if not (run_dir / "oms.db").exists():
        return 0
    conn = attach_run(run_dir)
    try:
        return count_orders(conn)["created"]
    finally:
        conn.close()


class EcomockRun:
    """`ecomock run` of the smoke scenario in a process of its own."""

    def __init__(self, tmp_path: Path, args: list[str]) -> None:
        self.run_dir = tmp_path / "run"
        self.output_path = tmp_path / "ecomock.out"
        with self.output_path.open("wb") as out:
            command = [sys.executable, "-m", "simulator.cli", "run", str(SMOKE)]
            self.process = subprocess.Popen(
                [*command, "--out", str(self.run_dir), *args],
                cwd=ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        self.connector_pgid: int | None = None

    def connector_group_once_traffic_flows(self) -> int:
        """The connector's process group (found in /proc, not asked of ecomock), once orders
        are being placed."""
        wait_for(lambda: orders_created(self.run_dir) > 0, START_TIMEOUT, "placing orders")
        children = [
            pid
            for pid, parent in process_parents().items()
            if parent == self.process.pid and b"connectors.reference" in command_line(pid)
        ]
        assert len(children) == 1, children
        self.connector_pgid = os.getpgid(children[0])
        assert self.connector_pgid == children[0]  # it leads a group of its own
        return self.connector_pgid

    def output(self) -> str:
        return self.output_path.read_text(errors="replace")

    def kill_leftovers(self) -> None:
        """Whatever a failed test left running: ecomock, and the connector's group."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)
        if self.connector_pgid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.connector_pgid, signal.SIGKILL)


@contextlib.contextmanager
def ecomock_run(tmp_path: Path, *args: str) -> Iterator[EcomockRun]:
    run = EcomockRun(tmp_path, list(args))
    try:
        yield run
    finally:
        run.kill_leftovers()


def process_parents() -> dict[int, int]:
    """pid -> parent pid of every process, from /proc."""
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            parents[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
    return parents


def command_line(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def junit_validity_error(run_dir: Path) -> str:
    suite = SafeET.parse(run_dir / "junit.xml").getroot().find("testsuite")
    case = next(case for case in suite.iter("testcase") if case.get("name") == "run_valid")
    error = case.find("error")
    assert error is not None, "run_valid has no <error>"
    return str(error.text)


def test_sigterm_ends_the_run_cleanly_and_stops_the_connector(tmp_path: Path) -> None:
    with ecomock_run(tmp_path) as run:
        pgid = run.connector_group_once_traffic_flows()
        run.process.send_signal(signal.SIGTERM)
        assert run.process.wait(timeout=60) == 2, run.output()
        wait_for(lambda: group_gone(pgid), GONE_TIMEOUT, f"gone: connector group {pgid}")
    run_dir = run.run_dir
    report = json.loads((run_dir / "report.json").read_text())
    assert report["verdict"] == "invalid"
    assert report["run"]["status"]["state"] == "interrupted"
    assert "interrupted by SIGTERM during traffic" in report["invalid_reasons"][0]
    assert "interrupted by SIGTERM" in junit_validity_error(run_dir)
    assert "SIGTERM: stopping the run" in run.output()
    assert "Traceback" not in run.output()
    # Judged again later, the folder still says what happened to it.
    (run_dir / "report.json").unlink()
    rejudged = CliRunner().invoke(app, ["check", str(run_dir)])
    assert rejudged.exit_code == 2 and "interrupted by SIGTERM" in rejudged.output


def test_sigkill_of_ecomock_still_stops_the_connector_group(tmp_path: Path) -> None:
    profile = tmp_path / "connector.yaml"
    profile.write_text(WRAPPED_PROFILE)
    with ecomock_run(tmp_path, "--connector", str(profile)) as run:
        pgid = run.connector_group_once_traffic_flows()
        assert len(group_members(pgid)) == 2  # sh and the connector it started
        run.process.kill()
        run.process.wait(timeout=30)
        wait_for(lambda: group_gone(pgid), GONE_TIMEOUT, f"gone: connector group {pgid}")
    # The folder it left is invalid, not a pass of the orders played so far.
    rejudged = CliRunner().invoke(app, ["check", str(run.run_dir)])
    assert rejudged.exit_code == 2, rejudged.output
    assert "the run did not finish" in rejudged.output


def test_a_connector_that_dies_mid_run_stops_the_run(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    result = CliRunner().invoke(
        app,
        ["run", str(SMOKE), "--connector", "faulty/crashes_mid_run", "--out", str(run_dir)],
    )
    assert result.exit_code == 2, result.output
    assert "the connector exited with code 3 during traffic" in result.output
    report = json.loads((run_dir / "report.json").read_text())
    assert report["verdict"] == "invalid"
    status = report["run"]["status"]
    assert (status["state"], status["connector_exit_code"]) == ("connector_exited", 3)
    reason = report["invalid_reasons"][0]
    assert "the connector exited with code 3" in reason
    assert "crashing on purpose after 20 trades" in reason  # the tail of connector.log
    error = junit_validity_error(run_dir)
    assert "exited with code 3" in error and "crashing on purpose" in error
    # It stopped playing at once rather than driving traffic into a dead connector.
    traffic_seconds = report["run"]["traffic_wall_seconds"]
    assert traffic_seconds < load_scenario(SMOKE).wall_duration_seconds
