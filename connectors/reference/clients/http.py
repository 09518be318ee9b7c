"""The one place that sends HTTP requests and sorts failures into retryable or permanent."""

from __future__ import annotations

from typing import Any

import httpx

from connectors.reference.retry import PermanentError, RetryableError

# Wall seconds; a call slower than this is treated as lost and retried with the same key.
REQUEST_TIMEOUT_SECONDS = 10.0
# Throttling and server trouble: the same request may succeed later.
RETRYABLE_STATUS = frozenset({408, 425, 429})


def make_client(max_connections: int) -> httpx.AsyncClient:
    """A pooled client for one peer; small pools, as httpcore scans the pool on every request."""
    limits = httpx.Limits(
        max_connections=max_connections, max_keepalive_connections=max_connections
    )
    return httpx.AsyncClient(limits=limits, timeout=REQUEST_TIMEOUT_SECONDS)


async def post(client: httpx.AsyncClient, system: str, url: str, **kwargs: Any) -> httpx.Response:
    """POST and return a 2xx response; raise RetryableError or PermanentError otherwise.

    A 504 with an empty body is how a lost response looks: the peer may have done the work,
    so the caller must retry with the same idempotency key.
    """
    try:
        response = await client.post(url, timeout=REQUEST_TIMEOUT_SECONDS, **kwargs)
    except httpx.TimeoutException as exc:
        raise RetryableError(system, f"timeout ({type(exc).__name__})") from exc
    except httpx.TransportError as exc:
        raise RetryableError(system, f"transport error ({type(exc).__name__}: {exc})") from exc
    status = response.status_code
    if status >= 500 or status in RETRYABLE_STATUS:
        raise RetryableError(system, f"HTTP {status}")
    if status >= 300:
        raise PermanentError(system, f"HTTP {status}: {response.text[:200]}")
    return response


async def get_json(client: httpx.AsyncClient, system: str, url: str) -> Any:
    """GET a JSON document (the fakes' /_fake/ surface), with the same failure sorting."""
    try:
        response = await client.get(url, timeout=REQUEST_TIMEOUT_SECONDS)
    except httpx.TransportError as exc:
        raise RetryableError(system, f"transport error ({type(exc).__name__}: {exc})") from exc
    if response.status_code != 200:
        raise RetryableError(system, f"HTTP {response.status_code} from {url}")
    try:
        return response.json()
    except ValueError as exc:
        raise RetryableError(system, f"not JSON from {url}") from exc
