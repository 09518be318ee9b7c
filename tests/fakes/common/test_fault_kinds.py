"""Every request-side fault kind (docs/CHAOS.md), on a write of each fake: what the client
sees on the wire, the history's `fault` row (kind, operation, entity), and the state: left
alone before the work, changed as an answered call changes it after the commit.

Two sites alike are compared (as in test_every_route.py): one plays the fault, its twin
answers the same request plainly; the twin says what the work does and which entity the
call names. Kinds that act on the connection are played over loopback sockets (`served`).
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from lxml import etree

from fake_systems.common.broken import ConnectionDropped
from fake_systems.common.faults import NO_FAULTS, FaultInjector, FaultRule
from fake_systems.common.gateway import IIS_503
from fake_systems.common.pipeline import latency_seconds
from simulator.scenario import ScenarioError, load_scenario
from tests.support import oms
from tests.support.operations import CODE_OF, VALID
from tests.support.site import (
    Site,
    comparable,
    comparable_state,
    history_since,
    last_seq,
    over_socket,
    served,
)

pytestmark = pytest.mark.anyio

# One write per system: the work a fault must leave undone, or done.
WRITES = {
    "oms": oms.SHIP,
    "wms": "deliveryorder.create",
    "erp": "Save",
    "carrier": "1007",
    "bank": "pain.001",
}
SYSTEMS = sorted(WRITES)


@dataclass
class Pair:
    """A site that plays the fault and its twin that answers plainly, each with the valid
    request of `operation` built and waiting."""

    system: str
    operation: str
    faulty: Site
    twin: Site
    request: httpx.Request
    twin_request: httpx.Request
    mark: int = 0
    twin_mark: int = 0

    @property
    def conn(self) -> Any:
        return self.faulty.ecosystem.contexts[self.system].conn

    @property
    def twin_conn(self) -> Any:
        return self.twin.ecosystem.contexts[self.system].conn

    def arm(self, kind: str, **params: Any) -> None:
        """Every call of the operation hits a rule of `kind`, from now on."""
        self.mark, self.twin_mark = last_seq(self.conn), last_seq(self.twin_conn)
        rule = FaultRule(self.system, self.operation, kind, rate=1.0, params=params)  # type: ignore[arg-type]
        self.faulty.ecosystem.contexts[self.system].faults = FaultInjector([rule], seed=1)

    def disarm(self) -> None:
        self.faulty.ecosystem.contexts[self.system].faults = NO_FAULTS

    async def answered(self) -> httpx.Response:
        """The twin's plain answer to the same request."""
        return await self.twin.clients[self.system].send(self.twin_request)

    def twin_entity(self) -> Any:
        """The entity the twin's history names for the call."""
        [row] = [row for row in history_since(self.twin_conn, self.twin_mark) if row[0] == "api_in"]
        return row[2]

    def rows(self) -> list[tuple[Any, ...]]:
        return history_since(self.conn, self.mark)

    def fault_payload(self) -> Any:
        """The payload of the faulty site's latest `fault` row."""
        row = self.conn.execute(
            "SELECT payload FROM events WHERE kind = 'fault' ORDER BY seq DESC LIMIT 1"
        ).fetchone()
        return orjson.loads(row[0])


