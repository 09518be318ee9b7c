"""Judge tests on built runs: purchase receipts booked as counted, and no oversell. A receipt
carried as the reference carries it passes; a missing, duplicated, unaudited or wrongly
counted stock-in or payable each fails `purchase_receipts_booked` under its own problem, and
an OMS oversell fails `no_oversell` naming the trade, unless the warehouse could not have
covered it either (a sell-out: excused, as is a trade the WMS refused for stock in it)."""

from __future__ import annotations

from pathlib import Path

from contract_tests.database import attach_run
from contract_tests.metrics import count_orders
from contract_tests.sell_outs import GRACE_SECONDS
from tests.support.judge import LedgerBuilder, RunBuilder, failed, judge
from tests.support.stock import oversell, payable, receipt, sale, stock_in

LINES = {"SKU-A": (10, 9, 2), "SKU-B": (5, 5, 0)}  # (ordered, sound, damaged): A came over


def test_a_receipt_booked_as_counted_passes(tmp_path: Path) -> None:
    builder = RunBuilder(tmp_path / "run")
    builder.good_mix()
    receipt(builder, "CGDD001", LINES)
    receipt(builder, "CGDD002", {"SKU-C": (4, 0, 4)})  # all damaged: a stock-in, no payable
    verdict = judge(builder)
    assert failed(verdict) == []
    inv = verdict.invariant("purchase_receipts_booked")
    assert (inv.checked, inv.violations) == (2, 0)
    assert verdict.invariant("no_oversell").violations == 0


def test_booking_the_ordered_quantities_fails_naming_the_order(tmp_path: Path) -> None:
    builder = RunBuilder(tmp_path / "run")
    receipt(builder, "CGDD001", LINES, booked=False)
    ordered = {item: qty for item, (qty, _, _) in LINES.items()}
    stock_in(builder, "CGDD001", ordered, 1000)
    payable(builder, "CGDD001", ordered, 1000)
    verdict = judge(builder)
    assert failed(verdict) == ["purchase_receipts_booked"]
    inv = verdict.invariant("purchase_receipts_booked")
    assert inv.breakdown == {
        "stock-in quantities differ from the receipt": 1,
        "payable amount differs from accepted x price": 1,
    }
    example = inv.examples[0]
    assert example["entity"] == "CGDD001"
    assert example["expected"]["stock_in"] == {"SKU-A": 11, "SKU-B": 5}
    assert example["expected"]["payable"] == "140.00"  # (9 + 5) x 10.00
    assert example["observed"]["stock_in"] == {"SKU-A": 10, "SKU-B": 5}


def test_each_missing_duplicate_or_unaudited_document_is_its_own_problem(tmp_path: Path) -> None:
    builder = RunBuilder(tmp_path / "run")
    receipt(builder, "NONE", LINES, booked=False)
    receipt(builder, "TWICE", LINES)
    stock_in(builder, "TWICE", {"SKU-A": 11, "SKU-B": 5}, 1000)
    receipt(builder, "DRAFT", LINES, booked=False)
    stock_in(builder, "DRAFT", {"SKU-A": 11, "SKU-B": 5}, 1000, status="B")
    payable(builder, "DRAFT", {"SKU-A": 9, "SKU-B": 5}, 1000, status="A")
    receipt(builder, "NOPAY", LINES, booked=False)
    stock_in(builder, "NOPAY", {"SKU-A": 11, "SKU-B": 5}, 1000)
    verdict = judge(builder)
    inv = verdict.invariant("purchase_receipts_booked")
    assert (inv.checked, inv.violations) == (4, 4)
    assert inv.breakdown == {
        "no stock-in": 1,
        "no payable": 2,
        "more than one stock-in": 1,
        "stock-in not audited": 1,
        "payable not audited": 1,
    }
    assert sorted(e["entity"] for e in inv.examples) == ["DRAFT", "NONE", "NOPAY", "TWICE"]


def test_a_payable_when_nothing_was_accepted_fails(tmp_path: Path) -> None:
    builder = RunBuilder(tmp_path / "run")
    receipt(builder, "CGDD009", {"SKU-C": (4, 0, 4)})
    payable(builder, "CGDD009", {"SKU-C": 4}, 1000)
    inv = judge(builder).invariant("purchase_receipts_booked")
    assert inv.breakdown == {"payable for nothing accepted": 1}


def test_an_oversell_fails_naming_the_trade(tmp_path: Path) -> None:
    builder = RunBuilder(tmp_path / "run")
    built = builder.good_mix()
    oversell(builder, built[0].trade_no, "SKU-A", 3, 1)
    verdict = judge(builder)
    assert failed(verdict) == ["no_oversell"]
    inv = verdict.invariant("no_oversell")
    assert inv.violations == 1 and inv.checked >= 4
    example = inv.examples[0]
    assert example["entity"] == built[0].trade_no
    assert (example["spec_no"], example["observed"]) == ("SKU-A", "3 sold")
    assert example["expected"] == "at most 1 unit(s) available"


def sold_out(tmp_path: Path, on_hand: int = 5) -> LedgerBuilder:
    """SKU-A with `on_hand` units, all sold to one trade (L0001) at 10 s, held by the WMS at
    11 s: nothing is left anywhere."""
    ledger = LedgerBuilder(RunBuilder(tmp_path / "run"), on_hand=on_hand)
    ledger.at_wms(11, sale(ledger, 10, on_hand))
    return ledger


def test_a_sale_in_a_true_sell_out_is_excused_and_reported(tmp_path: Path) -> None:
    ledger = sold_out(tmp_path)
    sale(ledger, 20, 2)  # the OMS had 0, and so had the warehouse: no connector could help
    inv = judge(ledger.b).invariant("no_oversell")
    assert (inv.passed, inv.violations) == (True, 0)
    assert inv.summary == "ok (1 sold in a sell-out: excused)"


