"""Faulty connector, defect "lost orders": it silently ignores every Douyin (DY) trade.

Its platform map was written before the Douyin shops opened, so trades from them are never
fulfilled and nothing is logged: `no_lost_orders` must catch it.
"""

from __future__ import annotations

from connectors.reference.mapper import Trade, TradeMapper

# The platforms this connector "knows": DY is missing.
KNOWN_PLATFORMS = frozenset({"TM", "JD"})


class SkipsShopMapper(TradeMapper):
    """The reference rules, except that trades of unknown platforms are dropped without a word."""

    def accepts(self, trade: Trade) -> bool:
        return super().accepts(trade) and self.source_platform_code(trade) in KNOWN_PLATFORMS
