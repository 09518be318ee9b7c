"""Faulty connector, defect "never pushes stock": the WMS's stock changes never reach the OMS.

Its author carried orders, receipts and bookings and acknowledged every stockchange.report,
but never set the OMS's stock: the OMS sells from its opening stock, never learns of the
goods received since, and sells what it thinks it does not have. `no_oversell` must catch it.
"""

from __future__ import annotations

from connectors.reference.mapper import TradeMapper
from connectors.reference.stock_mapper import StockMapper


class NoStockPushes(StockMapper):
    def pushes_stock(self) -> bool:
        return False


class NeverPushesStock(TradeMapper):
    """The reference mapping, with no stock pushed to the OMS."""

    stock = NoStockPushes()
