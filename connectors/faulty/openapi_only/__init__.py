"""Faulty connector, defect "lost orders": it polls 旺店通's `/openapi` only.

Its author read the trade query's method page but not its notes: `/openapi` never returns
Taobao/Tmall trades, which come only through the Qimen custom scenario (`/router/qm`). So
every Tmall order is lost without a word, as it would be in production: `no_lost_orders`
must catch it.
"""

from __future__ import annotations

from connectors.reference.clients.http import HttpClient
from connectors.reference.connector import Connector
from connectors.reference.workflow import Peers


class OpenapiOnlyConnector(Connector):
    """The reference connector without the Qimen custom channel."""

    def build_peers(self, clients: dict[str, HttpClient]) -> Peers:
        peers = super().build_peers(clients)
        peers.oms.qimen = None
        return peers