@pytest.fixture
async def pair(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[Pair]:
    system, operation = request.param
    faulty = Site.open(tmp_path / "faulty")
    twin = Site.open(tmp_path / "twin", faulty.credentials)
    try:
        built = await VALID[system][operation].build(faulty)
        twin_built = await VALID[system][operation].build(twin)
        yield Pair(system, operation, faulty, twin, built, twin_built)
    finally:
        await faulty.close()
        await twin.close()


WRITE_PAIRS = [(system, WRITES[system]) for system in SYSTEMS]


def parametrize_pairs(pairs: list[tuple[str, str]]) -> Any:
    return pytest.mark.parametrize(
        "pair", pairs, ids=[f"{system}:{op}" for system, op in pairs], indirect=True
    )


def assert_nothing_done(pair: Pair, kind: str, before: Any) -> None:
    """A BEFORE fault: one `fault` row naming the call's entity, and no change at all."""
    assert pair.rows() == [("fault", pair.operation, pair.twin_entity(), kind)]
    assert comparable_state(pair.conn) == before


def assert_work_done(pair: Pair, kind: str) -> None:
    """An AFTER fault: the answered call's rows plus one `fault` row; the twin's state."""
    twin_rows = history_since(pair.twin_conn, pair.twin_mark)
    assert pair.rows() == [*twin_rows, ("fault", pair.operation, pair.twin_entity(), kind)]
    assert comparable_state(pair.conn) == comparable_state(pair.twin_conn)


# ---------------------------------------------------------------- gateway pages (BEFORE)

NGINX_502 = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
    b"</body>\r\n</html>\r\n"
)
TENGINE_504_HEAD = (
    b'<!DOCTYPE HTML PUBLIC "-//IETF//DTD HTML 2.0//EN">\r\n<html>\r\n'
    b"<head><title>504 Gateway Time-out</title></head>\r\n"
    b'<body bgcolor="white">\r\n<h1>504 Gateway Time-out</h1>\r\n<p>The gateway did not '
)
TITLES = {
    500: b"500 Internal Server Error",
    502: b"502 Bad Gateway",
    503: b"503 Service Temporarily Unavailable",
    504: b"504 Gateway Time-out",
    429: b"429 Too Many Requests",
}
FLAVOUR = {"oms": "nginx", "wms": "tengine", "erp": "iis", "carrier": "nginx", "bank": "nginx"}


@parametrize_pairs(WRITE_PAIRS)
@pytest.mark.parametrize("status", [500, 502, 503, 504, 429])
async def test_an_http_fault_answers_the_gateways_page_and_does_nothing(
    pair: Pair, status: int
) -> None:
    before = comparable_state(pair.conn)
    kind = f"http_{status}"
    pair.arm(kind, retry_after=7)
    answer = await pair.faulty.clients[pair.system].send(pair.request)
    assert (await pair.answered()).status_code < 300  # the twin did the work
    assert answer.status_code == status
    flavour = FLAVOUR[pair.system]
    if flavour == "iis" and status == 503:
        # HTTP.sys's own page, as captured from a stopped IIS application pool.
        assert answer.content == IIS_503.encode() and len(answer.content) == 326
        assert answer.headers["content-type"] == "text/html; charset=us-ascii"
        assert answer.headers["server"] == "Microsoft-HTTPAPI/2.0"
    else:
        assert answer.headers["content-type"] == "text/html"
        assert b"<title>" + TITLES[status] + b"</title>" in answer.content
        if flavour == "tengine" and status != 429:
            assert answer.content.endswith(b"<hr/>Powered by Tengine</body>\r\n</html>\r\n")
        else:
            assert answer.content.endswith(b"<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n")
    if status == 502 and flavour == "nginx":
        assert answer.content == NGINX_502
    if status == 504 and flavour == "tengine":
        assert answer.content.startswith(TENGINE_504_HEAD)
    assert answer.headers.get("retry-after") == ("7" if status == 429 else None)
    assert_nothing_done(pair, kind, before)
    # The wait asked is in the fault row, for the judge's respects_retry_after.
    assert pair.fault_payload() == {"rule": 1} | ({"retry_after": 7} if status == 429 else {})


# ---------------------------------------------------------------- each protocol's refusals

# (system, operation) → kind → the code the protocol answers (tests/support/operations.py).
REFUSALS: dict[tuple[str, str], dict[str, str]] = {
    ("oms", oms.SHIP): {"busy": "100", "rate_limited": "100", "session_expired": "1"},
    ("oms", oms.TAOBAO_QUERY): {"busy": "15", "rate_limited": "7", "session_expired": "25"},
    ("wms", "deliveryorder.create"): {
        "busy": "isp.top-remote-service-unavailable",
        "rate_limited": "accesscontrol.limited-by-api-access-count",
        "session_expired": "sign-check-failure",
    },
    ("erp", "Save"): {"busy": "13", "rate_limited": "14", "session_expired": "1"},
    ("carrier", "1007"): {"busy": "105", "rate_limited": "405", "session_expired": "104"},
    ("bank", "pain.001"): {
        "busy": "SERVICE_UNAVAILABLE",
        "rate_limited": "ACCESS_EXCEEDED",
        "session_expired": "TOKEN_INVALID",
    },
}
# The texts a connector branches on, from the research notes.
TEXTS = {
    ("oms", oms.SHIP, "busy"): "超过每分钟最大并发次数限制，请稍后重试",
    ("oms", oms.SHIP, "rate_limited"): "超过每分钟最大调用频率限制，请稍后重试",
    ("wms", "deliveryorder.create", "rate_limited"): "This ban will last for 7 more seconds",
    ("erp", "Save", "session_expired"): "会话信息已丢失，请重新登录",
    ("erp", "Save", "busy"): "网控冲突",
    ("erp", "Save", "rate_limited"): "调用限制",
    ("carrier", "1007", "rate_limited"): "超出查询次数限制",
}
# The refusals that name a wait (TOP's ban of N seconds, the bank's 429 with Retry-After): their
# fault rows record it as `retry_after`, the others' do not.
WAITS_ASKED = {("wms", "rate_limited"), ("bank", "rate_limited")}
# Where the session really ends: the same request is refused again after the fault.
SESSIONS = {"erp", "bank"}
REFUSAL_CASES = [
    (system, operation, kind, code)
    for (system, operation), codes in REFUSALS.items()
    for kind, code in codes.items()
]


