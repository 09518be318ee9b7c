"""Cycle counts in synthetic runs (tests/support/judge.py's RunBuilder): the WMS's check
order and the ERP's gain and loss bills as the reference books them."""

from __future__ import annotations

from tests.support.judge import LATE_WALL, RunBuilder

OWNER = "OWNER1"
WAREHOUSE = "WH-GZ01"
FLAG = "[超差]"


def count_bill(
    builder: RunBuilder,
    form: str,
    code: str,
    units: dict[str, int],
    note: str | None = None,
    status: str = "C",
    stock: str = WAREHOUSE,
    bill_no: str | None = None,
) -> None:
    """An ERP count gain or loss bill of `units` at `stock` (bill number = the code)."""
    fid = (
        builder.conns["erp"]
        .execute(
            "INSERT INTO documents (form_id, bill_no, document_status, amount_cents, note,"
            " audited_wall, model) VALUES (?, ?, ?, 0, ?, ?, '{}')",
            (form, bill_no or code, status, code if note is None else note, LATE_WALL),
        )
        .lastrowid
    )
    for seq, (item, qty) in enumerate(sorted(units.items()), start=1):
        builder.sql(
            "erp",
            "INSERT INTO document_entries VALUES (?, ?, ?, ?, 0, ?)",
            (fid, seq, item, qty, stock),
        )


def count(
    builder: RunBuilder,
    code: str,
    abc_class: str,
    lines: dict[str, tuple[int, int]],
    flagged: bool,
    booked: bool = True,
) -> None:
    """A count the WMS made of (book units, difference) per item; when `booked`, its audited
    gain and loss bills as the reference books them, their note flagged when `flagged`."""
    check_id = f"PD-{code}"
    builder.sql(
        "wms",
        "INSERT INTO count_orders VALUES (?, ?, ?, ?, ?, ?)",
        (check_id, code, OWNER, WAREHOUSE, abc_class, LATE_WALL - 20),
    )
    for item, (book, difference) in lines.items():
        builder.sql(
            "wms",
            "INSERT INTO count_order_lines VALUES (?, ?, ?, ?)",
            (check_id, item, book, difference),
        )
    if not booked:
        return
    note = f"{FLAG} {code}" if flagged else code
    gains = {item: d for item, (_, d) in lines.items() if d > 0}
    losses = {item: -d for item, (_, d) in lines.items() if d < 0}
    if gains:
        count_bill(builder, "STK_StockCountGain", code, gains, note)
    if losses:
        count_bill(builder, "STK_StockCountLoss", code, losses, note)
