"""Starts Locust for `ecomock load`: one headless process, or a master and N workers.

Locust runs in processes of its own (it monkey-patches the standard library with gevent,
which must never happen inside ecomock's asyncio loop). Everything goes to files of the run
folder: `locust_stats.csv` (and the other `--csv` files), `locust.log`, `locust.out`, and
`locust-worker-<i>.out` in distributed mode.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from pathlib import Path
from typing import Any

from load.stats import read_locust_stats

LOCUSTFILE = Path(__file__).resolve().with_name("locustfile.py")
REPO_ROOT = LOCUSTFILE.parent.parent
CSV_PREFIX = "locust"
STOP_GRACE_SECONDS = 10.0
EXPECT_WORKERS_MAX_WAIT_SECONDS = 60


def master_command(run_dir: Path, host: str, workers: int, master_port: int) -> list[str]:
    """The headless Locust command; with `workers` > 0 a master expecting that many."""
    command = [
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(LOCUSTFILE),
        "--headless",
        "--host",
        host,
        "--csv",
        str(run_dir / CSV_PREFIX),
        "--only-summary",
        "--logfile",
        str(run_dir / "locust.log"),
        "--exit-code-on-error",
        "0",  # failed requests are in the statistics; the judge gives the verdict
    ]
    if workers > 0:
        command += [
            "--master",
            "--master-bind-host",
            "127.0.0.1",
            "--master-bind-port",
            str(master_port),
            "--expect-workers",
            str(workers),
            "--expect-workers-max-wait",
            str(EXPECT_WORKERS_MAX_WAIT_SECONDS),
        ]
    return command


def worker_command(master_port: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(LOCUSTFILE),
        "--worker",
        "--master-host",
        "127.0.0.1",
        "--master-port",
        str(master_port),
    ]


class LocustLauncher:
    """The Locust processes of one load run; `start()`, poll `done`, then `statistics()`."""

    def __init__(
        self,
        run_dir: Path,
        scenario_file: Path,
        endpoints_file: Path,
        host: str,
        workers: int = 0,
        master_port: int = 0,
    ) -> None:
        if workers > 0 and master_port <= 0:
            raise ValueError("distributed mode needs the master's port")
        self.run_dir = run_dir
        self.host = host
        self.workers = workers
        self.master_port = master_port
        self.environment = {
            **os.environ,
            "ECOMOCK_SCENARIO": str(scenario_file.resolve()),
            "ECOMOCK_ENDPOINTS_FILE": str(endpoints_file.resolve()),
        }
        self.processes: list[asyncio.subprocess.Process] = []

    async def _spawn(self, command: list[str], output: Path) -> None:
        with output.open("ab") as log:
            self.processes.append(
                await asyncio.create_subprocess_exec(
                    *command,
                    env=self.environment,
                    cwd=REPO_ROOT,
                    stdout=log,
                    stderr=log,
                    start_new_session=True,
                )
            )

    async def start(self) -> None:
        command = master_command(self.run_dir, self.host, self.workers, self.master_port)
        await self._spawn(command, self.run_dir / "locust.out")
        for index in range(self.workers):
            await self._spawn(
                worker_command(self.master_port), self.run_dir / f"locust-worker-{index}.out"
            )

    @property
    def done(self) -> bool:
        """The master (or the single process) has exited; workers follow it."""
        return bool(self.processes) and self.processes[0].returncode is not None

    async def stop(self) -> None:
        """SIGTERM whatever still runs, SIGKILL after a grace period."""
        for process in self.processes:
            if process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes:
            try:
                await asyncio.wait_for(process.wait(), STOP_GRACE_SECONDS)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                await process.wait()

    def statistics(self) -> dict[str, Any]:
        """report.json's `locust` section: Locust's figures and how it was run."""
        return {
            "workers": self.workers,
            "exit_code": self.processes[0].returncode if self.processes else None,
            **read_locust_stats(self.run_dir / CSV_PREFIX),
        }
