"""The carrier with its default travel times and its Kdniao app, as the adapter's tests use them."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from fake_systems.carrier.api.kdniao import create_app
from fake_systems.carrier.models import CarrierConfig
from fake_systems.carrier.service import CarrierService
from fake_systems.common.context import SystemContext
from simulator.world import World
from tests.support.carrier import CREDENTIALS


@pytest.fixture
def carrier(make_context: Callable[[str], SystemContext], world: World) -> CarrierService:
    service = CarrierService(make_context("carrier"), CREDENTIALS, CarrierConfig())
    service.setup(world)
    return service


@pytest.fixture
def client(
    carrier: CarrierService, asgi_client: Callable[[object], httpx.AsyncClient]
) -> httpx.AsyncClient:
    return asgi_client(create_app(carrier, CREDENTIALS))
