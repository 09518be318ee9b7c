"""Stops the connector's process group when ecomock disappears, however it disappears.

Why a reaper process rather than prctl(PR_SET_PDEATHSIG) in the connector: the death signal
reaches only the direct child (a shell wrapper's children would live on, holding the port),
is cleared when the child execs a setuid program, fires when the *thread* that forked exits
rather than the process, needs `preexec_fn` (unsafe in a process that has threads, as
ecomock's asyncio.to_thread does), and exists only on Linux. The connector is a generic
command that cannot be asked to watch its parent, so ecomock starts this tiny process first
and keeps the write end of a pipe whose read end only the reaper holds. When ecomock ends in
any way, SIGKILL included, the kernel closes that end; the reaper's blocking read returns
and it stops the whole group (nothing polls while the run goes on). On a normal end ecomock
stops the connector itself, then tells the reaper to stand down.

Protocol on the pipe: `<pgid>\\n` once the connector has started (again after each restart
of a crash scenario: the last group named is the one guarded), then `stand down\\n` and
EOF; EOF without the stand-down means ecomock is gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
STAND_DOWN = b"stand down\n"
GROUP_CHECK_SECONDS = 0.05
# How long the connector may take to exit on SIGTERM when ecomock is gone.
REAPER_GRACE_SECONDS = 5.0


def group_alive(pgid: int) -> bool:
    """Whether any process of the group still exists (a zombie counts: it is not reaped yet)."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def signal_group(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signum)


def stop_group(pgid: int, grace_seconds: float) -> None:
    """SIGTERM the group, SIGKILL whatever is left of it after `grace_seconds`."""
    signal_group(pgid, signal.SIGTERM)
    deadline = time.monotonic() + grace_seconds
    while group_alive(pgid) and time.monotonic() < deadline:
        time.sleep(GROUP_CHECK_SECONDS)
    signal_group(pgid, signal.SIGKILL)


class Reaper:
    """ecomock's end of the pipe: start the reaper, name the group, stand it down."""

    def __init__(self) -> None:
        self.process: asyncio.subprocess.Process | None = None
        self._write_fd: int | None = None

    async def start(self) -> None:
        read_fd, write_fd = os.pipe()  # both non-inheritable: the connector gets neither
        try:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "simulator.reaper",
                str(read_fd),
                cwd=REPO_ROOT,
                pass_fds=(read_fd,),
                stdin=asyncio.subprocess.DEVNULL,
                # Its own session: a Ctrl-C at the terminal must not take the guard away.
                start_new_session=True,
            )
        except BaseException:
            os.close(write_fd)
            raise
        finally:
            os.close(read_fd)
        self._write_fd = write_fd

    def guard(self, pgid: int) -> None:
        """From now on, the group `pgid` is stopped if ecomock disappears."""
        self._send(f"{pgid}\n".encode())

    async def stand_down(self) -> None:
        """The connector is stopped: the reaper exits without touching anything."""
        self._send(STAND_DOWN)
        if self._write_fd is not None:
            os.close(self._write_fd)
            self._write_fd = None
        if self.process is not None:
            await self.process.wait()

    def _send(self, data: bytes) -> None:
        if self._write_fd is None:
            return
        # A reaper that died already (someone killed it) must not break the run.
        with contextlib.suppress(OSError):
            os.write(self._write_fd, data)


def reap(read_fd: int) -> None:
    """The reaper's whole life: wait on the pipe, stop the group unless stood down."""
    pgid: int | None = None
    with os.fdopen(read_fd, "rb") as pipe:
        # Each line blocks until ecomock writes one or its end closes (b"" then): the loop
        # ends with the pipe, whatever ecomock sends.
        for line in iter(pipe.readline, b""):
            if line == STAND_DOWN:
                return
            if line.strip().isdigit():
                pgid = int(line)
    if pgid is not None:  # else ecomock went before the connector started: nothing to stop
        stop_group(pgid, REAPER_GRACE_SECONDS)


if __name__ == "__main__":
    reap(int(sys.argv[1]))
