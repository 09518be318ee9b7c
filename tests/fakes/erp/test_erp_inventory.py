"""The ERP's book stock (STK_Inventory, 即时库存): the world's opening stock, moved by audited
stock documents only, taken back at UnAudit; read with ExecuteBillQuery by unscoped users."""

from __future__ import annotations

from typing import Any

from fake_systems.common.scope import OwnerScope
from fake_systems.erp.service import ErpService
from simulator.world import World


def book(erp: ErpService, item: str, warehouse: str) -> int:
    rows = erp.execute_bill_query(
        "STK_Inventory",
        "FMaterialId.FNumber,FStockId.FNumber,FBaseQty",
        f"FMaterialId.FNumber = '{item}' AND FStockId.FNumber = '{warehouse}'",
    )
    return int(rows[0][2]) if rows else 0


def count_loss(world: World, bill_no: str, qty: int) -> dict[str, Any]:
    return {
        "FBillNo": bill_no,
        "FStockOrgId": {"FNumber": "100"},
        "FBillEntry": [
            {
                "FMaterialId": {"FNumber": world.skus[0].item_code},
                "FLossQty": qty,
                "FStockId": {"FNumber": world.warehouses[0].code},
            }
        ],
    }


def test_the_book_stock_follows_audited_documents_only(erp: ErpService, world: World) -> None:
    item, warehouse = world.skus[0].item_code, world.warehouses[0].code
    opening = world.initial_stock[(warehouse, item)]
    assert book(erp, item, warehouse) == opening
    erp.save("STK_StockCountLoss", count_loss(world, "PK-1", 3))
    erp.submit("STK_StockCountLoss", ["PK-1"])
    assert book(erp, item, warehouse) == opening  # saved and submitted: not on the books yet
    erp.audit("STK_StockCountLoss", ["PK-1"])
    assert book(erp, item, warehouse) == opening - 3
    erp.unaudit("STK_StockCountLoss", ["PK-1"])
    assert book(erp, item, warehouse) == opening  # taken back
    erp.delete("STK_StockCountLoss", ["PK-1"])
    assert book(erp, item, warehouse) == opening
    moves = erp.conn.execute(
        "SELECT qty FROM inventory_moves WHERE bill_no = 'PK-1' ORDER BY seq"
    ).fetchall()
    assert [row[0] for row in moves] == [-3, 3]


def test_an_owner_scoped_user_reads_no_book_stock(erp: ErpService, world: World) -> None:
    scope = OwnerScope.of((world.owners[0].code,))
    rows = erp.execute_bill_query("STK_Inventory", "FMaterialId.FNumber,FBaseQty", scope=scope)
    assert rows == []
    assert erp.execute_bill_query("STK_Inventory", "FMaterialId.FNumber,FBaseQty")
