"""cancelled_after_picking_returned and the cancel_to_intercept latency: a trade the buyer
cancelled once picking had started is intercepted or comes back, and never ends delivered
with the refund waiting; the propagation checks leave such trades to the cancellation checks."""

from __future__ import annotations

import pytest

from contract_tests.judge import RunMeta
from tests.support.judge import BASE_WALL, SIM, Built, RunBuilder, failed, judge

ASKED = BASE_WALL + 100.0  # when the buyer asked for the refund


def ask_refund(builder: RunBuilder, built: Built, wall: float = ASKED, status: int = 20) -> str:
    """The buyer's refund before shipment (type 1) of every line, asked at `wall` (its
    history row, status 20), now at `status`."""
    refund_no = f"TK{built.trade_no}"
    builder.sql(
        "oms",
        "INSERT INTO refunds (refund_no, trade_no, type, status, refund_cents, created_sim)"
        " VALUES (?, ?, 1, ?, ?, ?)",
        (refund_no, built.trade_no, status, built.paid_cents, SIM),
    )
    builder.sql(
        "oms",
        "INSERT INTO events (sim_time, wall_time, kind, operation, entity, outcome, payload)"
        " VALUES (?, ?, 'state', 'refund', ?, '20', NULL)",
        (SIM, wall, refund_no),
    )
    builder.sql(
        "oms",
        "UPDATE order_lines SET refund_status = ? WHERE trade_no = ?",
        (5 if status >= 80 else 2, built.trade_no),
    )
    return refund_no


def picked(builder: RunBuilder, built: Built, wall: float) -> None:
    """The WMS's state line: a picker started on the order at `wall`."""
    builder.sql(
        "wms",
        "INSERT INTO events (sim_time, wall_time, kind, operation, entity, outcome, payload)"
        " VALUES (?, ?, 'state', 'deliveryorder', ?, 'PICK', NULL)",
        (SIM, wall, built.trade_no),
    )


def parcel(builder: RunBuilder, built: Built, state: int, state_ex: str) -> None:
    builder.sql(
        "carrier",
        "UPDATE parcels SET state = ?, state_ex = ?,"
        " signed_wall = CASE WHEN ? = 3 THEN signed_wall ELSE NULL END WHERE logistic_code = ?",
        (state, state_ex, state, built.waybill),
    )


def intercepted(builder: RunBuilder, built: Built, status: str, wall: float) -> None:
    builder.sql("carrier", "INSERT INTO intercepts VALUES (?, ?, ?)", (built.waybill, status, wall))


def back_and_refunded(builder: RunBuilder) -> Built:
    """What the reference leaves: intercepted, back with the sender, refunded, the trade
    cancelled and never marked shipped nor booked."""
    built = builder.order("shipped")
    picked(builder, built, ASKED - 30)
    ask_refund(builder, built, status=80)
    parcel(builder, built, 4, "406")
    intercepted(builder, built, "returned", ASKED + 0.8)
    builder.sql(
        "oms",
        "UPDATE orders SET trade_status = 5, logistics_no = NULL, shipped_sim = NULL,"
        " shipped_wall = NULL, cancelled_sim = ?, cancelled_wall = ? WHERE trade_no = ?",
        (SIM, ASKED + 900, built.trade_no),
    )
    builder.sql("erp", "DELETE FROM documents WHERE bill_no = ?", (built.trade_no,))
    return built


def test_intercepted_and_refunded_passes_and_is_timed(builder: RunBuilder) -> None:
    builder.good_mix()
    back_and_refunded(builder)
    verdict = judge(builder)
    assert failed(verdict) == []
    assert verdict.invariant("cancelled_after_picking_returned").checked == 1
    # Picked before it was asked: cancelled_not_shipped leaves it to the new check.
    assert verdict.invariant("cancelled_not_shipped").checked == 0
    latency = verdict.latencies["cancel_to_intercept"]
    assert latency.count == 1 and latency.p99 == pytest.approx(0.8)


def test_a_waiting_cancellation_is_no_sale_for_the_propagation_checks(
    builder: RunBuilder,
) -> None:
    """Intercepted, the parcel still on its way back: the trade is neither marked shipped
    nor booked, and no propagation check asks it to be."""
    builder.good_mix()
    built = builder.order("shipped")
    picked(builder, built, ASKED - 30)
    ask_refund(builder, built)
    parcel(builder, built, 4, "413")
    intercepted(builder, built, "intercepted", ASKED + 1)
    builder.sql(
        "oms",
        "UPDATE orders SET trade_status = 30, logistics_no = NULL, shipped_sim = NULL,"
        " shipped_wall = NULL WHERE trade_no = ?",
        (built.trade_no,),
    )
    builder.sql("erp", "DELETE FROM documents WHERE bill_no = ?", (built.trade_no,))
    assert failed(judge(builder)) == []


