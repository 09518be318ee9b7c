"""Faulty connector, defect "writes a receipt off twice": each bank credit is booked by two
receipt bills.

Like two handlers of one camt.054 racing without a shared idempotency key, it saves the
settlement's receipt bill under its number and again under `<number>-2`, both writing off the
same receivables, before auditing either. K3 audits the first; the second's audit is refused
(its write-offs go beyond what is open) and left submitted, which the connector shrugs off.
`receivable_written_off_once` must catch the receivables two receipt bills write off.
"""

from __future__ import annotations

import logging
from typing import Any

from connectors.reference.connector import Connector
from connectors.reference.retry import StepError
from connectors.reference.settlement_flow import RECEIPT, Credit, SettlementFlow, receipt_model

log = logging.getLogger("connectors.faulty")


class WritesOffTwiceFlow(SettlementFlow):
    async def post_receipt(self, bill: dict[str, Any], credit: Credit) -> None:
        model = receipt_model(bill, credit)
        twin = {**model, "FBillNo": f"{model['FBillNo']}-2"}
        for each in (model, twin):
            if await self.erp.bill_status(RECEIPT, each["FBillNo"]) is None:
                await self.erp.save(RECEIPT, each)
        await self.erp.post_audited(RECEIPT, model)
        try:
            await self.erp.post_audited(RECEIPT, twin)
        except StepError as exc:
            log.warning("second receipt %s not audited: %s", twin["FBillNo"], exc)


class WritesOffTwice(Connector):
    settlements = WritesOffTwiceFlow
