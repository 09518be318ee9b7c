"""A small-scale run of the harness-capacity benchmark (load/bench/capacity.py), in `make test`.

It proves the benchmark measures what it says: every order goes through its whole lifecycle
across the five fakes, with the calls counted per endpoint. The figures at scale are
`make bench`'s (docs/PERFORMANCE.md); here only correctness is asserted, never speed.
"""

from __future__ import annotations

import itertools
import sqlite3
import statistics
import tracemalloc
from pathlib import Path

import pytest

from load.bench.capacity import PoissonStarts, drive, memory_holders

ORDERS = 60


@pytest.mark.anyio
async def test_every_order_completes_its_lifecycle(tmp_path: Path) -> None:
    result = await drive(tmp_path, ORDERS, pin_cpus=False)

    assert result.errors == []
    assert result.orders == ORDERS
    assert result.lifecycles == ORDERS
    calls = {label: figures["count"] for label, figures in result.endpoints.items()}
    assert calls["1007"] == calls["1008"] == calls["deliveryorder.create"] == ORDERS
    assert calls["Trade"] == ORDERS  # ecomock.Trade.ship
    # Two bills per order, each saved, submitted and audited once.
    assert calls["k3.Save"] == calls["k3.Submit"] == calls["k3.Audit"] == 2 * ORDERS
    assert result.figures()["lifecycles_per_minute"] > 0
    assert result.fakes["max_rss_mib"] > 0

    wms = sqlite3.connect(tmp_path / "wms.db")
    shipped = wms.execute(
        "SELECT count(DISTINCT delivery_order_code) FROM delivery_orders WHERE status = 'DELIVERED'"
    ).fetchone()[0]
    assert shipped == ORDERS
    erp = sqlite3.connect(tmp_path / "erp.db")
    audited = erp.execute(
        "SELECT form_id, count(*) FROM documents WHERE document_status = 'C' GROUP BY form_id"
    ).fetchall()
    assert dict(audited) == {"SAL_OUTSTOCK": ORDERS, "AR_receivable": ORDERS}
    oms = sqlite3.connect(tmp_path / "oms.db")
    assert (
        oms.execute("SELECT count(*) FROM orders WHERE trade_status = 95").fetchone()[0] == ORDERS
    )


def test_the_rate_mode_starts_orders_as_a_poisson_process() -> None:
    """Trades found by one poll start an exponential gap apart, not all at once."""
    starts = PoissonStarts(50.0, seed=3)
    delays = [starts.delay(now=100.0) for _ in range(4000)]  # one poll found them all
    gaps = [later - earlier for earlier, later in itertools.pairwise(delays)]

    assert all(gap > 0 for gap in gaps)
    mean = statistics.fmean(gaps)
    assert mean == pytest.approx(1 / 50.0, rel=0.1)
    # Exponential gaps: the standard deviation equals the mean (a fixed pacing would give 0).
    assert statistics.pstdev(gaps) == pytest.approx(mean, rel=0.15)
    # A poll that comes after the schedule has run dry starts from its own time.
    assert 0 < starts.delay(now=starts.next_start + 60.0) < 1.0


def hold() -> list[str]:
    return [str(n) * 20 for n in range(50_000)]


def test_memory_holders_names_the_line_that_holds_memory() -> None:
    tracemalloc.start()
    try:
        held = hold()
        snapshot = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    holders = memory_holders(snapshot, top=3)

    line = f"tests/bench/test_capacity_smoke.py:{hold.__code__.co_firstlineno + 1}"
    assert holders[0]["line"] == line
    assert holders[0]["blocks"] >= len(held)
    assert holders[0]["mib"] >= 50_000 * 20 / 2**20
