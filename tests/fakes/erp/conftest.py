"""The ERP and the user it is set up for, as most ERP tests use them; a module may override
`creds` (another password) or `erp`."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from fake_systems.common.context import SystemContext
from fake_systems.common.credentials import K3Credentials
from fake_systems.erp.service import ErpService
from simulator.world import World
from tests.support.erp import CREDS


@pytest.fixture
def creds() -> K3Credentials:
    return CREDS


@pytest.fixture
def erp(
    make_context: Callable[[str], SystemContext], world: World, creds: K3Credentials
) -> ErpService:
    service = ErpService(make_context("erp"), creds)
    service.setup(world)
    return service
