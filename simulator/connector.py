"""Connector profiles (`connector.yaml`) and the connector's process: start, readiness, stop."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from pathlib import Path

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from simulator.reaper import GROUP_CHECK_SECONDS, Reaper, group_alive, signal_group
from simulator.scenario import Duration, Scenario, describe_validation_error, read_yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
CONNECTORS_DIR = REPO_ROOT / "connectors"
STOP_GRACE_SECONDS = 10.0
LOG_TAIL_LINES = 20
LOG_TAIL_BYTES = 16_384
# Beyond a connector's longest wait, before the drain takes it for idle: a poll period or two.
LONGEST_WAIT_MARGIN_SECONDS = 2.0


class Callbacks(BaseModel):
    model_config = ConfigDict(extra="forbid")
    wms_confirm: str = Field(description="where the WMS pushes deliveryorder.confirm")
    carrier_push: str = Field(description="where the carrier pushes tracking (RequestType 101)")
    bank_notice: str | None = Field(
        None, description="where the bank pushes signed camt.054 credit notices"
    )


class ConnectorProfile(BaseModel):
    """How to start a connector and where it listens; `{python}`, `{port}` and `{dir}` (the
    profile's folder) are filled in."""

    model_config = ConfigDict(extra="forbid")
    name: str
    description: str = ""
    command: list[str] = Field(min_length=1)
    env: dict[str, str] = {}
    callbacks: Callbacks
    ready: str = Field(description="URL answering 200 once the connector is ready")
    working_dir: str | None = None
    longest_wait: Duration | None = Field(
        None,
        description="the longest single wait of the connector's retry schedule, in wall"
        " seconds (90s, 2m): the drain waits at least this long for its next try",
    )

    def stall_window(self, scenario: Scenario) -> float:
        """How long the drain (and the settling after it) waits with nothing moving before it
        ends the run: the scenario's `run.stall_timeout`, or longer for a connector whose
        retry schedule waits longer between two tries (a fault fired is a move, so one wait
        is all the window must outlast; docs/CONNECTORS.md, "The profile")."""
        window = scenario.run.stall_timeout
        if self.longest_wait is None:
            return window
        return max(window, self.longest_wait + LONGEST_WAIT_MARGIN_SECONDS)

    def resolved(self, port: int) -> ConnectorProfile:
        """The profile with `{python}` and `{port}` substituted everywhere they may appear."""

        def fill(text: str) -> str:
            return text.replace("{python}", sys.executable).replace("{port}", str(port))

        return self.model_copy(
            update={
                "command": [fill(part) for part in self.command],
                "env": {key: fill(value) for key, value in self.env.items()},
                "callbacks": Callbacks(
                    wms_confirm=fill(self.callbacks.wms_confirm),
                    carrier_push=fill(self.callbacks.carrier_push),
                    bank_notice=(
                        None
                        if self.callbacks.bank_notice is None
                        else fill(self.callbacks.bank_notice)
                    ),
                ),
                "ready": fill(self.ready),
            }
        )

    def in_folder(self, folder: Path) -> ConnectorProfile:
        """The profile with `{dir}` replaced by `folder`, so a command can name the
        connector's own files wherever ecomock runs (`node {dir}/main.js`)."""

        def fill(text: str) -> str:
            return text.replace("{dir}", str(folder))

        return self.model_copy(
            update={
                "command": [fill(part) for part in self.command],
                "env": {key: fill(value) for key, value in self.env.items()},
                "working_dir": fill(self.working_dir) if self.working_dir else None,
            }
        )


class ConnectorError(RuntimeError):
    """The connector could not be found, started or made ready."""


def find_profile(spec: str) -> Path:
    """A connector.yaml, its folder, or a name under connectors/ (`faulty/skips_shop`)."""
    candidates = [
        Path(spec),
        Path(spec) / "connector.yaml",
        CONNECTORS_DIR / spec / "connector.yaml",
    ]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    known = sorted(
        str(p.parent.relative_to(CONNECTORS_DIR)) for p in CONNECTORS_DIR.rglob("connector.yaml")
    )
    raise ConnectorError(f"no connector profile at {spec!r}; known connectors: {', '.join(known)}")


def load_profile(spec: str) -> ConnectorProfile:
    path = find_profile(spec)
    raw = read_yaml(path, ConnectorError)
    try:
        profile = ConnectorProfile.model_validate(raw)
    except ValidationError as exc:
        raise ConnectorError(f"{path}: {describe_validation_error(exc)}") from exc
    return profile.in_folder(path.parent.resolve())


class ConnectorProcess:
    """The connector under test, its output going to a log file.

    It runs in a process group of its own (`start_new_session`), so that stopping it stops
    everything it started too, and a reaper (simulator/reaper.py) stops that group if ecomock
    itself is killed.
    """

    def __init__(
        self, profile: ConnectorProfile, environment: dict[str, str], log_path: Path
    ) -> None:
        self.profile = profile
        self.environment = environment
        self.log_path = log_path
        self.process: asyncio.subprocess.Process | None = None
        self.reaper = Reaper()

    @property
    def pgid(self) -> int | None:
        """The connector's process group: its own pid, as it leads a new session."""
        return self.process.pid if self.process is not None else None

    async def start(self, ready_timeout: float) -> None:
        # The guard first: there is no moment when the connector runs unguarded but for the
        # instant between its spawn and `guard()`.
        await self.reaper.start()
        await self._spawn(ready_timeout)

    async def restart(self, ready_timeout: float) -> None:
        """Start the connector again after it exited: same command, environment, state folder
        and log (appended to), under the same reaper."""
        if self.running:
            raise ConnectorError("the connector is still running; it cannot be restarted")
        await self._spawn(ready_timeout)

    async def kill(self, signum: signal.Signals) -> int:
        """Send `signum` to the whole group, as a crash (SIGKILL) or an operator's stop
        (SIGTERM) would; the exit code. A TERM not obeyed within the grace period becomes a
        KILL, as under a process supervisor."""
        if self.process is None:
            raise ConnectorError("the connector was never started")
        if signum == signal.SIGTERM:
            await self._stop_group(self.process, self.process.pid)
        else:
            signal_group(self.process.pid, signum)
        return await self.process.wait()

    async def _spawn(self, ready_timeout: float) -> None:
        env = {**os.environ, **self.environment, **self.profile.env}
        cwd = Path(self.profile.working_dir) if self.profile.working_dir else REPO_ROOT
        log = self.log_path.open("ab")
        try:
            self.process = await asyncio.create_subprocess_exec(
                *self.profile.command,
                env=env,
                cwd=cwd,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        except OSError as exc:
            raise ConnectorError(
                f"cannot start connector {self.profile.command[0]!r}: {exc}"
            ) from exc
        finally:
            log.close()
        self.reaper.guard(self.process.pid)
        await self._wait_ready(ready_timeout)

    async def _wait_ready(self, timeout: float) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        async with httpx.AsyncClient(timeout=2.0) as client:
            while loop.time() < deadline:
                if self.process is not None and self.process.returncode is not None:
                    raise ConnectorError(
                        f"connector exited with code {self.process.returncode} before it was ready;"
                        f" see {self.log_path}"
                    )
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get(self.profile.ready)).status_code == 200:
                        return
                await asyncio.sleep(0.1)
        raise ConnectorError(
            f"connector not ready at {self.profile.ready} after {timeout:.0f} s;"
            f" see {self.log_path}"
        )

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.returncode is None

    async def wait(self) -> int:
        """The exit code, once the connector's main process exits (the child watcher tells)."""
        if self.process is None:
            raise ConnectorError("the connector was never started")
        return await self.process.wait()

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> list[str]:
        """The last lines of connector.log: what it said before it died."""
        try:
            with self.log_path.open("rb") as log:
                log.seek(max(0, log.seek(0, os.SEEK_END) - LOG_TAIL_BYTES))
                text = log.read().decode("utf-8", errors="replace")
        except OSError:
            return []
        return text.splitlines()[-lines:]

    async def stop(self) -> int | None:
        """SIGTERM the whole group, SIGKILL what is left after a grace period; the exit code."""
        try:
            if self.process is None:
                return None
            await self._stop_group(self.process, self.process.pid)
            return self.process.returncode
        finally:
            await self.reaper.stand_down()

    @staticmethod
    async def _stop_group(process: asyncio.subprocess.Process, pgid: int) -> None:
        # Even when the main process is gone (it crashed, or was a shell wrapper), what it
        # started may not be: the group gets the signals, not only the process.
        signal_group(pgid, signal.SIGTERM)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + STOP_GRACE_SECONDS
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(process.wait(), STOP_GRACE_SECONDS)
        while group_alive(pgid) and loop.time() < deadline:
            await asyncio.sleep(GROUP_CHECK_SECONDS)
        if group_alive(pgid):
            signal_group(pgid, signal.SIGKILL)
        await process.wait()
