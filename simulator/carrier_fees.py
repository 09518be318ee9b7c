"""The carrier billing its fees: at each period's close a fee statement per merchant account
and express company (fake_systems/carrier/statements.py), until the period holding the end of
traffic is closed; the express companies' payment terms in the ERP.

A period is a calendar month or, for short runs, a day, China time; the first one starts at
the start of traffic's period (a run starting mid-month bills from the 1st, finding nothing
before it). The statement closes `close_hours` after the period ends.
"""

from __future__ import annotations

from collections.abc import Generator
from datetime import date, datetime, time, timedelta
from typing import Any

import simpy

from fake_systems.carrier.fees import carrier_suppliers
from fake_systems.carrier.service import CarrierService
from fake_systems.erp.service import ErpService
from simulator.clock import CHINA
from simulator.scenario import CarrierFeeSettings
from simulator.world import World


def period_start(moment: datetime, period: str) -> datetime:
    """The start (China midnight) of the period holding `moment`."""
    day = moment.astimezone(CHINA).date()
    if period == "month":
        day = day.replace(day=1)
    return datetime.combine(day, time(), CHINA)


def next_period(start: datetime, period: str) -> datetime:
    """The start of the period after the one starting at `start`."""
    if period == "day":
        return start + timedelta(days=1)
    first: date = start.date()
    following = (
        first.replace(year=first.year + 1, month=1)
        if first.month == 12
        else first.replace(month=first.month + 1)
    )
    return datetime.combine(following, time(), CHINA)


class CarrierFees:
    """Closes the carrier's fee periods as one SimPy process; counts what it issued."""

    def __init__(
        self,
        env: simpy.Environment,
        carrier: CarrierService,
        erp: ErpService,
        settings: CarrierFeeSettings,
    ) -> None:
        self.env = env
        self.carrier = carrier
        self.erp = erp
        self.settings = settings
        self.statements: list[str] = []
        self.pending = 0  # 1 while the period holding the end of traffic is not closed

    def start(self, traffic_seconds: float) -> simpy.events.Process:
        self.pending = 1
        return self.env.process(self._periods(traffic_seconds))

    def _now(self) -> datetime:
        return self.carrier.ctx.clock.now()

    def _periods(self, traffic_seconds: float) -> Generator[simpy.events.Event, Any, None]:
        end_of_traffic = self._now() + timedelta(seconds=traffic_seconds)
        start = period_start(self._now(), self.settings.period)
        try:
            while start < end_of_traffic:
                end = next_period(start, self.settings.period)
                closes = end + timedelta(hours=self.settings.close_hours)
                yield self.env.timeout(max(0.0, (closes - self._now()).total_seconds()))
                self.statements += self.carrier.close_fee_period(start, end)
                start = end
        finally:
            self.pending = 0

    def unbooked(self) -> int:
        """Statements closed with no audited AP_Payable of their number in the ERP yet: the
        connector's work (the drain waits for it, docs/CONTRACT.md "Carrier fees")."""
        booked = {
            row[0]
            for row in self.erp.conn.execute(
                "SELECT bill_no FROM documents WHERE form_id = 'AP_Payable'"
                " AND document_status = 'C' AND bill_no LIKE 'FS%'"
            )
        }
        return sum(1 for number in self.statements if number not in booked)

    def report(self) -> dict[str, Any]:
        return {"statements": len(self.statements)}


def arrange_carrier_terms(world: World, erp: ErpService, settings: CarrierFeeSettings) -> None:
    """The express companies' 付款条件 in the ERP: fee payables due `terms_days` later."""
    for supplier in carrier_suppliers(world.warehouses):
        erp.master.set_payment_terms(supplier.code, settings.terms_days)
