"""One request pipeline for every protocol endpoint of every fake.

    read the body (size limit) → parse it (pure; off the event loop when big) → name the
    operation → authenticate, freshness / replay, owner scope → fault decision → one
    transaction (service call + its history row) → encode the answer in the protocol's format

A protocol adapter declares its codec, its authentication and a table of operations
(`Protocol`); it never writes this sequence again. Parsing comes first so that a big body is
read in a worker thread, but its refusal waits its turn: a malformed body from an unknown
caller is refused as unknown, as the real systems do. Refusals are `WireError`s carrying their
wire code; anything unexpected is logged with its traceback and answered in the protocol's
own system-error format, never a bare 500.
"""

from __future__ import annotations

import asyncio
import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from fake_systems.common.context import SystemContext
from fake_systems.common.faults import Stage
from fake_systems.common.scope import OwnerScope
from fake_systems.common.storage import transaction

logger = logging.getLogger(__name__)

# What the history keeps of a body that never parsed: enough to diagnose, not to bloat.
UNPARSED_BODY_PREFIX = 2000
# Bodies from this size up are read (parsed, checked) in a worker thread, so that one big
# request does not hold the event loop, which serves all five fakes.
OFF_LOOP_BYTES = 64 * 1024


class WireError(Exception):
    """A refusal in the protocol's own terms: its wire code and message (moto's style)."""

    def __init__(self, code: str | int, message: str, *, http_status: int = 200) -> None:
        super().__init__(f"{code}: {message}")
        self.code = str(code)
        self.message = message
        self.http_status = http_status


@dataclass(frozen=True)
class Inbound:
    """An HTTP request as the pipeline sees it, before anything is trusted."""

    http_method: str
    path: str
    query: Mapping[str, str]
    headers: Mapping[str, str]
    body: bytes
    too_large: bool = False  # the body passed the protocol's limit and was not read


@dataclass
class Caller:
    """Who is calling, once proven: a name for the history and the owner scope."""

    name: str
    scope: OwnerScope = OwnerScope.EVERYONE
    credential: Any = None


@dataclass
class Call:
    """One call on its way through the pipeline; handlers read it and may set `entity`."""

    inbound: Inbound
    operation: str
    parsed: Any = None  # what `Protocol.parse` made of the body, whether or not trusted yet
    caller: Caller | None = None
    data: Any = None  # the payload, once the caller is proven and the body accepted
    entity: str | None = None
    record: dict[str, Any] = field(default_factory=dict)  # extra fields for the history row
    # The history outcome of an answered call: a handler may say "partial" (a batch whose
    # answer reports refused items) where the protocol records more than ok.
    outcome: str = "ok"

    @property
    def scope(self) -> OwnerScope:
        return self.caller.scope if self.caller else OwnerScope.EVERYONE


Handler = Callable[[Call], Any]


class Protocol(ABC):
    """What a protocol adapter declares; the pipeline does the rest."""

    system: str
    max_body_bytes: int
    operations: Mapping[str, Handler]

    def parse(self, inbound: Inbound) -> Any:
        """What the body says, before anything is trusted; runs in a worker thread for big
        bodies, so it must be pure (no service, no database). Raise WireError if malformed."""
        return inbound.body

    @abstractmethod
    def operation_of(self, call: Call) -> str:
        """The operation's name for the history, readable before anything is checked."""

    @abstractmethod
    def authenticate(self, call: Call) -> Caller:
        """Prove the caller (signature, key, session) and check freshness; WireError if not."""

    def decode(self, call: Call) -> Any:
        """The payload handlers get, from `call.parsed`; WireError when it is not acceptable."""
        return call.parsed

    @abstractmethod
    def encode(self, call: Call, result: Any) -> Response:
        """The protocol's success answer for a handler's result."""

    @abstractmethod
    def encode_error(self, call: Call, error: WireError) -> Response:
        """The protocol's failure answer."""

    @abstractmethod
    def too_large(self, call: Call) -> WireError:
        """The refusal of a body over `max_body_bytes` (it may depend on the operation: K3
        refuses a login's as a failed login)."""

    @abstractmethod
    def unknown_operation(self, call: Call) -> WireError:
        """The refusal of an operation this endpoint does not serve."""

    @abstractmethod
    def internal_error(self, call: Call, error: Exception) -> WireError:
        """The protocol's system-error answer to `error`, a bug of the fake, during `call`
        (K3's names the failure's type; never internals beyond that)."""

    def history_payload(self, call: Call) -> Any:
        """What the history keeps of the request (personal data is masked by History)."""
        body: Any = call.data
        if body is None and call.caller is not None and isinstance(call.parsed, dict | list):
            body = call.parsed
        if body is None:
            # Unproven or unparsed: a prefix, so a stranger cannot fill the history.
            body = call.inbound.body[:UNPARSED_BODY_PREFIX].decode("utf-8", errors="replace")
        return {"query": dict(call.inbound.query), "body": body, **call.record}

    def lost_response(self, call: Call) -> Response:
        """What the caller sees when the answer is lost after the commit: a gateway timeout."""
        return Response(b"504 Gateway Time-out", status_code=504, media_type="text/plain")