@pytest.mark.parametrize(
    ("state", "state_ex", "intercept", "refund", "problem"),
    [
        # Sold as if nobody had cancelled: signed for by the buyer, the refund waiting.
        (3, "301", None, 20, "delivered, refund not agreed"),
        # Still on its way to the buyer, nobody asked the carrier to stop it.
        (2, "202", None, 20, "not intercepted"),
        # Refunded, but the goods reached the buyer all the same.
        (3, "301", None, 80, "delivered"),
        # The interception came too late.
        (3, "301", "too_late", 20, "delivered, refund not agreed"),
        # Accepted, not acted on yet, or refused by the buyer: on their way back.
        (2, "201", "requested", 20, None),
        (4, "404", None, 20, None),
    ],
)
def test_a_parcel_that_is_not_stopped_fails_naming_the_trade(
    builder: RunBuilder,
    state: int,
    state_ex: str,
    intercept: str | None,
    refund: int,
    problem: str | None,
) -> None:
    builder.good_mix()
    built = builder.order("completed" if state == 3 else "shipped")
    picked(builder, built, ASKED - 30)
    refund_no = ask_refund(builder, built, status=refund)
    parcel(builder, built, state, state_ex)
    if intercept is not None:
        intercepted(builder, built, intercept, ASKED + 1)
    verdict = judge(builder)
    inv = verdict.invariant("cancelled_after_picking_returned")
    if problem is None:
        assert failed(verdict) == []
        return
    # Only this check fails: the others leave a cancellation to the cancellation checks.
    assert failed(verdict) == ["cancelled_after_picking_returned"]
    assert (inv.checked, inv.violations, inv.breakdown) == (1, 1, {problem: 1})
    [example] = inv.examples
    assert example["entity"] == built.trade_no and example["refund_no"] == refund_no
    assert example["observed"]["parcels"].startswith(f"{built.waybill} {state}/{state_ex}")
    assert any(line["entity"] == refund_no for line in example["history"])


@pytest.mark.parametrize(("picked_after", "mine"), [(-30.0, True), (2.0, True), (10.0, False)])
def test_the_two_cancellation_checks_split_the_trades_at_the_allowance(
    builder: RunBuilder, picked_after: float, mine: bool
) -> None:
    """Picked by the request plus the 3 s allowance: after picking (this check). Later: the
    connector could have stopped it at the WMS (cancelled_not_shipped), shipped or not."""
    built = builder.order("shipped")
    picked(builder, built, ASKED + picked_after)
    ask_refund(builder, built)
    verdict = judge(builder, RunMeta(objectives={"cancel_to_wms_p99_seconds": 3.0}))
    after = verdict.invariant("cancelled_after_picking_returned")
    before = verdict.invariant("cancelled_not_shipped")
    assert (after.checked, before.checked) == ((1, 0) if mine else (0, 1))
    # Shipped and not stopped, either way: the check that judges it fails.
    assert failed(verdict) == [
        "cancelled_not_shipped" if not mine else "cancelled_after_picking_returned"
    ]


def test_a_second_package_signed_for_fails_though_the_first_came_back(
    builder: RunBuilder,
) -> None:
    """An order the WMS shipped in two packages: the first (the order's waybill) was stopped
    and came back, the second, under a waybill of its own, reached the buyer."""
    builder.good_mix()
    built = back_and_refunded(builder)
    second = builder.in_packages(built, 1)
    builder.sql("oms", "DELETE FROM logistics_syncs WHERE trade_no = ?", (built.trade_no,))
    builder.sql(
        "carrier",
        "INSERT INTO parcels VALUES (?, 'SF', 3, '301', ?, ?, ?, ?)",
        (second, SIM, ASKED + 60, SIM, ASKED + 3600),
    )
    verdict = judge(builder)
    assert failed(verdict) == ["cancelled_after_picking_returned"]
    inv = verdict.invariant("cancelled_after_picking_returned")
    assert inv.breakdown == {"delivered": 1}
    [example] = inv.examples
    assert example["entity"] == built.trade_no
    assert f"{second} 3/301" in example["observed"]["parcels"]
