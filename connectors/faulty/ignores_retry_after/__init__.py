"""Faulty connector, defect "ignores Retry-After": a throttled call is retried on the graded
schedule alone, however long the peer asked it to wait.

At 360x the graded first retry (one simulated minute) comes a sixth of a wall second after
a 429 with `Retry-After: 1` (or a TOP ban of N seconds): the connector hammers a peer that
asked it to back off. Every order still gets through (the peer only refuses), so only
`respects_retry_after` can catch it. The reference waits the longer of the two.
"""

from __future__ import annotations

from dataclasses import dataclass

from connectors.reference.connector import Connector
from connectors.reference.retry import RetryPolicy


@dataclass(frozen=True)
class IgnoresRetryAfterPolicy(RetryPolicy):
    """The graded schedule, deaf to the peer's wait."""

    def delay_after(self, attempts: int, retry_after: float | None = None) -> float | None:
        return super().delay_after(attempts, None)


class IgnoresRetryAfterConnector(Connector):
    """The reference connector whose retries never honour a peer's Retry-After."""

    def retry_policy(self) -> RetryPolicy:
        return IgnoresRetryAfterPolicy(self.settings.time_scale)
