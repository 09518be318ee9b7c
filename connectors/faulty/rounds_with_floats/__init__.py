"""Faulty connector, defect "rounds money with floats": each order's commission is read as a
float number of yuan and turned into cents per line by `int(yuan * 100)`.

Binary floats hold most two-decimal amounts a hair below their value (0.29 * 100 is
28.999999999999996), so the truncation loses a cent on some lines: the handling charge
booked for those orders is a cent short of the platform's commission and the money received
a cent over. `settlement_conserved` must catch the orders, and `bank_credits_booked` the
receipts that no longer add up to the bank credit.
"""

from __future__ import annotations

from typing import Any

from connectors.reference.connector import Connector
from connectors.reference.settlement_flow import RECEIPT, Credit, SettlementFlow, receipt_model


def float_cents(yuan: Any) -> int:
    """Yuan to cents the naive way: through a binary float, truncated."""
    return int(float(yuan) * 100)


class RoundsWithFloatsFlow(SettlementFlow):
    async def post_receipt(self, bill: dict[str, Any], credit: Credit) -> None:
        await self.erp.post_audited(RECEIPT, receipt_model(bill, credit, float_cents))


class RoundsWithFloats(Connector):
    settlements = RoundsWithFloatsFlow
