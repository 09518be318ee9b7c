"""three_ledgers_agree's rules on their own: what counts as in flight, and how big a
difference must be to be one (0.5 % of the larger ledger, at least a unit); and the OMS at
the snapshots, each term of what it could not know yet (tests.support.judge.LedgerBuilder)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from contract_tests.database import attach_run
from contract_tests.evidence import InvariantResult
from contract_tests.ledgers import (
    OMS_AT_SNAPSHOT,
    Ledgers,
    Read,
    _in_flight_at,
    differs,
    in_flight,
    oms_in_flight,
    three_ledgers_agree,
)
from tests.support.judge import LedgerBuilder, RunBuilder, ledger_sim


@pytest.mark.parametrize(
    ("wms", "erp", "flying"),
    [
        (-5, 0, -5),  # shipped, outstock not audited yet
        (-5, -2, -3),  # part booked
        (-5, -5, 0),  # booked
        (-5, -7, 0),  # booked beyond what moved: not in flight
        (-5, 3, 0),  # booked the other way
        (4, 0, 4),  # received, stock-in not audited yet
        (4, 6, 0),
        (0, -3, 0),  # booked before the warehouse moved
    ],
)
def test_in_flight_is_only_what_lies_between_nothing_and_the_movement(
    wms: int, erp: int, flying: int
) -> None:
    assert in_flight(wms, erp) == flying


@pytest.mark.parametrize(
    ("difference", "larger", "violation"),
    [(0, 20, False), (1, 20, True), (1, 500, False), (2, 500, False), (3, 500, True)],
)
def test_a_difference_counts_over_half_a_percent_and_a_unit(
    difference: int, larger: int, violation: bool
) -> None:
    assert differs(difference, larger) is violation
    assert differs(-difference, larger) is violation


def test_a_movement_is_in_flight_at_the_snapshots_before_its_booking() -> None:
    """A shipment at 10 booked at 25: in flight at the snapshot of 20, not at 30; a stock-in
    booked at 12 for a receipt at 15 (early) is never in flight."""
    ledgers = Ledgers(
        wms_moves=[(10.0, "WH", "I", "T1", -3), (15.0, "WH", "I", "PO1", 5)],
        erp_moves=[(25.0, "WH", "I", "T1", -3), (12.0, "WH", "I", "PO1", 5)],
    )
    flying = _in_flight_at(ledgers, [5.0, 20.0, 30.0])
    assert [dict(at) for at in flying] == [{}, {("WH", "I"): -3}, {}]


def test_an_order_left_out_counts_from_its_movement_on() -> None:
    """A parcel shipped at 10 and back with the sender at 40 is off the WMS's side from each
    movement on (its ERP postings are not on the books at all)."""
    ledgers = Ledgers(
        wms_left_out=[(10.0, "WH", "I", "T9", -2), (40.0, "WH", "I", "T9", 2)],
    )
    flying = _in_flight_at(ledgers, [5.0, 20.0, 50.0])
    assert [dict(at) for at in flying] == [{}, {("WH", "I"): -2}, {("WH", "I"): 0}]


# ---------------------------------------------------------------- the OMS at the snapshots
#
# One item in one warehouse, 100 units at the opening; each test plays a short history (at:
# seconds), takes a snapshot at 40, then lets everything settle (the end agrees), and judges.
# Each term of what the OMS could not know yet is shown twice: a difference between the OMS's
# available + reserved and the WMS's on hand that the term explains passes; the same
# difference without it (the connector set a wrong number) fails, named at the snapshot.

SNAPSHOT_AT = 40.0


def judged(ledger: LedgerBuilder) -> InvariantResult:
    """Snapshot at 40, settle at 60, judge three_ledgers_agree alone."""
    ledger.snapshot(SNAPSHOT_AT)
    ledger.settle(60.0)
    return verdict_of(ledger)


def verdict_of(ledger: LedgerBuilder) -> InvariantResult:
    """three_ledgers_agree alone on the run built so far."""
    ledger.b.close()
    conn = attach_run(ledger.b.run_dir)
    try:
        return three_ledgers_agree(conn, {})
    finally:
        conn.close()


def at_the_snapshot(verdict: InvariantResult) -> dict[str, Any] | None:
    """What the example says of the OMS at the snapshot, None when the invariant passed;
    nothing else may be wrong."""
    if verdict.passed:
        return None
    assert verdict.breakdown == {OMS_AT_SNAPSHOT: 1}, verdict.breakdown
    observed: dict[str, Any] = verdict.examples[0]["observed"]
    assert set(observed) == {"oms_first_snapshot"}
    return observed["oms_first_snapshot"]


@pytest.fixture
def ledger(tmp_path: Path) -> LedgerBuilder:
    return LedgerBuilder(RunBuilder(tmp_path / "run"))


def difference(seen: dict[str, Any]) -> int:
    return seen["oms_available"] + seen["oms_reserved"] - seen["wms_on_hand"]


@pytest.mark.parametrize("explained", [True, False], ids=["after_the_read", "before_the_read"])
def test_a_wms_movement_after_the_read_is_in_flight(ledger: LedgerBuilder, explained: bool) -> None:
    """10 units received: after the read the OMS's stock was set from, the OMS cannot know
    them yet; before it, the set should have had them."""
    if not explained:
        ledger.move(5, 10)
    ledger.read(10)
    ledger.set(20, 100)
    if explained:
        ledger.move(30, 10)
    seen = at_the_snapshot(judged(ledger))
    if explained:
        assert seen is None
        return
    assert seen is not None and difference(seen) == -10
    assert seen["in_flight"] == 0 and seen["expected_oms_available"] == 110
    assert seen["read"] == {
        "how": "inventory.query",
        "at": ledger_sim(10),
        "on_hand": 110,
        "reserved": 0,
    }


@pytest.mark.parametrize("when", ["later", "never", None], ids=["late", "lost", "held"])
def test_a_trade_the_wms_did_not_hold_at_the_read_is_in_flight(
    ledger: LedgerBuilder, when: str | None
) -> None:
    """2 units paid before the read: if the WMS did not hold them then (its delivery order came
    later, or never: a lost order), the WMS's available counted them free and the OMS keeps
    them reserved; if it held them, the set should have left them out."""
    trade = ledger.sale(5, 2)
    if when is None:
        ledger.at_wms(7, trade)
    ledger.read(10)
    ledger.set(20, 100)
    if when == "later":
        ledger.at_wms(30, trade)
    seen = at_the_snapshot(judged(ledger))
    if when is not None:
        assert seen is None
        return
    assert seen is not None and difference(seen) == 2 and seen["in_flight"] == 0


@pytest.mark.parametrize("explained", [True, False], ids=["race", "set_wrong"])
def test_a_sale_between_the_read_and_the_set_is_in_flight(
    ledger: LedgerBuilder, explained: bool
) -> None:
    """2 units sold after the connector's read and before its set: the set overwrote the sale
    with the available read before it. The same figures with the sale after the set: the set
    was 2 over."""
    ledger.read(10)
    if explained:
        ledger.sale(15, 2)
    ledger.set(20, 100 if explained else 102)
    if not explained:
        ledger.sale(25, 2)
    seen = at_the_snapshot(judged(ledger))
    if explained:
        assert seen is None
        return
    assert seen is not None and difference(seen) == 2
    assert (seen["oms_available"], seen["sold_since_set"], seen["expected_oms_available"]) == (
        100,
        2,
        98,
    )


@pytest.mark.parametrize("explained", [True, False], ids=["not_marked", "marked"])
def test_a_trade_shipped_at_the_wms_not_yet_marked_shipped_in_the_oms_is_in_flight(
    ledger: LedgerBuilder, explained: bool
) -> None:
    """The WMS shipped 2 units the OMS still holds reserved. Marked shipped in the OMS, the
    same difference is a set 2 over."""
    trade = ledger.sale(5, 2)
    ledger.at_wms(7, trade)
    ledger.read(10)
    ledger.set(20, 98 if explained else 100)
    ledger.ship(30, trade)
    if not explained:
        ledger.shipped_in_oms(35, trade)
    seen = at_the_snapshot(judged(ledger))
    if explained:
        assert seen is None
        return
    assert seen is not None and difference(seen) == 2 and seen["oms_reserved"] == 0


@pytest.mark.parametrize("case", ["held_at_the_read", "sold_after_the_set", None])
def test_a_cancellation_is_in_flight(ledger: LedgerBuilder, case: str | None) -> None:
    """A cancelled trade's 2 units come back to the OMS only at the next set: cancelled after
    the WMS held it at the read, or sold after the set. With no such trade, the same 2 units
    short is a set 2 under."""
    if case == "held_at_the_read":
        trade = ledger.sale(5, 2)
        ledger.at_wms(7, trade)
    ledger.read(10)
    ledger.set(20, 100 if case == "sold_after_the_set" else 98)
    if case == "sold_after_the_set":
        trade = ledger.sale(25, 2)
    if case is not None:
        ledger.cancel(30, trade)
    seen = at_the_snapshot(judged(ledger))
    if case is not None:
        assert seen is None
        return
    assert seen is not None and difference(seen) == -2 and seen["expected_oms_available"] == 100


@pytest.mark.parametrize("explained", [True, False], ids=["after_the_read", "before_the_read"])
def test_a_parcel_back_with_the_sender_after_the_read_is_in_flight(
    ledger: LedgerBuilder, explained: bool
) -> None:
    """A shipped parcel of 2 units comes back to the warehouse (intercepted or refused; the
    WMS reports no stock change for it): in flight after the read, not before it."""
    trade = ledger.sale(1, 2)
    ledger.at_wms(2, trade)
    ledger.ship(3, trade)
    ledger.shipped_in_oms(4, trade)

    def back(at: float) -> None:
        ledger.move(at, 2, "returned_to_sender", f"D{trade}", booked=False)

    if not explained:
        back(5)
    ledger.read(10)
    ledger.set(20, 98)
    if explained:
        back(30)
    seen = at_the_snapshot(judged(ledger))
    if explained:
        assert seen is None
        return
    assert seen is not None and difference(seen) == -2


def test_a_negative_available_is_set_as_zero(ledger: LedgerBuilder) -> None:
    """A count found 97 units gone of 100 with 5 held by an order: the WMS has -2 available,
    and the OMS takes no negative stock: a set of 0 is right, and the 2 units the OMS holds
    reserved beyond the shelf are in flight."""
    trade = ledger.sale(1, 5)
    ledger.at_wms(2, trade)
    ledger.move(3, -97, "count", "CK1")
    ledger.read(10)
    ledger.set(20, 0)
    ledger.snapshot(SNAPSHOT_AT)
    ledger.move(50, 10)  # received before the order ships in full
    ledger.settle(60)
    assert at_the_snapshot(verdict_of(ledger)) is None
    read = Read(0.0, "", on_hand=3, reserved=5, how="inventory.query")
    assert oms_in_flight(read, sold=0, reserved=5, on_hand=3) == 2


def test_the_read_behind_a_set_is_the_last_before_it(ledger: LedgerBuilder) -> None:
    """A read after the set (the connector about to set again) is not the one the OMS's stock
    came from: the receipt it saw is still in flight."""
    ledger.read(10)
    ledger.set(20, 100)
    ledger.move(30, 10)
    ledger.read(35)
    assert at_the_snapshot(judged(ledger)) is None


@pytest.mark.parametrize("explained", [True, False], ids=["right", "stale"])
def test_a_set_with_no_read_before_it_is_held_to_the_wms_at_the_set(
    ledger: LedgerBuilder, explained: bool
) -> None:
    """A connector that never asked the WMS gets no read-then-set allowance: its set is held
    to the WMS's available at that moment (from its ledger); what moved after is in flight."""
    ledger.move(5, 10)
    ledger.set(20, 110 if explained else 100)
    ledger.move(30, 5)
    seen = at_the_snapshot(judged(ledger))
    if explained:
        assert seen is None
        return
    assert seen is not None and seen["read"]["how"] == "ledger at the set"
    assert seen["read"]["on_hand"] == 110 and seen["expected_oms_available"] == 110


