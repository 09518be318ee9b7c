"""The carrier billing its fees in the world model: `carrier_fees:` validated naming its fields;
periods by calendar month or day, China time; a statement per period closed `close_hours`
after it ends, up to the period holding the end of traffic; statements not booked counted for
the drain; the express companies' payment terms in the ERP."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import pytest
from pydantic import ValidationError

from fake_systems.carrier.fees import carrier_suppliers
from fake_systems.carrier.service import CarrierService
from fake_systems.common.context import SystemContext
from fake_systems.erp.service import ErpService
from simulator.carrier_fees import CarrierFees, arrange_carrier_terms, next_period, period_start
from simulator.clock import CHINA, ManualClock
from simulator.scenario import CarrierFeeSettings
from simulator.world import World
from tests.support.carrier import CREDENTIALS, FIXED
from tests.support.erp import CREDS

HOUR = 3600.0


def test_carrier_fee_settings_name_the_wrong_field() -> None:
    with pytest.raises(ValidationError) as caught:
        CarrierFeeSettings(period="week")  # type: ignore[arg-type]
    assert caught.value.errors()[0]["loc"] == ("period",)
    with pytest.raises(ValidationError) as caught:
        CarrierFeeSettings(close_hours=-1)
    assert caught.value.errors()[0]["loc"] == ("close_hours",)
    with pytest.raises(ValidationError) as caught:
        CarrierFeeSettings(terms_days=400)
    assert caught.value.errors()[0]["loc"] == ("terms_days",)
    assert not CarrierFeeSettings().enabled  # off unless asked for


def test_periods_are_calendar_months_or_days_in_china_time() -> None:
    late = datetime(2026, 12, 31, 23, 0, tzinfo=CHINA)
    assert period_start(late, "month") == datetime(2026, 12, 1, tzinfo=CHINA)
    assert next_period(period_start(late, "month"), "month") == datetime(2027, 1, 1, tzinfo=CHINA)
    assert next_period(datetime(2026, 11, 1, tzinfo=CHINA), "month") == datetime(
        2026, 12, 1, tzinfo=CHINA
    )
    assert period_start(late, "day") == datetime(2026, 12, 31, tzinfo=CHINA)
    assert next_period(period_start(late, "day"), "day") == datetime(2027, 1, 1, tzinfo=CHINA)


@pytest.fixture
def carrier(make_context: Callable[[str], SystemContext], world: World) -> CarrierService:
    service = CarrierService(make_context("carrier"), CREDENTIALS, FIXED)
    service.setup(world)
    return service


@pytest.fixture
def erp(make_context: Callable[[str], SystemContext], world: World) -> ErpService:
    service = ErpService(make_context("erp"), CREDS)
    service.setup(world)
    return service


def test_daily_statements_close_until_the_end_of_traffic_and_wait_to_be_booked(
    carrier: CarrierService, erp: ErpService, clock: ManualClock
) -> None:
    now = clock.now().astimezone(CHINA)
    to_midnight = (next_period(period_start(now, "day"), "day") - now).total_seconds()
    fees = CarrierFees(clock.env, carrier, erp, CarrierFeeSettings(enabled=True, period="day"))
    # Traffic ends a day and a half after the next midnight: three periods to bill.
    fees.start(to_midnight + 36 * HOUR)
    assert fees.pending == 1
    for day in range(3):
        carrier.hand_over(carrier.issue_waybill(f"T-{day}", "SF"), "SF", 1.0, ("广东省", "广东省"))
        clock.advance(24 * HOUR)
    clock.advance(24 * HOUR)
    assert len(fees.statements) == 3 and fees.pending == 0
    assert fees.unbooked() == 3
    first = fees.statements[0]
    erp.save(
        "AP_Payable",
        {
            "FBillNo": first,
            "FSUPPLIERID": {"FNumber": "3900000001"},
            "FEntityDetail": [
                {"FCOSTID": {"FNumber": "FY001"}, "FPriceQty": 1, "FALLAMOUNTFOR": "8.00"}
            ],
        },
        auto_submit_audit=True,
    )
    assert fees.unbooked() == 2


def test_express_companies_are_suppliers_with_their_terms(world: World, erp: ErpService) -> None:
    suppliers = carrier_suppliers(world.warehouses)
    assert [(s.code, s.name) for s in suppliers] == [
        ("3900000001", "顺丰速运"),
        ("3900000002", "圆通速递"),
    ]
    arrange_carrier_terms(world, erp, CarrierFeeSettings(terms_days=7))
    assert erp.master.due_date("3900000002", "2026-11-30") == "2026-12-07"