@pytest.mark.parametrize(
    ("pair", "kind", "code"),
    [((system, op), kind, code) for system, op, kind, code in REFUSAL_CASES],
    ids=[f"{system}:{op}:{kind}" for system, op, kind, _ in REFUSAL_CASES],
    indirect=["pair"],
)
async def test_a_protocols_own_refusal_does_nothing_and_a_retry_is_served(
    pair: Pair, kind: str, code: str
) -> None:
    before = comparable_state(pair.conn)
    pair.arm(kind, retry_after=7)
    refused = await pair.faulty.clients[pair.system].send(pair.request)
    first = await pair.answered()
    assert CODE_OF[pair.system](refused) == code, refused.text
    text = TEXTS.get((pair.system, pair.operation, kind))
    assert text is None or text in refused.text, refused.text
    if pair.system == "bank" and kind == "rate_limited":
        assert (refused.status_code, refused.headers["retry-after"]) == (429, "7")
    if pair.system == "erp" and kind == "session_expired":
        status = refused.json()["Result"]["ResponseStatus"]
        assert (status["ErrorCode"], status["IsSuccess"], status["MsgCode"]) == (500, False, 1)
    assert pair.rows() == [("fault", pair.operation, pair.twin_entity(), kind)]
    waits = (pair.system, kind) in WAITS_ASKED
    assert pair.fault_payload() == {"rule": 1} | ({"retry_after": 7} if waits else {})

    pair.disarm()
    again = await pair.faulty.clients[pair.system].send(pair.request)
    if kind == "session_expired" and pair.system in SESSIONS:
        # The session was dropped, not only refused once: the same call is refused again
        # (by the protocol, now without a fault), and only the session is gone.
        assert CODE_OF[pair.system](again) == code, again.text
        assert comparable_state(pair.conn)["sessions"] != before["sessions"]
        assert {t: rows for t, rows in comparable_state(pair.conn).items() if t != "sessions"} == {
            t: rows for t, rows in before.items() if t != "sessions"
        }
        return
    assert comparable(again) == comparable(first)
    assert comparable_state(pair.conn) == comparable_state(pair.twin_conn)


@parametrize_pairs([("bank", "pain.001")])
async def test_a_rejected_pain001_is_a_pain002_rjct_with_its_reason_and_kept_nowhere(
    pair: Pair,
) -> None:
    before = comparable_state(pair.conn)
    pair.arm("rejected", reason="TM01")
    refused = await pair.faulty.clients["bank"].send(pair.request)
    assert (refused.status_code, refused.headers["content-type"]) == (
        200,
        "application/xml; charset=utf-8",
    )
    assert "location" not in refused.headers  # nothing to look up: the bank kept nothing
    document = etree.fromstring(refused.content)
    ns = {"d": document.nsmap[None]}
    assert document.findtext(".//d:GrpSts", namespaces=ns) == "RJCT"
    statuses = document.findall(".//d:TxInfAndSts", namespaces=ns)
    assert statuses and all(
        tx.findtext("d:TxSts", namespaces=ns) == "RJCT"
        and tx.findtext("d:StsRsnInf/d:Rsn/d:Cd", namespaces=ns) == "TM01"
        for tx in statuses
    )
    await pair.answered()
    assert_nothing_done(pair, "rejected", before)
    pair.disarm()
    resent = await pair.faulty.clients["bank"].send(pair.request)
    assert resent.status_code == 201  # the same MsgId is new to the bank


