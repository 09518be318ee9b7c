"""The /_fake/ control surface has an OpenAPI document, and Schemathesis finds it true."""

from __future__ import annotations

import tempfile
from pathlib import Path

import httpx
import schemathesis
from hypothesis import HealthCheck, settings
from starlette.types import ASGIApp

from fake_systems.common.context import SystemContext
from fake_systems.common.credentials import OmsCredentials
from fake_systems.common.webhooks import HttpxSender
from fake_systems.oms.api import wdt
from fake_systems.oms.service import OmsService
from simulator.clock import ManualClock
from simulator.world import build_world


def oms_app() -> ASGIApp:
    """One fake with a seeded world; every fake shares the same control router."""
    run_dir = Path(tempfile.mkdtemp(prefix="ecomock-control-"))
    ctx = SystemContext.create(
        "oms", run_dir, ManualClock(), HttpxSender(httpx.AsyncClient()), seed=1
    )
    service = OmsService(ctx, OmsCredentials())
    service.setup(build_world(1, sku_count=5, customer_count=5))
    return wdt.create_app(service, OmsCredentials())


schema = schemathesis.openapi.from_asgi("/_fake/openapi.json", oms_app()).include(
    path_regex="^/_fake/"
)


@schema.parametrize()
@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
def test_control_surface_conforms_to_its_openapi(case: schemathesis.Case) -> None:
    case.call_and_validate()
