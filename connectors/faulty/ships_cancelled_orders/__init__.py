"""Faulty connector, defect "ships cancelled orders": it never notices a cancellation.

Its author polled paid trades and stopped there: a trade the buyer cancels (旺店通
trade_status 5, after a refund before shipment) is sent to the WMS all the same, or left
there, shipped and booked in the ERP. `cancelled_not_shipped` must catch it; before that
invariant existed every other check passed on it.
"""

from __future__ import annotations

from connectors.reference.mapper import Trade, TradeMapper


class IgnoresCancellations(TradeMapper):
    """The reference mapping, but no trade is ever cancelled."""

    def is_cancelled(self, trade: Trade) -> bool:
        return False

    def cancel_requested(self, trade: Trade) -> bool:
        return False
