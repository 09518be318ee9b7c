"""Failure classes and the graded retry schedule: 1 / 5 / 15 / 30 / 60 simulated minutes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

log = logging.getLogger("connectors.reference")

# In simulated seconds, the delay before retry 1 to 5. The first three ride out a blip; the
# last two keep a step queued through a peer's outage (an ERP down for half an hour at a peak,
# scenarios/chaos/erp_outage.yaml): a step's last attempt comes 1 h 51 min after its first.
GRADED_DELAYS_SIM_SECONDS: tuple[float, ...] = (60.0, 300.0, 900.0, 1800.0, 3600.0)


class StepError(Exception):
    """A call failed; `retryable` says whether trying again later can help."""

    retryable = False
    # Wall seconds the peer asked us to wait (an HTTP Retry-After), if it said.
    retry_after: float | None = None

    def __init__(self, system: str, message: str) -> None:
        super().__init__(f"{system}: {message}")
        self.system = system
        self.message = message


class RetryableError(StepError):
    """Transport error, timeout, HTTP 5xx (a 504 is a lost response), or a transient refusal;
    `retry_after`, when the peer gave one, is the least wait before trying again."""

    retryable = True

    def __init__(self, system: str, message: str, retry_after: float | None = None) -> None:
        super().__init__(system, message)
        self.retry_after = retry_after


class PermanentError(StepError):
    """The peer refused the data itself: retrying the same request cannot succeed."""


class SessionExpired(RetryableError):
    """The ERP lost the login context (K3 MsgCode 1): log in again and repeat at once."""


@dataclass(frozen=True)
class RetryPolicy:
    """When to try a failed step again, in wall seconds at the run's time scale."""

    time_scale: float = 1.0
    delays_sim_seconds: tuple[float, ...] = GRADED_DELAYS_SIM_SECONDS

    @property
    def max_retries(self) -> int:
        return len(self.delays_sim_seconds)

    def delay_after(self, attempts: int, retry_after: float | None = None) -> float | None:
        """Wall seconds to wait after `attempts` failed calls, or None: give up and park.

        A peer's `retry_after` (wall seconds: HTTP's Retry-After is about real time, whatever
        the simulation's scale) is a floor: retrying sooner would only be throttled again.
        """
        if attempts < 1 or attempts > self.max_retries:
            return None
        delay = self.delays_sim_seconds[attempts - 1] / self.time_scale
        return max(delay, retry_after) if retry_after is not None else delay

    def delay_for(self, attempts: int, error: StepError) -> float | None:
        """`delay_after` for a step that failed with `error`: None (park) when it is not
        worth another try."""
        return self.delay_after(attempts, error.retry_after) if error.retryable else None


async def repeat_until_stopped(
    stop: asyncio.Event,
    every_seconds: float,
    one_round: Callable[[], Awaitable[object]],
    what: str,
    policy: RetryPolicy | None = None,
) -> None:
    """`one_round()` every `every_seconds` until `stop`. A round that fails is logged; with a
    `policy`, the next waits its graded delay (and a refusal's own wait), so that a peer that
    throttles or is down is not asked again four times a second."""
    failures = 0
    while not stop.is_set():
        wait = every_seconds
        try:
            await one_round()
            failures = 0
        except StepError as error:
            failures += 1
            if policy is not None:
                delay = policy.delay_after(min(failures, policy.max_retries), error.retry_after)
                wait = max(every_seconds, delay or 0.0)
            log.warning("%s failed (%d): %s", what, failures, error)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=wait)
