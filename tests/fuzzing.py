"""Settings for the adapters' fuzz tests: 2,000 inputs per adapter, more under make fuzz."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from functools import partial

import httpx
from anyio.from_thread import start_blocking_portal
from hypothesis import HealthCheck, settings

# Inputs per adapter, split across that adapter's fuzz tests; `make fuzz` raises it.
FUZZ_EXAMPLES_PER_ADAPTER = int(os.environ.get("ECOMOCK_FUZZ_EXAMPLES", "2000"))


def fuzz_settings(share: float = 1.0) -> settings:
    """Hypothesis settings for a fuzz test that takes `share` of its adapter's inputs."""
    return settings(
        max_examples=max(1, int(FUZZ_EXAMPLES_PER_ADAPTER * share)),
        deadline=None,  # shared, noisy machines: time limits would make the fuzz flaky
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
        derandomize=os.environ.get("ECOMOCK_FUZZ_RANDOM") is None,  # reproducible in CI
    )


Post = Callable[[str, bytes], httpx.Response]


@contextmanager
def asgi_poster(app: object, headers: Mapping[str, str]) -> Iterator[Post]:
    """A synchronous `post(path, body)` into an ASGI app, for Hypothesis tests (which are sync).

    ASGITransport re-raises server exceptions, so a 500 cannot slip through unseen.
    """
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    with start_blocking_portal() as portal:
        client = httpx.AsyncClient(transport=transport, base_url="http://fake")

        def post(path: str, body: bytes) -> httpx.Response:
            return portal.call(partial(client.post, path, content=body, headers=headers))

        try:
            yield post
        finally:
            portal.call(client.aclose)
