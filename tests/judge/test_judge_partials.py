"""partial_shipments_complete on built runs: an order shipped in two packages, each waybill in
the OMS and the outstock booking what both shipped, passes; a package's waybill missing from
the OMS, an outstock of one package only, or packages short of the order fail it, naming the
trade with what was expected and observed."""

from __future__ import annotations

from tests.support.judge import Built, Line, RunBuilder, failed, judge

CHECK = "partial_shipments_complete"


def in_two_packages(builder: RunBuilder) -> tuple[Built, str]:
    """The good mix and one order of 3 units shipped as 2 + 1; the order and its 2nd waybill."""
    builder.good_mix()
    built = builder.order("shipped", lines=[Line("SKU-P1", 2, 4000), Line("SKU-P2", 1, 1500)])
    return built, builder.in_packages(built, 2)


def test_an_order_carried_package_by_package_passes(builder: RunBuilder) -> None:
    in_two_packages(builder)
    verdict = judge(builder)
    assert failed(verdict) == []
    assert verdict.invariant(CHECK).checked == 1  # only the order shipped in packages


def test_no_partial_shipment_nothing_checked(builder: RunBuilder) -> None:
    builder.good_mix()
    verdict = judge(builder)
    assert failed(verdict) == [] and verdict.invariant(CHECK).checked == 0


def test_the_second_packages_waybill_missing_from_the_oms_fails(builder: RunBuilder) -> None:
    # What faulty/ignores_partial_confirms leaves: the trade shipped under the order's waybill.
    built, second = in_two_packages(builder)
    builder.sql("oms", "DELETE FROM logistics_syncs WHERE trade_no = ?", (built.trade_no,))
    verdict = judge(builder)
    assert failed(verdict) == [CHECK]
    inv = verdict.invariant(CHECK)
    assert inv.breakdown == {"package waybill not in the OMS": 1}
    [example] = inv.examples
    assert example["entity"] == built.trade_no
    assert example["expected"]["oms_waybills"] == [built.waybill, second]
    assert example["observed"]["missing_waybills"] == [second]
    assert example["observed"]["packages"] == {"1": built.waybill, "2": second}


def test_an_outstock_of_the_last_package_only_fails(builder: RunBuilder) -> None:
    built, _ = in_two_packages(builder)
    # The final confirm's lines only: SKU-P1 x 0 (not in it), SKU-P2 x 1.
    builder.sql(
        "erp",
        "UPDATE document_entries SET qty = 0 WHERE material_number = 'SKU-P1' AND fid IN"
        " (SELECT fid FROM documents WHERE form_id = 'SAL_OUTSTOCK' AND bill_no = ?)",
        (built.trade_no,),
    )
    verdict = judge(builder)
    assert CHECK in failed(verdict)
    inv = verdict.invariant(CHECK)
    assert inv.breakdown == {"outstock differs from the packages": 1}
    [example] = inv.examples
    assert example["expected"]["outstock"] == {"SKU-P1": 2, "SKU-P2": 1}
    assert example["observed"]["outstock"] == {"SKU-P1": 0, "SKU-P2": 1}


def test_a_second_outstock_of_a_package_fails(builder: RunBuilder) -> None:
    # A duplicate under another number that names the trade in its note: the trade's
    # outstocks book a package twice.
    built, _ = in_two_packages(builder)
    builder.erp_document("SAL_OUTSTOCK", f"{built.trade_no}-P2", 1500, note=built.trade_no)
    verdict = judge(builder)
    assert CHECK in failed(verdict)
    assert "no_duplicate_erp_documents" in failed(verdict)
    assert verdict.invariant(CHECK).breakdown == {"outstock differs from the packages": 1}


def test_packages_short_of_the_order_fail(builder: RunBuilder) -> None:
    built, _ = in_two_packages(builder)
    builder.sql(
        "wms",
        "UPDATE delivery_order_lines SET actual_qty = 1 WHERE delivery_order_id = ?"
        " AND item_code = 'SKU-P1'",
        (built.delivery_order_id,),
    )
    verdict = judge(builder)
    inv = verdict.invariant(CHECK)
    assert "packages short of the order" in inv.breakdown
    [example] = inv.examples
    assert (example["expected"]["units"], example["observed"]["units"]) == (3, 2)


def test_a_cancelled_trade_is_left_to_the_cancellation_checks(builder: RunBuilder) -> None:
    built, _ = in_two_packages(builder)
    builder.sql("oms", "DELETE FROM logistics_syncs WHERE trade_no = ?", (built.trade_no,))
    builder.sql("oms", "UPDATE orders SET trade_status = 5 WHERE trade_no = ?", (built.trade_no,))
    verdict = judge(builder)
    assert verdict.invariant(CHECK).checked == 0
