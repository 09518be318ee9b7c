"""Faulty connector, defect "books the ordered quantity": its stock-in and payable copy the
purchase order instead of the warehouse's count.

Its author booked the receipt from the order it had at hand: a delivery that came over,
short or damaged is booked as if it came as ordered, so the ERP's stock and what the business
owes its supplier drift from what really arrived. `purchase_receipts_booked` must catch it.
"""

from __future__ import annotations

from typing import Any

from connectors.reference.mapper import TradeMapper
from connectors.reference.stock_mapper import StockMapper


class OrderedQuantities(StockMapper):
    """Every receipt booked (and paid) at the purchase order's quantities."""

    def received(self, order: dict[str, Any], confirm: list[dict[str, Any]]) -> dict[str, int]:
        return {line["item"]: int(line["qty"]) for line in order["lines"]}

    def accepted(self, order: dict[str, Any], confirm: list[dict[str, Any]]) -> dict[str, int]:
        return self.received(order, confirm)


class BooksOrderedQuantity(TradeMapper):
    """The reference mapping, with the ordered quantities booked on receipt."""

    stock = OrderedQuantities()
