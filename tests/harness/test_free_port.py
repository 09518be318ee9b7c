"""The connector's port is drawn below the kernel's ephemeral range, where no outgoing
connection or `bind(0)` of another process can take it before the connector binds it."""

from __future__ import annotations

import contextlib
import random
from pathlib import Path

import pytest

from fake_systems.common.server import bind_free_port
from simulator import runner
from simulator.runner import LOWEST_PORT, free_port


def test_the_port_is_free_and_below_the_ephemeral_range(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ranges = tmp_path / "ip_local_port_range"
    ranges.write_text("40000\t60999\n")
    monkeypatch.setattr(runner, "EPHEMERAL_RANGE_FILE", ranges)
    ports = {free_port(random.Random(seed)) for seed in range(20)}
    assert all(LOWEST_PORT <= port < 40000 for port in ports), ports
    assert len(ports) > 1  # drawn, not one fixed port every run fights over
    for port in ports:
        with contextlib.closing(bind_free_port(port=port)):
            pass  # free: a server can bind it


def test_a_taken_port_is_passed_over(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ranges = tmp_path / "ip_local_port_range"
    ranges.write_text("40000 60999")
    monkeypatch.setattr(runner, "EPHEMERAL_RANGE_FILE", ranges)
    first = free_port(random.Random(7))
    with contextlib.closing(bind_free_port(port=first)):
        assert free_port(random.Random(7)) != first  # the same draw, but that port is taken


def test_without_room_below_the_range_any_free_port_will_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ranges = tmp_path / "ip_local_port_range"
    ranges.write_text("1024 65535")
    monkeypatch.setattr(runner, "EPHEMERAL_RANGE_FILE", ranges)
    port = free_port(random.Random(1))
    assert 1024 <= port <= 65535
