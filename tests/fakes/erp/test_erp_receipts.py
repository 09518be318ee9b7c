"""The ERP's receipt bills (AR_RECEIVEBILL): handling charges, and write-offs against
receivables no further than their open amount, at Save and again at Audit."""

from __future__ import annotations

from typing import Any

import pytest

from fake_systems.common.scope import OwnerScope
from fake_systems.erp.models import K3Error, MsgCode
from fake_systems.erp.service import ErpService
from simulator.world import World
from tests.fakes.erp.test_erp_returns import receivable, refused, shop


def receipt(
    world: World,
    bill_no: str,
    gross: str = "25.00",
    handling: str | None = "1.25",
    real: str | None = None,
    write_offs: tuple[tuple[str, str], ...] = (("T1", "25.00"),),
) -> dict[str, Any]:
    entry: dict[str, Any] = {"FRECTOTALAMOUNTFOR": gross, "FCOMMENT": "T1"}
    if handling is not None:
        entry["FHANDLINGCHARGEFOR"] = handling
    if real is not None:
        entry["FREALRECAMOUNTFOR"] = real
    return {
        "FBillNo": bill_no,
        "FCONTACTUNIT": {"FNumber": shop(world)},
        "FNote": "BK1",
        "FRECEIVEBILLENTRY": [entry],
        "FRECEIVEBILLSRCENTITY": [
            {"FSRCBILLTYPEID": "AR_receivable", "FSRCBILLNO": source, "FREALRECAMOUNT": amount}
            for source, amount in write_offs
        ],
    }


def test_a_receipt_keeps_its_handling_charge_and_write_offs(erp: ErpService, world: World) -> None:
    erp.save("AR_receivable", receivable(world, "T1", "25.00"), auto_submit_audit=True)
    saved = erp.save("AR_RECEIVEBILL", receipt(world, "S1", real="23.75"), auto_submit_audit=True)
    fid = saved.successes[0].id
    charges = erp.conn.execute(
        "SELECT seq, handling_cents, real_cents, comment FROM receipt_entries WHERE fid = ?", (fid,)
    ).fetchall()
    assert [tuple(row) for row in charges] == [(1, 125, 2375, "T1")]
    offs = erp.conn.execute(
        "SELECT source_bill_no, amount_cents FROM write_offs WHERE fid = ?", (fid,)
    ).fetchall()
    assert [tuple(row) for row in offs] == [("T1", 2500)]
    assert erp.document("AR_RECEIVEBILL", "S1")["amount_cents"] == 2500  # type: ignore[index]


def test_receipt_entries_are_checked(erp: ErpService, world: World) -> None:
    erp.save("AR_receivable", receivable(world, "T1", "25.00"), auto_submit_audit=True)
    assert "手续费不能为负数" in refused(erp, "AR_RECEIVEBILL", receipt(world, "S1", handling="-1"))
    assert "应等于应收金额" in refused(erp, "AR_RECEIVEBILL", receipt(world, "S1", real="25.00"))
    assert "源单编号" in refused(
        erp, "AR_RECEIVEBILL", receipt(world, "S1", write_offs=(("", "1.00"),))
    )
    assert "不存在" in refused(
        erp, "AR_RECEIVEBILL", receipt(world, "S1", write_offs=(("T9", "1.00"),))
    )
    assert "必须大于0" in refused(
        erp, "AR_RECEIVEBILL", receipt(world, "S1", write_offs=(("T1", "0"),))
    )


def test_a_receivable_is_written_off_no_further_than_it_is_open(
    erp: ErpService, world: World
) -> None:
    erp.save("AR_receivable", receivable(world, "T1", "25.00"), auto_submit_audit=True)
    # Not audited: nothing may be written off against it.
    erp.save("AR_receivable", receivable(world, "T2", "10.00"))
    assert "未审核" in refused(
        erp, "AR_RECEIVEBILL", receipt(world, "S1", write_offs=(("T2", "1.00"),))
    )
    # A red receivable of 5.00 leaves 20.00 open.
    erp.save("AR_receivable", receivable(world, "H1", "-5.00", source="T1"), auto_submit_audit=True)
    assert "未核销金额[20.0]" in refused(erp, "AR_RECEIVEBILL", receipt(world, "S1"))
    erp.save(
        "AR_RECEIVEBILL",
        receipt(world, "S1", gross="20.00", write_offs=(("T1", "20.00"),)),
        auto_submit_audit=True,
    )
    assert "未核销金额[0.0]" in refused(
        erp, "AR_RECEIVEBILL", receipt(world, "S2", write_offs=(("T1", "0.01"),))
    )


def test_two_receipts_saved_side_by_side_cannot_both_be_audited(
    erp: ErpService, world: World
) -> None:
    erp.save("AR_receivable", receivable(world, "T1", "25.00"), auto_submit_audit=True)
    # Neither is audited yet, so both saves pass; the second audit finds nothing open.
    for number in ("S1", "S2"):
        erp.save("AR_RECEIVEBILL", receipt(world, number))
        erp.submit("AR_RECEIVEBILL", [number])
    assert erp.audit("AR_RECEIVEBILL", ["S1"]).is_success
    second = erp.audit("AR_RECEIVEBILL", ["S2"])
    assert not second.is_success
    assert second.msg_code == MsgCode.VALIDATION_FAILED
    assert "超过未核销金额[0.0]" in second.errors[0].message
    assert erp.document("AR_RECEIVEBILL", "S2")["document_status"] == "B"  # type: ignore[index]
    # Un-auditing the first opens the receivable again.
    assert erp.unaudit("AR_RECEIVEBILL", ["S1"]).is_success
    assert erp.audit("AR_RECEIVEBILL", ["S2"]).is_success


def test_another_owner_cannot_write_off_my_receivable(erp: ErpService, world: World) -> None:
    erp.save("AR_receivable", receivable(world, "T1", "25.00"), auto_submit_audit=True)
    mine = world.shops[0].owner_code
    other = next(s.owner_code for s in world.shops if s.owner_code != mine)
    with pytest.raises(K3Error) as caught:
        erp.save("AR_RECEIVEBILL", receipt(world, "S1"), scope=OwnerScope.of((other,)))
    assert caught.value.msg_code == MsgCode.VALIDATION_FAILED
    assert erp.conn.execute("SELECT COUNT(*) FROM write_offs").fetchone()[0] == 0


def test_a_deleted_receipt_leaves_no_write_off_behind(erp: ErpService, world: World) -> None:
    erp.save("AR_receivable", receivable(world, "T1", "25.00"), auto_submit_audit=True)
    erp.save("AR_RECEIVEBILL", receipt(world, "S1"))
    assert erp.delete("AR_RECEIVEBILL", ["S1"]).is_success
    assert erp.conn.execute("SELECT COUNT(*) FROM write_offs").fetchone()[0] == 0
    assert erp.conn.execute("SELECT COUNT(*) FROM receipt_entries").fetchone()[0] == 0
