"""respects_retry_after: after a refusal that names a wait, the same call comes no sooner."""

from __future__ import annotations

import json

from tests.support.judge import BASE_WALL, SIM, RunBuilder, failed, judge

REFUSED_AT = BASE_WALL + 100.0


def row(
    builder: RunBuilder,
    kind: str,
    operation: str,
    entity: str,
    outcome: str,
    wall: float,
    payload: dict[str, int] | None = None,
) -> None:
    """An events row at a chosen wall time (rows are written in call order)."""
    builder.sql(
        "carrier",
        "INSERT INTO events (sim_time, wall_time, kind, operation, entity, outcome, payload)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        (SIM, wall, kind, operation, entity, outcome, payload and json.dumps(payload)),
    )


def refused_then_called(builder: RunBuilder, trade_no: str, gap: float) -> None:
    """A 429 with Retry-After: 2 on the trade's waybill order, then the retry `gap` s later."""
    row(builder, "fault", "1007", trade_no, "http_429", REFUSED_AT, {"rule": 2, "retry_after": 2})
    row(builder, "api_in", "1007", trade_no, "ok", REFUSED_AT + gap)


def test_a_retry_sooner_than_the_wait_asked_fails(builder: RunBuilder) -> None:
    orders = builder.good_mix()
    refused_then_called(builder, orders[0].trade_no, 0.2)
    refused_then_called(builder, orders[1].trade_no, 2.5)
    verdict = judge(builder)
    assert failed(verdict) == ["respects_retry_after"]
    inv = verdict.invariant("respects_retry_after")
    assert (inv.checked, inv.violations, inv.breakdown) == (2, 1, {"carrier http_429": 1})
    [example] = inv.examples
    assert example["entity"] == orders[0].trade_no
    assert example["expected"] == "the next 1007 call at least 2 s later"
    assert example["observed"] == "called again 0.200 s later"
    assert any(line.get("outcome") == "http_429" for line in example["history"])


def test_retries_that_wait_pass_within_the_tolerance(builder: RunBuilder) -> None:
    orders = builder.good_mix()
    refused_then_called(builder, orders[0].trade_no, 2.5)
    refused_then_called(builder, orders[1].trade_no, 1.9)  # 5 % early: the shared clock
    refused_then_called(builder, orders[2].trade_no, 1.7)  # 15 % early: too soon
    verdict = judge(builder)
    inv = verdict.invariant("respects_retry_after")
    assert (inv.checked, inv.violations) == (3, 1)
    assert [e["entity"] for e in inv.examples] == [orders[2].trade_no]


def test_other_calls_and_refusals_without_a_wait_are_not_judged(builder: RunBuilder) -> None:
    orders = builder.good_mix()
    trade = orders[0].trade_no
    row(builder, "fault", "1007", trade, "http_429", REFUSED_AT, {"rule": 2, "retry_after": 2})
    # Another operation of the same order, and the same operation for another: not its retry.
    row(builder, "api_in", "1008", trade, "ok", REFUSED_AT + 0.1)
    row(builder, "api_in", "1007", orders[1].trade_no, "ok", REFUSED_AT + 0.1)
    row(builder, "api_in", "1007", trade, "ok", REFUSED_AT + 3.0)
    # Kdniao's 405 names no wait: retrying it at once is the graded schedule's business.
    row(builder, "fault", "1007", orders[2].trade_no, "rate_limited", REFUSED_AT, {"rule": 1})
    row(builder, "api_in", "1007", orders[2].trade_no, "ok", REFUSED_AT + 0.1)
    verdict = judge(builder)
    assert failed(verdict) == []
    assert verdict.invariant("respects_retry_after").checked == 1


def test_a_run_without_throttling_passes_vacuously(builder: RunBuilder) -> None:
    builder.good_mix()
    inv = judge(builder).invariant("respects_retry_after")
    assert (inv.passed, inv.checked, inv.summary) == (True, 0, "ok")
