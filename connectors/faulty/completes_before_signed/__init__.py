"""Faulty connector, defect "completes before signed": any tracking push completes the trade.

It reads the carrier's first tracking push for a parcel (collected, State 1, or in transit)
as "delivered" and uploads the signed trace to the OMS at once, as an integrator who
subscribes to tracking and treats any news as the end of the story would. Every shipped
order is completed, just long before its parcel is signed for: `completed_only_when_signed`
must catch it (`delivered_orders_completed` cannot: it only asks that signed parcels'
trades be completed, and they are).
"""

from __future__ import annotations

from typing import Any

from connectors.reference import callbacks
from connectors.reference.store import SIGNED_STATE

_reference_trace = callbacks._trace


def _trace_as_signed(item: Any) -> tuple[str, int, str | None]:
    """The reference's reading of a Data[] item, with every State taken for signed."""
    logistic_code, _state, order_code = _reference_trace(item)
    return logistic_code, SIGNED_STATE, order_code


def install() -> None:
    """Put the defect into this process's reference callbacks (the connector's process only:
    `__main__` calls it, importing this module changes nothing)."""
    callbacks._trace = _trace_as_signed
