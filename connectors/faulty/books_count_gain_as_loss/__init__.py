"""Faulty connector, defect "books a count gain as a loss": the units a cycle count found
over the books go to the ERP as a count loss.

The reference books a count's gains as an audited STK_StockCountGain and its losses as an
audited STK_StockCountLoss. This variant books the gains as a second STK_StockCountLoss
(bill number `<code>-G`, the note still names the count), as a connector that maps every
count difference to one form would: the ERP's books then fall where the warehouse's rose.
`count_adjustments_booked` must catch it.
"""

from __future__ import annotations

from connectors.reference.connector import Connector
from connectors.reference.count_flow import LOSS_FORM, CountFlow


class BooksCountGainAsLossFlow(CountFlow):
    """The reference count flow, except where a count's gains go."""

    async def _erp_gain(self, code: str, attempt: int) -> None:
        gain = self.model(code, self.count(code), True)
        model = {
            **gain,
            "FBillNo": f"{code}-G",
            "FBillTypeID": {"FNumber": "PK01_SYS"},
            "FBillEntry": [
                {
                    **{k: v for k, v in entry.items() if k != "FGainQty"},
                    "FLossQty": entry["FGainQty"],
                }
                for entry in gain["FBillEntry"]
            ],
        }
        await self.peers.erp.post_audited(LOSS_FORM, model)


class BooksCountGainAsLoss(Connector):
    count_flow = BooksCountGainAsLossFlow
