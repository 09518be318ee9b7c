"""Faulty connector, defect "ships a split trade whole": it keys orders by the platform order.

Its author wrote it against an OMS that never splits: an order is the platform's (`src_tids`),
so the sub-orders of a split trade (旺店通 trade_mask 2048) look like one order seen twice.
The first sub-order it sees goes to the WMS with every line of the platform order, to the
first sub-order's warehouse; the others are dropped as duplicates. The money is right (each
sub-order it books is booked at its own amount), but goods leave from a warehouse that was not
asked for them and a sub-order is never sent. `split_trade_covered_once` must catch it (so do
the per-trade `no_lost_orders` and `wms_lines_match_oms`).
"""

from __future__ import annotations

from typing import Any

from connectors.reference.mapper import Trade, TradeMapper

SPLIT_MASK = 2048  # 旺店通 trade_mask: a split trade's sub-order


class ShipsSplitTradeWhole(TradeMapper):
    """The reference rules, but one delivery order per platform order."""

    def __init__(self) -> None:
        # Kept in memory only: the integrator's "seen" list, by platform order.
        self.first: dict[tuple[str, str], str] = {}  # platform order -> first sub-order
        self.lines: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}  # -> rec_id -> line

    def accepts(self, trade: Trade) -> bool:
        if not super().accepts(trade):
            return False
        if not int(trade.get("trade_mask") or 0) & SPLIT_MASK:
            return True
        key = (str(trade["shop_no"]), str(trade.get("src_tids")))
        lines = self.lines.setdefault(key, {})
        for line in trade.get("detail_list") or []:
            lines[str(line["rec_id"])] = line
        first = self.first.setdefault(key, str(trade["trade_no"]))
        return first == str(trade["trade_no"])

    def delivery_order_xml(self, trade: Trade, code: str, logistic_code: str) -> str:
        key = (str(trade["shop_no"]), str(trade.get("src_tids")))
        if self.first.get(key) == str(trade["trade_no"]):
            trade = {**trade, "detail_list": list(self.lines[key].values())}
        return super().delivery_order_xml(trade, code, logistic_code)
