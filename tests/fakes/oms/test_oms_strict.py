"""OMS strict values: odd numerals, control characters and over-long codes are refused (status
1 in the envelope, 100 in the arguments), never the internal error 99."""

from __future__ import annotations

import threading
from typing import Any

import httpx
import orjson
import pytest

from fake_systems.common.pipeline import OFF_LOOP_BYTES
from fake_systems.oms.api import wdt
from fake_systems.oms.raw_trades import MAX_TRADES_PER_PUSH
from fake_systems.oms.service import OmsService
from simulator.clock import ManualClock
from simulator.world import World
from tests.support.oms import PUSH, QUERY, SHIP, WINDOW, call, raw_lines, raw_trade, simple

pytestmark = pytest.mark.anyio

# Numerals Python's int(), str.isdigit() or Decimal() accept, and the wire must not.
ODD_NUMERALS = ("²", "--5", "1_0", "١٢", "1" * 5000, "1e400", "+5", "0x10", "NaN", "", "9" * 41)


def state(oms: OmsService) -> list[tuple[Any, ...]]:
    return [
        tuple(row)
        for row in oms.conn.execute(
            "SELECT trade_no, trade_status, logistics_no, (SELECT COUNT(*) FROM order_lines)"
            " FROM orders ORDER BY trade_no"
        )
    ]


async def push_refused(
    client: httpx.AsyncClient, clock: ManualClock, entry: dict[str, Any], lines: list[Any]
) -> str:
    """The error of the one trade of a pushSelf2 call, which refuses it in `error_list`
    (status 0, nothing created) rather than as the call's status."""
    answer = (await call(client, clock, PUSH, ["TM-A", [entry], lines])).json()
    assert answer["status"] == 0 and answer["data"]["new_count"] == 0, answer
    [error] = answer["data"]["error_list"]
    return str(error["error"])


async def refused(
    client: httpx.AsyncClient, clock: ManualClock, method: str, body: Any, **kwargs: Any
) -> str:
    """The refusal's message, after checking it is the protocol's business refusal (100)."""
    response = await call(client, clock, method, body, **kwargs)
    assert response.status_code == 200
    answer = response.json()
    assert answer["status"] == wdt.ERR_APP, answer
    assert "data" not in answer
    return str(answer["message"])


@pytest.mark.parametrize("numeral", ODD_NUMERALS)
async def test_query_refuses_an_odd_status_filter_with_the_documented_message(
    client: httpx.AsyncClient, clock: ManualClock, numeral: str
) -> None:
    message = await refused(client, clock, QUERY, {**WINDOW, "status": numeral})
    assert message == "状态应该是由逗号分隔开的整数数组"


@pytest.mark.parametrize("numeral", [n for n in ODD_NUMERALS if n])
@pytest.mark.parametrize("field", ["page_size", "page_no"])
async def test_query_refuses_an_odd_pager_as_an_argument_type_mismatch(
    client: httpx.AsyncClient, clock: ManualClock, field: str, numeral: str
) -> None:
    answer = (await call(client, clock, QUERY, {**WINDOW, field: numeral})).json()
    assert answer == {"status": 1, "message": "argument type mismatch"}


@pytest.mark.parametrize(
    "numeral", ["2" * 20, str(2**63), str(-(2**63) - 1), 2**31, 18446744073709551615]
)
async def test_integers_beyond_the_field_range_are_refused(
    client: httpx.AsyncClient, clock: ManualClock, numeral: object
) -> None:
    answer = (await call(client, clock, QUERY, {**WINDOW, "page_no": numeral})).json()
    assert answer == {"status": 1, "message": "argument type mismatch"}
    message = await refused(
        client,
        clock,
        wdt.METHOD_TRACE_UPLOAD,
        {"trade_no": "1", "logistics_no": "W", "state": numeral},
    )
    assert "out of range" in message


async def test_plain_digit_strings_still_count(
    client: httpx.AsyncClient, clock: ManualClock
) -> None:
    response = await call(client, clock, QUERY, {**WINDOW, "page_size": " 40 ", "page_no": "0"})
    assert response.json()["status"] == 0


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("trade_status", "²"),
        ("pay_status", "--2"),
        ("num", "٣"),  # Arabic-indic three: int() reads it as 3
        ("num", "1_0"),
        ("num", "1" * 5000),
        ("price", "1e400"),
        ("share_amount", "1E2"),
        ("post_amount", "Infinity"),
        ("receivable", "9" * 41),
        ("goods_count", "NaN"),
    ],
)
async def test_push_refuses_odd_numerals_and_creates_nothing(
    client: httpx.AsyncClient,
    clock: ManualClock,
    oms: OmsService,
    world: World,
    path: str,
    value: str,
) -> None:
    entry, lines = raw_trade(world, "TB-ODD-1"), raw_lines(world, "TB-ODD-1")
    if path in ("num", "price", "share_amount"):
        lines[0][path] = value
    else:
        entry[path] = value
    before = state(oms)
    message = await push_refused(client, clock, entry, lines)
    assert path in message
    assert state(oms) == before


