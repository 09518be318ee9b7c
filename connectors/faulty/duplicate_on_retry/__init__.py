"""Faulty connector, defect "retry without idempotency": a retried WMS create gets a new code.

Each retry of deliveryorder.create sends deliveryOrderCode = trade_no + "-R<attempt>", so
whenever a response is lost (the WMS did the work, the connector saw a 504) the WMS ends up
with two delivery orders for one trade: `no_duplicate_delivery_orders` must catch it.
"""

from __future__ import annotations

from connectors.reference.mapper import Trade, TradeMapper


class DuplicateOnRetryMapper(TradeMapper):
    """The reference rules, except that the WMS idempotency key changes on every retry."""

    def delivery_order_code(self, trade: Trade, attempt: int) -> str:
        code = super().delivery_order_code(trade, attempt)
        return code if attempt <= 1 else f"{code}-R{attempt - 1}"
