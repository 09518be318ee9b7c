"""Ending a run early and cleanly: on SIGTERM or Ctrl-C, or as soon as the connector dies.

Either way the run stops playing at once, the connector and the traffic are stopped, and the
reports are still written, marked invalid with the reason (contract_tests/run_status.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import TypeVar

from contract_tests.run_status import CONNECTOR_EXITED, INTERRUPTED, RunStatus
from simulator.connector import ConnectorProcess

T = TypeVar("T")
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
REASON_LOG_LINES = 10  # of connector.log, in the reason; run-status.json keeps more


def describe_exit(code: int) -> str:
    """`code 3`, or `signal SIGKILL` for the negative codes asyncio gives to signalled exits."""
    if code >= 0:
        return f"code {code}"
    try:
        return f"signal {signal.Signals(-code).name}"
    except ValueError:
        return f"signal {-code}"


class RunStop:
    """Whether and why the run must stop before its end; the first reason given wins."""

    def __init__(self, announce: Callable[[str], None], phase: Callable[[], str]) -> None:
        self.announce = announce
        self.phase = phase
        self.started = time.monotonic()
        self.status: RunStatus | None = None
        self.event = asyncio.Event()
        self._signalled = False

    @property
    def requested(self) -> bool:
        return self.status is not None

    def request(self, status: RunStatus, message: str) -> None:
        if self.status is None:
            self.status = status
            self.announce(message)
        self.event.set()

    def where(self) -> str:
        return f"during {self.phase()}, {time.monotonic() - self.started:.1f} s into the run"

    @contextlib.contextmanager
    def on_signals(self) -> Iterator[None]:
        """SIGTERM and SIGINT stop the run cleanly; a second one quits at once."""
        loop = asyncio.get_running_loop()
        installed = []
        for signum in STOP_SIGNALS:
            try:
                loop.add_signal_handler(signum, self._on_signal, signum)
            except (ValueError, RuntimeError, NotImplementedError):
                continue  # not the main thread: whoever runs the loop handles signals
            installed.append(signum)
        try:
            yield
        finally:
            for signum in installed:
                loop.remove_signal_handler(signum)

    def _on_signal(self, signum: int) -> None:
        name = signal.Signals(signum).name
        if self._signalled:
            # Asked twice: quit now. The reaper still stops the connector's group.
            asyncio.get_running_loop().remove_signal_handler(signum)
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
            return
        self._signalled = True
        self.request(
            RunStatus(INTERRUPTED, f"interrupted by {name} {self.where()}: the run is incomplete"),
            f"{name}: stopping the run; the reports will say it was interrupted"
            f" ({name} again to quit at once)",
        )

    async def watch_connector(self, connector: ConnectorProcess) -> None:
        """Stop the run the moment the connector's process exits (run as a task, cancel it
        before stopping the connector on purpose)."""
        code = await connector.wait()
        tail = connector.log_tail()
        said = "\n".join(tail[-REASON_LOG_LINES:]) or "(nothing)"
        what = f"the connector exited with {describe_exit(code)} {self.where()}"
        self.request(
            RunStatus(
                CONNECTOR_EXITED,
                f"{what}\nthe last lines of {connector.log_path.name}:\n{said}",
                connector_exit_code=code,
                connector_log_tail=tail,
            ),
            f"{what}: stopping the run (see {connector.log_path})",
        )


async def until_stopped(work: Awaitable[T], stop: RunStop) -> T | None:
    """`work`'s result, or None if the run is stopped first (`work` is then cancelled)."""
    task = asyncio.ensure_future(work)
    stopped = asyncio.ensure_future(stop.event.wait())
    try:
        await asyncio.wait({task, stopped}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopped.cancel()
        task.cancel()
        await asyncio.wait({task})  # let its finally blocks run before anything else does
    return None if task.cancelled() else task.result()
