"""Faulty connector, defect "second receivable": each trade is billed twice, once untraceably.

An older version of this connector numbered receivables from its own sequence (AR-000001, …)
and wrote no note; the new version posts them under the trade number, with the trade in
FNote. Both code paths were left in: every trade gets the reference's receivable and a second
one under a fresh AR- number that names no trade anywhere. `no_duplicate_erp_documents`
cannot see it (it links documents by number or note); `no_orphan_documents` must.
"""

from __future__ import annotations

import itertools
from typing import Any

from connectors.reference.callbacks import CallbackHandlers
from connectors.reference.connector import Connector
from connectors.reference.store import Step
from connectors.reference.workflow import Workflow


class SecondReceivableHandlers(CallbackHandlers):
    """The reference callbacks; built with the workflow, they make its receivable step post
    the old-style receivable too (the hook that receives the running workflow)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        workflow = self.workflow
        if not isinstance(workflow, Workflow):
            return
        receivable = workflow._actions[Step.ERP_RECEIVABLE]
        numbers = itertools.count(1)

        async def both_receivables(trade_no: str, attempt: int) -> None:
            await receivable(trade_no, attempt)
            trade = workflow.store.trade(trade_no)
            model = workflow.mapper.receivable_model(trade, workflow._bill_date(trade_no))
            model = {key: value for key, value in model.items() if key != "FNote"}
            model["FBillNo"] = f"AR-{next(numbers):06d}"
            await workflow.peers.erp.post_audited("AR_receivable", model)

        workflow._actions[Step.ERP_RECEIVABLE] = both_receivables


class SecondReceivableUnderNewNumber(Connector):
    handlers = SecondReceivableHandlers
