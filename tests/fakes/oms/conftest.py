"""The OMS and its wdt app, as most OMS tests use them; a module may override either."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from fake_systems.common.context import SystemContext
from fake_systems.oms.api import wdt
from fake_systems.oms.service import OmsService
from simulator.world import World
from tests.support.oms import CREDS


@pytest.fixture
def oms(make_context: Callable[[str], SystemContext], world: World) -> OmsService:
    service = OmsService(make_context("oms"), CREDS)
    service.setup(world)
    return service


@pytest.fixture
def client(
    oms: OmsService, asgi_client: Callable[[object], httpx.AsyncClient]
) -> httpx.AsyncClient:
    return asgi_client(wdt.create_app(oms, CREDS))
