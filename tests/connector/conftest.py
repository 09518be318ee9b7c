"""Scripted peers behind an HTTP client, and a connector state store in a temporary folder."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from connectors.reference.clients.http import HttpClient, HttpxClient
from connectors.reference.store import StateStore
from tests.support.connector import Peers4


@pytest.fixture
def peers() -> Peers4:
    return Peers4()


@pytest.fixture
async def http(peers: Peers4) -> AsyncIterator[HttpClient]:
    async with httpx.AsyncClient(transport=httpx.MockTransport(peers.handler)) as client:
        yield HttpxClient(client)


@pytest.fixture
def store(tmp_path: Path) -> StateStore:
    return StateStore(tmp_path / "connector.db")
