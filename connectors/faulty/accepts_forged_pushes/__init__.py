"""Faulty connector, defect "no signature check": it acts on pushes nobody signed.

It takes every WMS confirm and carrier push as genuine, whatever its sign or DataSign, so a
forged deliveryorder.confirm ships an order in the OMS (and books it in the ERP) before the
WMS has shipped it, and a forged "signed for" tracking push completes an order whose parcel
is still travelling: `no_action_on_forged_push` must catch it.
"""

from __future__ import annotations

from collections.abc import Mapping

from connectors.reference.callbacks import CallbackHandlers
from connectors.reference.connector import Connector


class AcceptsForgedPushesHandlers(CallbackHandlers):
    """The reference callbacks, except that no push signature is checked."""

    def wms_signature_ok(self, params: Mapping[str, str], body: str) -> bool:
        return True

    def carrier_signature_ok(self, request_data: str, data_sign: str) -> bool:
        return True


class AcceptsForgedPushes(Connector):
    handlers = AcceptsForgedPushesHandlers
