"""End to end, scenarios/stock_smoke.yaml: purchase orders raised in the ERP as stock runs low,
delivered over, short or damaged; the reference connector carries each to the WMS and books
what was received and accepted, keeps the OMS's stock in step, so nothing is oversold, and
carries the ERP's master-data changes to the WMS and the OMS; transfers between the
warehouses, some losing units on the way, some confirms sent twice, are booked once each,
out = in + the recorded loss; cycle counts by ABC class find shrinkage and miscounts, each
count's gains and losses booked once, flagged when out of tolerance; purchase returns to the
suppliers, sent to the warehouse and booked as they left (a purchase return and a red
payable). Each faulty connector fails on its own invariant, naming the purchase orders,
trades, SKUs, transfers, counts or purchase returns."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from contract_tests.database import attach_run
from tests.support import paths
from tests.support.runs import failed, invariant, play

STOCK_SMOKE = paths.SCENARIOS / "stock_smoke.yaml"
MASTER_DATA_SMOKE = paths.SCENARIOS / "master_data_smoke.yaml"
COUNTS_SMOKE = paths.SCENARIOS / "counts_smoke.yaml"
PURCHASE_RETURNS_SMOKE = paths.SCENARIOS / "purchase_returns_smoke.yaml"

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def reference_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, dict[str, Any], Path]:
    run = tmp_path_factory.mktemp("stock") / "run"
    exit_code, report = play(STOCK_SMOKE, "reference", run)
    return exit_code, report, run


def test_the_reference_books_every_receipt_and_oversells_nothing(
    reference_run: tuple[int, dict[str, Any], Path],
) -> None:
    exit_code, report, _ = reference_run
    assert report["verdict"] == "pass", failed(report)
    assert exit_code == 0
    procurement = report["procurement"]
    # Purchase orders were raised and delivered, some over, some short, some damaged.
    assert procurement["purchase_orders"] >= 5 and procurement["refused"] == 0
    assert min(procurement["over"], procurement["short"], procurement["damaged"]) > 0
    # Every delivery the run saw was received and checked; the OMS sold every line.
    assert invariant(report, "purchase_receipts_booked")["checked"] == procurement["delivered"]
    assert invariant(report, "no_oversell")["checked"] > report["orders"]["created"]
    # Transfers left and arrived, some short; resent stockout.confirms were booked once.
    transfers = report["transfers"]
    assert transfers["shipped"] >= 3 and transfers["arrived"] == transfers["shipped"]
    assert transfers["with_loss"] > 0 and transfers["in_transit"] == 0
    assert invariant(report, "transfers_balance")["checked"] == transfers["shipped"]
    assert report["faults"]["by_kind"]["push_duplicate"] > 0
    # Every class was counted; some counts found units off the books, each judged.
    counts = report["counts"]
    assert counts["shrinkage"] > 0 and counts["miscounts"] > 0 and counts["skipped"] == 0
    assert invariant(report, "count_adjustments_booked")["checked"] > 0
    # Purchases went back to their suppliers (surplus or overstock), each shipped and judged.
    assert procurement["returns"] >= 3 and procurement["returns_refused"] == 0
    assert (
        procurement["returns_surplus"] + procurement["returns_overstock"] == procurement["returns"]
    )
    assert invariant(report, "purchase_returns_booked")["checked"] == procurement["returns"]
    assert report["orders"]["purchase_returns_unbooked"] == 0


def test_each_purchase_return_is_booked_as_it_left(
    reference_run: tuple[int, dict[str, Any], Path],
) -> None:
    """Read from the databases alone: per CGTH stockout, the audited PUR_MRB under its code
    books the units that left per item, linked to a stock-in of its supplier, and its one
    audited red payable is minus those units at the purchase order's price."""
    _, report, run = reference_run
    conn = attach_run(run)
    shipped: dict[str, dict[str, int]] = {}
    for code, item, qty in conn.execute(
        "SELECT o.order_code, l.item_code, l.actual_qty FROM wms.stockout_orders AS o"
        " JOIN wms.stockout_order_lines AS l USING (stockout_order_id)"
        " WHERE o.order_type = 'CGTH' AND l.actual_qty > 0"
    ):
        shipped.setdefault(code, {})[item] = qty
    booked: dict[str, dict[str, int]] = {}
    for bill_no, item, qty, source in conn.execute(
        "SELECT d.bill_no, e.material_number, e.qty, l.source_bill_no FROM erp.documents AS d"
        " JOIN erp.document_entries AS e USING (fid) JOIN erp.document_links AS l"
        " ON l.fid = e.fid AND l.seq = e.seq AND l.source_form_id = 'STK_InStock'"
        " WHERE d.form_id = 'PUR_MRB' AND d.document_status = 'C'"
    ):
        assert source
        booked.setdefault(bill_no, {})[item] = qty
    assert booked == shipped and len(shipped) == report["procurement"]["returns"]
    for code in shipped:
        red = conn.execute(
            "SELECT d.amount_cents FROM erp.documents AS d WHERE d.form_id = 'AP_Payable'"
            " AND d.document_status = 'C' AND EXISTS (SELECT 1 FROM erp.document_links AS l"
            " WHERE l.fid = d.fid AND l.source_form_id = 'PUR_MRB' AND l.source_bill_no = ?)",
            (code,),
        ).fetchall()
        (returned,) = conn.execute(
            "SELECT amount_cents FROM erp.documents WHERE form_id = 'PUR_MRB' AND bill_no = ?",
            (code,),
        ).fetchone()
        assert [row[0] for row in red] == [-returned] and returned > 0, code
    conn.close()


