"""Judge tests on built runs: purchase receipts booked as counted, and no oversell. A receipt
carried as the reference carries it passes; a missing, duplicated, unaudited or wrongly
counted stock-in or payable each fails `purchase_receipts_booked` under its own problem, and
an OMS oversell fails `no_oversell` naming the trade."""

from __future__ import annotations

from pathlib import Path

from contract_tests.database import attach_run
from contract_tests.metrics import count_orders
from tests.support.judge import RunBuilder, failed, judge
from tests.support.stock import oversell, payable, receipt, stock_in

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
