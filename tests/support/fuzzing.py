"""Settings and shared value strategies for the adapters' fuzz tests: 2,000 inputs per adapter,
more under make fuzz."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from functools import partial
from pathlib import Path

import httpx
import pytest
from anyio.from_thread import start_blocking_portal
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from fake_systems.common.context import SystemContext
from fake_systems.common.webhooks import HttpxSender
from simulator.clock import ManualClock

# Inputs per adapter, split across that adapter's fuzz tests; `make fuzz` raises it to 50,000
# (and draws them afresh). In `make test` the same 1,000 each run, a regression smoke: the
# fuzz tests are CPU-bound, and at 2,000 they were the largest CPU share of the suite after
# the end-to-end runs, which put `make test` over its ten minutes on CI.
FUZZ_EXAMPLES_PER_ADAPTER = int(os.environ.get("ECOMOCK_FUZZ_EXAMPLES", "1000"))


def fuzz_settings(share: float = 1.0) -> settings:
    """Hypothesis settings for a fuzz test that takes `share` of its adapter's inputs."""
    return settings(
        max_examples=max(1, int(FUZZ_EXAMPLES_PER_ADAPTER * share)),
        deadline=None,  # shared, noisy machines: time limits would make the fuzz flaky
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
        derandomize=os.environ.get("ECOMOCK_FUZZ_RANDOM") is None,  # reproducible in CI
    )


# What Python reads as a number and no wire allows (issue 8): Unicode digits, signs,
# underscores, exponents, specials, numerals longer than any field's.
ODD_NUMERALS = (
    "²",
    "٣",
    "３",
    "--5",
    "+5",
    "1_0",
    "1e400",
    "1E2",
    "NaN",
    "-Infinity",
    "0x1F",
    "9" * 41,
    "1" * 5000,
)
odd_numerals = st.sampled_from(ODD_NUMERALS) | st.text(
    st.characters(categories=("Nd", "No")), min_size=1, max_size=6
).filter(lambda text: not text.isascii())
# Integers beyond SQLite's signed 64 bits that JSON (orjson) still carries as integers.
huge_integers = st.integers(2**63, 2**64 - 1) | st.just(2**63 - 1) | st.just(-(2**63))
# Text with C0 / C1 control characters (NUL, ESC, DEL, NEL, …) among ordinary ones.
control_text = st.text(
    st.characters(categories=("Cc",)) | st.sampled_from("A1- "), min_size=1, max_size=12
).filter(lambda text: any(not c.isprintable() for c in text))
# Longer than a code (64), a free text (255) or any string field (2,000) may be.
long_text = st.sampled_from((65, 256, 2001, 100_000)).map(lambda size: "x" * size)
hostile_text = odd_numerals | control_text | long_text
hostile_values = hostile_text | huge_integers


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


def fuzz_context(name: str, tmp_path_factory: pytest.TempPathFactory) -> SystemContext:
    """A context for fake `name` that lives as long as a fuzz module: its own folder, a manual
    clock, seed 3."""
    folder = Path(tmp_path_factory.mktemp("fuzz"))
    return SystemContext.create(
        name, folder, ManualClock(), HttpxSender(httpx.AsyncClient()), seed=3
    )
