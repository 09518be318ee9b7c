"""Faulty connector, defect "gives up after the first error": no retries at all.

A 5xx, a timeout or a lost answer parks the step at once. When that step is the waybill
(Kdniao 1007), the order never reaches the WMS, and nothing says so but a log line: under
lost answers on 1007, `no_lost_orders` must catch it. The reference retries on its graded
schedule and gets the same waybill back (106, 该订单号已下单成功).
"""

from __future__ import annotations

from connectors.reference.connector import Connector
from connectors.reference.retry import RetryPolicy


class GivesUpAfterFirstErrorConnector(Connector):
    """The reference connector with an empty retry schedule."""

    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(self.settings.time_scale, delays_sim_seconds=())