def test_each_count_is_booked_as_the_warehouse_adjusted(
    reference_run: tuple[int, dict[str, Any], Path],
) -> None:
    """Per count, item and warehouse: the ERP's gain less its loss is what the WMS's ledger
    moved by the count; every class was counted; the notes carry the flag only where the
    units off exceed the class's tolerance of the units on the books."""
    _, _, run = reference_run
    conn = attach_run(run)
    moved = {
        (str(ref), str(wh), str(item)): int(change)
        for ref, wh, item, change in conn.execute(
            "SELECT o.check_order_code, l.warehouse_code, l.item_code, SUM(l.change)"
            " FROM wms.stock_ledger AS l JOIN wms.count_orders AS o"
            " ON o.check_order_id = l.reference WHERE l.reason = 'count' GROUP BY 1, 2, 3"
        )
    }
    booked: dict[tuple[str, str, str], int] = {}
    for form, note, stock, item, qty in conn.execute(
        "SELECT d.form_id, d.note, e.stock_number, e.material_number, e.qty"
        " FROM erp.documents AS d JOIN erp.document_entries AS e USING (fid)"
        " WHERE d.form_id IN ('STK_StockCountGain', 'STK_StockCountLoss')"
        " AND d.document_status = 'C'"
    ):
        key = (str(note).split()[-1], str(stock), str(item))
        booked[key] = booked.get(key, 0) + (qty if form == "STK_StockCountGain" else -qty)
    classes = {
        str(cls) for (cls,) in conn.execute("SELECT DISTINCT abc_class FROM wms.count_orders")
    }
    flags = conn.execute(
        "SELECT o.abc_class, SUM(ABS(l.difference)), SUM(l.book_qty),"
        " (SELECT MAX(d.note LIKE '[超差]%') FROM erp.documents AS d"
        "   WHERE d.bill_no = o.check_order_code AND d.form_id LIKE 'STK_StockCount%')"
        " FROM wms.count_orders AS o JOIN wms.count_order_lines AS l USING (check_order_id)"
        " GROUP BY o.check_order_id HAVING SUM(ABS(l.difference)) > 0"
    ).fetchall()
    conn.close()
    assert moved and booked == moved
    assert classes == {"A", "B", "C"}
    limits = {"A": 0.003, "B": 0.005, "C": 0.01}
    for cls, off, book, flagged in flags:
        assert bool(flagged) == (off > limits[cls] * book), (cls, off, book)


