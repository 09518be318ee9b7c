"""Whose oversell it was. The simulated buyers take no notice of stock, so an item can sell
out for real: the OMS sells beyond its available because nothing was left, and no connector
could have helped it. A sale beyond the OMS's available is held against the connector only
when the warehouse could have covered it; otherwise it is a sell-out, reported and excused.
A paid trade the WMS then refused for want of stock (STOCK_NOT_ENOUGH) in such a sell-out is
excused from no_lost_orders, within the units the sell-out fell short (docs/JUDGE.md,
"Sell-outs").

What the warehouse could have covered for a sale at wall time T, of a spec in a warehouse, is
the lesser of two numbers, so that only a sale both allow is the connector's:

- **what a connector keeping to the contract would have shown**: the WMS's free stock (on
  hand less reserved, `wms.stock_ledger`) after the goods last moved (a stock change the WMS
  reports, which a connector pushes) GRACE_SECONDS or more before T, or after any move since
  (whose push may or may not have arrived: the least of them), less the OMS's sales since
  (the OMS gives a cancelled trade's units back only at the next push); the opening stock
  less every sale when they never moved;
- **what was there**: the WMS's free stock at T less the units of the OMS's other trades sold
  and not yet held by the WMS (paid, no delivery order yet, not cancelled, not refused for
  the last time).
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from dataclasses import dataclass

from contract_tests.evidence import table_in_run
from contract_tests.ledgers import Key, WmsBalances, oms_pushed
from contract_tests.metrics import DO_TRADE_MATERIALIZED_CTE, NEVER
from fake_systems.wms.service import RETURNED_TO_SENDER

# Wall seconds a stock change at the WMS may take to reach the OMS through a connector (a
# report, a query, a push): the core interfaces' objective (3 s).
GRACE_SECONDS = 3.0
STOCK_NOT_ENOUGH = "STOCK_NOT_ENOUGH"
# Moves the WMS reports no stock change for, so that no connector hears of them.
UNREPORTED = frozenset({RETURNED_TO_SENDER})


@dataclass(frozen=True)
class Oversell:
    """One `oms.oversells` row (a line sold beyond the OMS's available), judged."""

    trade_no: str
    key: Key  # (warehouse, spec)
    num: int  # the line's units
    available: int  # what the OMS had for sale before it
    wall: float
    units: int  # the trade's units of the spec, all its lines
    coverable: int  # what the warehouse could have covered of them (the module's docstring)

    @property
    def sell_out(self) -> bool:
        """Nothing the connector did: the warehouse could not have covered the trade."""
        return self.coverable < self.units


@dataclass(frozen=True)
class _Trade:
    trade_no: str
    src_tid: str
    paid: float
    held: float  # when its first delivery order reached the WMS (NEVER: not yet, or never)
    cancelled: float
    units: int

    def unheld(self, at: float, refusals: Refusals) -> bool:
        """Sold at `at`, and still to be taken from the WMS's free stock."""
        given_up = NEVER if self.held < NEVER else refusals.last(self.trade_no, self.src_tid)
        return self.paid <= at < min(self.held, self.cancelled, given_up)


class Refusals:
    """The WMS's STOCK_NOT_ENOUGH answers to deliveryorder.create, by deliveryOrderCode."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.walls: dict[str, tuple[float, float]] = {
            str(entity): (float(first), float(last))
            for entity, first, last in conn.execute(
                "SELECT entity, MIN(wall_time), MAX(wall_time) FROM wms.events"
                " WHERE kind = 'api_in' AND operation = 'deliveryorder.create' AND outcome = ?"
                " GROUP BY entity",
                (STOCK_NOT_ENOUGH,),
            )
        }

    def of(self, trade_no: str, src_tid: str) -> tuple[float, float] | None:
        """The first and last refusal of the trade's create (its code is the trade number,
        or the platform order's), or None."""
        return self.walls.get(trade_no) or self.walls.get(src_tid)

    def last(self, trade_no: str, src_tid: str) -> float:
        """When the WMS last refused the trade (NEVER if it never did)."""
        found = self.of(trade_no, src_tid)
        return NEVER if found is None else found[1]


def judge_oversells(conn: sqlite3.Connection) -> list[Oversell]:
    """Every oversell of the run, in order, with what the warehouse could have covered."""
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
    refusals = Refusals(conn)
    reported = oms_pushed(conn)
    judged = []
    for trade_no, warehouse, spec, num, available, wall in rows:
        key = (str(warehouse), str(spec))
        others = [t for t in trades[key] if t.trade_no != trade_no]
        units = sum(t.units for t in trades[key] if t.trade_no == trade_no) or int(num)
        at = float(wall)
        coverable = min(
            _contract_shows(balances, key, others, at, reported),
            balances.free(key, at) - sum(t.units for t in others if t.unheld(at, refusals)),
        )
        judged.append(Oversell(str(trade_no), key, int(num), int(available), at, units, coverable))
    return judged


def _contract_shows(
    balances: WmsBalances, key: Key, others: list[_Trade], wall: float, reported: bool
) -> int:
    """The least the OMS's available of `key` could be at `wall` had a connector pushed the
    WMS's free stock after every move of its goods the WMS `reported` (stockchange.report):
    the free stock after a move, less the OMS's sales since; the move being the last one
    GRACE_SECONDS or more before `wall`, or any since, whose push may or may not have arrived
    (the opening stock less every sale when no move was reported)."""
    moves = balances.moves(key, wall - GRACE_SECONDS, wall, UNREPORTED) if reported else [None]

    def shown(moved: float | None) -> int:
        since = -NEVER if moved is None else moved
        sold = sum(t.units for t in others if since < t.paid <= wall)
        return balances.free(key, since) - sold

    return min(shown(moved) for moved in moves)


def _trades(conn: sqlite3.Connection, keys: set[Key]) -> dict[Key, list[_Trade]]:
    """Per key, the OMS's trades of it with their units and when the WMS held them."""
    found: dict[Key, list[_Trade]] = defaultdict(list)
    for warehouse, spec, trade_no, src_tid, paid, held, cancelled, units in conn.execute(
        f"""WITH {DO_TRADE_MATERIALIZED_CTE},
        held AS (
            SELECT trade_no, MIN(created_wall) AS wall FROM do_trade
            WHERE trade_no IS NOT NULL GROUP BY trade_no
        )
        SELECT o.warehouse_no, l.spec_no, o.trade_no, o.src_tid, o.paid_wall,
               COALESCE(h.wall, {NEVER}), COALESCE(o.cancelled_wall, {NEVER}), SUM(l.num)
        FROM oms.orders AS o JOIN oms.order_lines AS l ON l.trade_no = o.trade_no
        LEFT JOIN held AS h ON h.trade_no = o.trade_no
        GROUP BY o.warehouse_no, l.spec_no, o.trade_no"""
    ):
        key = (str(warehouse), str(spec))
        if key in keys:
            found[key].append(
                _Trade(
                    str(trade_no),
                    str(src_tid),
                    float(paid),
                    float(held),
                    float(cancelled),
                    int(units),
                )
            )
    return found


def excused_lost_trades(
    conn: sqlite3.Connection, lost: list[tuple[str, str]], oversells: list[Oversell]
) -> set[str]:
    """Of the `lost` trades (trade_no, src_tid, in the order they were paid), those the WMS
    refused for want of stock once an item of theirs had sold out in their warehouse, as
    long as their units of it fit in what the sell-out fell short (the units sold there that
    the warehouse could not cover; a refused trade may take the last of it beyond)."""
    short: dict[Key, int] = defaultdict(int)
    began: dict[Key, float] = {}
    for oversell in {(o.key, o.trade_no): o for o in oversells if o.sell_out}.values():
        short[oversell.key] += oversell.units - max(oversell.coverable, 0)
        began[oversell.key] = min(began.get(oversell.key, NEVER), oversell.wall)
    if not short:
        return set()
    refusals = Refusals(conn)
    excused: set[str] = set()
    for trade_no, src_tid in lost:
        refused = refusals.of(trade_no, src_tid)
        if refused is None:
            continue
        for warehouse, spec, units in conn.execute(
            "SELECT o.warehouse_no, l.spec_no, SUM(l.num) FROM oms.orders AS o"
            " JOIN oms.order_lines AS l ON l.trade_no = o.trade_no WHERE o.trade_no = ?"
            " GROUP BY l.spec_no ORDER BY l.spec_no",
            (trade_no,),
        ):
            key = (str(warehouse), str(spec))
            # Refused once the sell-out was under way (its last refusal: the first may be a
            # connector's early try), and the sell-out still short.
            if short[key] > 0 and refused[1] >= began[key] - GRACE_SECONDS:
                short[key] -= int(units)
                excused.add(trade_no)
                break
    return excused
