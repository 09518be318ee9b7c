"""Whose oversell it was. The simulated buyers take no notice of stock, so an item can sell
out for real: the OMS sells beyond its available because nothing was left anywhere, and no
connector could have helped it. A sale beyond the OMS's available is held against the
connector only when the warehouse could have covered it (the OMS's number was stale-low:
receipts not pushed, a count lost); otherwise it is a sell-out, reported and excused. A
paid trade the WMS then refused for want of stock (STOCK_NOT_ENOUGH) in such a sell-out is
excused from no_lost_orders, one refused trade per oversold trade of the item
(docs/JUDGE.md, "Sell-outs").

What the warehouse could have covered for a sale at wall time T, of an item in a warehouse:
its free stock (on hand less reserved, from `wms.stock_ledger`) less the units of the OMS's
other trades already sold and not yet held by the WMS (paid, no delivery order yet, not
cancelled), at its lowest over the GRACE_SECONDS before T: a gain at the WMS (a receipt, a
release) takes that long to reach the OMS through any connector.
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from dataclasses import dataclass

from contract_tests.evidence import table_in_run
from contract_tests.ledgers import Key, WmsBalances
from contract_tests.metrics import DO_TRADE_MATERIALIZED_CTE, NEVER

# Wall seconds the OMS may lag a gain at the WMS: the core interfaces' objective (3 s).
GRACE_SECONDS = 3.0
STOCK_NOT_ENOUGH = "STOCK_NOT_ENOUGH"


@dataclass(frozen=True)
class Oversell:
    """One `oms.oversells` row (a line sold beyond the OMS's available), judged."""

    trade_no: str
    key: Key  # (warehouse, spec)
    num: int  # the line's units
    available: int  # what the OMS had for sale before it
    wall: float
    units: int  # the trade's units of the spec, all its lines
    coverable: int  # what the WMS could have sold for it (the module's docstring)

    @property
    def sell_out(self) -> bool:
        """Nothing the connector did: the WMS could not have covered the trade either."""
        return self.coverable < self.units


@dataclass(frozen=True)
class _Trade:
    trade_no: str
    paid: float
    held: float  # when its first delivery order reached the WMS (NEVER: not yet, or never)
    cancelled: float
    units: int


def judge_oversells(conn: sqlite3.Connection) -> list[Oversell]:
    """Every oversell of the run, in order, with what the WMS could have covered for it."""
    if not table_in_run(conn, "oms", "oversells"):
        return []
    rows = conn.execute(
        "SELECT trade_no, warehouse_no, spec_no, num, available, wall_time FROM oms.oversells"
        " ORDER BY seq"
    ).fetchall()
    if not rows:
        return []
    keys = {(str(row[1]), str(row[2])) for row in rows}
    trades = _trades(conn, keys)
    balances = WmsBalances(conn)
    judged = []
    for trade_no, warehouse, spec, num, available, wall in rows:
        key = (str(warehouse), str(spec))
        mine = [t for t in trades[key] if t.trade_no == trade_no]
        others = [t for t in trades[key] if t.trade_no != trade_no]
        units = sum(t.units for t in mine) or int(num)
        coverable = _coverable(balances, key, others, float(wall))
        judged.append(
            Oversell(str(trade_no), key, int(num), int(available), float(wall), units, coverable)
        )
    return judged


def _trades(conn: sqlite3.Connection, keys: set[Key]) -> dict[Key, list[_Trade]]:
    """Per key, the OMS's trades of it with their units and when the WMS held them."""
    found: dict[Key, list[_Trade]] = defaultdict(list)
    for warehouse, spec, trade_no, paid, held, cancelled, units in conn.execute(
        f"""WITH {DO_TRADE_MATERIALIZED_CTE},
        held AS (
            SELECT trade_no, MIN(created_wall) AS wall FROM do_trade
            WHERE trade_no IS NOT NULL GROUP BY trade_no
        )
        SELECT o.warehouse_no, l.spec_no, o.trade_no, o.paid_wall,
               COALESCE(h.wall, {NEVER}), COALESCE(o.cancelled_wall, {NEVER}), SUM(l.num)
        FROM oms.orders AS o JOIN oms.order_lines AS l ON l.trade_no = o.trade_no
        LEFT JOIN held AS h ON h.trade_no = o.trade_no
        GROUP BY o.warehouse_no, l.spec_no, o.trade_no"""
    ):
        key = (str(warehouse), str(spec))
        if key in keys:
            found[key].append(
                _Trade(str(trade_no), float(paid), float(held), float(cancelled), int(units))
            )
    return found


def _coverable(balances: WmsBalances, key: Key, others: list[_Trade], wall: float) -> int:
    """The least the WMS had free of `key` less the other trades sold and not yet held, over
    the grace before `wall`: at its start, at `wall`, and at every move in between."""
    start = wall - GRACE_SECONDS
    instants = {start, wall, *balances.moves(key, start, wall)}
    for trade in others:
        instants.update(t for t in (trade.paid, trade.held, trade.cancelled) if start < t < wall)

    def unheld(at: float) -> int:
        return sum(t.units for t in others if t.paid <= at < min(t.held, t.cancelled))

    return min(balances.free(key, at) - unheld(at) for at in instants)


def stock_refusals(conn: sqlite3.Connection) -> set[str]:
    """The WMS entities (deliveryOrderCode) whose create it refused for want of stock."""
    return {
        str(row[0])
        for row in conn.execute(
            "SELECT DISTINCT entity FROM wms.events WHERE kind = 'api_in'"
            " AND operation = 'deliveryorder.create' AND outcome = ?",
            (STOCK_NOT_ENOUGH,),
        )
    }


def excused_lost_trades(
    conn: sqlite3.Connection, lost: list[tuple[str, str]], oversells: list[Oversell]
) -> set[str]:
    """Of the `lost` trades (trade_no, src_tid, in the order they were paid), those the WMS
    refused for want of stock in a sell-out: at most one per trade oversold in a sell-out of
    one of its items, in its warehouse."""
    budget: dict[Key, int] = defaultdict(int)
    for key, _ in {(o.key, o.trade_no) for o in oversells if o.sell_out}:
        budget[key] += 1
    if not budget:
        return set()
    refused = stock_refusals(conn)
    excused: set[str] = set()
    for trade_no, src_tid in lost:
        if trade_no not in refused and src_tid not in refused:
            continue
        for warehouse, spec in conn.execute(
            "SELECT DISTINCT o.warehouse_no, l.spec_no FROM oms.orders AS o"
            " JOIN oms.order_lines AS l ON l.trade_no = o.trade_no WHERE o.trade_no = ?",
            (trade_no,),
        ):
            key = (str(warehouse), str(spec))
            if budget[key] > 0:
                budget[key] -= 1
                excused.add(trade_no)
                break
    return excused
