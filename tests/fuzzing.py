"""Settings for the adapters' fuzz tests: 2,000 inputs per adapter, more under make fuzz."""

from __future__ import annotations

import os

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
