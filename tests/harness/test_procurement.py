"""Procurement in the world model: `procurement` validated naming its fields, off by default;
the buyer raises an audited purchase order for what runs low, up to its level, from the
item's supplier; its delivery reaches the WMS after the lead time, over, short or damaged at
the scenario's rates, drawn on a stream of its own; the OMS records every sale beyond its
stock."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from fake_systems.ecosystem import Ecosystem
from fake_systems.wms.models import WmsConfig
from simulator.clock import ManualClock
from simulator.procurement import Procurement
from simulator.scenario import ProcurementSettings, Scenario
from simulator.world import NewTradeLine, World
from tests.support.ecosystem import in_process
from tests.support.oms import trade


def settings(**fields: Any) -> ProcurementSettings:
    return ProcurementSettings(**{"reorder_point": 10, "order_up_to": 30, **fields})


def test_procurement_settings_name_the_wrong_field() -> None:
    with pytest.raises(ValidationError, match=r"procurement\.order_up_to: 10 must exceed"):
        settings(order_up_to=10)
    with pytest.raises(ValidationError) as caught:
        settings(over_rate=1.5)
    assert caught.value.errors()[0]["loc"] == ("over_rate",)
    with pytest.raises(ValidationError) as caught:
        settings(lead_hours={"low": 3, "high": 1})
    assert caught.value.errors()[0]["loc"][0] == "lead_hours"
    with pytest.raises(ValidationError, match="over_rate \\+ short_rate"):
        settings(over_rate=0.6, short_rate=0.6)
    scenario = Scenario.model_validate(
        {"name": "x", "duration": "1h", "demand": {"orders_per_hour": 1}}
    )
    assert not scenario.procurement.enabled  # off unless asked for


@pytest.fixture
def eco(tmp_path: Path, world: World, clock: ManualClock) -> Iterator[Ecosystem]:
    with in_process(tmp_path, world, clock, WmsConfig(supplier_deliveries=True)) as ecosystem:
        yield ecosystem


def buyer(eco: Ecosystem, world: World, seed: int = 3, **fields: Any) -> Procurement:
    return Procurement(eco.wms.env, world, settings(**fields), eco.erp, eco.wms, seed)


def low(eco: Ecosystem, world: World, sku: int, available: int) -> tuple[str, str]:
    """Set the first warehouse's on hand of a catalogue item."""
    wh, item = world.warehouses[0].code, world.skus[sku].item_code
    eco.wms.conn.execute(
        "UPDATE stock SET on_hand = ?, reserved = 0 WHERE warehouse_code = ? AND item_code = ?",
        (available, wh, item),
    )
    return wh, item


def test_a_low_item_is_ordered_up_to_its_level_and_delivered_after_the_lead_time(
    eco: Ecosystem, world: World, clock: ManualClock
) -> None:
    procurement = buyer(
        eco, world, lead_hours={"low": 1, "high": 1}, over_rate=0, short_rate=0, damaged_rate=0
    )
    wh, item = low(eco, world, 0, 4)
    raised = procurement.review()
    assert len(raised) == 1
    document = eco.erp.document("PUR_PurchaseOrder", raised[0])
    assert document is not None and document["document_status"] == "C"
    supplier = procurement.supplier_of(item)
    assert document["supplier_number"] == supplier.code and len(supplier.code) == 10
    entries = eco.erp.conn.execute(
        "SELECT material_number, qty, stock_number, price_cents FROM document_entries"
        " WHERE fid = ?",
        (document["fid"],),
    ).fetchall()
    assert [tuple(r) for r in entries] == [(item, 26, wh, procurement.cost_cents(item))]
    # On order now: the next review raises nothing more for it.
    assert procurement.review() == []
    clock.advance(3599)
    assert eco.wms.conn.execute("SELECT COUNT(*) FROM supplier_deliveries").fetchone()[0] == 0
    clock.advance(2)
    delivered = eco.wms.conn.execute(
        "SELECT owner_code, purchase_order_code, warehouse_code, item_code, qty, damaged"
        " FROM supplier_deliveries JOIN supplier_delivery_lines"
        " USING (owner_code, purchase_order_code)"
    ).fetchall()
    assert [tuple(r) for r in delivered] == [(supplier.owner_code, raised[0], wh, item, 26, 0)]


def deliveries(eco: Ecosystem, world: World, seed: int, items: int) -> list[tuple[int, int]]:
    """(qty, damaged) of each line of a purchase order of `items` items, all ordered 20."""
    procurement = buyer(
        eco,
        world,
        seed,
        lead_hours={"low": 0.1, "high": 0.1},
        over_rate=0.3,
        short_rate=0.3,
        damaged_rate=0.3,
    )
    return [
        (line.qty, line.damaged)
        for line in (procurement.delivered(world.skus[0].item_code, 20) for _ in range(items))
    ]


