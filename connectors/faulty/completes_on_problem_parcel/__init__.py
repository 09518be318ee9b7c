"""Faulty connector, defect "a problem is an end": it completes an order on State 4.

Kdniao's State 4 (问题件: refused, lost, stuck, a delivery exception…) looks final, and this
connector completes the order in the OMS on it as on State 3 (signed for), so a refused or
lost parcel's order is completed, and one signed after a delivery exception is completed
before it was signed: `completed_only_when_signed` must catch it (docs/CHAOS.md,
problem_parcel).
"""

from __future__ import annotations

from connectors.reference.callbacks import CallbackHandlers
from connectors.reference.connector import Connector
from connectors.reference.store import SIGNED_STATE

PROBLEM_STATE = 4  # Kdniao 问题件


class CompletesOnProblemParcelHandlers(CallbackHandlers):
    """The reference callbacks, except that a State 4 completes the order too."""

    def completes_order(self, state: int) -> bool:
        return state in (SIGNED_STATE, PROBLEM_STATE)


class CompletesOnProblemParcel(Connector):
    handlers = CompletesOnProblemParcelHandlers
