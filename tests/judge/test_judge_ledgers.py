"""three_ledgers_agree's rules on their own: what counts as in flight, and how big a
difference must be to be one (0.5 % of the larger ledger, at least a unit)."""

from __future__ import annotations

import pytest

from contract_tests.ledgers import Ledgers, _in_flight_at, differs, in_flight


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
