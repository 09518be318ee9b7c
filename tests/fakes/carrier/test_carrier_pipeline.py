"""The carrier on the shared pipeline: one transaction per call, bugs logged and answered as
Kdniao does, and tracking changes leaving the service as domain events, not Kdniao forms."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest

from fake_systems.carrier.models import TrackingChanged
from fake_systems.carrier.service import CarrierService
from simulator.clock import ManualClock
from tests.support.carrier import CREDENTIALS, EORDER, ORDER, QUERY, envelope, post

pytestmark = pytest.mark.anyio


def api_in(carrier: CarrierService) -> list[tuple[str, str]]:
    rows = carrier.ctx.conn.execute(
        "SELECT operation, outcome FROM events WHERE kind = 'api_in' ORDER BY seq"
    )
    return [(row[0], row[1]) for row in rows]


async def test_a_waybill_and_its_history_row_commit_together(
    client: httpx.AsyncClient, carrier: CarrierService, monkeypatch: pytest.MonkeyPatch
) -> None:
    record = carrier.ctx.history.record
    failed: list[str] = []

    def first_api_in_fails(kind: str, operation: str, *args: Any, **kwargs: Any) -> None:
        if kind == "api_in" and not failed:
            failed.append(operation)
            raise OSError("disk full")
        record(kind, operation, *args, **kwargs)

    monkeypatch.setattr(carrier.ctx.history, "record", first_api_in_fails)
    answer = await post(client, EORDER, envelope("1007", ORDER))
    assert (answer["Success"], answer["ResultCode"]) == (False, "105")
    # The waybill went with the history row it could not get: nobody was told of it.
    assert carrier.ctx.conn.execute("SELECT COUNT(*) FROM waybills").fetchone()[0] == 0
    assert api_in(carrier) == [("1007", "105")]


async def test_a_bug_is_logged_and_answered_as_a_kdniao_system_error(
    client: httpx.AsyncClient,
    carrier: CarrierService,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(logistic_code: str) -> list[tuple[str, str]]:
        raise RuntimeError("a bug of the fake")

    monkeypatch.setattr(carrier, "recognise", broken)
    with caplog.at_level(logging.ERROR, logger="fake_systems.common.pipeline"):
        answer = await post(client, QUERY, envelope("2002", {"LogisticCode": "SF123456789012"}))
    assert answer == {
        "EBusinessID": CREDENTIALS.ebusiness_id,
        "Success": False,
        "ResultCode": "105",
        "Reason": "系统错误，请稍后重试",
    }
    assert any(r.exc_info and "a bug of the fake" in str(r.exc_info[1]) for r in caplog.records)
    assert api_in(carrier) == [("2002", "105")]


async def test_an_unrecognised_number_is_still_recorded_as_a_refusal(
    client: httpx.AsyncClient, carrier: CarrierService
) -> None:
    answer = await post(client, QUERY, envelope("2002", {"LogisticCode": "XX1"}))
    assert (answer["Success"], answer["Code"], answer["Shippers"]) == (False, "105", [])
    assert api_in(carrier) == [("2002", "105")]


async def test_tracking_changes_leave_the_service_as_domain_events(
    carrier: CarrierService, clock: ManualClock
) -> None:
    events: list[TrackingChanged] = []
    carrier.on_tracking = events.append  # no protocol attached: the service's own words
    carrier.push_callback_url = "http://connector.test/kdniao"
    code = carrier.issue_waybill("T0001", "SF")
    carrier.subscribe("SF", code, "T0001")
    carrier.hand_over(code, "SF", 1.0)
    clock.advance(100 * 3600)
    assert [(e.account, e.callback_url) for e in events] == [
        (CREDENTIALS.ebusiness_id, "http://connector.test/kdniao")
    ] * 5
    assert [(e.tracking.logistic_code, e.tracking.state_ex) for e in events] == [
        (code, step) for step in ("1", "2", "201", "202", "301")
    ]
    assert [len(e.tracking.traces) for e in events] == [1, 2, 3, 4, 5]
    assert carrier.ctx.dispatcher.in_flight == 0  # nothing was rendered or sent