@pytest.mark.parametrize(
    "code", ["SF\x00123", "SF\n123", "SF\x7f123", "SF\u0085123", "S" * 100_000, "S" * 65]
)
async def test_codes_with_control_characters_or_over_long_are_refused(
    client: httpx.AsyncClient, clock: ManualClock, oms: OmsService, world: World, code: str
) -> None:
    trade_no = oms.create_paid_order(simple(world, "TB-CODE-1"))
    before = state(oms)
    body = {"trade_no": trade_no, "logistics_code": "SF", "logistics_no": code}
    assert (await refused(client, clock, SHIP, body)).startswith("logistics_no")
    assert state(oms) == before


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("tid", "TB\x00NUL"),
        ("tid", "T" * 65),
        ("receiver_name", "张\x00三"),
        ("receiver_address", "文三路\x1b[31m1号"),
        ("receiver_address", "路" * 257),
    ],
)
async def test_push_refuses_control_characters_and_over_long_text(
    client: httpx.AsyncClient,
    clock: ManualClock,
    oms: OmsService,
    world: World,
    field: str,
    value: str,
) -> None:
    entry, lines = raw_trade(world, "TB-TEXT-1"), raw_lines(world, "TB-TEXT-1")
    entry[field] = value
    for line in lines:
        line["tid"] = entry["tid"]  # the lines follow their trade, whatever its tid
    before = state(oms)
    message = await push_refused(client, clock, entry, lines)
    assert field in message
    assert state(oms) == before


async def test_push_keeps_line_breaks_in_free_text(
    client: httpx.AsyncClient, clock: ManualClock, oms: OmsService, world: World
) -> None:
    entry = raw_trade(world, "TB-TEXT-2", receiver_address="文三路 1 号\n2 单元")
    body = ["TM-A", [entry], raw_lines(world, "TB-TEXT-2")]
    response = await call(client, clock, PUSH, body)
    assert response.json()["data"]["new_count"] == 1
    stored = oms.conn.execute("SELECT receiver_address FROM orders").fetchone()[0]
    assert stored == "文三路 1 号\n2 单元"


@pytest.mark.parametrize("timestamp", ["474_652_800", "４７４６５２８００", "474652800.0"])
async def test_timestamp_must_be_a_plain_numeral(
    client: httpx.AsyncClient, clock: ManualClock, timestamp: str
) -> None:
    response = await call(client, clock, QUERY, WINDOW, overrides={"timestamp": timestamp})
    assert response.json()["status"] == wdt.ERR_PARAMS


@pytest.mark.parametrize(
    "raw",
    [
        b'{"start_time": ' + b"[" * 500 + b"]" * 500 + b"}",  # crashed the history's redaction
        # A valid query, but with more values than any push holds.
        orjson.dumps({**WINDOW, "padding": [0] * 100_000}),
    ],
)
async def test_bodies_too_deep_or_too_large_to_walk_are_refused(
    client: httpx.AsyncClient, clock: ManualClock, raw: bytes
) -> None:
    response = await call(client, clock, QUERY, None, raw=raw)
    assert response.json()["status"] == wdt.ERR_PARAMS


async def test_big_bodies_are_read_off_the_event_loop(
    client: httpx.AsyncClient, clock: ManualClock, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    threads: list[int] = []
    read = wdt.read_body

    def spy(raw: bytes) -> Any:
        threads.append(threading.get_ident())
        return read(raw)

    monkeypatch.setattr(wdt, "read_body", spy)
    tids = [f"TB-BIG-{i}" for i in range(MAX_TRADES_PER_PUSH)]
    trades = [raw_trade(world, tid, receiver_address="路" * 256) for tid in tids]
    big = ["TM-A", trades, [line for tid in tids for line in raw_lines(world, tid)]]
    assert len(orjson.dumps(big)) > OFF_LOOP_BYTES
    assert (await call(client, clock, QUERY, WINDOW)).json()["status"] == 0
    pushed = (await call(client, clock, PUSH, big)).json()
    assert pushed["data"]["new_count"] == MAX_TRADES_PER_PUSH, pushed
    assert threads == [threading.get_ident(), threads[1]]  # small: inline; big: elsewhere
    assert threads[1] != threading.get_ident()
