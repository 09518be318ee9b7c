"""The ERP's purchasing forms: PUR_PurchaseOrder with K3's rules (a supplier with a 10-digit
code, material, quantity, price, warehouse), and the source links of a stock-in to its order
and of a payable to its stock-in (an audited source of the same supplier and owner, holding
the material); another owner neither sees nor links to them."""

from __future__ import annotations

from typing import Any

import pytest

from fake_systems.common.scope import OwnerScope
from fake_systems.erp.models import K3Error, MsgCode
from fake_systems.erp.service import ErpService
from simulator.world import World


def supplier(world: World, owner: int = 0) -> str:
    return next(s.code for s in world.suppliers if s.owner_code == world.owners[owner].code)


def purchase_order(world: World, bill_no: str = "PO1", stock: bool = True) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "FMaterialId": {"FNumber": world.skus[0].item_code},
        "FQty": 10,
        "FTaxPrice": "3.50",
    }
    if stock:
        entry["FStockID"] = {"FNumber": world.warehouses[0].code}
    return {
        "FBillNo": bill_no,
        "FSupplierId": {"FNumber": supplier(world)},
        "FPOOrderEntry": [entry],
    }


def stock_in(world: World, source: str, material: int = 0, sup: str | None = None) -> Any:
    return {
        "FBillNo": "RK1",
        "FSupplierId": {"FNumber": sup or supplier(world)},
        "FInStockEntry": [
            {
                "FMaterialId": {"FNumber": world.skus[material].item_code},
                "FRealQty": 11,
                "FTaxPrice": "3.50",
                "FStockId": {"FNumber": world.warehouses[0].code},
                "FSrcBillTypeId": "PUR_PurchaseOrder",
                "FSrcBillNo": source,
            }
        ],
    }


def payable(world: World, source: str, kind: str = "STK_InStock") -> Any:
    return {
        "FBillNo": "AP1",
        "FSUPPLIERID": {"FNumber": supplier(world)},
        "FEntityDetail": [
            {
                "FMATERIALID": {"FNumber": world.skus[0].item_code},
                "FPriceQty": 9,
                "FALLAMOUNTFOR": "31.50",
                "FSOURCETYPE": kind,
                "FSourceBillNo": source,
            }
        ],
    }


def refused(erp: ErpService, form_id: str, model: Any, scope: OwnerScope | None = None) -> str:
    with pytest.raises(K3Error) as caught:
        erp.save(form_id, model, auto_submit_audit=True, scope=scope or OwnerScope.EVERYONE)
    assert erp.document(form_id, model["FBillNo"]) is None
    return caught.value.message


def test_suppliers_have_ten_digit_codes(world: World) -> None:
    assert world.suppliers and all(len(s.code) == 10 and s.code.isdigit() for s in world.suppliers)
    assert {s.owner_code for s in world.suppliers} == {o.code for o in world.owners}


def test_a_purchase_order_needs_a_warehouse_and_computes_its_amount(
    erp: ErpService, world: World
) -> None:
    assert "仓库" in refused(erp, "PUR_PurchaseOrder", purchase_order(world, stock=False))
    erp.save("PUR_PurchaseOrder", purchase_order(world), auto_submit_audit=True)
    document = erp.document("PUR_PurchaseOrder", "PO1")
    assert document is not None
    assert (document["amount_cents"], document["document_status"]) == (3500, "C")
    # Its owner is its supplier's: what the connector reads as the entries' 货主.
    rows = erp.execute_bill_query(
        "PUR_PurchaseOrder",
        "FBillNo,FOwnerId.FNumber,FStockId.FNumber,FQty,FTaxPrice",
        "FDocumentStatus='C'",
    )
    assert rows == [["PO1", world.owners[0].code, world.warehouses[0].code, 10, 3.5]]


def test_a_stock_in_and_a_payable_link_to_audited_sources_of_their_supplier(
    erp: ErpService, world: World
) -> None:
    erp.save("PUR_PurchaseOrder", purchase_order(world))
    assert "未审核" in refused(erp, "STK_InStock", stock_in(world, "PO1"))
    erp.submit("PUR_PurchaseOrder", ["PO1"])
    erp.audit("PUR_PurchaseOrder", ["PO1"])
    assert "不存在" in refused(erp, "STK_InStock", stock_in(world, "PO9"))
    assert "不在源单" in refused(erp, "STK_InStock", stock_in(world, "PO1", material=1))
    other = next(
        s.code
        for s in world.suppliers
        if s.owner_code == world.owners[0].code and s.code != supplier(world)
    )
    assert "不属于该供应商" in refused(erp, "STK_InStock", stock_in(world, "PO1", sup=other))
    saved = erp.save("STK_InStock", stock_in(world, "PO1"), auto_submit_audit=True)
    links = erp.conn.execute(
        "SELECT seq, source_form_id, source_bill_no FROM document_links WHERE fid = ?",
        (saved.successes[0].id,),
    ).fetchall()
    assert [tuple(row) for row in links] == [(1, "PUR_PurchaseOrder", "PO1")]
    assert "不是采购入库单" in refused(
        erp, "AP_Payable", payable(world, "RK1", "PUR_PurchaseOrder")
    )
    erp.save("AP_Payable", payable(world, "RK1"), auto_submit_audit=True)
    assert erp.document("AP_Payable", "AP1")["amount_cents"] == 3150  # type: ignore[index]


def test_another_owner_neither_sees_nor_links_to_a_purchase_order(
    erp: ErpService, world: World
) -> None:
    erp.save("PUR_PurchaseOrder", purchase_order(world), auto_submit_audit=True)
    owner_b = OwnerScope(frozenset({world.owners[1].code}))
    assert erp.execute_bill_query("PUR_PurchaseOrder", "FBillNo", "", scope=owner_b) == []
    # Its own supplier's stock-in naming the first owner's order: as if it did not exist.
    model = stock_in(world, "PO1", sup=supplier(world, owner=1))
    assert "不存在" in refused(erp, "STK_InStock", model, scope=owner_b)
    with pytest.raises(K3Error) as caught:
        erp.save("STK_InStock", stock_in(world, "PO1"), scope=owner_b)
    assert caught.value.msg_code in (MsgCode.VALIDATION_FAILED, MsgCode.NO_PERMISSION)