class Pipeline:
    """Runs every request of one protocol through the same stages."""

    def __init__(self, protocol: Protocol, ctx: SystemContext) -> None:
        self.protocol = protocol
        self.ctx = ctx

    async def respond(self, inbound: Inbound) -> Response:
        """Parse the body (in a worker thread when big), then answer on the event loop."""
        parsed: Any = None
        if not inbound.too_large:
            if len(inbound.body) < OFF_LOOP_BYTES:
                parsed = self._parse(inbound)
            else:
                parsed = await asyncio.to_thread(self._parse, inbound)
        return self.handle(inbound, parsed)

    def _parse(self, inbound: Inbound) -> Any:
        try:
            return self.protocol.parse(inbound)
        except WireError as error:
            return error  # answered in its turn, after the caller is known

    def handle(self, inbound: Inbound, parsed: Any = None) -> Response:
        """Answer one request whose body `parse` read; never raises for what the caller sent."""
        protocol = self.protocol
        call = Call(inbound, "unknown", parsed=parsed)
        try:
            call.operation = protocol.operation_of(call)
            if inbound.too_large:
                raise protocol.too_large(call)
            call.caller = protocol.authenticate(call)
            handler = protocol.operations.get(call.operation)
            if handler is None:
                raise protocol.unknown_operation(call)
            if isinstance(call.parsed, WireError):
                raise call.parsed
            call.data = protocol.decode(call)
            # The request's history row commits with its effects: all or nothing.
            with transaction(self.ctx.conn):
                result = handler(call)
                self._record(call, call.outcome)
            answer = protocol.encode(call, result)
        except WireError as error:
            self._record_refusal(call, error.code, error.message)
            return protocol.encode_error(call, error)
        except Exception as failure:
            logger.exception("%s %s failed", protocol.system, call.operation)
            internal = protocol.internal_error(call, failure)
            self._record_refusal(call, internal.code, "internal error")
            return protocol.encode_error(call, internal)
        fault = self.ctx.faults.pick(
            protocol.system, call.operation, Stage.AFTER, self.ctx.clock.now()
        )
        if fault is not None:
            self.ctx.history.record("fault", call.operation, fault.kind, call.entity)
            if fault.kind == "lost_response":
                return protocol.lost_response(call)
            # The other kinds of this stage are issue 10's (docs/CHAOS.md); until each is
            # played, its hit is recorded and the answer goes out as it is.
        return answer

    def _record(self, call: Call, outcome: str, message: str | None = None) -> None:
        payload = self.protocol.history_payload(call)
        if message is not None and isinstance(payload, dict):
            payload = {**payload, "message": message}
        self.ctx.history.record("api_in", call.operation, outcome, call.entity, payload)

    def _record_refusal(self, call: Call, code: str, message: str) -> None:
        try:
            self._record(call, code, message)
        except Exception:
            # The history itself may be what failed; the answer matters more than the record.
            logger.exception("%s: could not record a refusal", self.protocol.system)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The pipeline as a plain ASGI endpoint: no framework work on the hot path."""
        body, too_large = await read_capped(receive, self.protocol.max_body_bytes, scope)
        if body is None:
            return  # the client left mid-body: nobody to answer, nothing to record
        headers = {
            key.decode("latin-1").lower(): value.decode("latin-1")
            for key, value in scope.get("headers", ())
        }
        inbound = Inbound(
            http_method=scope["method"],
            path=scope["path"],
            query=query_params(scope),
            headers=headers,
            body=body,
            too_large=too_large,
        )
        await (await self.respond(inbound))(scope, receive, send)


def query_params(scope: Scope) -> dict[str, str]:
    """The query string as a dict (the last value wins, as Starlette's QueryParams does)."""
    raw = scope.get("query_string", b"").decode("latin-1")
    return dict(parse_qsl(raw, keep_blank_values=True))


async def read_capped(receive: Receive, limit: int, scope: Scope) -> tuple[bytes | None, bool]:
    """The body, or (b"", True) as soon as it exceeds `limit` bytes (the rest is not kept),
    or (None, False) when the client disconnects before the body is whole."""
    for key, value in scope.get("headers", ()):
        if key.lower() == b"content-length" and value.isdigit() and int(value) > limit:
            return b"", True
    chunks: list[bytes] = []
    size = 0
    more = True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None, False
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return b"", True
        chunks.append(chunk)
        more = message.get("more_body", False)
    return b"".join(chunks), False


def pipelines_in(app: object) -> tuple[Pipeline, ...]:
    """The pipelines a fake's app (`make_app`) serves on its protocol paths."""
    return tuple(getattr(app, "pipelines", ()))
