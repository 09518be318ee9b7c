"""The judge's tests build their run folders with `RunBuilder` (tests/support/judge.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.judge import RunBuilder


@pytest.fixture
def builder(tmp_path: Path) -> RunBuilder:
    return RunBuilder(tmp_path / "run")
