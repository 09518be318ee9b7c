"""The platforms' settlements in the world model: `settlement:` validated naming its fields;
bills T+N after completion, net of refunds and commission (half up to the cent), a trade with
a refund under way held; paid into the bank as one credit named by the bill; adjustments on
their own stream, below or over the seeds' thresholds."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from pydantic import ValidationError

from fake_systems.bank.service import BankService
from fake_systems.common.context import SystemContext
from fake_systems.oms.models import RefundType
from fake_systems.oms.service import OmsService
from fake_systems.oms.settlements import SettlementBill, SettlementLine
from simulator.clock import ManualClock
from simulator.scenario import SettlementSettings, needs_approval
from simulator.settlement import Settlement, commission_cents
from simulator.world import World
from tests.support.bank import CREDENTIALS
from tests.support.oms import CREDS, simple

HOUR = 3600.0


@pytest.fixture
def oms(make_context: Callable[[str], SystemContext], world: World) -> OmsService:
    service = OmsService(make_context("oms"), CREDS)
    service.setup(world)
    return service


@pytest.fixture
def bank(make_context: Callable[[str], SystemContext], world: World) -> BankService:
    service = BankService(make_context("bank"), CREDENTIALS)
    service.setup(world)
    return service


def settings(days: int = 0, rate: float = 0.075, **more: float) -> SettlementSettings:
    terms = {code: {"days": days, "commission_rate": rate} for code in ("TM", "JD", "DY")}
    return SettlementSettings(enabled=True, terms=terms, **{"adjustment_share": 0, **more})


def completed(oms: OmsService, world: World, tid: str) -> str:
    """A paid trade (59.00, shop DY-A) shipped and signed for: completed (110) now."""
    trade = simple(world, tid)
    trade_no = oms.create_paid_order(trade)
    oms.sync_logistics(trade_no, trade.logistics_code, f"SF{tid}")
    oms.upload_trace(trade_no, f"SF{tid}", 3)
    return trade_no


def test_settlement_settings_name_the_wrong_field() -> None:
    with pytest.raises(ValidationError, match="unknown platform 'PDD'"):
        SettlementSettings(terms={"PDD": {"days": 1, "commission_rate": 0.05}})
    with pytest.raises(ValidationError) as caught:
        SettlementSettings(terms={"JD": {"days": 1, "commission_rate": 1.5}})
    assert caught.value.errors()[0]["loc"] == ("terms", "JD", "commission_rate")
    with pytest.raises(ValidationError) as caught:
        SettlementSettings(cutoff_hour=24)
    assert caught.value.errors()[0]["loc"] == ("cutoff_hour",)
    assert not SettlementSettings().enabled  # off unless asked for


def test_commission_rounds_half_up_to_the_cent() -> None:
    assert commission_cents(5900, 0.075) == 443  # 442.5
    assert commission_cents(5900, 0.05) == 295
    assert commission_cents(0, 0.08) == 0


def test_a_day_of_trades_is_billed_at_the_cutoff_and_paid_into_the_bank(
    oms: OmsService, bank: BankService, world: World, clock: ManualClock
) -> None:
    first, second = completed(oms, world, "P1"), completed(oms, world, "P2")
    held = completed(oms, world, "P3")
    oms.create_refund(held, RefundType.REFUND_ONLY, reason="少件")
    settlement = Settlement(clock.env, oms, bank, settings(), seed=5)
    settlement.start()
    clock.advance(6 * HOUR + 1)  # 20:00 -> past the 02:00 cutoff
    assert (settlement.issued, settlement.pending, settlement.paid) == (1, 1, 0)
    [bill] = oms.settlements.search("2026-11-11 00:00:00", "2026-11-12 00:00:00", 10, 0)[1]
    assert bill.settlement_no == f"ST20261111-{world.shops[2].shop_no}"
    # The trade with a refund under way is held; the others are settled net of 7.5 %.
    assert [(line.trade_no, line.commission_cents) for line in bill.lines] == [
        (first, 443),
        (second, 443),
    ]
    assert bill.net_cents == 2 * (5900 - 443)
    clock.advance(2 * HOUR)  # paid two hours later
    assert (settlement.pending, settlement.paid, settlement.paid_cents) == (0, 1, bill.net_cents)
    [entry] = bank.statement(CREDENTIALS.account, clock.now().date()).entries
    assert (entry.direction, entry.amount_cents, entry.end_to_end_id) == (
        "CRDT",
        bill.net_cents,
        bill.settlement_no,
    )
    paid = oms.settlements.get(bill.settlement_no)
    assert (paid.status, paid.entry_ref) == ("paid", entry.entry_ref)
    # Nothing is billed twice on the next night.
    clock.advance(24 * HOUR)
    assert settlement.issued == 1


def test_t_plus_n_waits_n_days_after_the_completion_day(
    oms: OmsService, bank: BankService, world: World, clock: ManualClock
) -> None:
    completed(oms, world, "P1")
    settlement = Settlement(clock.env, oms, bank, settings(days=2), seed=5)
    settlement.start()
    clock.advance(6 * HOUR + 1 + 24 * HOUR)  # 11-11 and 11-12 02:00: not yet
    assert settlement.issued == 0
    clock.advance(24 * HOUR)  # 11-13 02:00: completed 11-10, T+2
    assert settlement.issued == 1


def bills(count: int) -> list[SettlementBill]:
    """Bills of 10.00 to 20,000.00 net (a spread of sizes around the 500 CNY threshold)."""
    return [
        SettlementBill(
            f"ST{n}", "DY-A", "DY", "OWNER-A", "2026-11-10",
            (SettlementLine(f"T{n}", f"P{n}", 1000 + n * 5000, 0, 0, "2026-11-10 10:00:00"),),
        )
        for n in range(count)
    ]  # fmt: skip


def test_adjustments_fall_below_both_thresholds_or_over_one(
    oms: OmsService, bank: BankService, clock: ManualClock
) -> None:
    rules = settings(adjustment_share=0.5, large_adjustment_share=0.5)
    one = Settlement(clock.env, oms, bank, rules, seed=9)
    two = Settlement(clock.env, oms, bank, rules, seed=9)
    adjusted = [one._adjusted(b) for b in bills(400)]
    assert adjusted == [two._adjusted(b) for b in bills(400)]  # the seed's own stream
    small = large = 0
    signs = set()
    for before, after in zip(bills(400), adjusted, strict=True):
        cents = after.adjustment_cents
        if not cents:
            continue
        signs.add(cents > 0)
        if needs_approval(cents, before.net_cents):
            large += 1
        else:
            small += 1
        assert after.net_cents > 0
        assert after.adjustment_reason
    assert (small, large) == (one.adjusted_small, one.adjusted_large)
    # About half the bills adjusted, about half of those over a threshold.
    assert 150 <= small + large <= 250
    assert 0.35 <= large / (small + large) <= 0.65
    assert signs == {True, False}
