"""Faulty connector, defect "pays twice on a retried status": a payment whose pain.002 must be
fetched again (the bank's first answer is never final: RCVD) is taken for a failed one and
sent again under a new id.

Like a connector that retries the payment itself instead of its status, with a fresh MsgId
and EndToEndId (`<payable>-R`, the same remittance), it pays each payable twice; the second
payment it never books (its payment bill would write off a payable already paid).
`payments_match_payables` must catch the payables paid more than once.
"""

from __future__ import annotations

import logging
import sqlite3

from connectors.reference.clients.bank import Transfer, TransferStatus
from connectors.reference.connector import Connector
from connectors.reference.payment_flow import PaymentFlow

log = logging.getLogger("connectors.faulty")


class PaysTwiceFlow(PaymentFlow):
    async def on_report(
        self, row: sqlite3.Row, status: TransferStatus | None, fetched: int
    ) -> None:
        if fetched != 0:
            return  # the pain.001's own answer: the status it should fetch again
        payable = str(row["payable_no"])
        name, account = await self.supplier(str(row["supplier"]))
        now = (await self.oms.clock()).now
        again = Transfer(f"{payable}-R", int(row["amount_cents"]), name, account, payable)
        await self.bank.send_transfers(f"{row['msg_id']}-R", now.date(), now, again)
        log.warning("payment of %s still pending: sent again as %s-R", payable, payable)


class PaysTwiceOnRetry(Connector):
    payments = PaysTwiceFlow
