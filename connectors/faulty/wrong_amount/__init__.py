"""Faulty connector, defect "wrong amount": the receivable ignores discounts.

It posts each AR_receivable line at list price x quantity instead of the buyer's paid share
(and forgets the freight), so the receivable differs from the trade's `paid` whenever a
discount or freight applies: `erp_receivable_audited` must catch it.
"""

from __future__ import annotations

from connectors.reference.mapper import Trade, TradeMapper, line_details
from connectors.reference.money import to_cents


class WrongAmountMapper(TradeMapper):
    """The reference rules, except the receivable's line amounts."""

    def receivable_amounts_cents(self, trade: Trade) -> list[int]:
        return [to_cents(str(line["price"])) * int(line["num"]) for line in line_details(trade)]
