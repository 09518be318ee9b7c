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
from tests.support.stock import oversell, payable, receipt, refused, sale, stock_in

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
    assert example["warehouse_could_cover"] == "30 of its 2 unit(s)"


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
    # WMS first, so the WMS refused L0001 (STOCK_NOT_ENOUGH, under its platform order's code):
    # the world's doing, excused. L0003 (the WMS refused it too, once the sell-out's 2 units
    # short were spent) and L0004 (never sent) are lost.
    ledger = LedgerBuilder(RunBuilder(tmp_path / "run"), on_hand=5)
    first = sale(ledger, 10, 5)
    ledger.at_wms(12, sale(ledger, 11, 2))
    refused(ledger.b, f"TB{first}", 13)
    ledger.set(20, 40)
    ledger.move(20, 40)
    third, fourth = sale(ledger, 30, 1), sale(ledger, 31, 1)
    refused(ledger.b, third, 32)
    verdict = judge(ledger.b)
    assert verdict.invariant("no_oversell").violations == 0
    lost = verdict.invariant("no_lost_orders")
    assert [example["entity"] for example in lost.examples] == [third, fourth]
    assert lost.summary == "2 of 4 violate it"


def test_a_sell_out_excuses_as_many_refused_trades_as_it_fell_short_units(
    tmp_path: Path,
) -> None:
    # Five trades took the last unit each; a sixth oversold 5, reached the WMS first and took
    # them: the WMS refused all five (a retry can reorder creates). 5 units short: 5 excused.
    ledger = LedgerBuilder(RunBuilder(tmp_path / "run"), on_hand=5)
    early = [sale(ledger, 10 + i, 1) for i in range(5)]
    ledger.at_wms(16, sale(ledger, 15, 5))
    for i, trade_no in enumerate(early):
        refused(ledger.b, trade_no, 17 + i)
    lost = judge(ledger.b).invariant("no_lost_orders")
    assert (lost.passed, lost.summary) == (True, "ok (5 refused by the WMS in a sell-out: excused)")


def test_a_refusal_without_a_sell_out_is_lost(tmp_path: Path) -> None:
    # The OMS never heard of a receipt (an oversell the connector is blamed for, no sell-out),
    # and the WMS refused the trade all the same (sent to the wrong place, say): lost.
    ledger = sold_out(tmp_path)
    ledger.move(20, 30)
    trade_no = sale(ledger, 30, 2)
    refused(ledger.b, trade_no, 31)
    verdict = judge(ledger.b)
    assert verdict.invariant("no_oversell").violations == 1
    lost = verdict.invariant("no_lost_orders")
    assert [example["entity"] for example in lost.examples] == [trade_no]


def test_without_a_sell_out_a_trade_refused_for_stock_is_lost(tmp_path: Path) -> None:
    ledger = LedgerBuilder(RunBuilder(tmp_path / "run"), on_hand=5)
    trade_no = sale(ledger, 10, 2)
    refused(ledger.b, trade_no, 11)
    lost = judge(ledger.b).invariant("no_lost_orders")
    assert [example["entity"] for example in lost.examples] == [trade_no]


def test_a_trade_refused_for_good_stops_holding_units(tmp_path: Path) -> None:
    # L0002 oversold 3 in a sell-out and the WMS refused it (lost, excused). A receipt of 3
    # came at 100 s and the OMS never heard of it: L0003's sale of 2 at 200 s is the
    # connector's, though L0002 was once owed 3 units.
    ledger = sold_out(tmp_path)
    second = sale(ledger, 12, 3)
    refused(ledger.b, second, 13)
    ledger.move(100, 3)
    third = sale(ledger, 200, 2)
    ledger.at_wms(201, third)
    verdict = judge(ledger.b)
    oversold = verdict.invariant("no_oversell")
    assert [example["entity"] for example in oversold.examples] == [third]
    assert verdict.invariant("no_lost_orders").violations == 0


