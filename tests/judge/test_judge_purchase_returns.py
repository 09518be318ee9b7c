"""Judge tests on built runs: purchase returns to suppliers. A return booked as the reference
books it (an audited PUR_MRB of what left under the WMS order's code, an audited red payable
of -(shipped x the order's price) linked to it) passes, as does a draft of a return the
warehouse shipped nothing of; booking the requested quantity, booking nothing, booking a
return never shipped, a draft never sent each fail `purchase_returns_booked` under its own
problem; the drain's
count waits for drafts not shipped and shipments not booked."""

from __future__ import annotations

from pathlib import Path

from contract_tests.database import attach_run
from contract_tests.metrics import count_orders
from tests.support.judge import LATE_WALL, RunBuilder, failed, judge

OWNER, SUPPLIER, STOCK = "OWNER1", "3100001001", "WH-GZ01"
PRICE = 300  # cents per unit of SKU-A on PO1


def document(
    builder: RunBuilder,
    form: str,
    bill_no: str,
    units: dict[str, int],
    cents_per_unit: int = PRICE,
    status: str = "C",
    source: tuple[str, str] | None = None,
    sign: int = 1,
) -> None:
    """An ERP document of the supplier's owner, each entry linked to `source` (form, bill)."""
    amount = sign * sum(qty * cents_per_unit for qty in units.values())
    fid = (
        builder.conns["erp"]
        .execute(
            "INSERT INTO documents (form_id, bill_no, document_status, supplier_number,"
            " owner_code, amount_cents, note, audited_wall, model)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, '{}')",
            (form, bill_no, status, SUPPLIER, OWNER, amount, bill_no, LATE_WALL),
        )
        .lastrowid
    )
    for seq, (item, qty) in enumerate(sorted(units.items()), start=1):
        builder.sql(
            "erp",
            "INSERT INTO document_entries VALUES (?, ?, ?, ?, ?, ?)",
            (fid, seq, item, sign * qty, sign * qty * cents_per_unit, STOCK),
        )
        if source is not None:
            builder.sql(
                "erp",
                "INSERT INTO document_links VALUES (?, ?, ?, ?, NULL)",
                (fid, seq, *source),
            )


def purchased(builder: RunBuilder) -> None:
    """PO1 of 10 SKU-A at 3.00, received as RK1 with 12 (two over)."""
    document(builder, "PUR_PurchaseOrder", "PO1", {"SKU-A": 10})
    document(builder, "STK_InStock", "RK1", {"SKU-A": 12}, source=("PUR_PurchaseOrder", "PO1"))


def shipped(builder: RunBuilder, code: str, planned: int, left: int) -> None:
    """The WMS's CGTH stockout `code`, confirmed with `left` of `planned` units of SKU-A."""
    builder.sql(
        "wms",
        "INSERT INTO stockout_orders VALUES (?, ?, ?, ?, 'CGTH', ?)",
        (f"SO-{code}", code, OWNER, STOCK, LATE_WALL - 20),
    )
    builder.sql(
        "wms", "INSERT INTO stockout_order_lines VALUES (?, 'SKU-A', ?)", (f"SO-{code}", left)
    )


def booked(builder: RunBuilder, code: str, qty: int, status: str = "C") -> None:
    """The reference's booking: the PUR_MRB of `qty` and its red payable."""
    document(builder, "PUR_MRB", code, {"SKU-A": qty}, status=status, source=("STK_InStock", "RK1"))
    if status == "C":
        document(
            builder, "AP_Payable", f"{code}-AP", {"SKU-A": qty}, source=("PUR_MRB", code), sign=-1
        )


def test_returns_booked_as_they_left_pass(tmp_path: Path) -> None:
    builder = RunBuilder(tmp_path / "run")
    builder.good_mix()
    purchased(builder)
    shipped(builder, "MRB1", planned=4, left=3)
    booked(builder, "MRB1", 3)
    shipped(builder, "MRB2", planned=2, left=0)  # nothing there: the draft stays a draft
    booked(builder, "MRB2", 2, status="A")
    verdict = judge(builder)
    assert failed(verdict) == []
    inv = verdict.invariant("purchase_returns_booked")
    assert (inv.checked, inv.violations) == (2, 0)


def test_booking_the_requested_quantity_fails_naming_the_return(tmp_path: Path) -> None:
    builder = RunBuilder(tmp_path / "run")
    builder.good_mix()
    purchased(builder)
    shipped(builder, "MRB1", planned=4, left=3)
    booked(builder, "MRB1", 4)
    verdict = judge(builder)
    assert failed(verdict) == ["purchase_returns_booked"]
    inv = verdict.invariant("purchase_returns_booked")
    assert inv.breakdown == {
        "purchase return quantities differ from what was shipped": 1,
        "red payable amount differs from -(shipped x price)": 1,
    }
    example = inv.examples[0]
    assert example["entity"] == "MRB1"
    assert example["expected"] == {"purchase_return": {"SKU-A": 3}, "red_payable": "-9.00"}
    assert example["observed"]["purchase_return"] == {"SKU-A": 4}
    assert example["observed"]["red_payables"] == ["MRB1-AP -12.00 (C)"]


def test_unbooked_and_unshipped_returns_fail_and_keep_the_drain_waiting(tmp_path: Path) -> None:
    builder = RunBuilder(tmp_path / "run")
    builder.good_mix()
    purchased(builder)
    shipped(builder, "MRB1", planned=2, left=2)  # shipped, never booked
    booked(builder, "MRB2", 1, status="A")  # a draft the WMS has not shipped yet
    booked(builder, "MRB3", 1)  # booked, never shipped
    shipped(builder, "MRB4", planned=1, left=0)
    booked(builder, "MRB4", 1)  # booked though nothing left
    conn = attach_run(builder.run_dir)
    assert count_orders(conn)["purchase_returns_unbooked"] == 2  # MRB1 and MRB2
    conn.close()
    verdict = judge(builder)
    inv = verdict.invariant("purchase_returns_booked")
    assert inv.breakdown == {
        "no audited purchase return": 1,
        "no red payable": 1,
        "purchase return never sent to the warehouse": 1,
        "purchase return booked without a shipment": 1,
        "purchase return booked for nothing shipped": 1,
        "red payable for nothing shipped": 1,
    }
    assert {example["entity"] for example in inv.examples} == {"MRB1", "MRB2", "MRB3", "MRB4"}