@parametrize_pairs([("bank", "login"), ("erp", "ValidateUser")])
async def test_a_kind_a_call_does_not_have_lets_it_through(pair: Pair) -> None:
    """No rejection of a bank login, no session to lose on a K3 login: served, no row."""
    pair.arm("rejected" if pair.system == "bank" else "session_expired")
    answer = await pair.faulty.clients[pair.system].send(pair.request)
    first = await pair.answered()
    assert comparable(answer) == comparable(first)
    assert pair.rows() == history_since(pair.twin_conn, pair.twin_mark)  # no fault row


# ---------------------------------------------------------------- latency (BEFORE, then served)


@parametrize_pairs(WRITE_PAIRS)
async def test_latency_delays_the_call_without_holding_the_loop_then_serves_it(
    pair: Pair,
) -> None:
    # Long enough that a health check beats it even on a loaded CI machine (0.4 s did not).
    pair.arm("latency", distribution="fixed", seconds=1.5)
    finished: list[str] = []

    async def slow() -> httpx.Response:
        answer = await pair.faulty.clients[pair.system].send(pair.request)
        finished.append("delayed")
        return answer

    async def other() -> None:
        # Another fake of the same loop answers meanwhile: the delay does not block it.
        await pair.faulty.clients["oms" if pair.system != "oms" else "wms"].get("/_fake/health")
        finished.append("other")

    started = time.monotonic()
    answer, _ = await asyncio.gather(slow(), other())
    elapsed = time.monotonic() - started
    assert finished == ["other", "delayed"]
    assert 1.49 <= elapsed < 15
    first = await pair.answered()
    assert comparable(answer) == comparable(first)
    assert pair.rows() == [
        ("fault", pair.operation, pair.twin_entity(), "latency"),
        *history_since(pair.twin_conn, pair.twin_mark),
    ]
    assert comparable_state(pair.conn) == comparable_state(pair.twin_conn)


