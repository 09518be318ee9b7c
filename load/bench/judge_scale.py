"""The judge at scale: a synthetic run folder of 100,000 orders and 1,000,000 history events.

The folder has the tables of docs/DATABASES.md in their minimal form (the DDL of
tests/support/judge.py, which the judge's own tests use) and the fakes' `events` table,
filled with SQL (recursive CTEs, no Python loop per row) so it builds in seconds. Every
order is consistent across the five systems (paid, at the WMS, shipped, both ERP bills
audited, parcel signed, completed) except one in `--lost-every`, which never reached the WMS:
the judge must find exactly those, with their history, so the timing covers the evidence
queries of a failing run too. The judge then runs in a fresh process (`judge_folder`, as
`ecomock check` does) so its peak memory is its own.

    .venv/bin/python -m load.bench.judge_scale --orders 100000 --events 1000000
"""

from __future__ import annotations

import argparse
import json
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from fake_systems.common.storage import open_database
from tests.support.judge import DDL

SIM = "2026-11-11 00:00:00"
BASE_WALL = 1_790_000_000.0
INITIAL_QTY = 10_000_000
ITEMS = 200

# Each statement sees `n` (1..orders) from the CTE `o`; lost orders are those with n % lost = 0.
SEQ = "WITH RECURSIVE o(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM o WHERE n < :orders)"
ORDER_KEYS = (
    "printf('T%07d', n) AS trade_no, printf('TB%08d', n) AS src_tid,"
    " :base + n * :spacing AS paid_wall, printf('SF%010d', n) AS waybill"
)
STATEMENTS = [
    f"""{SEQ}, k AS (SELECT n, {ORDER_KEYS} FROM o)
    INSERT INTO oms.orders SELECT trade_no, src_tid, 'SHOP' || (n % 6), 'tmall', 'OWNER1',
        'GZ01', 'SF', CASE WHEN n % :lost = 0 THEN 30 ELSE 110 END, 7990, 0, 1000, 8990,
        :sim, paid_wall, :sim,
        CASE WHEN n % :lost = 0 THEN NULL ELSE waybill END,
        CASE WHEN n % :lost = 0 THEN NULL ELSE :sim END,
        CASE WHEN n % :lost = 0 THEN NULL ELSE paid_wall + 61 END,
        CASE WHEN n % :lost = 0 THEN NULL ELSE :sim END,
        CASE WHEN n % :lost = 0 THEN NULL ELSE paid_wall + 3600 END,
        NULL, NULL, 0
    FROM k""",
    f"""{SEQ}, line(i, qty, cents) AS (VALUES (0, 2, 5000), (1, 1, 2990))
    INSERT INTO oms.order_lines SELECT printf('T%07d', n), n * 10 + i,
        printf('TB%08d-%d', n, i), 'SKU-' || ((n + i) % {ITEMS}), 'goods', qty, cents, cents, 0
    FROM o, line""",
    f"""{SEQ}, k AS (SELECT n, {ORDER_KEYS} FROM o WHERE n % :lost <> 0)
    INSERT INTO wms.delivery_orders SELECT 'DO' || n, trade_no, src_tid, 'OWNER1', 'GZ01',
        'JYCK', 'DELIVERED', 'SF', waybill, :sim, paid_wall + 0.5, :sim, paid_wall + 60,
        NULL, NULL
    FROM k""",
    f"""{SEQ}, line(i, qty) AS (VALUES (0, 2), (1, 1))
    INSERT INTO wms.delivery_order_lines SELECT 'DO' || n, CAST(n * 10 + i AS TEXT),
        'SKU-' || ((n + i) % {ITEMS}), qty, qty
    FROM o, line WHERE n % :lost <> 0""",
    f"""INSERT INTO wms.stock SELECT 'GZ01', item_code, {INITIAL_QTY},
        {INITIAL_QTY} - SUM(actual_qty), 0 FROM wms.delivery_order_lines GROUP BY item_code""",
    f"""WITH move(field, sign, reason) AS (VALUES ('reserved', 1, 'create'),
        ('reserved', -1, 'ship'), ('on_hand', -1, 'ship'))
    INSERT INTO wms.stock_ledger (warehouse_code, item_code, field, change, balance_after,
        reason, reference, sim_time, wall_time)
    SELECT 'GZ01', item_code, field, sign * plan_qty, {INITIAL_QTY // 2}, reason,
        delivery_order_id, :sim, :base FROM wms.delivery_order_lines, move""",
    f"""{SEQ}, form(f) AS (VALUES ('SAL_OUTSTOCK'), ('AR_receivable'))
    INSERT INTO erp.documents (form_id, bill_no, document_status, customer_number,
        amount_cents, saved_wall, submitted_wall, audited_wall, audited_sim, model)
    SELECT f, printf('T%07d', n), 'C', 'SHOP' || (n % 6), 8990, :base + n * :spacing + 62,
        :base + n * :spacing + 62, :base + n * :spacing + 62, :sim, '{{}}'
    FROM o, form WHERE n % :lost <> 0""",
    # The order's two lines (n is the bill number's digits), out of GZ01 on the outstock.
    f"""WITH line(i, qty, cents) AS (VALUES (0, 2, 5000), (1, 1, 3990))
    INSERT INTO erp.document_entries SELECT d.fid, i + 1,
        'SKU-' || ((CAST(substr(d.bill_no, 2) AS INTEGER) + i) % {ITEMS}), qty, cents,
        CASE d.form_id WHEN 'SAL_OUTSTOCK' THEN 'GZ01' END
    FROM erp.documents AS d, line""",
    f"""{SEQ}, k AS (SELECT n, {ORDER_KEYS} FROM o WHERE n % :lost <> 0)
    INSERT INTO carrier.waybills SELECT waybill, trade_no, 'SF', :sim, paid_wall + 0.2 FROM k""",
    f"""{SEQ}, k AS (SELECT n, {ORDER_KEYS} FROM o WHERE n % :lost <> 0)
    INSERT INTO carrier.parcels SELECT waybill, 'SF', 3, '301', :sim, paid_wall + 60, :sim,
        paid_wall + 3500 FROM k""",
    f"""{SEQ}, k AS (SELECT n, {ORDER_KEYS} FROM o WHERE n % :lost <> 0)
    INSERT INTO carrier.subscriptions SELECT waybill, 'SF', trade_no, paid_wall + 0.3 FROM k""",
    "INSERT INTO bank.accounts VALUES ('6222000011112222', 'CNY', 0)",
]
# History: `per_order` events for each order, spread over the systems as a run spreads them.
EVENT_SPLIT = (("oms", 0.3), ("wms", 0.4), ("erp", 0.2), ("carrier", 0.1))
EVENTS = """WITH RECURSIVE o(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM o WHERE n < :orders),
    e(j) AS (SELECT 1 UNION ALL SELECT j + 1 FROM e WHERE j < :per_order)
INSERT INTO {schema}.events (sim_time, wall_time, kind, operation, entity, outcome, payload)
SELECT :sim, :base + n * :spacing + j, CASE j % 3 WHEN 0 THEN 'state' ELSE 'api_in' END,
    '{schema}.op' || j, printf('T%07d', n), 'ok',
    '{{"trade_no":"' || printf('T%07d', n) || '","step":' || j || ',"note":"synthetic"}}'
FROM o, e WHERE NOT (n % :lost = 0 AND '{schema}' <> 'oms')"""


