"""Faulty connector, defect "books every receipt at one warehouse": its stock-ins put the
units received at the main warehouse (WH-GZ01), wherever the purchase order sent them.

Its author copied the stock organisation's default warehouse onto every stock-in, as a
connector written for one warehouse does. Each stock-in books the right units of the right
purchase order, audited, with its payable: every flow check passes, but the ERP's book stock
of the other warehouses falls behind what they hold, and the main warehouse's runs ahead.
`three_ledgers_agree` must catch it.
"""

from __future__ import annotations

from typing import Any

from connectors.reference.mapper import TradeMapper
from connectors.reference.stock_mapper import StockMapper

MAIN_WAREHOUSE = "WH-GZ01"


class OneWarehouse(StockMapper):
    """Every receipt booked at the main warehouse."""

    def receipt_warehouse(self, order: dict[str, Any]) -> str:
        return MAIN_WAREHOUSE


class BooksReceiptsAtOneWarehouse(TradeMapper):
    """The reference mapping, with every stock-in at the main warehouse."""

    stock = OneWarehouse()
