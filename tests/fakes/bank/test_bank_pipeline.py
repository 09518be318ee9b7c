"""The ISO 20022 adapter on the shared pipeline: a bug's traceback, one route for every path
under /iso20022/, and credit notices as domain events the protocol side renders."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from fake_systems.bank.api.iso20022 import create_app
from fake_systems.bank.models import CreditNotice
from fake_systems.bank.service import CURRENCY, BankService
from fake_systems.common.context import SystemContext
from fake_systems.common.credentials import BankCredentials
from simulator.world import World

pytestmark = pytest.mark.anyio

CREDS = BankCredentials(account="6222000011112222", username="treasury", password="pw-1")
OTHER = BankCredentials(account="6222000033334444", username="treasury-a", password="pw-a")


@pytest.fixture
def bank(make_context: Callable[[str], SystemContext], world: World) -> BankService:
    service = BankService(make_context("bank"), CREDS, tenants=[OTHER])
    service.setup(world)
    return service


def api_events(bank: BankService) -> list[tuple[Any, ...]]:
    rows = bank.ctx.conn.execute(
        "SELECT operation, outcome, payload FROM events WHERE kind = 'api_in' ORDER BY seq"
    )
    return [tuple(row) for row in rows]


async def test_a_bug_is_logged_with_its_traceback_and_answered_503(
    bank: BankService,
    asgi_client: Callable[[object], httpx.AsyncClient],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def explode(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr(bank, "login", explode)
    client = asgi_client(create_app(bank, CREDS))
    with caplog.at_level(logging.ERROR, logger="fake_systems.common.pipeline"):
        response = await client.post(
            "/iso20022/login", json={"account": CREDS.account, "password": "pw-1", "otp": "1"}
        )
    assert response.status_code == 503
    assert response.json()["tppMessages"][0]["code"] == "SERVICE_UNAVAILABLE"
    assert "boom" not in response.text
    assert any(record.exc_info for record in caplog.records)
    ((operation, outcome, payload),) = api_events(bank)
    assert (operation, outcome) == ("login", "SERVICE_UNAVAILABLE")
    assert '"error":"RuntimeError"' in payload and "pw-1" not in payload


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        ("GET", "/iso20022/login", 404, "RESOURCE_UNKNOWN"),
        ("POST", "/iso20022/pain.002/M1", 404, "RESOURCE_UNKNOWN"),
        ("DELETE", "/iso20022/pain.001", 404, "RESOURCE_UNKNOWN"),
        ("HEAD", "/iso20022/pain.002/M1", 405, "SERVICE_INVALID"),
        ("GET", "/iso20022/pain.002/M1", 401, "TOKEN_INVALID"),
        ("GET", "/iso20022/camt.053/statements", 401, "TOKEN_INVALID"),
    ],
)
async def test_each_method_and_path_reaches_its_operation_or_none(
    bank: BankService,
    asgi_client: Callable[[object], httpx.AsyncClient],
    method: str,
    path: str,
    status: int,
    code: str,
) -> None:
    response = await asgi_client(create_app(bank, CREDS)).request(method, path)
    assert response.status_code == status
    if method != "HEAD":
        assert response.json()["tppMessages"][0]["code"] == code
    assert api_events(bank)[-1][1] == code


def test_a_credit_is_a_domain_event_the_service_does_not_render(bank: BankService) -> None:
    notices: list[CreditNotice] = []
    bank.credit_notices = notices.append
    bank.book(100, "CRDT", "E0", "before a URL is given")  # nobody asked to be told
    bank.notification_callback_url = "http://connector/notices"
    bank.book(200, "DBIT", "E1", "a debit")
    bank.book(300, "CRDT", "E2", "a credit on another account", account=OTHER.account)
    entry = bank.book(400, "CRDT", "E3", "the connector's credit")
    assert notices == [CreditNotice(entry, CURRENCY, "http://connector/notices")]
    assert bank.ctx.dispatcher.in_flight == 0  # nothing was rendered or pushed by the service
