"""Judge tests on built runs: cycle counts. Counts booked as the reference books them (a gain
bill of the units over, a loss bill of those under, flagged when out of their class's
tolerance) pass; a missing, doubled, unaudited or swapped bill, wrong quantities, a missing
flag or a needless one each fail `count_adjustments_booked` under its own problem, naming the
count with what was expected and observed; `counts_unbooked` counts the counts not booked."""

from __future__ import annotations

from pathlib import Path

from contract_tests.database import attach_run
from contract_tests.metrics import count_orders
from tests.support.counts import FLAG, WAREHOUSE, count, count_bill
from tests.support.judge import RunBuilder, failed, judge

# 1 unit off of 1,000 on the books: 0.1 %, within every class's tolerance.
WITHIN = {"SKU-A": (600, 1), "SKU-B": (400, 0)}
# 3 units off of 500: 0.6 %, over A's 0.3 % and B's 0.5 %, within C's 1 %.
MIXED = {"SKU-A": (300, 2), "SKU-B": (200, -1)}


def test_counts_booked_as_they_happened_pass(tmp_path: Path) -> None:
    builder = RunBuilder(tmp_path / "run")
    builder.good_mix()
    count(builder, "PD1", "A", WITHIN, flagged=False)
    count(builder, "PD2", "A", MIXED, flagged=True)
    count(builder, "PD3", "C", MIXED, flagged=False)
    count(builder, "PD4", "B", {"SKU-C": (10, 0)}, flagged=False)  # nothing off: not judged
    verdict = judge(builder)
    assert failed(verdict) == []
    inv = verdict.invariant("count_adjustments_booked")
    assert (inv.checked, inv.violations) == (3, 0)


def test_a_count_out_of_tolerance_not_flagged_fails_naming_it(tmp_path: Path) -> None:
    builder = RunBuilder(tmp_path / "run")
    builder.good_mix()
    count(builder, "PD1", "B", MIXED, flagged=False)
    count(builder, "PD2", "A", WITHIN, flagged=False)
    verdict = judge(builder)
    assert failed(verdict) == ["count_adjustments_booked"]
    inv = verdict.invariant("count_adjustments_booked")
    assert (inv.checked, inv.violations) == (2, 1)
    assert inv.breakdown == {"out of tolerance and not flagged": 1}
    example = inv.examples[0]
    assert example["entity"] == "PD1"
    assert example["expected"] == {
        "warehouse": WAREHOUSE,
        "abc_class": "B",
        "gain": {"SKU-A": 2},
        "loss": {"SKU-B": 1},
        "book_qty": 500,
        "flagged": True,
    }
    assert example["observed"]["gain_bills"] == ["PD1 (C)"]


def test_a_count_within_tolerance_flagged_fails(tmp_path: Path) -> None:
    builder = RunBuilder(tmp_path / "run")
    builder.good_mix()
    count(builder, "PD1", "C", MIXED, flagged=True)
    inv = judge(builder).invariant("count_adjustments_booked")
    assert inv.breakdown == {"flagged within tolerance": 1}


def test_a_gain_booked_as_a_loss_fails(tmp_path: Path) -> None:
    builder = RunBuilder(tmp_path / "run")
    builder.good_mix()
    count(builder, "PD1", "C", MIXED, flagged=False, booked=False)
    count_bill(builder, "STK_StockCountLoss", "PD1", {"SKU-A": 2, "SKU-B": 1})
    inv = judge(builder).invariant("count_adjustments_booked")
    assert inv.violations == 1
    assert inv.breakdown == {"no count gain": 1, "count loss quantities differ from the count": 1}
    assert inv.examples[0]["observed"]["loss"] == {"SKU-A": 2, "SKU-B": 1}


def test_doubled_unaudited_misplaced_or_needless_bills_fail(tmp_path: Path) -> None:
    builder = RunBuilder(tmp_path / "run")
    builder.good_mix()
    count(builder, "PD1", "C", MIXED, flagged=False)
    count_bill(builder, "STK_StockCountGain", "PD1", {"SKU-A": 2}, bill_no="PD1-2")
    count(builder, "PD2", "C", MIXED, flagged=False, booked=False)
    count_bill(builder, "STK_StockCountGain", "PD2", {"SKU-A": 2}, status="B")
    count_bill(builder, "STK_StockCountLoss", "PD2", {"SKU-B": 1}, stock="WH-OTHER")
    count(builder, "PD3", "C", {"SKU-A": (100, 1)}, flagged=False)
    count_bill(builder, "STK_StockCountLoss", "PD3", {"SKU-A": 1})
    inv = judge(builder).invariant("count_adjustments_booked")
    assert (inv.checked, inv.violations) == (3, 3)
    assert inv.breakdown == {
        "more than one count gain": 1,
        "count gain quantities differ from the count": 1,
        "count gain not audited": 1,
        "count loss not at the counted warehouse": 1,
        "a count loss where the count found none": 1,
        "count loss quantities differ from the count": 1,
    }


def test_counts_unbooked_counts_what_the_erp_has_not_booked(tmp_path: Path) -> None:
    builder = RunBuilder(tmp_path / "run")
    builder.good_mix()
    count(builder, "OK", "A", MIXED, flagged=True)
    count(builder, "NONE", "A", MIXED, flagged=True, booked=False)
    count(builder, "NOLOSS", "C", MIXED, flagged=False, booked=False)
    count_bill(builder, "STK_StockCountGain", "NOLOSS", {"SKU-A": 2})
    count(builder, "DRAFT", "C", MIXED, flagged=False, booked=False)
    count_bill(builder, "STK_StockCountGain", "DRAFT", {"SKU-A": 2}, note=f"{FLAG} DRAFT")
    count_bill(builder, "STK_StockCountLoss", "DRAFT", {"SKU-B": 1}, status="A")
    count(builder, "EVEN", "C", {"SKU-A": (5, 0)}, flagged=False, booked=False)
    builder.close()
    with attach_run(tmp_path / "run") as conn:
        assert count_orders(conn)["counts_unbooked"] == 3  # NONE, NOLOSS, DRAFT
