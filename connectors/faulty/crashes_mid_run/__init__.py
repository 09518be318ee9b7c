"""Faulty connector, defect "dies mid-run": it crashes once it has taken a score of trades.

A connector process that dies (an uncaught error, the OOM killer) leaves every later order
undone. The judge cannot tell a dead connector from a slow one after the fact, so the runner
watches the process: the run must stop at once and be reported invalid, with the exit code
and the end of connector.log.
"""

from __future__ import annotations

import os
import sys

from connectors.reference.mapper import Trade, TradeMapper

CRASH_AFTER_TRADES = 20
CRASH_EXIT_CODE = 3


class CrashesMidRunMapper(TradeMapper):
    """The reference rules, until the twentieth distinct trade: then the process dies."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: set[str] = set()

    def accepts(self, trade: Trade) -> bool:
        self.seen.add(str(trade.get("trade_no")))
        if len(self.seen) >= CRASH_AFTER_TRADES:
            print(
                f"crashes_mid_run: crashing on purpose after {len(self.seen)} trades",
                file=sys.stderr,
                flush=True,
            )
            # Like a real crash: no shutdown, no flushing of anything else.
            os._exit(CRASH_EXIT_CODE)
        return super().accepts(trade)
