"""Faulty connector, defect "books the requested return quantity": a purchase return is booked
in the ERP for what the buyer asked back, not for what the warehouse really shipped.

The reference books the units the WMS's stockout.confirm says left (actualQty), in the
PUR_MRB and its red AP_Payable, and nothing for a return that shipped nothing. This variant
books the draft's quantities (planQty) whatever left, as a connector that treats the
confirm as a mere acknowledgement would: when the warehouse lacked stock, the ERP's books
and the supplier's credit overstate the return. `purchase_returns_booked` must catch it.
"""

from __future__ import annotations

from typing import Any

from connectors.reference.connector import Connector
from connectors.reference.purchase_return_flow import PurchaseReturnFlow


class BooksRequestedReturnQuantityFlow(PurchaseReturnFlow):
    """The reference purchase-return flow, except which units it books."""

    def booked_units(self, found: dict[str, Any]) -> dict[str, int]:
        if found["shipped"] is None:
            return {}
        return {line["item"]: int(line["qty"]) for line in found["lines"]}


class BooksRequestedReturnQuantity(Connector):
    purchase_return_flow = BooksRequestedReturnQuantityFlow
