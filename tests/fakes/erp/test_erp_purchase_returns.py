"""The ERP's purchase returns (PUR_MRB, 采购退料单): each entry linked to an audited stock-in
of its supplier holding the material, never sending back more than the stock-in received
(over every return of it); a draft saved again with what really left; a red AP_Payable
linked to the audited return, taking back at most its amount; another owner neither sees
nor links to them."""

from __future__ import annotations

from typing import Any

import pytest

from fake_systems.common.scope import OwnerScope
from fake_systems.erp.models import K3Error, MsgCode
from fake_systems.erp.service import ErpService
from simulator.world import World
from tests.fakes.erp.test_erp_purchasing import purchase_order, refused, stock_in, supplier


def purchase_return(
    world: World, qty: int, source: str = "RK1", bill_no: str = "MRB1", material: int = 0
) -> dict[str, Any]:
    return {
        "FBillNo": bill_no,
        "FBillTypeID": {"FNumber": "TLD01_SYS"},
        "FSupplierID": {"FNumber": supplier(world)},
        "FStockOrgId": {"FNumber": "100"},
        "FPURMRBENTRY": [
            {
                "FMaterialId": {"FNumber": world.skus[material].item_code},
                "FRMREALQTY": qty,
                "FTaxPrice": "3.50",
                "FStockId": {"FNumber": world.warehouses[0].code},
                "FSrcBillTypeId": "STK_InStock",
                "FSrcBillNo": source,
            }
        ],
    }


def red_payable(world: World, qty: int, amount: str, source: str = "MRB1") -> dict[str, Any]:
    return {
        "FBillNo": f"{source}-AP",
        "FSUPPLIERID": {"FNumber": supplier(world)},
        "FEntityDetail": [
            {
                "FMATERIALID": {"FNumber": world.skus[0].item_code},
                "FPriceQty": -qty,
                "FTaxPrice": "3.50",
                "FALLAMOUNTFOR": f"-{amount}",
                "FSOURCETYPE": "PUR_MRB",
                "FSourceBillNo": source,
            }
        ],
    }


@pytest.fixture
def received(erp: ErpService, world: World) -> None:
    """PO1 ordered, RK1 received 11 units of it, both audited."""
    erp.save("PUR_PurchaseOrder", purchase_order(world), auto_submit_audit=True)
    erp.save("STK_InStock", stock_in(world, "PO1"), auto_submit_audit=True)


def test_a_purchase_return_links_to_an_audited_stock_in(
    erp: ErpService, world: World, received: None
) -> None:
    assert "不存在" in refused(erp, "PUR_MRB", purchase_return(world, 2, source="RK9"))
    assert "不在源单" in refused(erp, "PUR_MRB", purchase_return(world, 2, material=1))
    assert "必须大于0" in refused(erp, "PUR_MRB", purchase_return(world, 0))
    erp.save("PUR_MRB", purchase_return(world, 2), auto_submit_audit=True)
    document = erp.document("PUR_MRB", "MRB1")
    assert document is not None and document["document_status"] == "C"
    assert document["amount_cents"] == 700
    rows = erp.execute_bill_query(
        "PUR_MRB", "FBillNo,FSupplierID.FNumber,FStockId.FNumber,FRMREALQTY,FSrcBillNo", ""
    )
    assert rows == [["MRB1", supplier(world), world.warehouses[0].code, 2, "RK1"]]


def test_returns_never_send_back_more_than_the_stock_in_received(
    erp: ErpService, world: World, received: None
) -> None:
    assert "可退数量[11]" in refused(erp, "PUR_MRB", purchase_return(world, 12))
    erp.save("PUR_MRB", purchase_return(world, 8))  # a draft (A) counts too
    assert "可退数量[3]" in refused(erp, "PUR_MRB", purchase_return(world, 4, bill_no="MRB2"))
    # The draft saved again (its own units aside) with what really left, then audited.
    fid = erp.document("PUR_MRB", "MRB1")["fid"]  # type: ignore[index]
    erp.save("PUR_MRB", {**purchase_return(world, 5), "FID": fid}, auto_submit_audit=True)
    erp.save("PUR_MRB", purchase_return(world, 6, bill_no="MRB2"), auto_submit_audit=True)


def test_a_red_payable_takes_back_no_more_than_its_audited_return(
    erp: ErpService, world: World, received: None
) -> None:
    erp.save("PUR_MRB", purchase_return(world, 2))
    assert "未审核" in refused(erp, "AP_Payable", red_payable(world, 2, "7.00"))
    erp.submit("PUR_MRB", ["MRB1"])
    erp.audit("PUR_MRB", ["MRB1"])
    assert "可红冲金额[7.0" in refused(erp, "AP_Payable", red_payable(world, 3, "10.50"))
    # A red entry names a purchase return, a blue one a stock-in.
    wrong = red_payable(world, 2, "7.00")
    wrong["FEntityDetail"][0]["FSOURCETYPE"] = "STK_InStock"
    assert "不是采购退料单" in refused(erp, "AP_Payable", wrong)
    erp.save("AP_Payable", red_payable(world, 2, "7.00"), auto_submit_audit=True)
    assert erp.document("AP_Payable", "MRB1-AP")["amount_cents"] == -700  # type: ignore[index]
    again = {**red_payable(world, 1, "3.50"), "FBillNo": "MRB1-AP2"}
    assert "可红冲金额[0" in refused(erp, "AP_Payable", again)


def test_another_owner_neither_sees_nor_books_a_purchase_return(
    erp: ErpService, world: World, received: None
) -> None:
    erp.save("PUR_MRB", purchase_return(world, 2), auto_submit_audit=True)
    owner_b = OwnerScope(frozenset({world.owners[1].code}))
    assert erp.execute_bill_query("PUR_MRB", "FBillNo", "", scope=owner_b) == []
    with pytest.raises(K3Error) as caught:
        erp.save("AP_Payable", red_payable(world, 2, "7.00"), scope=owner_b)
    assert caught.value.msg_code in (MsgCode.VALIDATION_FAILED, MsgCode.NO_PERMISSION)
    erp.save("PUR_MRB", purchase_return(world, 1, bill_no="MRB2"))
    result = erp.submit("PUR_MRB", ["MRB2"], scope=owner_b)
    assert not result.successes
    assert erp.document("PUR_MRB", "MRB2")["document_status"] == "A"  # type: ignore[index]
