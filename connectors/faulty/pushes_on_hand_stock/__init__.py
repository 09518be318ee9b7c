"""Faulty connector, defect "pushes on-hand stock": the OMS's stock is set to what the WMS
holds on hand, not to what it has free to sell.

Its author read inventory.query's `quantity` plus `lockQuantity` as "the stock", the shelf
count a person would see. The units held by delivery orders are paid trades the OMS already
took from its stock and keeps reserved, so the OMS counts them twice until they ship: its
available plus reserved runs ahead of the warehouse by what is waiting to be picked. Once
the last orders have shipped nothing is reserved and the OMS agrees with the WMS again, so
the check at the end passes; `three_ledgers_agree` at the inventory snapshots must catch it.
"""

from __future__ import annotations

from connectors.reference.mapper import TradeMapper
from connectors.reference.stock_mapper import StockMapper


class OnHandStock(StockMapper):
    """The units on hand, reserved ones included, set as the OMS's stock."""

    def oms_stock(self, quantity: int, locked: int) -> int:
        return max(quantity + locked, 0)


class PushesOnHandStock(TradeMapper):
    """The reference mapping, with the WMS's on hand pushed as the OMS's stock."""

    stock = OnHandStock()
