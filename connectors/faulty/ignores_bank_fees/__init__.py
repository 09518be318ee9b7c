"""Faulty connector, defect "ignores bank fees": the day statements are fetched and checked,
but the bank's charges on them are never booked.

Like a connector that reads a statement for the payments and credits it knows of and lets
everything else pass, it books no voucher for the fees (entries of sub-family CHRG), so the
ERP's bank account drifts from the bank's by every charge. `bank_statements_close` must catch
the days whose debits the ERP does not explain.
"""

from __future__ import annotations

from connectors.reference.clients.bank import Statement, StatementEntry
from connectors.reference.connector import Connector
from connectors.reference.statement_flow import StatementFlow


class IgnoresFeesFlow(StatementFlow):
    def fees_of(self, statement: Statement) -> list[StatementEntry]:
        return []


class IgnoresBankFees(Connector):
    statements = IgnoresFeesFlow