def test_a_cancelled_trade_s_units_come_back_to_the_oms_only_with_a_push(
    tmp_path: Path,
) -> None:
    # The OMS gives nothing back for a cancelled trade, and the WMS's release is no stock
    # change it reports: the WMS has its 5 free again, but a connector keeping to the
    # contract had nothing to push, so the OMS's 0 was right.
    ledger = sold_out(tmp_path)
    ledger.cancel(12, "L0001")
    sale(ledger, 20, 2)
    assert judge(ledger.b).invariant("no_oversell").violations == 0


def test_a_shipment_s_two_rows_are_one_move(tmp_path: Path) -> None:
    # 40 on hand; L0001 takes 30 (held); a receipt of 20 never reaches the OMS (10 left
    # there); L0001 ships, its on_hand row 2 ms before its reserved row, the grace's start in
    # between. 30 were free after the shipment: L0002's 12 beyond the OMS's 10 is the
    # connector's, not a sell-out read between the two rows (free 0 there).
    ledger = LedgerBuilder(RunBuilder(tmp_path / "run"), on_hand=40)
    first = sale(ledger, 10, 30)
    ledger.at_wms(11, first)
    ledger.move(15, 20)
    ledger.ship(30 - GRACE_SECONDS - 0.001, first, apart=0.002)
    second = sale(ledger, 30, 12)
    oversold = judge(ledger.b).invariant("no_oversell")
    assert [example["entity"] for example in oversold.examples] == [second]
    assert oversold.examples[0]["warehouse_could_cover"] == "30 of its 12 unit(s)"


def test_a_refusal_before_the_sell_out_is_not_excused_by_it(tmp_path: Path) -> None:
    # The WMS refused L0001 at 5 s (sent to the wrong warehouse, say), long before the item
    # sold out at 10 s: the sell-out excuses refusals it caused, not that one.
    ledger = LedgerBuilder(RunBuilder(tmp_path / "run"), on_hand=5)
    first = sale(ledger, 4, 1)
    refused(ledger.b, first, 5)
    ledger.at_wms(11, sale(ledger, 10, 5))
    verdict = judge(ledger.b)
    assert verdict.invariant("no_oversell").violations == 0
    lost = verdict.invariant("no_lost_orders")
    assert [example["entity"] for example in lost.examples] == [first]


def test_a_connector_that_counts_unsent_trades_is_not_blamed_for_it(tmp_path: Path) -> None:
    # L0001 bought all 5 and was not at the WMS yet when 2 more arrived: the contract's push
    # would show 7, but a connector that also takes off what is sold and not yet sent shows
    # 2, which was right: selling L0002 3 was a sell-out, not the connector's error.
    ledger = LedgerBuilder(RunBuilder(tmp_path / "run"), on_hand=5)
    sale(ledger, 10, 5)
    ledger.move(20, 2)
    ledger.set(21, 2)
    sale(ledger, 30, 3)
    assert judge(ledger.b).invariant("no_oversell").violations == 0


def test_a_loss_whose_push_may_have_arrived_counts(tmp_path: Path) -> None:
    # A count found 5 short a second before the sale (the push of 1 arrived); L0002's 2 sold
    # out, the WMS refused it, leaving 1 free that the OMS (at -1 for L0002) could not know
    # of without a stock change to push: L0003's 1 is not the connector's. Read 3 s stale, the
    # opening stock less the sales would say 4 were there.
    ledger = LedgerBuilder(RunBuilder(tmp_path / "run"), on_hand=10)
    ledger.at_wms(11, sale(ledger, 10, 4))
    ledger.move(28, -5, reason="count", ref="PD1")
    ledger.set(28.5, 1)
    second = sale(ledger, 29, 2)
    refused(ledger.b, second, 29.5)
    ledger.at_wms(31, sale(ledger, 30, 1))
    verdict = judge(ledger.b)
    assert verdict.invariant("no_oversell").summary == "ok (2 sold in a sell-out: excused)"
    assert verdict.invariant("no_lost_orders").violations == 0


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
