"""Faulty connector, defect "ignores master-data updates": new materials reach the WMS and the
OMS, later changes never do.

Its author wrote the item sync for new SKUs (the poll sees an unknown FNumber and pushes it)
and forgot that a known material changes: a rename, a new barcode, a new price, a
discontinuation stays in the ERP. `master_data_agrees` must catch it.
"""

from __future__ import annotations

from connectors.reference.mapper import TradeMapper
from connectors.reference.stock_mapper import StockMapper


class NewMaterialsOnly(StockMapper):
    def syncs_material_updates(self) -> bool:
        return False


class IgnoresMasterDataUpdates(TradeMapper):
    """The reference mapping, with only new materials synced."""

    stock = NewMaterialsOnly()
