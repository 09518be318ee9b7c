"""Faulty connector, defect "books rejected payments": a payment the bank rejected (RJCT) is
booked as paid all the same.

Like a connector that reads "a final status" as "paid", it saves and audits the payment bill
(AP_PAYBILL) of a rejected payment, writing off a payable the supplier never received the
money for. `payments_match_payables` must catch the rejected payments booked as paid.
"""

from __future__ import annotations

import sqlite3

from connectors.reference.clients.bank import TransferStatus
from connectors.reference.connector import Connector
from connectors.reference.payment_flow import PaymentFlow


class BooksRejectedFlow(PaymentFlow):
    async def on_rejected(self, row: sqlite3.Row, status: TransferStatus) -> None:
        await self.book(row)


class BooksRejectedPayments(Connector):
    payments = BooksRejectedFlow