def test_each_transfer_is_booked_as_it_happened(
    reference_run: tuple[int, dict[str, Any], Path],
) -> None:
    """Per transfer: the ERP's transfer-out holds what left the sender, its transfer-in what
    reached the receiver plus what was lost; the warehouses' ledgers moved the same units."""
    _, report, run = reference_run
    conn = attach_run(run)
    rows = conn.execute(
        "SELECT o.order_code,"
        " (SELECT SUM(actual_qty) FROM wms.stockout_order_lines l"
        "   WHERE l.stockout_order_id = o.stockout_order_id),"
        " (SELECT SUM(l.actual_qty) FROM wms.inbound_orders i JOIN wms.inbound_order_lines l"
        "   USING (inbound_order_id) WHERE i.order_code = o.order_code AND i.order_type = 'DBRK'),"
        " (SELECT SUM(e.qty) FROM erp.documents d JOIN erp.document_entries e USING (fid)"
        "   WHERE d.form_id = 'STK_TRANSFEROUT' AND d.note = o.order_code),"
        " (SELECT SUM(e.qty) FROM erp.documents d JOIN erp.document_entries e USING (fid)"
        "   WHERE d.form_id = 'STK_TRANSFERIN' AND d.note = o.order_code),"
        " (SELECT SUM(t.loss_qty) FROM erp.documents d JOIN erp.transfer_losses t USING (fid)"
        "   WHERE d.form_id = 'STK_TRANSFERIN' AND d.note = o.order_code)"
        " FROM wms.stockout_orders AS o WHERE o.order_type = 'DBCK'"
    ).fetchall()
    moved = dict(
        conn.execute(
            "SELECT reason, SUM(change) FROM wms.stock_ledger WHERE reason LIKE 'transfer%'"
            " GROUP BY reason"
        ).fetchall()
    )
    conn.close()
    assert len(rows) == report["transfers"]["shipped"]
    for code, sent, received, booked_out, booked_in, lost in rows:
        assert (booked_out, booked_in + lost) == (sent, sent), code
        assert booked_in == received, code
    assert sum(row[1] - row[2] for row in rows) == report["transfers"]["units_lost"] > 0
    assert moved == {
        "transfer_out": -sum(row[1] for row in rows),
        "transfer_in": sum(row[2] for row in rows),
    }


def test_the_books_match_the_warehouse_count(
    reference_run: tuple[int, dict[str, Any], Path],
) -> None:
    """Per purchase order: the stock-in holds every unit counted in, the payable the sound
    ones at the order's price; the OMS's stock is the WMS's available stock at the end."""
    _, _, run = reference_run
    conn = attach_run(run)
    rows = conn.execute(
        "SELECT s.purchase_order_code,"
        " (SELECT SUM(qty) FROM wms.inbound_quality q WHERE q.inbound_order_id = s.entry),"
        " (SELECT SUM(qty) FROM wms.inbound_quality q WHERE q.inbound_order_id = s.entry"
        "   AND q.inventory_type = 'ZP'),"
        " (SELECT SUM(qty) FROM wms.supplier_delivery_lines l"
        "   WHERE l.purchase_order_code = s.purchase_order_code),"
        " (SELECT SUM(damaged) FROM wms.supplier_delivery_lines l"
        "   WHERE l.purchase_order_code = s.purchase_order_code),"
        " (SELECT SUM(e.qty) FROM erp.documents d JOIN erp.document_entries e USING (fid)"
        "   WHERE d.form_id = 'STK_InStock' AND d.note = s.purchase_order_code),"
        " (SELECT SUM(e.qty) FROM erp.documents d JOIN erp.document_entries e USING (fid)"
        "   WHERE d.form_id = 'AP_Payable' AND d.note = s.purchase_order_code),"
        " (SELECT SUM(e.qty) FROM erp.documents d JOIN erp.document_entries e USING (fid)"
        "   WHERE d.form_id = 'PUR_PurchaseOrder' AND d.bill_no = s.purchase_order_code)"
        " FROM (SELECT d.*, d.inbound_order_id AS entry FROM wms.supplier_deliveries AS d"
        "   JOIN wms.inbound_orders AS i ON i.inbound_order_id = d.inbound_order_id"
        "   WHERE i.status = 'FULFILLED') AS s"
    ).fetchall()
    assert rows
    differs = 0
    for po, counted, sound, delivered, damaged, stock_in, payable, ordered in rows:
        assert (counted, sound) == (delivered, delivered - damaged), po
        assert (stock_in, payable) == (counted, sound), po
        differs += ordered != counted
    assert differs > 0  # the count, not the order, was booked where they differ
    stale = conn.execute(
        "SELECT COUNT(*) FROM wms.stock w JOIN oms.stock o ON o.warehouse_no = w.warehouse_code"
        " AND o.spec_no = w.item_code AND o.defect = 0 WHERE o.stock_num != w.on_hand - w.reserved"
    ).fetchone()[0]
    conn.close()
    assert stale == 0