def build(run_dir: Path, orders: int, events: int, lost_every: int) -> dict[str, int]:
    """Write the five databases; returns the row counts of the biggest tables."""
    run_dir.mkdir(parents=True, exist_ok=True)
    for name, ddl in DDL.items():
        conn = open_database(run_dir / f"{name}.db")
        conn.executescript(ddl)
        conn.close()
    conn = sqlite3.connect(":memory:", isolation_level=None)
    for name in DDL:
        conn.execute(f"ATTACH DATABASE ? AS {name}", (str(run_dir / f"{name}.db"),))
        conn.execute(f"PRAGMA {name}.synchronous=OFF")
    params: dict[str, Any] = {
        "orders": orders,
        "lost": lost_every,
        "sim": SIM,
        "base": BASE_WALL,
        "spacing": 600.0 / orders,  # as if paid over ten minutes
    }
    conn.execute("BEGIN")
    for statement in STATEMENTS:
        conn.execute(statement, {k: v for k, v in params.items() if f":{k}" in statement})
    for schema, share in EVENT_SPLIT:
        per_order = max(1, round(events * share / orders))
        conn.execute(EVENTS.format(schema=schema), {**params, "per_order": per_order})
    conn.execute("COMMIT")
    counts = {
        table: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        for table in ("oms.orders", "wms.delivery_orders", "wms.stock_ledger", "erp.documents")
    }
    counts["events"] = sum(
        conn.execute(f"SELECT count(*) FROM {name}.events").fetchone()[0] for name in DDL
    )
    conn.close()
    return counts


def judge_in_child(run_dir: Path) -> dict[str, Any]:
    """Run `judge_folder` in a fresh process; its time, peak memory and what it found."""
    out = subprocess.run(
        [sys.executable, "-m", "load.bench.judge_scale", "judge", str(run_dir)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


def judge_here(run_dir: Path) -> dict[str, Any]:
    from contract_tests.judge import judge_folder  # imported here: its cost is not the build's

    started = time.perf_counter()
    verdict = judge_folder(run_dir)
    seconds = time.perf_counter() - started
    failing = {inv.name: inv.violations for inv in verdict.invariants if not inv.passed}
    return {
        "judge_seconds": round(seconds, 2),
        "judge_peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "verdict": verdict.verdict,
        "violations": failing,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("role", nargs="?", default="bench", choices=["bench", "judge"])
    parser.add_argument("run_dir", nargs="?", type=Path, default=None)
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--lost-every", type=int, default=1000)
    args = parser.parse_args(argv)
    if args.role == "judge":
        print(json.dumps(judge_here(args.run_dir)))
        return 0
    run_dir = args.run_dir or Path(tempfile.mkdtemp(prefix="ecomock-judge-scale-"))
    started = time.perf_counter()
    counts = build(run_dir, args.orders, args.events, args.lost_every)
    built = time.perf_counter() - started
    result = {"build_seconds": round(built, 1), **counts, **judge_in_child(run_dir)}
    result["run_dir"] = str(run_dir)
    print(json.dumps(result, indent=2))
    expected_lost = args.orders // args.lost_every
    return 0 if result["violations"].get("no_lost_orders") == expected_lost else 1


if __name__ == "__main__":
    sys.exit(main())
