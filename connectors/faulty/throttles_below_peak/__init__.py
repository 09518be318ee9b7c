"""Faulty connector, defect "throttles below peak": sized for an ordinary day, not a sale.

Its WMS client lets at most 10 delivery orders a second through (600 a minute), one after
another: a limit an integrator sets "to protect the warehouse" from a day's traffic (L1's
smoke offers about 430 orders a minute) and never revisits. At the certification load
(1,000 a minute) the orders queue behind it, and paid → WMS grows with the queue: L5's
`latency_paid_to_wms` (p99 <= 3 s) must fail, while nothing is lost or wrong.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time

from connectors.reference.clients.http import HttpClient
from connectors.reference.clients.qimen import QimenClient
from connectors.reference.connector import Connector, Peers

CREATES_PER_SECOND = 10.0


class ThrottledQimenClient(QimenClient):
    """A Qimen client that spaces delivery-order creates 1/CREATES_PER_SECOND apart."""

    def __init__(
        self, client: HttpClient, url: str, app_key: str, secret: str, customer_id: str
    ) -> None:
        super().__init__(client, url, app_key, secret, customer_id)
        self._gate = asyncio.Lock()
        self._next_slot = 0.0

    async def create_delivery_order(self, body: str) -> str:
        async with self._gate:
            wait = self._next_slot - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)  # the defect: a fixed pace whatever the traffic
            self._next_slot = time.monotonic() + 1.0 / CREATES_PER_SECOND
        return await super().create_delivery_order(body)


class ThrottlesBelowPeakConnector(Connector):
    """The reference connector whose WMS creates are held to 10 a second."""

    def build_peers(self, clients: dict[str, HttpClient]) -> Peers:
        peers = super().build_peers(clients)
        wms = peers.wms
        throttled = ThrottledQimenClient(
            wms.client, wms.url, wms.app_key, wms.secret, wms.customer_id
        )
        return dataclasses.replace(peers, wms=throttled)
