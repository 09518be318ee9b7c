"""The bank and its ISO 20022 app (with a tenant), and a session to post XML in, as the
adapter's tests share them."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from fake_systems.bank.api.iso20022 import create_app
from fake_systems.bank.service import BankService
from fake_systems.common.context import SystemContext
from simulator.clock import ManualClock
from simulator.world import World
from tests.support.bank import CREDENTIALS, TENANT, session


@pytest.fixture
def bank(make_context: Callable[[str], SystemContext], world: World) -> BankService:
    service = BankService(make_context("bank"), CREDENTIALS)
    service.setup(world)
    return service


@pytest.fixture
def client(
    bank: BankService, asgi_client: Callable[[object], httpx.AsyncClient]
) -> httpx.AsyncClient:
    return asgi_client(create_app(bank, CREDENTIALS, tenants=[TENANT]))


@pytest.fixture
async def auth(client: httpx.AsyncClient, clock: ManualClock) -> dict[str, str]:
    """The headers of a fresh session, for posting pain.001 XML."""
    return {**await session(client, clock), "Content-Type": "application/xml"}
