"""Faulty connector, defect "wrong customer": every ERP document goes to the flagship shop.

Its K3 mapping books each owner's sales against one customer, the owner's Tmall shop (TM-…),
as an integrator who set the ERP up with the first shop they were given would: the JD and
Douyin shops' sales all land on the Tmall customer. Amounts, lines and numbers are right.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connectors.reference.mapper import Trade, TradeMapper


def flagship_customer(trade: Trade) -> str:
    """The owner's Tmall shop: the shop number with its platform prefix replaced by TM."""
    _platform, _, suffix = str(trade["shop_no"]).partition("-")
    return f"TM-{suffix}" if suffix else str(trade["shop_no"])


class PostsUnderWrongCustomerMapper(TradeMapper):
    """The reference rules, except the customer of both ERP documents."""

    def outstock_model(
        self, trade: Trade, bill_date: str, shipped: Mapping[str, int] | None = None
    ) -> dict[str, Any]:
        model = super().outstock_model(trade, bill_date, shipped)
        return {**model, "FCustomerID": {"FNumber": flagship_customer(trade)}}

    def receivable_model(self, trade: Trade, bill_date: str) -> dict[str, Any]:
        model = super().receivable_model(trade, bill_date)
        return {**model, "FCUSTOMERID": {"FNumber": flagship_customer(trade)}}
