"""The /_fake/ control surface: loopback peers only without a token, the bearer token with one;
`ecomock up --host` beyond loopback generates a token and writes it to endpoints.json."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import APIRouter
from fastapi.responses import Response
from starlette.types import ASGIApp
from typer.testing import CliRunner

from fake_systems.common.app import ControlGuard, control_token_for, is_loopback, make_app
from fake_systems.common.context import SystemContext
from simulator import cli
from simulator.runner import serve_fakes
from simulator.scenario import load_scenario
from tests.support.paths import SMOKE

TOKEN = "s3cret-control-token"
REMOTE_PEER = ("203.0.113.9", 40000)  # TEST-NET-3: a peer that is not this machine
LOCAL_PEER = ("127.0.0.1", 40000)

pytestmark = pytest.mark.anyio


@pytest.fixture
def fake_app(make_context: Callable[[str], SystemContext]) -> ASGIApp:
    """A fake's app with one protocol path (`/ping`) beside the shared /_fake/ routes."""
    ctx = make_context("oms")
    ctx.history.record("api_in", "TradeQuery", "ok", "T-SECRET-1", {"owner": "OWNER-A"})
    router = APIRouter()

    @router.get("/ping")
    def ping() -> dict[str, str]:
        return {"pong": "yes"}

    def on_error(request: object, exc: Exception) -> Response:
        return Response(status_code=400)

    def on_unrouted(request: object, status: int) -> Response:
        return Response(status_code=status)

    return make_app("oms", ctx.clock, ctx.conn, [router], on_error, on_unrouted=on_unrouted)


@asynccontextmanager
async def client_from(
    app: ASGIApp, token: str | None, peer: tuple[str, int]
) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=ControlGuard(app, token), client=peer)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://fake") as client:
        yield client


def assert_refused(response: httpx.Response) -> None:
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["error"] == "unauthorized"
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert "T-SECRET-1" not in response.text


async def test_without_token_loopback_peers_read_the_history(fake_app: ASGIApp) -> None:
    async with client_from(fake_app, None, LOCAL_PEER) as client:
        response = await client.get("/_fake/events")
    assert response.status_code == 200
    assert response.json()[0]["entity"] == "T-SECRET-1"


async def test_without_token_a_remote_peer_is_refused_on_every_control_path(
    fake_app: ASGIApp,
) -> None:
    async with client_from(fake_app, None, REMOTE_PEER) as client:
        for path in ("/_fake/events", "/_fake/clock", "/_fake/openapi.json", "/_FAKE/events"):
            assert_refused(await client.get(path))
        # the imitated protocol stays open: it checks its own signatures
        assert (await client.get("/ping")).json() == {"pong": "yes"}


async def test_with_token_every_peer_needs_the_bearer_token(fake_app: ASGIApp) -> None:
    for peer in (LOCAL_PEER, REMOTE_PEER):
        async with client_from(fake_app, TOKEN, peer) as client:
            assert_refused(await client.get("/_fake/events"))
            for wrong in (f"Bearer {TOKEN}x", f"Basic {TOKEN}", TOKEN, "Bearer "):
                assert_refused(await client.get("/_fake/events", headers={"Authorization": wrong}))
            granted = await client.get(
                "/_fake/events", headers={"Authorization": f"Bearer {TOKEN}"}
            )
            assert granted.status_code == 200
            assert granted.json()[0]["entity"] == "T-SECRET-1"
            assert (await client.get("/ping")).status_code == 200


def test_a_token_is_generated_only_beyond_loopback() -> None:
    for host in ("127.0.0.1", "127.0.0.53", "::1", "localhost"):
        assert is_loopback(host)
        assert control_token_for(host, None) is None
    for host in ("0.0.0.0", "::", "192.168.1.20", "fakes.example"):
        assert not is_loopback(host)
        first, second = control_token_for(host, None), control_token_for(host, None)
        assert first and second and first != second and len(first) >= 32
    assert control_token_for("127.0.0.1", TOKEN) == TOKEN
    assert control_token_for("0.0.0.0", TOKEN) == TOKEN


async def test_served_fakes_require_the_token_written_to_endpoints(tmp_path: Path) -> None:
    scenario = load_scenario(SMOKE)
    async with (
        serve_fakes(scenario, tmp_path, control_token=TOKEN),
        httpx.AsyncClient(timeout=5) as client,
    ):
        endpoints = json.loads((tmp_path / "endpoints.json").read_text())
        for system, entry in endpoints.items():
            assert entry["control_token"] == TOKEN, system
            assert entry["url"].startswith("http://127.0.0.1:")
            refused = await client.get(entry["url"] + "/_fake/events")
            assert_refused(refused)
            granted = await client.get(
                entry["url"] + "/_fake/clock", headers={"Authorization": f"Bearer {TOKEN}"}
            )
            assert granted.status_code == 200
            assert granted.json()["system"] == system


@pytest.fixture
def recorded_up(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """`ecomock up` with serve_fakes replaced: records its arguments and stops at once."""
    seen: dict[str, Any] = {}

    @asynccontextmanager
    async def stopped_at_once(
        scenario: object, out: Path, host: str = "127.0.0.1", control_token: str | None = None
    ) -> AsyncIterator[None]:
        seen.update(host=host, control_token=control_token)
        raise KeyboardInterrupt
        yield  # pragma: no cover - makes this a generator

    monkeypatch.setattr(cli, "serve_fakes", stopped_at_once)
    yield seen


def test_up_passes_host_and_token_from_option_or_environment(
    recorded_up: dict[str, Any], tmp_path: Path
) -> None:
    runner = CliRunner()
    args = ["up", "--out", str(tmp_path), "--scenario", str(SMOKE), "--host", "0.0.0.0"]
    result = runner.invoke(cli.app, args, env={"ECOMOCK_CONTROL_TOKEN": TOKEN})
    assert result.exit_code == 0, result.output
    assert recorded_up == {"host": "0.0.0.0", "control_token": TOKEN}
    result = runner.invoke(cli.app, [*args, "--control-token", "other"])
    assert recorded_up == {"host": "0.0.0.0", "control_token": "other"}
    result = runner.invoke(cli.app, args[:5], env={"ECOMOCK_CONTROL_TOKEN": ""})
    assert result.exit_code == 0, result.output
    assert recorded_up["host"] == "127.0.0.1"