def test_books_ordered_quantity_fails_purchase_receipts_booked(tmp_path: Path) -> None:
    exit_code, report = play(STOCK_SMOKE, "faulty/books_ordered_quantity", tmp_path / "run")
    assert exit_code == 1
    # The ordered units on the books are not the warehouse's: the ledgers part too.
    assert failed(report) == {"purchase_receipts_booked", "three_ledgers_agree"}
    inv = invariant(report, "purchase_receipts_booked")
    assert inv["violations"] > 0
    assert set(inv["breakdown"]) <= {
        "stock-in quantities differ from the receipt",
        "payable amount differs from accepted x price",
    }
    conn = attach_run(tmp_path / "run")
    for example in inv["examples"]:
        # Per item: a line over and another short by as much leave the order's total as is.
        ordered = dict(
            conn.execute(
                "SELECT e.material_number, SUM(e.qty) FROM erp.documents d"
                " JOIN erp.document_entries e USING (fid) WHERE d.form_id = 'PUR_PurchaseOrder'"
                " AND d.bill_no = ? GROUP BY e.material_number",
                (example["entity"],),
            ).fetchall()
        )
        counted = dict(
            conn.execute(
                "SELECT item_code, SUM(qty) FROM wms.supplier_delivery_lines"
                " WHERE purchase_order_code = ? GROUP BY item_code",
                (example["entity"],),
            ).fetchall()
        )
        damaged = example["expected"]["stock_in"] != example["expected"]["accepted"]
        assert ordered != counted or damaged
    conn.close()


def test_never_pushes_stock_fails_no_oversell(tmp_path: Path) -> None:
    exit_code, report = play(STOCK_SMOKE, "faulty/never_pushes_stock", tmp_path / "run")
    assert exit_code == 1
    # The OMS's stock never follows the warehouse's: its ledger parts from the WMS's.
    assert failed(report) == {"no_oversell", "three_ledgers_agree"}
    assert set(invariant(report, "three_ledgers_agree")["breakdown"]) == {
        "OMS differs from the WMS at the end"
    }
    inv = invariant(report, "no_oversell")
    assert inv["violations"] > 0
    conn = attach_run(tmp_path / "run")
    # Each named trade sold units the OMS did not have of an item the warehouse had received
    # more of: the OMS never heard of the receipt.
    for example in inv["examples"]:
        received = conn.execute(
            "SELECT COALESCE(SUM(change), 0) FROM wms.stock_ledger WHERE reason = 'receive'"
            " AND warehouse_code = ? AND item_code = ?",
            (example["warehouse"], example["spec_no"]),
        ).fetchone()[0]
        assert received > 0
    conn.close()


def test_pushes_on_hand_stock_fails_three_ledgers_agree_at_the_snapshots(tmp_path: Path) -> None:
    """The OMS's stock set to the WMS's units on hand counts the units held by delivery orders
    twice (the OMS reserves its paid trades itself) until they ship: wrong at the snapshots,
    right at the end, once nothing is reserved. Nothing else notices: the OMS sells no more
    than it thinks it has (no_oversell), and every order, receipt and booking is carried."""
    exit_code, report = play(STOCK_SMOKE, "faulty/pushes_on_hand_stock", tmp_path / "run")
    assert exit_code == 1
    assert failed(report) == {"three_ledgers_agree"}
    inv = invariant(report, "three_ledgers_agree")
    assert set(inv["breakdown"]) == {"OMS differs from the WMS at a snapshot"}
    assert inv["summary"].endswith("(WMS, ERP and OMS; 4 snapshots)"), inv["summary"]
    for example in inv["examples"]:
        seen = example["observed"]["oms_first_snapshot"]
        read = seen["read"]
        # Set from an inventory.query that found units held by delivery orders, the OMS's
        # available runs ahead of what was free to sell (less the sales since) by just those.
        assert read["how"] == "inventory.query" and read["reserved"] > 0, example
        assert seen["oms_available"] - seen["expected_oms_available"] == read["reserved"]


