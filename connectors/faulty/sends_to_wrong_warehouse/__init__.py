"""Faulty connector, defect "wrong warehouse": every delivery order goes to one warehouse.

Its WMS mapping was written against a test setup with a single warehouse, so it sends every
order to that one (WH-GZ01) whatever warehouse the OMS assigned the trade. The lines, the
waybill and the ERP are right, and the warehouse has the stock, so the order ships: from
the wrong place. `wms_order_in_trade_warehouse` must catch it.
"""

from __future__ import annotations

from connectors.reference.mapper import Trade, TradeMapper

# The one warehouse of the integrator's test setup (the first of ecomock's world).
TEST_WAREHOUSE = "WH-GZ01"


class SendsToWrongWarehouseMapper(TradeMapper):
    """The reference rules, except the delivery order's warehouseCode."""

    def delivery_order_xml(self, trade: Trade, code: str, logistic_code: str) -> str:
        return super().delivery_order_xml(
            {**trade, "warehouse_no": TEST_WAREHOUSE}, code, logistic_code
        )
