"""The reaper stops the guarded process group when ecomock's end of the pipe closes, and
leaves it alone when stood down."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from simulator.reaper import STAND_DOWN
from tests.support.paths import ROOT

TIMEOUT = 20.0

Processes = tuple[subprocess.Popen[bytes], subprocess.Popen[bytes], int]


@contextmanager
def guarded_group() -> Iterator[Processes]:
    """A stand-in connector in a group of its own, its reaper, and our end of the pipe."""
    target = subprocess.Popen(["sleep", "600"], start_new_session=True)
    read_fd, write_fd = os.pipe()
    reaper = subprocess.Popen(
        [sys.executable, "-m", "simulator.reaper", str(read_fd)], cwd=ROOT, pass_fds=(read_fd,)
    )
    os.close(read_fd)
    try:
        os.write(write_fd, f"{target.pid}\n".encode())
        yield target, reaper, write_fd
    finally:
        for process in (target, reaper):
            if process.poll() is None:
                process.kill()
                process.wait()


def test_the_group_is_stopped_when_the_pipe_closes() -> None:
    with guarded_group() as (target, reaper, write_fd):
        os.close(write_fd)  # what the kernel does when ecomock dies, SIGKILL included
        assert target.wait(timeout=TIMEOUT) == -signal.SIGTERM
        assert reaper.wait(timeout=TIMEOUT) == 0


def test_a_stood_down_reaper_leaves_the_group_alone() -> None:
    with guarded_group() as (target, reaper, write_fd):
        os.write(write_fd, STAND_DOWN)
        os.close(write_fd)
        assert reaper.wait(timeout=TIMEOUT) == 0
        assert target.poll() is None  # still running: only the test's cleanup stops it


def test_after_a_restart_the_reaper_guards_the_new_group() -> None:
    """A crash scenario restarts the connector in a new group: the reaper is told its pgid,
    and stops that group (the old one is gone) when ecomock disappears."""
    with guarded_group() as (first, reaper, write_fd):
        second = subprocess.Popen(["sleep", "600"], start_new_session=True)
        try:
            first.kill()
            first.wait(timeout=TIMEOUT)  # the crash
            os.write(write_fd, f"{second.pid}\n".encode())  # the restart
            os.close(write_fd)
            assert second.wait(timeout=TIMEOUT) == -signal.SIGTERM
            assert reaper.wait(timeout=TIMEOUT) == 0
        finally:
            if second.poll() is None:
                second.kill()
                second.wait()
