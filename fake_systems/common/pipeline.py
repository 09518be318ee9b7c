"""One request pipeline for every protocol endpoint of every fake.

    read the body (size limit) → parse it (pure; off the event loop when big) → name the
    operation → authenticate, freshness / replay, owner scope → a fault before the work →
    one transaction (service call + its history row) → encode the answer in the protocol's
    format → a fault after the commit

A protocol adapter declares its codec, its authentication and a table of operations
(`Protocol`); it never writes this sequence again. Parsing comes first so that a big body is
read in a worker thread, but its refusal waits its turn: a malformed body from an unknown
caller is refused as unknown, as the real systems do. Refusals are `WireError`s carrying their
wire code; anything unexpected is logged with its traceback and answered in the protocol's
own system-error format, never a bare 500.

Faults (docs/CHAOS.md) hit calls the fake would serve: a proven caller, an operation it has,
a body it accepts. Before the work (`Stage.BEFORE`) a rule delays the call or answers in its
place, recorded as a `fault` row only; after the commit (`Stage.AFTER`) it spoils the answer
of work that is done. Which refusal a protocol gives is its `transient_refusal`; what goes
wrong on the wire is `broken`'s.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from fake_systems.common import broken
from fake_systems.common.context import SystemContext
from fake_systems.common.faults import FaultRule, Stage
from fake_systems.common.gateway import Flavour, gateway_page
from fake_systems.common.scope import OwnerScope
from fake_systems.common.storage import transaction

logger = logging.getLogger(__name__)

# What the history keeps of a body that never parsed: enough to diagnose, not to bloat.
UNPARSED_BODY_PREFIX = 2000
# Bodies from this size up are read (parsed, checked) in a worker thread, so that one big
# request does not hold the event loop, which serves all five fakes.
OFF_LOOP_BYTES = 64 * 1024
# The gateway statuses of the http_* fault kinds.
HTTP_FAULTS = {
    "http_500": 500,
    "http_502": 502,
    "http_503": 503,
    "http_504": 504,
    "http_429": 429,
}
# Defaults of the kinds' parameters, in wall seconds: a hang outlasts the usual client
# timeouts (the Qimen SDK reads for 30 s), a slow answer stays under them.
HANG_SECONDS = 30.0
SLOW_SECONDS = 3.0
RETRY_AFTER_SECONDS = 1
LATENCY_CAP_SECONDS = 120.0  # a lognormal tail may not hold a request for ever


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
    # The server in front of the real system, whose pages the http_5xx faults answer.
    gateway: Flavour = "nginx"
    # The fault kinds whose refusal tells the caller how long to wait (`retry_after(rule)`
    # seconds); their fault rows record it, for the judge's respects_retry_after.
    waiting_refusals: frozenset[str] = frozenset({"http_429"})

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

    def transient_refusal(self, call: Call, rule: FaultRule) -> Response | WireError | None:
        """The answer a fault `rule` of the BEFORE stage gives in place of the work, or None
        where the protocol has no such refusal for this call (the call is then served).

        Here: the gateway's pages (`http_500`…`http_504`, `http_429` with `Retry-After`).
        Protocols add their own kinds (`busy`, `rate_limited`, `session_expired`,
        `rejected`) in their own format and defer to this for the rest.
        """
        status = HTTP_FAULTS.get(rule.kind)
        if status is None:
            return None
        headers = None
        if status == 429:
            headers = {"Retry-After": str(retry_after(rule))}
        return gateway_page(status, self.gateway, headers)


class Pipeline:
    """Runs every request of one protocol through the same stages."""

    def __init__(self, protocol: Protocol, ctx: SystemContext) -> None:
        self.protocol = protocol
        self.ctx = ctx

    async def respond(self, inbound: Inbound) -> Response:
        """Answer one request: parse its body (in a worker thread when big), admit the
        call, play a fault before the work, do the work, play a fault after the commit.
        Never raises for what the caller sent."""
        parsed: Any = None
        if not inbound.too_large:
            if len(inbound.body) < OFF_LOOP_BYTES:
                parsed = self._parse(inbound)
            else:
                parsed = await asyncio.to_thread(self._parse, inbound)
        call = Call(inbound, "unknown", parsed=parsed)
        refused = self._admit(call)
        if refused is not None:
            return refused
        rule = self._fault(call, Stage.BEFORE)
        if rule is not None:
            early = await self._before_work(call, rule)
            if early is not None:
                return early
        answer, done = self._work(call)
        rule = self._fault(call, Stage.AFTER) if done else None
        if rule is None:
            return answer
        self._record_fault(call, rule)
        return self._after_commit(call, rule, answer)

    def _parse(self, inbound: Inbound) -> Any:
        try:
            return self.protocol.parse(inbound)
        except WireError as error:
            return error  # answered in its turn, after the caller is known

    def _admit(self, call: Call) -> Response | None:
        """Name the operation, prove the caller, decode the payload; the refusal, if any."""
        protocol = self.protocol
        try:
            call.operation = protocol.operation_of(call)
            if call.inbound.too_large:
                raise protocol.too_large(call)
            call.caller = protocol.authenticate(call)
            if call.operation not in protocol.operations:
                raise protocol.unknown_operation(call)
            if isinstance(call.parsed, WireError):
                raise call.parsed
            call.data = protocol.decode(call)
        except Exception as failure:
            return self._refuse(call, failure)
        return None

    def _work(self, call: Call) -> tuple[Response, bool]:
        """The handler and the history row in one transaction, then the encoded answer;
        whether the work committed."""
        protocol = self.protocol
        try:
            # The request's history row commits with its effects: all or nothing.
            with transaction(self.ctx.conn):
                result = protocol.operations[call.operation](call)
                self._record(call, call.outcome)
            return protocol.encode(call, result), True
        except Exception as failure:
            return self._refuse(call, failure), False

    def _refuse(self, call: Call, failure: Exception) -> Response:
        """A WireError answered and recorded with its code; anything else is a bug of the
        fake, logged and answered in the protocol's system-error format."""
        protocol = self.protocol
        if isinstance(failure, WireError):
            self._record_refusal(call, failure.code, failure.message)
            return protocol.encode_error(call, failure)
        logger.error("%s %s failed", protocol.system, call.operation, exc_info=failure)
        internal = protocol.internal_error(call, failure)
        self._record_refusal(call, internal.code, "internal error")
        return protocol.encode_error(call, internal)

    def _fault(self, call: Call, stage: Stage) -> FaultRule | None:
        return self.ctx.faults.pick(
            self.protocol.system, call.operation, stage, self.ctx.clock.now()
        )

    def _record_fault(self, call: Call, rule: FaultRule) -> None:
        payload: dict[str, int] = self.ctx.faults.tag(rule)
        if rule.kind in self.protocol.waiting_refusals:
            payload = {**payload, "retry_after": retry_after(rule)}
        self.ctx.history.record("fault", call.operation, rule.kind, call.entity, payload or None)

    async def _before_work(self, call: Call, rule: FaultRule) -> Response | None:
        """Play a BEFORE fault: a delay (then None: the work goes on), a dropped connection,
        or the protocol's refusal. Nothing of the call's work is done."""
        if rule.kind == "latency":
            self._record_fault(call, rule)
            await asyncio.sleep(latency_seconds(rule, self.ctx.faults.dice(rule)))
            return None
        if rule.kind in ("reset_before", "outage"):
            self._record_fault(call, rule)
            return broken.Reset()
        try:
            refusal = self.protocol.transient_refusal(call, rule)
        except Exception as failure:  # a bug of the fake's refusal: still no 500
            return self._refuse(call, failure)
        if refusal is None:
            return None  # nothing of the kind here: the call is served
        self._record_fault(call, rule)
        if isinstance(refusal, WireError):
            return self.protocol.encode_error(call, refusal)
        return refusal

    def _after_commit(self, call: Call, rule: FaultRule, answer: Response) -> Response:
        """Spoil the answer of committed work as `rule` says."""
        seconds = rule.params.get("seconds")
        match rule.kind:
            case "hang":
                return broken.Hang(HANG_SECONDS if seconds is None else float(seconds))
            case "reset_after":
                return broken.Reset()
            case "empty_answer":
                return broken.empty(answer)
            case "truncated_answer":
                return broken.Truncated(answer)
            case "malformed_answer":
                return broken.malformed(answer)
            case "slow_answer":
                return broken.Slow(answer, SLOW_SECONDS if seconds is None else float(seconds))
            case _:
                return self.protocol.lost_response(call)

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


def latency_seconds(rule: FaultRule, dice: random.Random) -> float:
    """A `latency` rule's delay in wall seconds: `distribution` fixed (`seconds`), uniform
    (`low`, `high`) or lognormal (`median`, `sigma`), capped at LATENCY_CAP_SECONDS."""
    params = rule.params
    distribution = params.get("distribution", "fixed")
    if distribution == "uniform":
        delay = dice.uniform(float(params["low"]), float(params["high"]))
    elif distribution == "lognormal":
        delay = float(params["median"]) * math.exp(float(params.get("sigma", 0.5)) * dice.gauss())
    else:
        delay = float(params.get("seconds", 1.0))
    return min(max(delay, 0.0), LATENCY_CAP_SECONDS)


def retry_after(rule: FaultRule) -> int:
    """The seconds an `http_429` or `rate_limited` rule asks the caller to wait."""
    return int(rule.params.get("retry_after", RETRY_AFTER_SECONDS))


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
