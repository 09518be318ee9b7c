"""Fixtures the fakes' tests share across systems."""

from __future__ import annotations

import pytest

from simulator.world import World, build_world


@pytest.fixture(scope="module")
def fuzz_world() -> World:
    """A small world for a fuzz module's one long-lived fake."""
    return build_world(seed=11, sku_count=10, customer_count=5)
