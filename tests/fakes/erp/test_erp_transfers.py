"""The ERP's two-step transfer forms: STK_TRANSFEROUT (units out of the sending warehouse)
and STK_TRANSFERIN (units into the receiving one, and those lost on the way), linked to an
audited transfer-out holding the material, never receiving more than it sent."""

from __future__ import annotations

from typing import Any

import pytest

from fake_systems.common.scope import OwnerScope
from fake_systems.erp.models import K3Error
from fake_systems.erp.service import ErpService
from simulator.world import World


def transfer_out(world: World, qty: int = 10, bill_no: str = "TR1-OUT") -> dict[str, Any]:
    return {
        "FBillNo": bill_no,
        "FStockOutOrgID": {"FNumber": "100"},
        "FSTKTRSOUTENTRY": [
            {
                "FMaterialID": {"FNumber": world.skus[0].item_code},
                "FQty": qty,
                "FSrcStockID": {"FNumber": world.warehouses[0].code},
                "FDestStockID": {"FNumber": world.warehouses[1].code},
            }
        ],
    }


def transfer_in(
    world: World, qty: int, loss: Any = 0, source: str = "TR1-OUT", material: int = 0
) -> dict[str, Any]:
    return {
        "FBillNo": "TR1-IN",
        "FStockOrgID": {"FNumber": "100"},
        "FSTKTRSINENTRY": [
            {
                "FMaterialID": {"FNumber": world.skus[material].item_code},
                "FQty": qty,
                "FPathLossQty": loss,
                "FSrcStockID": {"FNumber": world.warehouses[0].code},
                "FDestStockID": {"FNumber": world.warehouses[1].code},
                "FSrcBillTypeId": "STK_TRANSFEROUT",
                "FSrcBillNo": source,
            }
        ],
    }


def refused(erp: ErpService, form_id: str, model: Any) -> str:
    with pytest.raises(K3Error) as caught:
        erp.save(form_id, model, auto_submit_audit=True)
    assert erp.document(form_id, model["FBillNo"]) is None
    return caught.value.message


def test_a_transfer_out_needs_its_sending_warehouse(erp: ErpService, world: World) -> None:
    model = transfer_out(world)
    del model["FSTKTRSOUTENTRY"][0]["FSrcStockID"]
    assert "仓库" in refused(erp, "STK_TRANSFEROUT", model)
    erp.save("STK_TRANSFEROUT", transfer_out(world), auto_submit_audit=True)
    document = erp.document("STK_TRANSFEROUT", "TR1-OUT")
    assert document is not None and document["document_status"] == "C"
    entries = erp.conn.execute(
        "SELECT qty, stock_number FROM document_entries WHERE fid = ?", (document["fid"],)
    ).fetchall()
    assert [tuple(row) for row in entries] == [(10, world.warehouses[0].code)]


def test_a_transfer_in_links_to_an_audited_transfer_out_and_keeps_its_loss(
    erp: ErpService, world: World
) -> None:
    erp.save("STK_TRANSFEROUT", transfer_out(world))
    assert "未审核" in refused(erp, "STK_TRANSFERIN", transfer_in(world, 9, 1))
    erp.submit("STK_TRANSFEROUT", ["TR1-OUT"])
    erp.audit("STK_TRANSFEROUT", ["TR1-OUT"])
    assert "不存在" in refused(erp, "STK_TRANSFERIN", transfer_in(world, 9, 1, source="X"))
    assert "不在源单" in refused(erp, "STK_TRANSFERIN", transfer_in(world, 9, 1, material=1))
    assert "路途损耗" in refused(erp, "STK_TRANSFERIN", transfer_in(world, 9, -1))
    assert "路途损耗" in refused(erp, "STK_TRANSFERIN", transfer_in(world, 9, "1.5"))
    # Received plus lost beyond what was sent.
    assert "超过调出单" in refused(erp, "STK_TRANSFERIN", transfer_in(world, 9, 2))
    saved = erp.save("STK_TRANSFERIN", transfer_in(world, 9, 1), auto_submit_audit=True)
    fid = saved.successes[0].id
    link = erp.conn.execute(
        "SELECT source_form_id, source_bill_no FROM document_links WHERE fid = ?", (fid,)
    ).fetchone()
    assert tuple(link) == ("STK_TRANSFEROUT", "TR1-OUT")
    loss = erp.conn.execute("SELECT loss_qty FROM transfer_losses WHERE fid = ?", (fid,))
    assert loss.fetchone()[0] == 1
    stock = erp.conn.execute("SELECT stock_number FROM document_entries WHERE fid = ?", (fid,))
    assert stock.fetchone()[0] == world.warehouses[1].code


def test_a_second_transfer_in_cannot_receive_what_the_first_took(
    erp: ErpService, world: World
) -> None:
    erp.save("STK_TRANSFEROUT", transfer_out(world), auto_submit_audit=True)
    erp.save("STK_TRANSFERIN", transfer_in(world, 7, 1), auto_submit_audit=True)
    second = transfer_in(world, 3)
    second["FBillNo"] = "TR1-IN-2"
    assert "超过调出单" in refused(erp, "STK_TRANSFERIN", second)
    second["FSTKTRSINENTRY"][0]["FQty"] = 2
    erp.save("STK_TRANSFERIN", second, auto_submit_audit=True)
    # Deleting a (not audited) transfer-in drops its loss with it.
    third = transfer_in(world, 0)
    third["FBillNo"] = "TR1-IN-3"
    saved = erp.save("STK_TRANSFERIN", third)
    erp.delete("STK_TRANSFERIN", ["TR1-IN-3"])
    rows = erp.conn.execute(
        "SELECT COUNT(*) FROM transfer_losses WHERE fid = ?", (saved.successes[0].id,)
    )
    assert rows.fetchone()[0] == 0


def test_an_owner_scoped_user_cannot_book_a_transfer(erp: ErpService, world: World) -> None:
    """Transfers belong to no cargo owner (the stock organisation is their partner): only the
    integrator books them, as only it moves the shared catalog's stock in the WMS."""
    owner_a = OwnerScope(frozenset({world.owners[0].code}))
    with pytest.raises(K3Error) as caught:
        erp.save("STK_TRANSFEROUT", transfer_out(world), scope=owner_a)
    assert "调出库存组织" in caught.value.message


def test_transfers_are_queried_as_any_bill(erp: ErpService, world: World) -> None:
    """What a connector looks for before a save (its bill number and status)."""
    erp.save("STK_TRANSFEROUT", transfer_out(world), auto_submit_audit=True)
    rows = erp.execute_bill_query(
        "STK_TRANSFEROUT",
        "FBillNo,FDocumentStatus,FStockOutOrgID.FNumber,FSrcStockID.FNumber,FQty",
        "FBillNo='TR1-OUT'",
    )
    assert rows == [["TR1-OUT", "C", "100", world.warehouses[0].code, 10]]
    assert erp.execute_bill_query("STK_TRANSFERIN", "FBillNo", "FBillNo='TR1-IN'") == []
