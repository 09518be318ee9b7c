"""Faulty connector, defect "flags by amount only": the month-end reconciliation ignores the
0.5 % threshold.

It books every settlement as the reference does and reconciles it against the receivables it
writes off and the bank credit, but flags a difference for approval only when it reaches
500 CNY: a platform adjustment of 0.6 % of a bill of a few thousand yuan (tens of yuan) is
left "within tolerance" when the seeds' rule (>= 500 CNY **or** >= 0.5 %) needs it approved.
`reconciliation_flags_differences` must name those bills.
"""

from __future__ import annotations

from connectors.reference.connector import Connector
from connectors.reference.settlement_flow import APPROVAL_CENTS, SettlementFlow


class FlagsByAmountOnlyFlow(SettlementFlow):
    def needs_approval(self, difference_cents: int, expected_cents: int) -> bool:
        return abs(difference_cents) >= APPROVAL_CENTS


class FlagsByAmountOnly(Connector):
    settlements = FlagsByAmountOnlyFlow