def test_deliveries_go_over_short_and_damaged_at_the_rates_on_their_own_stream(
    eco: Ecosystem, world: World
) -> None:
    lines = deliveries(eco, world, 5, 2000)
    over = sum(qty > 20 for qty, _ in lines) / len(lines)
    short = sum(qty < 20 for qty, _ in lines) / len(lines)
    damaged = sum(bad > 0 for _, bad in lines) / len(lines)
    for share in (over, short, damaged):
        assert abs(share - 0.3) < 0.03
    # Within the deviation (10 % of 20: 2 units), never empty nor all damaged.
    assert all(18 <= qty <= 22 and 0 <= bad <= 2 and bad < qty for qty, bad in lines)
    # The same seed draws the same; another seed other lines.
    assert deliveries(eco, world, 5, 50) == lines[:50]
    assert deliveries(eco, world, 6, 50) != lines[:50]


def test_the_oms_records_a_sale_beyond_its_stock(eco: Ecosystem, world: World) -> None:
    oms, item = eco.oms, world.skus[0].item_code
    warehouse = world.warehouses[1].code  # tests.support.oms.trade's
    oms.conn.execute(
        "UPDATE stock SET stock_num = 3 WHERE warehouse_no = ? AND spec_no = ?", (warehouse, item)
    )
    line = NewTradeLine(item, "x", 2, 100, 200)
    first = oms.create_paid_order(trade(world, "T1", (line,)))
    second = oms.create_paid_order(trade(world, "T2", (line,)))
    rows = oms.conn.execute(
        "SELECT trade_no, warehouse_no, spec_no, num, available FROM oversells"
    ).fetchall()
    assert [tuple(r) for r in rows] == [(second, warehouse, item, 2, 1)]
    assert first != second
    stock = oms.conn.execute(
        "SELECT stock_num FROM stock WHERE warehouse_no = ? AND spec_no = ? AND defect = 0",
        (warehouse, item),
    ).fetchone()[0]
    assert stock == -1  # until the next count sets it again


def test_return_rate_is_validated_and_needs_purchase_orders() -> None:
    with pytest.raises(ValidationError) as caught:
        settings(return_rate=1.5)
    assert caught.value.errors()[0]["loc"] == ("return_rate",)
    with pytest.raises(ValidationError, match="return_rate needs purchase orders"):
        ProcurementSettings(return_rate=0.5)


def test_the_buyer_drafts_a_return_of_the_surplus_else_of_some_overstock(
    eco: Ecosystem, world: World
) -> None:
    """Each booked stock-in is looked at once; an over-delivered line's surplus goes back,
    else some units of one line; the draft (A) names the stock-in, its price and warehouse."""
    procurement = buyer(eco, world, return_rate=1.0)
    _, item = low(eco, world, 0, 4)
    (po,) = procurement.review()
    supplier = procurement.supplier_of(item).code
    warehouse = world.warehouses[0].code
    for bill_no, qty in ((f"{po}-RK", 30), (f"{po}-RK2", 26)):
        eco.erp.save(
            "STK_InStock",
            {
                "FBillNo": bill_no,
                "FSupplierId": {"FNumber": supplier},
                "FInStockEntry": [
                    {
                        "FMaterialId": {"FNumber": item},
                        "FRealQty": qty,
                        "FTaxPrice": "2.00",
                        "FStockId": {"FNumber": warehouse},
                        "FSrcBillTypeId": "PUR_PurchaseOrder",
                        "FSrcBillNo": po,
                    }
                ],
            },
            auto_submit_audit=True,
        )
    drafted = procurement.send_back()
    assert len(drafted) == 2 and procurement.send_back() == []  # each stock-in once
    rows = eco.erp.execute_bill_query(
        "PUR_MRB",
        "FBillNo,FDocumentStatus,FNote,FSrcBillNo,FStockId.FNumber,FRMREALQTY,FTaxPrice",
        "",
    )
    (surplus, overstock) = sorted(rows, key=lambda row: str(row[3]))
    assert surplus[:6] == [drafted[0], "A", "超收退回", f"{po}-RK", warehouse, 4]  # 30 of 26
    assert overstock[:5] == [drafted[1], "A", "库存积压退回", f"{po}-RK2", warehouse]
    assert 1 <= overstock[5] <= 3 and surplus[6] == overstock[6] == 2  # 10 % of 26, at most
    report = procurement.report()
    assert (report["returns"], report["returns_surplus"], report["returns_overstock"]) == (2, 1, 1)
