"""Faulty connector, defect "books before shipping": the ERP documents go with the WMS create.

It saves and audits the trade's SAL_OUTSTOCK and AR_receivable as soon as the WMS has taken
the delivery order, as an integrator who reads "the order is at the warehouse" as "the order
is sold" would. The documents are right in every field; they are only early, so every order
the warehouse has not shipped yet (or never ships) is booked: `booked_after_wms_shipped`
must catch it.
"""

from __future__ import annotations

from typing import Any

from connectors.reference.callbacks import CallbackHandlers
from connectors.reference.connector import Connector
from connectors.reference.store import Step
from connectors.reference.workflow import Workflow


class BooksBeforeShippingHandlers(CallbackHandlers):
    """The reference callbacks; built with the workflow, they make its WMS create book the ERP.

    The handlers are the reference's hook that receives the running workflow, so the defect
    is installed here rather than by copying `Connector.run`.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        workflow = self.workflow
        if not isinstance(workflow, Workflow):
            return
        create = workflow._actions[Step.WMS_CREATE]

        async def create_and_book(trade_no: str, attempt: int) -> None:
            await create(trade_no, attempt)
            # post_audited looks the bill up first, so the booking the confirm triggers later
            # finds it audited and changes nothing.
            await workflow._erp_outstock(trade_no, attempt)
            await workflow._erp_receivable(trade_no, attempt)

        workflow._actions[Step.WMS_CREATE] = create_and_book


class BooksErpBeforeShipping(Connector):
    handlers = BooksBeforeShippingHandlers
