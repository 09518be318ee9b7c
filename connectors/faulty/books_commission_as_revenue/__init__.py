"""Faulty connector, defect "books commissions as revenue": the platform's commission never
appears as an expense.

Its receipt bill writes each order's receivable off in full, as the reference's does, but
each leg settles only the money that came in and books no handling charge: the commission
the platform kept is counted as sales collected (revenue) rather than as an expense. The
bank credit and the write-offs are right; `settlement_conserved` must catch that receivable
net of refunds is not what the platform settled plus the commission booked.
"""

from __future__ import annotations

from typing import Any

from connectors.reference.connector import Connector
from connectors.reference.money import to_cents
from connectors.reference.settlement_flow import (
    RECEIPT,
    Credit,
    SettlementFlow,
    leg,
    receipt_model,
)


class BooksCommissionAsRevenueFlow(SettlementFlow):
    async def post_receipt(self, bill: dict[str, Any], credit: Credit) -> None:
        model = receipt_model(bill, credit)
        model["FRECEIVEBILLENTRY"] = [
            leg(to_cents(each["FREALRECAMOUNTFOR"]), 0, each["FCOMMENT"])
            for each in model["FRECEIVEBILLENTRY"]
        ]
        await self.erp.post_audited(RECEIPT, model)


class BooksCommissionAsRevenue(Connector):
    settlements = BooksCommissionAsRevenueFlow