def test_the_reference_carries_every_master_data_change(
    reference_run: tuple[int, dict[str, Any], Path],
) -> None:
    """Every kind of change was made; the judge checked every material; and, read from the
    databases alone, each changed material is in the WMS and the OMS as the ERP has it."""
    _, report, run = reference_run
    master = report["master_data"]
    assert min(master[kind] for kind in ("new", "rename", "price", "barcode", "discontinue")) > 0
    assert master["unsynced"] == 0
    inv = invariant(report, "master_data_agrees")
    assert inv["passed"] and inv["checked"] == 30 + master["new"]
    conn = attach_run(run)
    rows = conn.execute(
        "SELECT m.number, m.name, m.barcode, m.price_cents, m.is_sale, i.name, i.bar_code,"
        " g.goods_name, g.barcode, g.price_cents, g.deleted FROM erp.bd_material AS m"
        " JOIN erp.material_changes AS c ON c.number = m.number AND c.seq = (SELECT MAX(seq)"
        "   FROM erp.material_changes WHERE number = m.number)"
        " LEFT JOIN wms.items AS i ON i.item_code = m.number"
        " LEFT JOIN oms.goods AS g ON g.spec_no = m.number"
    ).fetchall()
    conn.close()
    assert len(rows) == master["materials_changed"]
    for number, name, barcode, price, on_sale, *downstream in rows:
        assert downstream == [name, barcode, name, barcode, price, 0 if on_sale else 1], number


def test_ignores_master_data_updates_fails_master_data_agrees(tmp_path: Path) -> None:
    exit_code, report = play(
        MASTER_DATA_SMOKE, "faulty/ignores_master_data_updates", tmp_path / "run"
    )
    assert exit_code == 1
    assert failed(report) == {"master_data_agrees"}
    inv = invariant(report, "master_data_agrees")
    # Every update of a known material is missed; the new ones were carried.
    assert inv["violations"] == report["master_data"]["unsynced"] > 0
    assert report["master_data"]["new"] > 0
    conn = attach_run(tmp_path / "run")
    for example in inv["examples"]:
        (kinds,) = conn.execute(
            "SELECT GROUP_CONCAT(change) FROM erp.material_changes WHERE number = ?",
            (example["entity"],),
        ).fetchone()
        assert kinds != "new"  # a material only created is never named
        # The OMS still shows the material as it was before the change.
        assert example["observed"]["oms"] != example["expected"]
    conn.close()


def test_books_transfer_twice_fails_transfers_balance(tmp_path: Path) -> None:
    exit_code, report = play(STOCK_SMOKE, "faulty/books_transfer_twice", tmp_path / "run")
    assert exit_code == 1
    # The second transfer-out takes the units off the ERP's books twice.
    assert failed(report) == {"transfers_balance", "three_ledgers_agree"}
    inv = invariant(report, "transfers_balance")
    assert inv["violations"] > 0
    assert set(inv["breakdown"]) == {"more than one transfer-out"}
    # Each named transfer's stockout.confirm came twice, and the copy was booked again.
    for example in inv["examples"]:
        code = example["entity"]
        # In either order: the copy, booked at once, may be audited before the original.
        assert sorted(example["observed"]["transfer_outs"]) == [f"{code} (C)", f"{code}-R1 (C)"]
    assert report["faults"]["by_kind"]["push_duplicate"] >= inv["violations"]


def test_books_count_gain_as_loss_fails_count_adjustments_booked(tmp_path: Path) -> None:
    exit_code, report = play(COUNTS_SMOKE, "faulty/books_count_gain_as_loss", tmp_path / "run")
    assert exit_code == 1
    # Gains booked as losses take the ERP's books the other way: the ledgers part too.
    assert failed(report) == {"count_adjustments_booked", "three_ledgers_agree"}
    inv = invariant(report, "count_adjustments_booked")
    assert inv["violations"] > 0
    # Each named count found units over the books, and they were booked as a loss.
    for example in inv["examples"]:
        assert example["expected"]["gain"] and example["observed"]["gain_bills"] == []
        assert f"{example['entity']}-G (C)" in example["observed"]["loss_bills"]


