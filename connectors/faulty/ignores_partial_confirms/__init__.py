"""Faulty connector, defect "ignores partial confirms": it ships and books on the final confirm
as if every order left in one parcel.

Its author knew Qimen's confirmType 1 only as "not final yet": a partial deliveryorder.confirm
is acknowledged and dropped, and the final one ships the trade in the OMS with the order's own
waybill (the first package's) and books the trade's quantities. The ERP's numbers come out
right, but the OMS never hears of the second package's waybill, so the buyer cannot track
it: `partial_shipments_complete` must catch it (every other invariant passes).
"""

from __future__ import annotations

from connectors.reference.callbacks import CallbackHandlers, Confirm
from connectors.reference.connector import Connector
from connectors.reference.store import Package


class IgnoresPartialConfirmsHandlers(CallbackHandlers):
    """The reference callbacks, except that no confirm is read as one package of several."""

    def package_of(self, confirm: Confirm) -> Package | None:
        return None


class IgnoresPartialConfirms(Connector):
    handlers = IgnoresPartialConfirmsHandlers
