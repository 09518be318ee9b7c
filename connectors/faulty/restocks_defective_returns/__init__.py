"""Faulty connector, defect "restocks defective returns": every returned unit is booked as
saleable.

The WMS's returnorder.confirm says per line which units passed the quality check (ZP) and
which did not (CC); this connector books the whole return in the ERP's SAL_RETURNSTOCK in
the available stock status (KCZT01_SYS), so the books offer damaged goods for sale.
`returned_stock_by_quality` must catch it.
"""

from __future__ import annotations

from connectors.reference.mapper import AVAILABLE_STOCK_STATUS, TradeMapper


class RestocksDefective(TradeMapper):
    """The reference mapping, but every returned unit comes back as available stock."""

    def stock_status(self, inventory_type: str) -> str:
        return AVAILABLE_STOCK_STATUS