def test_books_requested_return_quantity_fails_purchase_returns_booked(tmp_path: Path) -> None:
    exit_code, report = play(
        PURCHASE_RETURNS_SMOKE, "faulty/books_requested_return_quantity", tmp_path / "run"
    )
    assert exit_code == 1
    # The units asked back on the ERP's books are not what left: the ledgers part too.
    assert failed(report) == {"purchase_returns_booked", "three_ledgers_agree"}
    inv = invariant(report, "purchase_returns_booked")
    assert inv["violations"] > 0
    assert set(inv["breakdown"]) <= {
        "purchase return quantities differ from what was shipped",
        "red payable amount differs from -(shipped x price)",
        "purchase return booked for nothing shipped",
        "red payable for nothing shipped",
    }
    # Each named return was picked short, and the ERP books what the buyer asked back.
    assert report["faults"]["by_kind"]["short_pick"] >= inv["violations"]
    conn = attach_run(tmp_path / "run")
    for example in inv["examples"]:
        (planned,) = conn.execute(
            "SELECT SUM(l.plan_qty) FROM wms.stockout_orders AS o"
            " JOIN wms.stockout_order_lines AS l USING (stockout_order_id)"
            " WHERE o.order_code = ?",
            (example["entity"],),
        ).fetchone()
        assert sum(example["observed"]["purchase_return"].values()) == planned
        assert sum((example["expected"]["purchase_return"] or {}).values()) < planned
    conn.close()


def test_the_three_ledgers_agree_at_every_snapshot(
    reference_run: tuple[int, dict[str, Any], Path],
) -> None:
    """The WMS published a snapshot every 30 simulated minutes; read from the databases
    alone, at the end each item's units in the warehouse are the ERP's book stock, and the
    OMS's available stock the WMS's."""
    _, report, run = reference_run
    inv = invariant(report, "three_ledgers_agree")
    assert inv["passed"] and inv["checked"] > 0
    assert "WMS, ERP and OMS; 4 snapshots" in inv["summary"]  # 2 simulated hours
    conn = attach_run(run)
    differ = conn.execute(
        "SELECT COUNT(*) FROM (SELECT warehouse_code, item_code, SUM(units) AS units FROM ("
        "  SELECT warehouse_code, item_code, on_hand AS units FROM wms.stock"
        "  UNION ALL SELECT warehouse_code, item_code, qty FROM wms.unsaleable_stock"
        " ) GROUP BY 1, 2) AS w LEFT JOIN erp.inventory AS e"
        " ON e.stock_number = w.warehouse_code AND e.material_number = w.item_code"
        " WHERE COALESCE(e.qty, 0) != w.units"
    ).fetchone()[0]
    snapshots = conn.execute(
        "SELECT COUNT(DISTINCT snapshot_id), COUNT(*) FROM wms.inventory_snapshots"
    ).fetchone()
    conn.close()
    assert differ == 0
    # each snapshot holds every item of every warehouse
    assert snapshots[0] == 4 and snapshots[1] >= 4 * inv["checked"] * 9 // 10


def test_books_receipts_at_one_warehouse_fails_three_ledgers_agree(tmp_path: Path) -> None:
    exit_code, report = play(
        STOCK_SMOKE, "faulty/books_receipts_at_one_warehouse", tmp_path / "run"
    )
    assert exit_code == 1
    assert failed(report) == {"three_ledgers_agree"}
    inv = invariant(report, "three_ledgers_agree")
    assert inv["violations"] > 0
    assert "WMS and ERP differ at the end" in inv["breakdown"]
    conn = attach_run(tmp_path / "run")
    # Every stock-in booked its units at the main warehouse, some received elsewhere.
    stocks = {
        str(row[0])
        for row in conn.execute(
            "SELECT DISTINCT e.stock_number FROM erp.documents d JOIN erp.document_entries e"
            " USING (fid) WHERE d.form_id = 'STK_InStock'"
        )
    }
    elsewhere = conn.execute(
        "SELECT COUNT(*) FROM wms.inbound_orders WHERE order_type = 'CGRK'"
        " AND status = 'FULFILLED' AND warehouse_code != 'WH-GZ01'"
    ).fetchone()[0]
    conn.close()
    assert stocks == {"WH-GZ01"} and elsewhere > 0
    # Each named item and warehouse: the WMS held other units than the ERP booked.
    for example in inv["examples"]:
        seen = example["observed"].get("end") or example["observed"]["first_snapshot"]
        assert seen["wms"] != seen["erp"]
