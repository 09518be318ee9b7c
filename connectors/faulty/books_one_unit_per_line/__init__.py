"""Faulty connector, defect "one unit per line": the ERP lines carry the amount, not the count.

Its K3 mapping sends each line's amount right but its quantity as 1, as an integrator who
read the OMS detail as "one line, one item" would: a line of three units is booked as one
unit at three times the price. Every total is right, so the amount checks pass; the stock
the ERP moves out and the receivable's quantities are wrong wherever a line has more than
one unit. `erp_documents_match_shipment` must catch it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connectors.reference.mapper import Trade, TradeMapper


def _one_unit(entries: list[dict[str, Any]], qty_key: str) -> list[dict[str, Any]]:
    # The unit price is the line amount again, so price x quantity still gives the amount.
    return [
        {**entry, qty_key: 1, "FTaxPrice": entry.get("FAllAmount", entry.get("FALLAMOUNTFOR"))}
        for entry in entries
    ]


class BooksOneUnitPerLineMapper(TradeMapper):
    """The reference rules, except the ERP entries' quantities."""

    def outstock_model(
        self, trade: Trade, bill_date: str, shipped: Mapping[str, int] | None = None
    ) -> dict[str, Any]:
        model = super().outstock_model(trade, bill_date, shipped)
        return {**model, "FEntity": _one_unit(model["FEntity"], "FRealQty")}

    def receivable_model(self, trade: Trade, bill_date: str) -> dict[str, Any]:
        model = super().receivable_model(trade, bill_date)
        return {**model, "FEntityDetail": _one_unit(model["FEntityDetail"], "FPriceQty")}
