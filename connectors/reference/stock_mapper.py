"""The business rules of the stock flows: what a receipt books in the ERP, whether stock
changes reach the OMS, and whether changed materials do. A faulty variant overrides one
(connectors/faulty/)."""

from __future__ import annotations

from typing import Any

SOUND = "ZP"


class StockMapper:
    """Purchase receipts and stock pushes, the reference's way."""

    def received(self, order: dict[str, Any], confirm: list[dict[str, Any]]) -> dict[str, int]:
        """Units to book on the stock-in per item: every unit the warehouse counted in, sound
        or damaged (the goods are in the warehouse either way)."""
        units: dict[str, int] = {}
        for line in confirm:
            units[line["itemCode"]] = units.get(line["itemCode"], 0) + int(line["actualQty"])
        return {item: qty for item, qty in units.items() if qty > 0}

    def accepted(self, order: dict[str, Any], confirm: list[dict[str, Any]]) -> dict[str, int]:
        """Units the payable pays for per item: the sound ones (ZP); damaged goods are the
        supplier's loss, not ours."""
        units: dict[str, int] = {}
        for line in confirm:
            if line["inventoryType"] == SOUND:
                units[line["itemCode"]] = units.get(line["itemCode"], 0) + int(line["actualQty"])
        return {item: qty for item, qty in units.items() if qty > 0}

    def receipt_warehouse(self, order: dict[str, Any]) -> str:
        """The warehouse (FStockId) a stock-in books its units at: the one the purchase
        order was for, where the WMS received them."""
        return str(order["warehouse_code"])

    def pushes_stock(self) -> bool:
        """Whether stockchange.report moves reach the OMS's stock (stockSyncByPd)."""
        return True

    def oms_stock(self, quantity: int, locked: int) -> int:
        """The OMS's stock of an item from the WMS's inventory.query answer: what is free to
        sell (`quantity`, on hand less `lockQuantity`, held by delivery orders), which the
        OMS's own paid trades then take; never below 0 (stockSyncByPd refuses it)."""
        return max(quantity, 0)

    def syncs_material_updates(self) -> bool:
        """Whether a later change of a material already seen (name, barcode, price, a
        discontinuation) reaches the WMS and the OMS, not only new materials."""
        return True
