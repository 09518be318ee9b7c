"""Builds one fake's ASGI app: its protocol routers, the /_fake/ control surface, the clock hook."""

from __future__ import annotations

import ipaddress
import secrets
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from fastapi import APIRouter, Body, FastAPI, Path, Query, Request
from fastapi.exception_handlers import (
    http_exception_handler,
    request_validation_exception_handler,
)
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect
from starlette.routing import Match, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from fake_systems.common.faults import FaultInjector
from fake_systems.common.pipeline import Pipeline
from fake_systems.common.signing import constant_time_equal
from simulator.clock import Clock, format_qimen_time
from simulator.scenario import FaultSettings

SQLITE_MAX_INTEGER = 2**63 - 1
ErrorResponder = Callable[[Request, Exception], Response]
# (request, HTTP status: 404 no such path, 405 no such method on it) -> the protocol's answer
UnroutedResponder = Callable[[Request, int], Response]


class CatchUpClock:
    """ASGI front of a fake: before a request touches the world, the world catches up to now;
    then a protocol request goes straight to its pipeline, everything else to FastAPI.

    The pipelines answer every outcome themselves, so FastAPI's middleware, routing and
    exception handlers only cost time on their path (about 6 % of the fakes' busy CPU, by
    py-spy on load/bench/capacity.py). A path or method the protocol routes do not match
    fully still goes to FastAPI, whose `on_unrouted` answers 404/405 in the protocol's format.
    """

    def __init__(self, app: ASGIApp, clock: Clock, routes: Sequence[Route] = ()) -> None:
        self.app = app
        self.clock = clock
        self.routes = tuple(routes)
        # the protocol endpoints, for the operation catalogue
        self.pipelines = tuple(
            route.endpoint for route in self.routes if isinstance(route.endpoint, Pipeline)
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            self.clock.catch_up()
            # /_fake/ is ecomock's own, whatever a protocol's catch-all path (K3's `/{stub}`
            # would take a POST to /_fake/faults for a K3 service).
            if _is_control_path(scope["path"]):
                await self.app(scope, receive, send)
                return
            for route in self.routes:
                match, child_scope = route.matches(scope)
                if match is Match.FULL:
                    scope.update(child_scope)
                    await route.handle(scope, receive, send)
                    return
        await self.app(scope, receive, send)


CONTROL_PREFIX = "/_fake"
CONTROL_TOKEN_ENV = "ECOMOCK_CONTROL_TOKEN"


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and `localhost`; False for any other name or address."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def control_token_for(host: str, given: str | None) -> str | None:
    """The token /_fake/ requires: the one given, else a fresh one when `host` is reachable
    from other machines, else None (loopback only: a local development surface)."""
    if given:
        return given
    return None if is_loopback(host) else secrets.token_urlsafe(32)


class ControlGuard:
    """ASGI middleware in front of a served fake: /_fake/ (the clock, every tenant's history)
    answers only a loopback peer while no token is set, and only `Authorization: Bearer
    <token>` once one is. The imitated protocols' paths pass untouched."""

    def __init__(self, app: ASGIApp, token: str | None) -> None:
        self.app = app
        self.token = token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and CONTROL_PREFIX in scope["path"].lower():
            refusal = self._refusal(scope)
            if refusal is not None:
                response = JSONResponse(
                    {"error": "unauthorized", "detail": refusal},
                    status_code=401,
                    headers={"WWW-Authenticate": 'Bearer realm="ecomock-control"'},
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def _refusal(self, scope: Scope) -> str | None:
        if self.token is None:
            peer = scope.get("client")
            if peer is not None and is_loopback(str(peer[0])):
                return None
            return "the control surface answers loopback peers only"
        headers = dict(scope.get("headers") or [])
        sent = headers.get(b"authorization", b"").decode("latin-1")
        scheme, _, token = sent.partition(" ")
        if scheme.lower() == "bearer" and constant_time_equal(token.strip(), self.token):
            return None
        return "Authorization: Bearer <control token> required (endpoints.json: control_token)"


def control_router(system: str, clock: Clock, conn: sqlite3.Connection) -> APIRouter:
    """`/_fake/…`: outside the imitated API; tells the time and shows the history."""
    router = APIRouter(prefix="/_fake", tags=["control"])

    @router.get("/clock", summary="Simulated now and the scale factor")
    def read_clock() -> dict[str, Any]:
        return {
            "system": system,
            "now": clock.now().isoformat(),
            "now_text": format_qimen_time(clock.now()),
            "sim_seconds": clock.sim_seconds(),
            "scale": clock.scale,
        }

    @router.get("/health", summary="Liveness")
    def health() -> dict[str, str]:
        return {"system": system, "status": "ok"}

    @router.get("/events", summary="The history, oldest first, after a sequence number")
    def events(
        after: int = Query(0, ge=0, le=SQLITE_MAX_INTEGER),
        limit: int = Query(100, ge=1, le=1000),
    ) -> list[dict[str, Any]]:
        rows = conn.execute(
            "SELECT * FROM events WHERE seq > ? ORDER BY seq LIMIT ?", (after, limit)
        ).fetchall()
        return [dict(row) for row in rows]

    return router


FAULT_EXAMPLE = {
    "system": "wms",
    "operation": "deliveryorder.create",
    "kind": "http_503",
    "rate": 0.1,
    "from": "10m",
    "until": "40m",
}


def fault_router(
    system: str, injector: Callable[[], FaultInjector], context: Mapping[str, Any]
) -> APIRouter:
    """`/_fake/faults`: the fault rules in force on this fake, added and removed live.

    `injector` gives the fake's own injector when asked (tests swap it); `context` is the
    validation context of `FaultSettings` (the fake's requests and pushes), so a rule added
    here is checked exactly as a scenario's `faults:` entry is.
    """
    router = APIRouter(prefix="/_fake", tags=["control"])

    @router.get(
        "/faults", summary="The fault rules in force, with how often each matched and fired"
    )
    def list_faults() -> list[dict[str, Any]]:
        return injector().listing()

    @router.post(
        "/faults",
        status_code=201,
        summary="Add a fault rule: the fields of a scenario's `faults:` entry",
        responses={422: {"description": "the rule is refused; `loc` names the field"}},
    )
    def add_fault(
        entry: dict[str, Any] = Body(..., examples=[FAULT_EXAMPLE]),  # noqa: B008
    ) -> dict[str, Any]:
        fields = {"system": system, **entry}
        try:
            settings = FaultSettings.model_validate(fields, context=context)
        except ValidationError as exc:
            raise RequestValidationError(
                [
                    {
                        "loc": ("body", *error["loc"]),
                        "msg": error["msg"].removeprefix("Value error, "),
                        "type": error["type"],
                    }
                    for error in exc.errors()
                ]
            ) from exc
        if settings.system != system:
            raise RequestValidationError(
                [
                    {
                        "loc": ("body", "system"),
                        "msg": f"this is the {system} fake: add {settings.system} faults on"
                        f" the {settings.system} fake",
                        "type": "value_error",
                    }
                ]
            )
        faults = injector()
        rule_id = faults.add(settings.rule())
        return next(rule for rule in faults.listing() if rule["id"] == rule_id)

    @router.delete(
        "/faults/{rule_id}",
        summary="Remove a fault rule by its id",
        responses={404: {"description": "no rule with this id on this fake"}},
    )
    def remove_fault(
        rule_id: int = Path(ge=1, le=SQLITE_MAX_INTEGER),
    ) -> dict[str, Any]:
        faults = injector()
        listed = [rule for rule in faults.listing() if rule["id"] == rule_id]
        if not listed or not faults.remove(rule_id):
            raise HTTPException(404, f"no fault rule {rule_id} on the {system} fake")
        return listed[0]

    return router


def add_control_router(app: ASGIApp, router: APIRouter) -> None:
    """Mount more of the /_fake/ control surface on a fake that `make_app` built."""
    if not isinstance(app, CatchUpClock) or not isinstance(app.app, FastAPI):
        raise TypeError("add_control_router takes an app built by make_app")
    routes = app.app.router.routes
    before = len(routes)
    app.app.include_router(router)
    # First in line: a protocol's catch-all path (K3's `/{prefix}/{stub}`) must not take them.
    routes[:] = routes[before:] + routes[:before]


def make_app(
    system: str,
    clock: Clock,
    conn: sqlite3.Connection,
    routers: list[APIRouter],
    on_error: ErrorResponder,
    *,
    on_unrouted: UnroutedResponder,
) -> ASGIApp:
    """A fake's app. In the protocol's own format, `on_error` answers anything unforeseen and
    `on_unrouted` a path or HTTP method the protocol does not have; only the /_fake/ control
    surface answers as FastAPI does (`{"detail": …}`)."""
    app = FastAPI(
        title=f"ecomock {system}", docs_url="/_fake/docs", openapi_url="/_fake/openapi.json"
    )
    for router in routers:
        app.include_router(router)
    app.include_router(control_router(system, clock, conn))

    async def protocol_error(request: Request, exc: Exception) -> Response:
        if isinstance(exc, ClientDisconnect):
            # The client left, or was cut for sending too slowly: nobody will read an answer,
            # and it is not the fake's failure.
            return Response(status_code=400)
        return on_error(request, exc)

    async def validation_error(request: Request, exc: Exception) -> Response:
        # The control surface is ecomock's own REST API: it answers as its OpenAPI says (422);
        # only the imitated protocol's paths answer in the protocol's format.
        if _is_control(request) and isinstance(exc, RequestValidationError):
            return await request_validation_exception_handler(request, exc)
        return on_error(request, exc)

    async def unrouted(request: Request, exc: Exception) -> Response:
        if not isinstance(exc, HTTPException):
            return on_error(request, exc)
        if _is_control(request):
            return await http_exception_handler(request, exc)
        return on_unrouted(request, exc.status_code)

    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(HTTPException, unrouted)
    app.add_exception_handler(Exception, protocol_error)
    protocol_routes = [
        route
        for router in routers
        for route in router.routes
        if isinstance(route, Route) and isinstance(route.endpoint, Pipeline)
    ]
    return CatchUpClock(app, clock, protocol_routes)


def _is_control(request: Request) -> bool:
    """Whether the request is for ecomock's own control surface, not the imitated protocol."""
    return _is_control_path(request.url.path)


def _is_control_path(path: str) -> bool:
    return path == CONTROL_PREFIX or path.startswith(CONTROL_PREFIX + "/")
