"""The ERP's count gain and loss forms (STK_StockCountGain 盘盈单, STK_StockCountLoss 盘亏单):
saved and audited with the stock organisation, the material, the warehouse and a whole gain
or loss above 0; the warehouse is required; ExecuteBillQuery reads them back with the note."""

from __future__ import annotations

from typing import Any

import pytest

from fake_systems.erp.models import K3Error
from fake_systems.erp.service import ErpService
from simulator.world import World


def count_bill(world: World, qty_key: str, qty: Any, stock: bool = True) -> dict[str, Any]:
    entry: dict[str, Any] = {"FMaterialId": {"FNumber": world.skus[0].item_code}, qty_key: qty}
    if stock:
        entry["FStockId"] = {"FNumber": world.warehouses[0].code}
    return {
        "FBillNo": "PD1-" + qty_key,
        "FStockOrgId": {"FNumber": "100"},
        "FNote": "超差",
        "FBillEntry": [entry],
    }


@pytest.mark.parametrize(
    ("form_id", "qty_key"),
    [("STK_StockCountGain", "FGainQty"), ("STK_StockCountLoss", "FLossQty")],
)
def test_a_count_bill_is_saved_audited_and_queried(
    erp: ErpService, world: World, form_id: str, qty_key: str
) -> None:
    erp.save(form_id, count_bill(world, qty_key, 3), auto_submit_audit=True)
    rows = erp.execute_bill_query(
        form_id, f"FBillNo,FDocumentStatus,FNote,FMaterialId.FNumber,FStockId.FNumber,{qty_key}"
    )
    assert [list(row) for row in rows] == [
        [
            "PD1-" + qty_key,
            "C",
            "超差",
            world.skus[0].item_code,
            world.warehouses[0].code,
            3,
        ]
    ]


def test_a_count_bill_needs_its_warehouse(erp: ErpService, world: World) -> None:
    with pytest.raises(K3Error):
        erp.save(
            "STK_StockCountLoss",
            count_bill(world, "FLossQty", 2, stock=False),
            auto_submit_audit=True,
        )
    assert erp.document("STK_StockCountLoss", "PD1-FLossQty") is None


@pytest.mark.parametrize("qty", [0, -1])
def test_a_count_bill_books_more_than_nothing(erp: ErpService, world: World, qty: int) -> None:
    with pytest.raises(K3Error) as caught:
        erp.save("STK_StockCountGain", count_bill(world, "FGainQty", qty), auto_submit_audit=True)
    assert caught.value.message == "明细信息第1行：字段[盘盈数量]必须大于0"
    assert erp.document("STK_StockCountGain", "PD1-FGainQty") is None
