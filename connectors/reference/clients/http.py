"""The one place that sends HTTP requests and sorts failures into retryable or permanent.

The protocol clients talk to an `HttpClient`: `AiohttpClient` in production, `HttpxClient`
in tests (httpx's MockTransport and ASGITransport serve fakes in process). aiohttp because it
is cheap: a keep-alive POST costs it ~0.1 ms of CPU against httpx's ~1.2 ms (measured,
docs/PERFORMANCE.md), and a connector makes a dozen calls per order.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any, Protocol

import aiohttp
import httpx
import orjson

from connectors.reference.retry import PermanentError, RetryableError

# Wall seconds; a call slower than this is treated as lost and retried with the same key.
REQUEST_TIMEOUT_SECONDS = 10.0
# Throttling and server trouble: the same request may succeed later.
RETRYABLE_STATUS = frozenset({408, 425, 429})
KEEPALIVE_SECONDS = 4.0
# A Retry-After beyond this is not waited out in full: the graded retries give up by then.
MAX_RETRY_AFTER_SECONDS = 900.0


class TransportFailure(Exception):
    """No answer: refused, reset or timed out. `timeout` tells which."""

    def __init__(self, detail: str, *, timeout: bool = False) -> None:
        super().__init__(detail)
        self.timeout = timeout


@dataclass(frozen=True)
class Reply:
    """An answer, read in full."""

    status_code: int
    content: bytes
    cookies: Mapping[str, str] = field(default_factory=dict)
    # The Retry-After header, in seconds from now (RFC 9110 §10.2.3), when there is one.
    retry_after: float | None = None

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")


@dataclass(frozen=True)
class Request:
    """One exchange to make: `form` is sent URL-encoded, else `content` as it is."""

    method: str
    url: str
    content: bytes | None = None
    form: Mapping[str, str] | None = None
    params: Mapping[str, str] | None = None
    headers: Mapping[str, str] | None = None


class HttpClient(Protocol):
    """What the protocol clients need of HTTP: one exchange, read in full."""

    async def send(self, request: Request, timeout: float = REQUEST_TIMEOUT_SECONDS) -> Reply:
        """The answer; raises TransportFailure when there is none."""
        ...

    async def aclose(self) -> None: ...


class AiohttpClient:
    """A keep-alive pool of at most `max_connections` to one peer."""

    def __init__(self, max_connections: int) -> None:
        self.max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None

    def _open(self) -> aiohttp.ClientSession:
        # Created on first use, inside the running loop, as aiohttp requires.
        if self._session is None:
            self._session = aiohttp.ClientSession(
                # Idle connections close before uvicorn's 5 s keep-alive would close them
                # under a request (which would then look lost and be retried).
                connector=aiohttp.TCPConnector(
                    limit=self.max_connections, keepalive_timeout=KEEPALIVE_SECONDS
                ),
                # Cookies travel in explicit headers (K3's session); a jar would add stale ones.
                cookie_jar=aiohttp.DummyCookieJar(),
            )
        return self._session

    async def send(self, request: Request, timeout: float = REQUEST_TIMEOUT_SECONDS) -> Reply:
        body: Any = dict(request.form) if request.form is not None else request.content
        try:
            async with self._open().request(
                request.method,
                request.url,
                data=body,
                params=dict(request.params) if request.params else None,
                headers=dict(request.headers) if request.headers else None,
                timeout=aiohttp.ClientTimeout(total=timeout),
            ) as response:
                content_read = await response.read()
                cookies = {name: morsel.value for name, morsel in response.cookies.items()}
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
                return Reply(response.status, content_read, cookies, retry_after)
        except TimeoutError as exc:
            raise TransportFailure(type(exc).__name__, timeout=True) from exc
        except aiohttp.ClientError as exc:
            raise TransportFailure(f"{type(exc).__name__}: {exc}") from exc

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


class HttpxClient:
    """The same over an httpx client: in tests, its transport serves the peers in process."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def send(self, request: Request, timeout: float = REQUEST_TIMEOUT_SECONDS) -> Reply:
        try:
            response = await self.client.request(
                request.method,
                request.url,
                content=request.content,
                data=dict(request.form) if request.form is not None else None,
                params=dict(request.params) if request.params else None,
                headers=dict(request.headers) if request.headers else None,
                timeout=timeout,
            )
        except httpx.TimeoutException as exc:
            raise TransportFailure(type(exc).__name__, timeout=True) from exc
        except httpx.TransportError as exc:
            raise TransportFailure(f"{type(exc).__name__}: {exc}") from exc
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        return Reply(response.status_code, response.content, dict(response.cookies), retry_after)

    async def aclose(self) -> None:
        await self.client.aclose()


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After value (delay-seconds or an HTTP-date), capped; None
    when absent or unreadable."""
    if value is None:
        return None
    text = value.strip()
    if text.isdigit():
        seconds = float(text)
    else:
        try:
            seconds = parsedate_to_datetime(text).timestamp() - time.time()
        except (TypeError, ValueError):
            return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_SECONDS)


def make_client(max_connections: int) -> HttpClient:
    """A pooled client for one peer."""
    return AiohttpClient(max_connections)


async def post(
    client: HttpClient,
    system: str,
    url: str,
    *,
    content: bytes | None = None,
    form: Mapping[str, str] | None = None,
    params: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Reply:
    """POST and return a 2xx answer; raise RetryableError or PermanentError otherwise.

    A 504 with an empty body is how a lost response looks: the peer may have done the work,
    so the caller must retry with the same idempotency key.
    """
    try:
        response = await client.send(Request("POST", url, content, form, params, headers))
    except TransportFailure as exc:
        kind = "timeout" if exc.timeout else "transport error"
        raise RetryableError(system, f"{kind} ({exc})") from exc
    status = response.status_code
    if status >= 500 or status in RETRYABLE_STATUS:
        # A 429 or 503 may say how long to wait (Retry-After): the retry honours it.
        raise RetryableError(system, f"HTTP {status}", retry_after=response.retry_after)
    if status >= 300:
        raise PermanentError(system, f"HTTP {status}: {response.text[:200]}")
    return response


async def get_json(client: HttpClient, system: str, url: str) -> Any:
    """GET a JSON document (the fakes' /_fake/ surface), with the same failure sorting."""
    try:
        response = await client.send(Request("GET", url))
    except TransportFailure as exc:
        raise RetryableError(system, f"transport error ({exc})") from exc
    if response.status_code != 200:
        raise RetryableError(system, f"HTTP {response.status_code} from {url}")
    try:
        return orjson.loads(response.content)
    except orjson.JSONDecodeError as exc:
        raise RetryableError(system, f"not JSON from {url}") from exc
