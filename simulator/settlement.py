"""The platforms settling with the merchant: daily bills in the OMS, paid into the bank.

Each day at the scenario's cutoff (China time) every platform bills each of its shops for the
trades completed N days before (T+N, per platform) and not settled yet: per trade what the
buyer paid, what was refunded, the platform's commission on the rest, and what is left. A
trade with a refund under way is held until the refund ends (platforms freeze those funds).
Some bills carry a platform adjustment (a subsidy, a penalty), either below both of the seeds'
reconciliation thresholds (< 500 CNY and < 0.5 % of the bill) or at or over one of them
(`simulator.scenario.needs_approval`). The
bill's net is credited to the merchant's (the connector's) bank account `pay_hours` later,
EndToEndId = the settlement number; the bank notifies the connector with a signed camt.054.

Supplier payments (`arrange_payments`): every supplier's payables fall due the scenario's
terms after their date, and the creditors' banks refuse a seeded share of the payments.
Bank fees (`arrange_bank_fees`): the bank charges each executed transfer, and monthly the
account.
"""

from __future__ import annotations

import random
from collections.abc import Generator
from datetime import datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import simpy

from fake_systems.bank.service import BankService
from fake_systems.erp.service import ErpService
from fake_systems.oms.service import OmsService
from fake_systems.oms.settlements import SettlementBill, SettlementLine
from simulator.clock import CHINA, format_qimen_time
from simulator.scenario import BankFeeSettings, PaymentSettings, SettlementSettings
from simulator.world import World

SUBSIDY, PENALTY = "平台补贴", "平台扣款"


def commission_cents(base_cents: int, rate: float) -> int:
    """The platform's fee on `base_cents`, rounded half up to the cent."""
    exact = Decimal(base_cents) * Decimal(str(rate))
    return int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))


class Settlement:
    """Plays the platforms' daily settlements as one SimPy process; counts what it did."""

    def __init__(
        self,
        env: simpy.Environment,
        oms: OmsService,
        bank: BankService,
        settings: SettlementSettings,
        seed: int,
    ) -> None:
        self.env = env
        self.oms = oms
        self.bank = bank
        self.settings = settings
        # Its own stream: turning settlements on changes no order, cancellation or return.
        self.random = random.Random(f"settlement-{seed}")
        self.issued = 0
        self.paid = 0
        self.paid_cents = 0
        self.adjusted_small = 0
        self.adjusted_large = 0
        self.pending = 0  # bills issued, not yet paid (the drain waits for them)

    def start(self) -> simpy.events.Process:
        return self.env.process(self._days())

    def _now(self) -> datetime:
        return self.oms.ctx.clock.now().astimezone(CHINA)

    def _days(self) -> Generator[simpy.events.Event, Any, None]:
        while True:
            now = self._now()
            cutoff = datetime.combine(now.date(), time(), CHINA) + timedelta(
                hours=self.settings.cutoff_hour
            )
            if cutoff <= now:
                cutoff += timedelta(days=1)
            yield self.env.timeout((cutoff - now).total_seconds())
            for bill in self.bill_day(cutoff.date()):
                self.pending += 1
                self.env.process(self._pay(bill))

    def bill_day(self, day: Any) -> list[SettlementBill]:
        """Issue the bills of `day` (a China date): one per shop with trades to settle."""
        bills = []
        for shop in sorted(self.oms.shops(), key=lambda s: s.shop_no):
            terms = self.settings.terms.get(shop.platform)
            if terms is None:
                continue
            # Completed before midnight N days ago: T+N after the completion day.
            until = datetime.combine(day, time(), CHINA) - timedelta(days=terms.days)
            rows = self.oms.settlements.unsettled_completed(shop.shop_no, format_qimen_time(until))
            if not rows:
                continue
            lines = tuple(
                SettlementLine(
                    trade_no=row["trade_no"],
                    src_tid=row["src_tid"],
                    paid_cents=row["paid_cents"],
                    refund_cents=row["refund_cents"],
                    commission_cents=commission_cents(
                        row["paid_cents"] - row["refund_cents"], terms.commission_rate
                    ),
                    completed_sim=row["completed_sim"],
                )
                for row in rows
            )
            bill = SettlementBill(
                settlement_no=f"ST{day:%Y%m%d}-{shop.shop_no}",
                shop_no=shop.shop_no,
                platform=shop.platform,
                owner_code=shop.owner_code,
                period_end=(until - timedelta(days=1)).date().isoformat(),
                lines=lines,
            )
            bill = self._adjusted(bill)
            self.oms.settlements.issue(bill)
            self.issued += 1
            bills.append(bill)
        return bills

    def _adjusted(self, bill: SettlementBill) -> SettlementBill:
        """The bill, with a platform adjustment for `adjustment_share` of them (drawn for
        every bill, so the stream does not depend on which are adjusted)."""
        draw, large_draw, size, sign = (self.random.random() for _ in range(4))
        if draw >= self.settings.adjustment_share:
            return bill
        base = bill.net_cents
        large = large_draw < self.settings.large_adjustment_share
        if large:
            # 0.6 % to 3 % of the bill: over the share threshold (and sometimes 500 CNY).
            cents = max(1, round(base * (0.006 + 0.024 * size)))
        else:
            # Under both: below 0.4 % of the bill and below 400 CNY.
            ceiling = min(int(base * 0.004), 40_000)
            if ceiling < 1:
                return bill
            cents = 1 + int(size * (ceiling - 1))
        cents = cents if sign < 0.5 else -cents
        if base + cents <= 0:
            return bill
        if large:
            self.adjusted_large += 1
        else:
            self.adjusted_small += 1
        reason = SUBSIDY if cents > 0 else PENALTY
        return SettlementBill(
            **{**bill.__dict__, "adjustment_cents": cents, "adjustment_reason": reason}
        )

    def _pay(self, bill: SettlementBill) -> Generator[simpy.events.Event, Any, None]:
        try:
            yield self.env.timeout(self.settings.pay_hours * 3600.0)
            if bill.net_cents <= 0:
                return  # refunds ate it: nothing to pay, the bill stays issued
            entry = self.bank.book(
                bill.net_cents,
                "CRDT",
                bill.settlement_no,
                f"{bill.platform} settlement {bill.settlement_no}",
            )
            self.oms.settlements.mark_paid(bill.settlement_no, entry.entry_ref)
            self.paid += 1
            self.paid_cents += bill.net_cents
        finally:
            self.pending -= 1

    def report(self) -> dict[str, Any]:
        return {
            "issued": self.issued,
            "paid": self.paid,
            "paid_cents": self.paid_cents,
            "adjusted_below_thresholds": self.adjusted_small,
            "adjusted_over_thresholds": self.adjusted_large,
        }


def arrange_payments(
    world: World, erp: ErpService, bank: BankService, settings: PaymentSettings, seed: int
) -> None:
    """The suppliers' terms in the ERP and the share of payments their banks refuse."""
    for supplier in world.suppliers:
        erp.master.set_payment_terms(supplier.code, settings.terms_days)
    bank.set_closed_share(settings.closed_share, f"payments-{seed}")


def arrange_bank_fees(bank: BankService, settings: BankFeeSettings) -> None:
    """The bank's charges: per executed transfer and, if any, the monthly account fee."""
    bank.set_fees(
        settings.transfer_fees,
        int((Decimal(str(settings.account_fee)) * 100).quantize(Decimal(1), ROUND_HALF_UP)),
        settings.account_fee_day,
    )
