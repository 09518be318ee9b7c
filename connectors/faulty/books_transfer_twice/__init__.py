"""Faulty connector, defect "books a transfer twice": a transfer's stockout.confirm that
comes again is booked again.

The reference stores the first confirm of each leg and does nothing when the WMS resends it.
This variant, on a resent stockout.confirm, saves and audits the transfer-out once more under
a new bill number (`<code>-R<n>`, since K3 refuses a number twice; the note still names the
transfer), as a connector that books from every push rather than from its inbox would: the
ERP then shows more leaving the sender than the warehouse shipped. `transfers_balance` must
catch it.
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any

from connectors.reference.connector import Connector
from connectors.reference.retry import StepError
from connectors.reference.transfer_flow import TRANSFER_OUT_FORM, TransferFlow

log = logging.getLogger("connectors.faulty")


class BooksTransferTwiceFlow(TransferFlow):
    """The reference transfer flow, except what a resent stockout.confirm does."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.rebooked: Counter[str] = Counter()

    def redelivered(self, code: str, leg: str) -> None:
        if leg != "sent":
            return
        self.rebooked[code] += 1
        self.workflow._spawn(self._book_again(code, f"{code}-R{self.rebooked[code]}"))

    async def _book_again(self, code: str, bill_no: str) -> None:
        """The transfer-out again, under `bill_no`; one try, as a careless connector would."""
        model = {**self.out_model(code, self.transfer(code)), "FBillNo": bill_no}
        try:
            await self.peers.erp.post_audited(TRANSFER_OUT_FORM, model)
        except StepError as error:
            log.warning("booking transfer %s again as %s failed: %s", code, bill_no, error)


class BooksTransferTwice(Connector):
    transfer_flow = BooksTransferTwiceFlow
