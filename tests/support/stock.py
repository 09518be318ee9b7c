"""Purchase receipts in synthetic runs (tests/support/judge.py's RunBuilder), carried as the
reference connector carries them: PO, delivery, entry order counted, stock-in, payable."""

from __future__ import annotations

from tests.support.judge import BASE_WALL, LATE_WALL, WAREHOUSE, LedgerBuilder, RunBuilder

OWNER = "OWNER1"
SUPPLIER = "3100001001"


def _document(
    builder: RunBuilder,
    form: str,
    bill_no: str,
    entries: dict[str, tuple[int, int]],
    links: tuple[str, str] | None = None,
    status: str = "C",
) -> None:
    """A document of the owner, entries {material: (qty, amount)}, each linked to `links`'
    (form, bill) when given."""
    fid = (
        builder.conns["erp"]
        .execute(
            "INSERT INTO documents (form_id, bill_no, document_status, owner_code, amount_cents,"
            " note, audited_wall, model) VALUES (?, ?, ?, ?, ?, ?, ?, '{}')",
            (form, bill_no, status, OWNER, sum(a for _, a in entries.values()), bill_no, LATE_WALL),
        )
        .lastrowid
    )
    for seq, (item, (qty, amount)) in enumerate(sorted(entries.items()), start=1):
        builder.sql(
            "erp",
            "INSERT INTO document_entries VALUES (?, ?, ?, ?, ?, ?)",
            (fid, seq, item, qty, amount, WAREHOUSE),
        )
        if links is not None:
            builder.sql(
                "erp",
                "INSERT INTO document_links VALUES (?, ?, ?, ?, NULL)",
                (fid, seq, *links),
            )


def receipt(
    builder: RunBuilder,
    po: str,
    lines: dict[str, tuple[int, int, int]],
    price_cents: int = 1000,
    booked: bool = True,
) -> None:
    """A purchase order of `lines` {item: (ordered, sound, damaged)} at one price, its
    delivery received by an entry order, and (when `booked`) its audited stock-in of every
    unit counted and payable of the sound ones at the price."""
    entry = f"EO-{po}"
    _document(
        builder,
        "PUR_PurchaseOrder",
        po,
        {item: (ordered, ordered * price_cents) for item, (ordered, _, _) in lines.items()},
    )
    builder.sql(
        "wms",
        "INSERT INTO supplier_deliveries VALUES (?, ?, ?, ?)",
        (OWNER, po, WAREHOUSE, entry),
    )
    builder.sql(
        "wms",
        "INSERT INTO inbound_orders (inbound_order_id, kind, order_code, owner_code,"
        " warehouse_code, status, confirmed_wall)"
        " VALUES (?, 'entryorder', ?, ?, ?, 'FULFILLED', ?)",
        (entry, po, OWNER, WAREHOUSE, LATE_WALL - 10),
    )
    for item, (_, sound, damaged) in lines.items():
        for inventory_type, qty in (("ZP", sound), ("CC", damaged)):
            if qty:
                builder.sql(
                    "wms",
                    "INSERT INTO inbound_quality VALUES (?, '1', ?, ?, ?)",
                    (entry, item, inventory_type, qty),
                )
    if not booked:
        return
    received = {item: sound + damaged for item, (_, sound, damaged) in lines.items()}
    stock_in(builder, po, received, price_cents)
    payable(builder, po, {item: sound for item, (_, sound, _) in lines.items()}, price_cents)


def stock_in(
    builder: RunBuilder, po: str, units: dict[str, int], price_cents: int, status: str = "C"
) -> None:
    entries = {item: (qty, qty * price_cents) for item, qty in units.items() if qty}
    _document(builder, "STK_InStock", f"{po}-RK", entries, ("PUR_PurchaseOrder", po), status)


def payable(
    builder: RunBuilder, po: str, units: dict[str, int], price_cents: int, status: str = "C"
) -> None:
    entries = {item: (qty, qty * price_cents) for item, qty in units.items() if qty}
    _document(builder, "AP_Payable", f"{po}-AP", entries, ("STK_InStock", f"{po}-RK"), status)


def oversell(
    builder: RunBuilder, trade_no: str, item: str, num: int, available: int, at: float = 0.0
) -> None:
    """An `oms.oversells` row: `num` units of `item` sold at `at` (seconds after BASE_WALL)
    while the OMS had `available`."""
    builder.sql(
        "oms",
        "INSERT INTO oversells (trade_no, warehouse_no, spec_no, num, available, wall_time)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        (trade_no, WAREHOUSE, item, num, available, BASE_WALL + at),
    )


def sale(ledger: LedgerBuilder, at: float, units: int) -> str:
    """A trade of `units` of the ledger's item paid at `at`, recorded as an oversell (as the
    OMS records it) when the OMS had fewer available."""
    available = ledger.available
    trade_no = ledger.sale(at, units)
    if units > available:
        oversell(ledger.b, trade_no, ledger.ITEM, units, available, at)
    return trade_no


def refused(builder: RunBuilder, code: str, at: float) -> None:
    """The WMS refused the deliveryorder.create of `code` for want of stock at `at`."""
    builder.sql(
        "wms",
        "INSERT INTO events (sim_time, wall_time, kind, operation, entity, outcome, payload)"
        " VALUES ('2026-11-11 00:00:00', ?, 'api_in', 'deliveryorder.create', ?,"
        " 'STOCK_NOT_ENOUGH', NULL)",
        (BASE_WALL + at, code),
    )
