"""Faulty connector, defect "ignores returns": it never follows a return refund.

Its author carried the sale and the cancellation and stopped there: a buyer's return refund
(旺店通 type 2) gets no return order at the WMS, so the parcel waits at the warehouse, the
refund is never settled and no red receivable is booked. `return_refund_booked` must catch it;
before that invariant existed every other check passed on it.
"""

from __future__ import annotations

from typing import Any

from connectors.reference.mapper import TradeMapper


class IgnoresReturns(TradeMapper):
    """The reference mapping, but no return refund is ever followed."""

    def follows_return(self, refund: dict[str, Any]) -> bool:
        return False
