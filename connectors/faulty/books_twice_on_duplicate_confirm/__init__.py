"""Faulty connector, defect "books twice": a confirm that comes again is booked again.

The reference stores each confirm once (by outBizCode) and does nothing when the WMS resends
it. This variant, on a resent confirm, saves and audits the order's SAL_OUTSTOCK and
AR_receivable once more under a new bill number (trade_no-R<n>, since K3 refuses a number
twice), as a connector that books from every push rather than from its inbox would:
`no_duplicate_erp_documents` must catch it.
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any

from connectors.reference.callbacks import CallbackHandlers
from connectors.reference.connector import Connector
from connectors.reference.retry import StepError
from connectors.reference.workflow import Workflow

log = logging.getLogger("connectors.faulty")


class BooksTwiceHandlers(CallbackHandlers):
    """The reference callbacks, except what a resent confirm does."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.rebooked: Counter[str] = Counter()

    def duplicate_confirm(self, trade_no: str | None) -> None:
        workflow = self.workflow
        if trade_no is None or not isinstance(workflow, Workflow):
            return
        self.rebooked[trade_no] += 1
        bill_no = f"{trade_no}-R{self.rebooked[trade_no]}"
        workflow._spawn(_book(workflow, trade_no, bill_no))


async def _book(workflow: Workflow, trade_no: str, bill_no: str) -> None:
    """Both ERP documents of the trade again, under `bill_no`; one try, as a careless
    connector would."""
    trade = workflow.store.trade(trade_no)
    date = workflow._bill_date(trade_no)
    for form, model in (
        ("SAL_OUTSTOCK", workflow.mapper.outstock_model(trade, date)),
        ("AR_receivable", workflow.mapper.receivable_model(trade, date)),
    ):
        try:
            await workflow.peers.erp.post_audited(form, {**model, "FBillNo": bill_no})
        except StepError as error:
            log.warning("booking %s again as %s failed: %s", trade_no, bill_no, error)


class BooksTwiceOnDuplicateConfirm(Connector):
    handlers = BooksTwiceHandlers
