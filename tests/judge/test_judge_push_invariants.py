"""The invariants push faults need: no action on a forged push, no trade booked twice."""

from __future__ import annotations

from tests.support.judge import BASE_WALL, RunBuilder, failed, judge


def forged(builder: RunBuilder, system: str, operation: str, entity: str, wall: float) -> None:
    """A forged push in the history, as the dispatcher records it."""
    builder.sql(
        system,
        "INSERT INTO events (sim_time, wall_time, kind, operation, entity, outcome, payload)"
        " VALUES ('2026-11-11 00:00:00', ?, 'push_forged', ?, ?, 'ok', NULL)",
        (wall, operation, entity),
    )


# ------------------------------------------------------------------ no_action_on_forged_push


def test_oms_shipped_after_a_forged_confirm_before_the_wms_shipped_fails(
    builder: RunBuilder,
) -> None:
    builder.good_mix()
    open_order = builder.order("at_wms")
    forged(builder, "wms", "deliveryorder.confirm", open_order.trade_no, BASE_WALL + 500)
    builder.sql(
        "oms",
        "UPDATE orders SET trade_status = 95, logistics_no = 'SF1', shipped_wall = ?"
        " WHERE trade_no = ?",
        (BASE_WALL + 501, open_order.trade_no),
    )
    verdict = judge(builder)
    # booked_after_wms_shipped leaves a trade a forged confirm named to this check, which
    # names the push it came from.
    assert failed(verdict) == ["no_action_on_forged_push"]
    example = verdict.invariant("no_action_on_forged_push").examples[0]
    assert example["entity"] == open_order.trade_no
    assert example["observed"] == "OMS marked shipped before the WMS shipped it (it never did)"
    assert example["forged_push"]["delivery_order_code"] == open_order.trade_no


def test_erp_documents_after_a_forged_confirm_before_the_wms_shipped_fail(
    builder: RunBuilder,
) -> None:
    builder.good_mix()
    open_order = builder.order("at_wms")
    forged(builder, "wms", "deliveryorder.confirm", open_order.trade_no, BASE_WALL + 500)
    builder.erp_document(
        "SAL_OUTSTOCK", open_order.trade_no, open_order.paid_cents, audited_wall=BASE_WALL + 502
    )
    verdict = judge(builder)
    assert failed(verdict) == ["no_action_on_forged_push"]
    example = verdict.invariant("no_action_on_forged_push").examples[0]
    assert example["observed"].startswith("ERP documents saved before the WMS shipped it")


def test_a_refused_forged_confirm_with_the_real_shipment_later_passes(builder: RunBuilder) -> None:
    builder.good_mix()
    shipped = builder.order("shipped")  # the WMS ships at created + 60 s, the OMS 1 s later
    forged(builder, "wms", "deliveryorder.confirm", shipped.trade_no, BASE_WALL)
    verdict = judge(builder)
    inv = verdict.invariant("no_action_on_forged_push")
    assert inv.passed and inv.checked == 1


def test_completing_after_a_forged_signing_before_the_parcel_is_signed_fails(
    builder: RunBuilder,
) -> None:
    builder.good_mix()
    travelling = builder.order("shipped")
    assert travelling.waybill is not None
    forged(builder, "carrier", "101", travelling.waybill, BASE_WALL + 500)
    builder.sql(
        "oms",
        "UPDATE orders SET trade_status = 110, completed_wall = ? WHERE trade_no = ?",
        (BASE_WALL + 501, travelling.trade_no),
    )
    verdict = judge(builder)
    assert failed(verdict) == ["no_action_on_forged_push"]
    example = verdict.invariant("no_action_on_forged_push").examples[0]
    assert example["entity"] == travelling.trade_no
    assert example["forged_push"]["logistic_code"] == travelling.waybill
    assert example["observed"].endswith("(it never was)")


def test_completing_after_the_real_signing_passes_despite_a_forged_push(
    builder: RunBuilder,
) -> None:
    completed = builder.order("completed")  # signed, then completed 100 s later
    assert completed.waybill is not None
    forged(builder, "carrier", "101", completed.waybill, BASE_WALL)
    inv = judge(builder).invariant("no_action_on_forged_push")
    assert inv.passed and inv.checked == 1