def test_units_sold_and_not_yet_at_the_wms_are_not_free(tmp_path: Path) -> None:
    # The WMS still shows its 5 free, but the OMS sold them all a second ago to a trade the
    # connector has not sent yet: the OMS's 0 was right.
    ledger = LedgerBuilder(RunBuilder(tmp_path / "run"), on_hand=5)
    sale(ledger, 10, 5)
    sale(ledger, 11, 1)
    assert judge(ledger.b).invariant("no_oversell").violations == 0


def test_a_receipt_the_oms_never_heard_of_makes_the_oversell_the_connectors(
    tmp_path: Path,
) -> None:
    ledger = sold_out(tmp_path)
    ledger.move(20, 30)  # received, never pushed to the OMS
    trade_no = sale(ledger, 30, 2)
    inv = judge(ledger.b).invariant("no_oversell")
    assert (inv.passed, inv.violations, inv.breakdown) == (False, 1, {"GZ01": 1})
    example = inv.examples[0]
    assert (example["entity"], example["observed"]) == (trade_no, "2 sold")
    assert example["wms_could_cover"] == "30 unit(s) free at the WMS for its 2"


def test_a_receipt_within_the_grace_before_the_sale_is_not_yet_the_oms_s_to_know(
    tmp_path: Path,
) -> None:
    ledger = sold_out(tmp_path)
    ledger.move(30 - GRACE_SECONDS / 2, 30)
    sale(ledger, 30, 2)
    assert judge(ledger.b).invariant("no_oversell").violations == 0


def test_a_trade_refused_for_stock_in_a_sell_out_is_excused_from_no_lost_orders(
    tmp_path: Path,
) -> None:
    # L0001 took the last 5 in the OMS; L0002 oversold 2 in a true sell-out and reached the
    # WMS first, so the WMS refused L0001 (STOCK_NOT_ENOUGH): the world's doing, excused. L0003
    # (the WMS refused it too, but it sold nothing over: one excuse per oversold trade) and
    # L0004 (never sent) are lost.
    ledger = LedgerBuilder(RunBuilder(tmp_path / "run"), on_hand=5)
    first = sale(ledger, 10, 5)
    second = sale(ledger, 11, 2)
    ledger.at_wms(12, second)
    ledger.b.event("wms", "deliveryorder.create", first, "STOCK_NOT_ENOUGH")
    ledger.set(20, 40)
    ledger.move(20, 40)
    third, fourth = sale(ledger, 30, 1), sale(ledger, 31, 1)
    ledger.b.event("wms", "deliveryorder.create", third, "STOCK_NOT_ENOUGH")
    verdict = judge(ledger.b)
    assert verdict.invariant("no_oversell").violations == 0
    lost = verdict.invariant("no_lost_orders")
    assert [example["entity"] for example in lost.examples] == [third, fourth]
    assert lost.summary == "2 of 4 violate it"


def test_without_a_sell_out_a_trade_refused_for_stock_is_lost(tmp_path: Path) -> None:
    ledger = LedgerBuilder(RunBuilder(tmp_path / "run"), on_hand=5)
    trade_no = sale(ledger, 10, 2)
    ledger.b.event("wms", "deliveryorder.create", trade_no, "STOCK_NOT_ENOUGH")
    lost = judge(ledger.b).invariant("no_lost_orders")
    assert [example["entity"] for example in lost.examples] == [trade_no]


def test_a_run_from_before_these_tables_has_nothing_to_check(tmp_path: Path) -> None:
    builder = RunBuilder(tmp_path / "run")
    builder.good_mix()
    builder.sql("wms", "DROP TABLE supplier_deliveries")
    builder.sql("oms", "DROP TABLE oversells")
    verdict = judge(builder)
    assert failed(verdict) == []
    assert verdict.invariant("purchase_receipts_booked").checked == 0
    assert verdict.invariant("no_oversell").checked == 0


def test_the_drain_counts_receipts_the_erp_has_not_booked(tmp_path: Path) -> None:
    """`receipts_unbooked` (the drain waits for 0): a receipt without its audited stock-in, or
    with something accepted and no audited payable, is still the connector's to book."""
    builder = RunBuilder(tmp_path / "run")
    receipt(builder, "BOOKED", LINES)
    receipt(builder, "ALLDAMAGED", {"SKU-C": (4, 0, 4)})  # a stock-in, no payable due
    receipt(builder, "NONE", LINES, booked=False)
    receipt(builder, "DRAFT", LINES, booked=False)
    stock_in(builder, "DRAFT", {"SKU-A": 11, "SKU-B": 5}, 1000, status="B")
    receipt(builder, "NOPAY", LINES, booked=False)
    stock_in(builder, "NOPAY", {"SKU-A": 11, "SKU-B": 5}, 1000)
    builder.close()
    conn = attach_run(builder.run_dir)
    assert count_orders(conn)["receipts_unbooked"] == 3  # NONE, DRAFT, NOPAY
    conn.close()


def test_a_trade_never_sent_is_lost_even_in_a_sell_out(tmp_path: Path) -> None:
    # As above, but the connector never sent L0001 at all: the WMS did not refuse it.
    ledger = LedgerBuilder(RunBuilder(tmp_path / "run"), on_hand=5)
    first = sale(ledger, 10, 5)
    ledger.at_wms(12, sale(ledger, 11, 2))
    verdict = judge(ledger.b)
    assert verdict.invariant("no_oversell").violations == 0
    lost = verdict.invariant("no_lost_orders")
    assert [example["entity"] for example in lost.examples] == [first]
