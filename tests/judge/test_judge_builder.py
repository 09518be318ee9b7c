"""The synthetic run folders the judge's tests use (tests/support/judge.py) hold what they say."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from tests.support.judge import INITIAL_QTY, RunBuilder


def test_builder_writes_every_database(tmp_path: Path) -> None:
    builder = RunBuilder(tmp_path)
    built = builder.order("completed")
    builder.close()
    names = sorted(p.name for p in tmp_path.glob("*.db"))
    assert names == ["bank.db", "carrier.db", "erp.db", "oms.db", "wms.db"]
    conn = sqlite3.connect(tmp_path / "wms.db")
    row = conn.execute("SELECT on_hand, reserved FROM stock WHERE item_code = 'SKU-A'").fetchone()
    assert row == (INITIAL_QTY - 2, 0)
    assert built.paid_cents == 5000 + 2990 + 1000
