"""The ERP's sales returns (SAL_RETURNSTOCK) and red receivables: source-bill links and K3's
rules on them (an audited source of the same customer; no more back than went out; no more
reversed than the original receivable)."""

from __future__ import annotations

from typing import Any

import pytest

from fake_systems.erp.models import K3Error, MsgCode
from fake_systems.erp.service import ErpService
from simulator.world import World


def shop(world: World) -> str:
    return world.shops[0].shop_no


def outstock(world: World, bill_no: str = "T1", qty: int = 2) -> dict[str, Any]:
    return {
        "FBillNo": bill_no,
        "FCustomerID": {"FNumber": shop(world)},
        "FEntity": [
            {
                "FMaterialID": {"FNumber": world.skus[0].item_code},
                "FRealQty": qty,
                "FAllAmount": "25.00",
                "FStockID": {"FNumber": world.warehouses[0].code},
            }
        ],
    }


def sales_return(
    world: World, bill_no: str, qty: int, source: str | None = "T1", status: str = "KCZT08_SYS"
) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "FMaterialID": {"FNumber": world.skus[0].item_code},
        "FRealQty": qty,
        "FAllAmount": "12.50",
        "FStockStatusId": {"FNumber": status},
        "FSrcBillTypeID": "SAL_OUTSTOCK",
    }
    if source is not None:
        entry["FSrcBillNo"] = source
    return {"FBillNo": bill_no, "FRetcustId": {"FNumber": shop(world)}, "FEntity": [entry]}


def receivable(world: World, bill_no: str, *amounts: str, source: str | None = None) -> Any:
    entries = []
    for amount in amounts:
        entry: dict[str, Any] = {
            "FMATERIALID": {"FNumber": world.skus[0].item_code},
            "FPriceQty": -1 if amount.startswith("-") else 1,
            "FALLAMOUNTFOR": amount,
        }
        if source is not None:
            entry["FSourceBillNo"] = source
        entries.append(entry)
    return {
        "FBillNo": bill_no,
        "FCUSTOMERID": {"FNumber": shop(world)},
        "FEntityDetail": entries,
    }


def refused(erp: ErpService, form_id: str, model: Any) -> str:
    """The refusal's messages; the bill is not saved."""
    with pytest.raises(K3Error) as caught:
        erp.save(form_id, model, auto_submit_audit=True)
    assert caught.value.msg_code == MsgCode.VALIDATION_FAILED
    assert erp.document(form_id, model["FBillNo"]) is None
    return caught.value.message


def test_a_sales_return_takes_back_no_more_than_its_outbound_shipped(
    erp: ErpService, world: World
) -> None:
    erp.save("SAL_OUTSTOCK", outstock(world))
    # Not audited yet: nothing may be returned against it.
    assert "未审核" in refused(erp, "SAL_RETURNSTOCK", sales_return(world, "R1", 1))
    erp.submit("SAL_OUTSTOCK", ["T1"])
    erp.audit("SAL_OUTSTOCK", ["T1"])
    assert "可退数量[2]" in refused(erp, "SAL_RETURNSTOCK", sales_return(world, "R1", 3))
    assert "源单编号" in refused(erp, "SAL_RETURNSTOCK", sales_return(world, "R1", 1, None))
    assert "不存在" in refused(erp, "SAL_RETURNSTOCK", sales_return(world, "R1", 1, "T9"))
    assert "库存状态" in refused(
        erp, "SAL_RETURNSTOCK", sales_return(world, "R1", 1, status="NOPE")
    )
    saved = erp.save("SAL_RETURNSTOCK", sales_return(world, "R1", 1), auto_submit_audit=True)
    links = erp.conn.execute(
        "SELECT seq, source_form_id, source_bill_no, stock_status FROM document_links"
        " WHERE fid = ?",
        (saved.successes[0].id,),
    ).fetchall()
    assert [tuple(row) for row in links] == [(1, "SAL_OUTSTOCK", "T1", "KCZT08_SYS")]
    # One of two units is back: one more may come, not two.
    assert "可退数量[1]" in refused(erp, "SAL_RETURNSTOCK", sales_return(world, "R2", 2))
    erp.save("SAL_RETURNSTOCK", sales_return(world, "R2", 1, status="KCZT01_SYS"))
    assert "可退数量[0]" in refused(erp, "SAL_RETURNSTOCK", sales_return(world, "R3", 1))


def test_a_red_receivable_reverses_an_audited_receivable_up_to_its_amount(
    erp: ErpService, world: World
) -> None:
    erp.save("AR_receivable", receivable(world, "T1", "25.00"), auto_submit_audit=True)
    assert "源单编号" in refused(erp, "AR_receivable", receivable(world, "H1", "-5.00"))
    assert "红字应收单的金额必须为负数" in refused(
        erp, "AR_receivable", receivable(world, "H1", "-5.00", "1.00", source="T1")
    )
    assert "可红冲金额[25.0]" in refused(
        erp, "AR_receivable", receivable(world, "H1", "-25.01", source="T1")
    )
    erp.save(
        "AR_receivable", receivable(world, "H1", "-20.00", source="T1"), auto_submit_audit=True
    )
    assert erp.document("AR_receivable", "H1")["amount_cents"] == -2000  # type: ignore[index]
    assert "可红冲金额[5.0]" in refused(
        erp, "AR_receivable", receivable(world, "H2", "-5.01", source="T1")
    )
    erp.save("AR_receivable", receivable(world, "H2", "-5.00", source="T1"), auto_submit_audit=True)
    # A red receivable is not itself reversed.
    assert "不允许再红冲" in refused(
        erp, "AR_receivable", receivable(world, "H3", "-1.00", source="H1")
    )
    # A positive receivable needs no source.
    assert erp.save("AR_receivable", receivable(world, "T2", "3.00")).is_success
