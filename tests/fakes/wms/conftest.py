"""The WMS on the fixed work plan and its Qimen app, as most WMS tests use them; a module may
override either."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from fake_systems.common.context import SystemContext
from fake_systems.wms.api.qimen import create_app
from fake_systems.wms.service import WmsService
from simulator.world import World
from tests.support.wms import CREDS, FIXED


@pytest.fixture
def wms(make_context: Callable[[str], SystemContext], world: World) -> WmsService:
    service = WmsService(make_context("wms"), CREDS, FIXED)
    service.setup(world)
    return service


@pytest.fixture
def client(
    wms: WmsService, asgi_client: Callable[[object], httpx.AsyncClient]
) -> httpx.AsyncClient:
    return asgi_client(create_app(wms, CREDS))
