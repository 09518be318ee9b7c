"""Transfers between warehouses in synthetic runs (tests/support/judge.py's RunBuilder): the
WMS's two legs, and the ERP's transfer-out and transfer-in as the reference books them."""

from __future__ import annotations

from tests.support.judge import LATE_WALL, RunBuilder

OWNER = "OWNER1"
SENDER, RECEIVER = "WH-GZ01", "WH-WH01"


def erp_transfer(
    builder: RunBuilder,
    form: str,
    bill_no: str,
    units: dict[str, int],
    stock: str,
    note: str | None = None,
    status: str = "C",
    source: str | None = None,
    losses: dict[str, int] | None = None,
) -> None:
    """An ERP transfer document (no partner: the stock organisation) of `units` at `stock`,
    each entry linked to the transfer-out `source` and with its loss, when given."""
    fid = (
        builder.conns["erp"]
        .execute(
            "INSERT INTO documents (form_id, bill_no, document_status, amount_cents, note,"
            " audited_wall, model) VALUES (?, ?, ?, 0, ?, ?, '{}')",
            (form, bill_no, status, note or bill_no, LATE_WALL),
        )
        .lastrowid
    )
    items = sorted(set(units) | set(losses or {}))
    for seq, item in enumerate(items, start=1):
        builder.sql(
            "erp",
            "INSERT INTO document_entries VALUES (?, ?, ?, ?, 0, ?)",
            (fid, seq, item, units.get(item, 0), stock),
        )
        if source is not None:
            builder.sql(
                "erp",
                "INSERT INTO document_links VALUES (?, ?, 'STK_TRANSFEROUT', ?, NULL)",
                (fid, seq, source),
            )
        if losses is not None:
            builder.sql(
                "erp",
                "INSERT INTO transfer_losses VALUES (?, ?, ?)",
                (fid, seq, losses.get(item, 0)),
            )


def transfer(
    builder: RunBuilder,
    code: str,
    sent: dict[str, int],
    received: dict[str, int] | None,
    booked: bool = True,
) -> None:
    """A transfer the WMS shipped (`sent` per item) and, unless `received` is None (still in
    transit), received; when `booked`, its audited transfer-out and transfer-in as the
    reference books them (bill number = the code, the loss = sent − received)."""
    out_id, in_id = f"SO-{code}", f"EO-{code}"
    builder.sql(
        "wms",
        "INSERT INTO stockout_orders VALUES (?, ?, ?, ?, 'DBCK', ?)",
        (out_id, code, OWNER, SENDER, LATE_WALL - 20),
    )
    builder.sql(
        "wms",
        "INSERT INTO inbound_orders (inbound_order_id, kind, order_code, owner_code,"
        " warehouse_code, order_type, status, confirmed_wall)"
        " VALUES (?, 'entryorder', ?, ?, ?, 'DBRK', ?, ?)",
        (
            in_id,
            code,
            OWNER,
            RECEIVER,
            "ACCEPT" if received is None else "FULFILLED",
            None if received is None else LATE_WALL - 10,
        ),
    )
    for item, qty in sent.items():
        builder.sql("wms", "INSERT INTO stockout_order_lines VALUES (?, ?, ?)", (out_id, item, qty))
        got = 0 if received is None else received.get(item, 0)
        builder.sql("wms", "INSERT INTO inbound_order_lines VALUES (?, ?, ?)", (in_id, item, got))
    if not booked:
        return
    erp_transfer(builder, "STK_TRANSFEROUT", code, sent, SENDER)
    if received is not None:
        losses = {item: qty - received.get(item, 0) for item, qty in sent.items()}
        erp_transfer(
            builder,
            "STK_TRANSFERIN",
            code,
            {item: qty for item, qty in received.items() if qty},
            RECEIVER,
            source=code,
            losses=losses,
        )
