"""A small-scale run of the harness-capacity benchmark (load/bench/capacity.py), in `make test`.

It proves the benchmark measures what it says: every order goes through its whole lifecycle
across the five fakes, with the calls counted per endpoint. The figures at scale are
`make bench`'s (docs/PERFORMANCE.md); here only correctness is asserted, never speed.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from load.bench.capacity import drive

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
