"""Pulls paid trades from the OMS in modified-time windows and hands new ones to the workflow."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from connectors.reference.clients.oms import (
    PAGE_SIZE,
    OmsClient,
    TradePage,
    format_time,
    parse_time,
)
from connectors.reference.mapper import Trade, TradeMapper
from connectors.reference.retry import StepError
from connectors.reference.store import StateStore
from connectors.reference.workflow import Workflow

log = logging.getLogger("connectors.reference")

MAX_WINDOW = timedelta(minutes=60)  # the OMS refuses longer windows
# Re-reading a window whose total moved while paging catches trades that shifted pages.
MAX_WINDOW_PASSES = 3


class Poller:
    """Windows run from the stored cursor (minus an overlap) to the OMS's simulated now."""

    def __init__(
        self,
        oms: OmsClient,
        store: StateStore,
        workflow: Workflow,
        mapper: TradeMapper,
        overlap: timedelta,
    ) -> None:
        self.oms = oms
        self.store = store
        self.workflow = workflow
        self.mapper = mapper
        self.overlap = overlap
        self.stats: Counter[str] = Counter()
        # Trades with a return refund (type 2, any status) seen in a window: a refund of every
        # line of such a trade is that return, never a cancellation after picking.
        self.returning: set[str] = set()

    async def run(self, stop: asyncio.Event, every_seconds: float) -> None:
        """Poll until `stop` is set; an unreachable OMS is logged and tried again next round."""
        failing = 0  # consecutive failed polls: one ERROR line per outage, not four a second
        while not stop.is_set():
            try:
                await self.poll_once()
            except StepError as error:
                self.stats["poll_errors"] += 1
                if failing == 0:
                    log.error("poll failed (will keep trying): %s", error)
                failing += 1
            else:
                if failing:
                    log.info("poll works again after %d failed attempt(s)", failing)
                failing = 0
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=every_seconds)

    async def poll_once(self) -> int:
        """Read every window up to now; returns how many new trades were started."""
        clock = await self.oms.clock()
        cursor_text = self.store.cursor()
        # First start: from the beginning of the run, so nothing paid before we came up is missed.
        start = parse_time(cursor_text) - self.overlap if cursor_text else clock.run_start
        end_of_all = clock.now
        started = 0
        while start < end_of_all:
            end = min(start + MAX_WINDOW, end_of_all)
            started += await self._window(start, end)
            # Committed only after the whole window is handed over: a crash re-reads it.
            self.store.set_cursor(format_time(end))
            start = end
        self.stats["polls"] += 1
        return started

    async def _window(self, start: datetime, end: datetime) -> int:
        # Return refunds read first: a trade being returned is known before its lines (every
        # one refund-applied) are judged, even when the carrier's signed push has not reached
        # us yet (a lagging connector read such trades as cancelled after picking, asked the
        # carrier to intercept parcels signed for hours before, and never carried the return).
        refunds: list[Trade] = []
        await self._channel(start, end, self.oms.search_returns, self._collect(refunds))
        self.returning.update(str(r["trade_no"]) for r in refunds if self.mapper.is_return(r))
        # Two channels: `/openapi` never returns Taobao/Tmall trades, the Qimen custom
        # scenario returns exactly those (docs/protocols/oms.md).
        started = await self._channel(start, end, self.oms.query_paid)
        started += await self._channel(start, end, self.oms.query_paid_taobao)
        # Return refunds carried last: one whose trade came in this same window is then known.
        self._accept_returns(refunds)
        return started

    @staticmethod
    def _collect(into: list[Trade]) -> Callable[[list[Trade]], int]:
        def collect(page: list[Trade]) -> int:
            into.extend(page)
            return 0

        return collect

    async def _channel(
        self,
        start: datetime,
        end: datetime,
        query: Callable[[datetime, datetime, int], Awaitable[TradePage]],
        accept: Callable[[list[Trade]], int] | None = None,
    ) -> int:
        accept = accept or self._accept
        started = 0
        for _ in range(MAX_WINDOW_PASSES):
            totals: set[int] = set()
            page_no = 0
            while True:
                page = await query(start, end, page_no)
                totals.add(page.total_count)
                started += accept(page.trades)
                page_no += 1
                if not page.trades or page_no * PAGE_SIZE >= page.total_count:
                    break
            if len(totals) == 1:
                break
        return started

    def _accept(self, trades: list[Trade]) -> int:
        # Cancellations first: a trade paid and cancelled within one window is never started.
        for trade in trades:
            if self.mapper.is_cancelled(trade) or self._cancel_requested(trade):
                self.workflow.cancel_order(trade)
                self.stats["cancelled_seen"] += 1
        wanted = [trade for trade in trades if self.mapper.accepts(trade)]
        new = self.store.add_trades(wanted)
        for trade_no in new:
            self.workflow.start_order(trade_no)
        self.stats["orders"] += len(new)
        return len(new)

    def _cancel_requested(self, trade: Trade) -> bool:
        # A refund of every line asked once the buyer signed for the parcel is a return (the
        # refund search carries it), never a cancellation: the trade's lines look the same
        # either way, and a completion that lags behind leaves such a trade shipped (95).
        trade_no = str(trade["trade_no"])
        return (
            self.mapper.cancel_requested(trade)
            and not self.store.signed_for(trade_no)
            and trade_no not in self.returning
        )

    def _accept_returns(self, refunds: list[Trade]) -> int:
        """Return refunds whose goods are on their way: one return order each (known ones and
        other owners' trades are left alone by the store)."""
        for refund in refunds:
            if self.mapper.follows_return(refund):
                self.workflow.start_return(refund)
                self.stats["returns_seen"] += 1
        return 0