@pytest.mark.parametrize(
    ("params", "low", "high"),
    [
        ({"distribution": "fixed", "seconds": 2.5}, 2.5, 2.5),
        ({"distribution": "uniform", "low": 0.5, "high": 1.5}, 0.5, 1.5),
        ({"distribution": "lognormal", "median": 0.2, "sigma": 1.0}, 0.0, 120.0),
    ],
)
def test_latency_draws_follow_the_distribution_and_the_seed(
    params: dict[str, Any], low: float, high: float
) -> None:
    rule = FaultRule("wms", "*", "latency", rate=1.0, params=params)

    def draws(seed: int) -> list[float]:
        dice = random.Random(seed)
        return [latency_seconds(rule, dice) for _ in range(400)]

    first = draws(1)
    assert first == draws(1)
    assert all(low <= d <= high for d in first)
    if params["distribution"] == "lognormal":
        median = sorted(first)[len(first) // 2]
        assert math.isclose(median, 0.2, rel_tol=0.25)  # the median is the parameter
        assert max(first) > 2 * median  # and the tail is long
    elif params["distribution"] == "uniform":
        assert first != draws(2) and min(first) < 0.7 and max(first) > 1.3


# ---------------------------------------------------------------- on the socket

CLIENT_TIMEOUT = 10.0


async def send_over(pair: Pair, group: Any, timeout: float = CLIENT_TIMEOUT) -> httpx.Response:
    request = over_socket(pair.request, group.urls[pair.system])
    async with httpx.AsyncClient(timeout=timeout) as client:
        return await client.send(request)


async def server_tasks_end(group: Any) -> bool:
    """Whether every request task of the servers ends within a few seconds (none leaks)."""
    tasks = {task for server in group._servers for task in server.server_state.tasks}
    if not tasks:
        return True
    _, pending = await asyncio.wait(tasks, timeout=5)
    return not pending


@parametrize_pairs(WRITE_PAIRS)
@pytest.mark.parametrize("kind", ["reset_before", "outage"])
async def test_a_reset_before_the_work_drops_the_connection_and_does_nothing(
    pair: Pair, kind: str
) -> None:
    before = comparable_state(pair.conn)
    pair.arm(kind)
    async with served(pair.faulty, [pair.system]) as group:
        with pytest.raises(httpx.ReadError):  # ECONNRESET: no status line, nothing
            await send_over(pair, group)
        assert await server_tasks_end(group)
    await pair.answered()
    assert_nothing_done(pair, kind, before)


@parametrize_pairs([("wms", "deliveryorder.create")])
async def test_an_outage_lasts_its_window_of_simulated_time(pair: Pair) -> None:
    clock = pair.faulty.clock
    rule = FaultRule(pair.system, "*", "outage", rate=1.0, start=0.0, until=600.0)
    injector = FaultInjector([rule], seed=1, run_start=clock.now())
    pair.faulty.ecosystem.contexts[pair.system].faults = injector
    async with served(pair.faulty, [pair.system]) as group:
        with pytest.raises(httpx.ReadError):
            await send_over(pair, group)
        clock.advance(600)  # the window closes (the twin lives at the same time)
        pair.twin.clock.advance(600)
        answer = await send_over(pair, group)
    assert comparable(answer) == comparable(await pair.answered())


@parametrize_pairs(WRITE_PAIRS)
async def test_a_reset_after_the_commit_drops_the_connection_of_done_work(pair: Pair) -> None:
    pair.arm("reset_after")
    async with served(pair.faulty, [pair.system]) as group:
        with pytest.raises(httpx.ReadError):
            await send_over(pair, group)
        assert await server_tasks_end(group)
    await pair.answered()
    assert_work_done(pair, "reset_after")


@parametrize_pairs(WRITE_PAIRS)
async def test_a_hang_outlasts_the_clients_timeout_and_the_work_is_done(pair: Pair) -> None:
    pair.arm("hang", seconds=30)
    async with served(pair.faulty, [pair.system]) as group:
        started = time.monotonic()
        with pytest.raises(httpx.ReadTimeout):
            await send_over(pair, group, timeout=0.5)
        assert 0.45 <= time.monotonic() - started < 10
        # The client gave up and closed: the held request ends at once, not 30 s later.
        assert await server_tasks_end(group)
    await pair.answered()
    assert_work_done(pair, "hang")


@parametrize_pairs([("erp", "Save"), ("carrier", "1007")])
async def test_a_short_hang_closes_the_connection_without_an_answer(pair: Pair) -> None:
    pair.arm("hang", seconds=0.3)
    async with served(pair.faulty, [pair.system]) as group:
        started = time.monotonic()
        with pytest.raises(httpx.RemoteProtocolError, match="without sending"):
            await send_over(pair, group)
        assert 0.28 <= time.monotonic() - started < 10
        assert await server_tasks_end(group)
    await pair.answered()
    assert_work_done(pair, "hang")


@parametrize_pairs(WRITE_PAIRS)
async def test_an_empty_answer_has_the_status_and_no_body(pair: Pair) -> None:
    pair.arm("empty_answer")
    async with served(pair.faulty, [pair.system]) as group:
        answer = await send_over(pair, group)
    first = await pair.answered()
    assert (answer.status_code, answer.content) == (first.status_code, b"")
    assert answer.headers["content-length"] == "0"
    assert answer.headers["content-type"] == first.headers["content-type"]
    assert_work_done(pair, "empty_answer")


@parametrize_pairs(WRITE_PAIRS)
async def test_a_truncated_answer_stops_mid_body(pair: Pair) -> None:
    pair.arm("truncated_answer")
    async with served(pair.faulty, [pair.system]) as group:
        with pytest.raises(httpx.RemoteProtocolError, match=r"incomplete|peer closed"):
            await send_over(pair, group)
        assert await server_tasks_end(group)
    await pair.answered()
    assert_work_done(pair, "truncated_answer")


def parses(body: bytes) -> bool:
    try:
        if body.lstrip().startswith(b"<"):
            etree.fromstring(body)
        else:
            orjson.loads(body)
    except (etree.XMLSyntaxError, orjson.JSONDecodeError):
        return False
    return True


@parametrize_pairs(WRITE_PAIRS)
async def test_a_malformed_answer_is_whole_but_no_longer_parses(pair: Pair) -> None:
    pair.arm("malformed_answer")
    async with served(pair.faulty, [pair.system]) as group:
        answer = await send_over(pair, group)
    first = await pair.answered()
    assert parses(first.content) and not parses(answer.content)
    assert answer.status_code == first.status_code
    assert len(answer.content) == len(first.content.rstrip()) - 1  # one delimiter less
    assert_work_done(pair, "malformed_answer")


@parametrize_pairs(WRITE_PAIRS)
async def test_a_slow_answer_arrives_whole_in_pieces_over_its_seconds(pair: Pair) -> None:
    pair.arm("slow_answer", seconds=0.6)
    pieces: list[bytes] = []
    async with served(pair.faulty, [pair.system]) as group:
        request = over_socket(pair.request, group.urls[pair.system])
        started = time.monotonic()
        async with httpx.AsyncClient(timeout=CLIENT_TIMEOUT) as client:
            response = await client.send(request, stream=True)
            async for piece in response.aiter_raw():
                pieces.append(piece)
            await response.aclose()
        elapsed = time.monotonic() - started
    first = await pair.answered()
    assert 0.55 <= elapsed < 10
    assert len(pieces) > 1
    assert (response.status_code, unrandomed(b"".join(pieces))) == (
        first.status_code,
        unrandomed(first.content),
    )
    assert_work_done(pair, "slow_answer")


def unrandomed(body: bytes) -> str:
    return comparable(httpx.Response(200, content=body))[1]


@parametrize_pairs([("wms", "deliveryorder.create")])
async def test_in_process_a_dropped_connection_raises_where_no_socket_exists(
    pair: Pair,
) -> None:
    pair.arm("reset_after")
    with pytest.raises(ConnectionDropped):
        await pair.faulty.clients["wms"].send(pair.request)


# ---------------------------------------------------------------- scenario validation

BASE = "name: x\nduration: 1h\ndemand: {orders_per_hour: 5}\nfaults:\n  - "


@pytest.mark.parametrize(
    ("rule", "field", "says"),
    [
        ("{system: oms, operation: '*', kind: rejected, rate: 1}", "faults.0.kind", "oms has no"),
        (
            "{system: bank, operation: login, kind: rejected, rate: 1}",
            "faults.0.kind",
            "pain.001",
        ),
        ("{system: wms, operation: '*', kind: slow, rate: 1}", "faults.0.kind", "slow_answer"),
        (
            "{system: wms, operation: '*', kind: latency, rate: 1, params: {distribution: pareto}}",
            "faults.0.params",
            "distribution",
        ),
        (
            "{system: wms, operation: '*', kind: latency, rate: 1,"
            " params: {distribution: uniform, low: 3}}",
            "faults.0.params",
            "low and high",
        ),
        (
            "{system: erp, operation: '*', kind: hang, rate: 1, params: {second: 3}}",
            "faults.0.params",
            "'second'",
        ),
        (
            "{system: bank, operation: pain.001, kind: rejected, rate: 1, params: {reason: nope}}",
            "faults.0.params",
            "reason",
        ),
    ],
)
def test_a_plan_a_system_cannot_play_is_refused_naming_the_field(
    tmp_path: Path, rule: str, field: str, says: str
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(BASE + rule + "\n")
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    assert f"{field}:" in str(caught.value) and says in str(caught.value), str(caught.value)


def test_a_plan_of_request_kinds_loads(tmp_path: Path) -> None:
    """Each kind of this stage, declared as docs/CHAOS.md shows, is accepted."""
    kinds = [
        "{system: wms, operation: '*', kind: latency, rate: 0.1,"
        " params: {distribution: lognormal, median: 0.2, sigma: 1}}",
        "{system: erp, operation: Save, kind: session_expired, every_nth: 5, from: 30m, until: 1h}",
        "{system: bank, operation: pain.001, kind: rejected, rate: 0.05, params: {reason: FF10}}",
        "{system: carrier, operation: '1007', kind: http_429, rate: 0.1, params: {retry_after: 2}}",
        "{system: oms, operation: '*', kind: hang, rate: 0.01, params: {seconds: 45}}",
        "{system: wms, operation: '*', kind: outage, rate: 1, from: 10m, until: 40m}",
    ]
    path = tmp_path / "plan.yaml"
    path.write_text(BASE.removesuffix("  - ") + "".join(f"  - {kind}\n" for kind in kinds))
    rules = [fault.rule() for fault in load_scenario(path).faults]
    assert [rule.kind for rule in rules] == [
        "latency",
        "session_expired",
        "rejected",
        "http_429",
        "hang",
        "outage",
    ]
    assert (rules[1].every_nth, rules[1].start, rules[1].until) == (5, 1800.0, 3600.0)
    assert dict(rules[0].params) == {"distribution": "lognormal", "median": 0.2, "sigma": 1}
