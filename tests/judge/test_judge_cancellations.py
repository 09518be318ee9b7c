"""cancelled_not_shipped and latency_cancel_to_wms: a trade cancelled before picking ships
nothing and is booked nowhere; the other checks leave cancelled trades to it."""

from __future__ import annotations

import pytest

from contract_tests.judge import RunMeta
from tests.support.judge import BASE_WALL, SIM, Built, RunBuilder, failed, judge


def cancel_in_oms(builder: RunBuilder, built: Built, wall: float) -> None:
    """The buyer's cancellation, as the OMS records it (trade_status 5)."""
    builder.sql(
        "oms",
        "UPDATE orders SET trade_status = 5, logistics_no = NULL, shipped_sim = NULL,"
        " shipped_wall = NULL, cancelled_sim = ?, cancelled_wall = ? WHERE trade_no = ?",
        (SIM, wall, built.trade_no),
    )


def cancel_at_wms(builder: RunBuilder, built: Built, wall: float) -> None:
    builder.sql(
        "wms",
        "UPDATE delivery_orders SET status = 'CANCELED', canceled_sim = ?, canceled_wall = ?"
        " WHERE delivery_order_id = ?",
        (SIM, wall, built.delivery_order_id),
    )


def picked(builder: RunBuilder, built: Built, wall: float) -> None:
    """The WMS's state line: a picker started on the order at `wall`."""
    builder.sql(
        "wms",
        "INSERT INTO events (sim_time, wall_time, kind, operation, entity, outcome, payload)"
        " VALUES (?, ?, 'state', 'deliveryorder', ?, 'PICK', NULL)",
        (SIM, wall, built.trade_no),
    )


def test_cancelled_before_pickup_and_at_the_wms_pass_and_are_timed(builder: RunBuilder) -> None:
    builder.good_mix()
    never_sent = builder.order("paid")
    cancel_in_oms(builder, never_sent, BASE_WALL + 10)
    stopped = builder.order("at_wms")
    cancel_in_oms(builder, stopped, BASE_WALL + 20)
    cancel_at_wms(builder, stopped, BASE_WALL + 20.4)
    verdict = judge(builder)
    assert failed(verdict) == []
    assert verdict.invariant("cancelled_not_shipped").checked == 2
    # no_lost_orders does not ask a delivery order of a cancelled trade.
    assert verdict.invariant("no_lost_orders").checked == 4
    latency = verdict.invariant("latency_cancel_to_wms")
    assert latency.checked == 1 and latency.summary.startswith("p99 0.400 s")
    assert verdict.counts["cancelled"] == 2


def test_a_cancelled_trade_shipped_and_booked_fails_naming_it(builder: RunBuilder) -> None:
    builder.good_mix()
    shipped = builder.order("shipped")
    # Cancelled long before any picker came to it: the connector had all the time it needed.
    cancel_in_oms(builder, shipped, BASE_WALL - 100)
    picked(builder, shipped, BASE_WALL + 30)
    verdict = judge(builder)
    # Only the new check fails: the OMS cannot mark a cancelled trade shipped, and no ERP
    # document is asked of it, so the other checks leave it alone.
    assert failed(verdict) == ["cancelled_not_shipped"]
    inv = verdict.invariant("cancelled_not_shipped")
    assert (inv.violations, inv.breakdown) == (1, {"shipped": 1, "ERP documents": 1})
    [example] = inv.examples
    assert example["entity"] == shipped.trade_no
    assert example["observed"]["live delivery orders"] == f"{shipped.delivery_order_id} DELIVERED"
    assert {d["form_id"] for d in example["erp_documents"]} == {"SAL_OUTSTOCK", "AR_receivable"}
    assert verdict.invariant("latency_cancel_to_wms").checked == 0


def test_a_delivery_order_left_live_fails(builder: RunBuilder) -> None:
    builder.good_mix()
    left = builder.order("at_wms")
    cancel_in_oms(builder, left, BASE_WALL + 5)
    inv = judge(builder).invariant("cancelled_not_shipped")
    assert not inv.passed and inv.breakdown == {"delivery order not cancelled": 1}
    assert inv.examples[0]["entity"] == left.trade_no


@pytest.mark.parametrize(
    ("picked_after", "objective", "judged"),
    [
        (-1.0, 3.0, False),  # picked before the cancellation: too late, not judged yet
        (2.0, 3.0, False),  # within the time a connector is given to carry it
        (4.0, 3.0, True),  # later than that: it should have been stopped
        (2.0, 1.0, True),  # the objective is the grace
    ],
)
def test_orders_picked_too_soon_after_the_cancellation_are_left_out(
    builder: RunBuilder, picked_after: float, objective: float, judged: bool
) -> None:
    shipped = builder.order("shipped")
    cancel_in_oms(builder, shipped, BASE_WALL + 100)
    picked(builder, shipped, BASE_WALL + 100 + picked_after)
    meta = RunMeta(objectives={"cancel_to_wms_p99_seconds": objective})
    inv = judge(builder, meta).invariant("cancelled_not_shipped")
    assert (inv.checked, inv.passed) == ((1, False) if judged else (0, True))
