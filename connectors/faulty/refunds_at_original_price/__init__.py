"""Faulty connector, defect "refunds at the original price": the red receivable is posted at
list price x returned quantity.

The buyer is refunded what they paid for the units (their share after coupons, as the OMS's
refund says); this connector reverses each returned line at the catalogue price instead, so
the order's receivables net of the red one no longer equal what was paid less what was
refunded whenever a coupon applied. `receivable_net_of_refunds` must catch it.
"""

from __future__ import annotations

from typing import Any

from connectors.reference.mapper import Trade, TradeMapper, line_details
from connectors.reference.money import to_cents


class RefundsAtOriginalPrice(TradeMapper):
    """The reference mapping, except the red receivable's amounts."""

    def red_amounts_cents(self, trade: Trade, refund: dict[str, Any]) -> list[int]:
        price = {str(line["spec_no"]): to_cents(str(line["price"])) for line in line_details(trade)}
        return [
            price[str(detail["spec_no"])] * int(detail["num"])
            for detail in refund.get("detail_list") or []
        ]