def test_a_stock_never_set_is_the_opening_less_the_sales(ledger: LedgerBuilder) -> None:
    """No set before the snapshot: the OMS has its opening stock less its sales, and whatever
    the WMS did since (a shipment, a receipt) is in flight."""
    trade = ledger.sale(5, 3)
    ledger.at_wms(6, trade)
    ledger.ship(7, trade)
    ledger.shipped_in_oms(8, trade)
    ledger.move(9, 20)
    verdict = judged(ledger)
    assert verdict.passed, verdict.examples
    assert verdict.summary.endswith("(WMS, ERP and OMS; 1 snapshot)")


@pytest.mark.parametrize("oms_snapshots", [True, False], ids=["now", "before"])
def test_a_run_from_before_the_oms_snapshots_judges_the_oms_at_the_end_only(
    tmp_path: Path, oms_snapshots: bool
) -> None:
    """A connector wrong in between (it set the units a delivery order held as free) and
    right at the end: caught at the snapshot when the run recorded the OMS's stock; a run from
    before that has nothing to compare the OMS with there, and says so."""
    ledger = LedgerBuilder(RunBuilder(tmp_path / "run"), oms_snapshots=oms_snapshots)
    trade = ledger.sale(5, 2)
    ledger.at_wms(7, trade)
    ledger.read(10)
    ledger.set(20, 100)
    verdict = judged(ledger)
    if oms_snapshots:
        seen = at_the_snapshot(verdict)
        assert seen is not None and seen["read"]["reserved"] == 2
        return
    assert verdict.passed, verdict.examples
    assert verdict.summary.endswith("(WMS, ERP and OMS, the OMS at the end only; 1 snapshot)")


def test_at_the_end_cancellations_since_the_last_set_are_excused_whatever_sold_since(
    ledger: LedgerBuilder,
) -> None:
    """The OMS's stock was last set at 20; a trade the WMS held then is cancelled at 30, and
    another sold at 40 and cancelled at 50: the OMS is 3 units short at the end, both
    cancellations since the set (a sale moves the stock row's modified_sim, not its set)."""
    held = ledger.sale(1, 2)
    ledger.at_wms(2, held)
    ledger.read(10)
    ledger.set(20, 98)
    ledger.cancel(30, held)
    later = ledger.sale(40, 1)
    ledger.cancel(50, later)
    verdict = verdict_of(ledger)
    assert verdict.passed, verdict.examples
