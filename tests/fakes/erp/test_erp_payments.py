"""The ERP's payment bills (AP_PAYBILL): written off against audited payables of their
supplier no further than they are open, at Save and again at Audit; payables fall due by
their supplier's terms (FENDDATE_H), suppliers carry the bank account they are paid to."""

from __future__ import annotations

from typing import Any

from fake_systems.erp.master_data import DEFAULT_TERMS_DAYS
from fake_systems.erp.models import MsgCode
from fake_systems.erp.service import ErpService
from simulator.world import World
from tests.fakes.erp.test_erp_purchasing import payable, purchase_order, refused, stock_in, supplier


def booked_payable(erp: ErpService, world: World, date: str = "2026-11-03 10:00:00") -> str:
    """PO1 → RK1 → AP1 (31.50 CNY), all audited; the payable's number."""
    erp.save("PUR_PurchaseOrder", purchase_order(world), auto_submit_audit=True)
    erp.save("STK_InStock", stock_in(world, "PO1"), auto_submit_audit=True)
    erp.save("AP_Payable", {**payable(world, "RK1"), "FDate": date}, auto_submit_audit=True)
    return "AP1"


def payment(
    world: World,
    bill_no: str,
    amount: str = "31.50",
    write_offs: tuple[tuple[str, str], ...] = (("AP1", "31.50"),),
    sup: str | None = None,
) -> dict[str, Any]:
    return {
        "FBillNo": bill_no,
        "FBillTypeID": {"FNumber": "FKDLX01_SYS"},
        "FCONTACTUNITTYPE": "BD_Supplier",
        "FCONTACTUNIT": {"FNumber": sup or supplier(world)},
        "FNote": "BK1",
        "FPAYBILLENTRY": [
            {
                "FSETTLETYPEID": {"FNumber": "JSFS04_SYS"},
                "FPAYTOTALAMOUNTFOR": amount,
                "FREALPAYAMOUNTFOR_D": amount,
                "FCOMMENT": "AP1",
            }
        ],
        "FPAYBILLSRCENTRY": [
            {"FSOURCETYPE": "AP_Payable", "FSRCBILLNO": source, "FREALPAYAMOUNT_S": value}
            for source, value in write_offs
        ],
    }


def test_a_payment_writes_off_its_payable(erp: ErpService, world: World) -> None:
    booked_payable(erp, world)
    saved = erp.save("AP_PAYBILL", payment(world, "FK1"), auto_submit_audit=True)
    fid = saved.successes[0].id
    offs = erp.conn.execute(
        "SELECT source_bill_no, amount_cents FROM write_offs WHERE fid = ?", (fid,)
    ).fetchall()
    assert [tuple(row) for row in offs] == [("AP1", 3150)]
    document = erp.document("AP_PAYBILL", "FK1")
    assert document is not None
    assert (document["supplier_number"], document["amount_cents"]) == (supplier(world), 3150)
    assert erp.execute_bill_query("AP_PAYBILL", "FBillNo,FCONTACTUNIT.FNumber,FNote") == [
        ["FK1", supplier(world), "BK1"]
    ]


def test_a_payable_is_paid_no_further_than_it_is_open(erp: ErpService, world: World) -> None:
    booked_payable(erp, world)
    assert "本次付款金额[31.51]超过未核销金额[31.5]" in refused(
        erp, "AP_PAYBILL", payment(world, "FK1", "31.51", (("AP1", "31.51"),))
    )
    erp.save(
        "AP_PAYBILL", payment(world, "FK1", "30.00", (("AP1", "30.00"),)), auto_submit_audit=True
    )
    assert "超过未核销金额[1.5]" in refused(erp, "AP_PAYBILL", payment(world, "FK2"))
    entry = {"FPAYTOTALAMOUNTFOR": "1.50", "FREALPAYAMOUNTFOR_D": "1.00"}
    assert "实付金额[1.0]应等于应付金额[1.5]减手续费[0.0]" in refused(
        erp, "AP_PAYBILL", {**payment(world, "FK2", "1.50"), "FPAYBILLENTRY": [entry]}
    )


def test_two_payments_saved_side_by_side_cannot_both_be_audited(
    erp: ErpService, world: World
) -> None:
    booked_payable(erp, world)
    for number in ("FK1", "FK2"):
        erp.save("AP_PAYBILL", payment(world, number))
        erp.submit("AP_PAYBILL", [number])
    assert erp.audit("AP_PAYBILL", ["FK1"]).is_success
    second = erp.audit("AP_PAYBILL", ["FK2"])
    assert second.msg_code == MsgCode.VALIDATION_FAILED
    assert "超过未核销金额[0.0]" in second.errors[0].message


def test_only_an_audited_payable_of_the_same_supplier_is_paid(
    erp: ErpService, world: World
) -> None:
    booked_payable(erp, world)
    other = next(s.code for s in world.suppliers if s.code != supplier(world))
    assert "不属于该供应商" in refused(erp, "AP_PAYBILL", payment(world, "FK1", sup=other))
    assert "不是应付单" in refused(
        erp,
        "AP_PAYBILL",
        {
            **payment(world, "FK1"),
            "FPAYBILLSRCENTRY": [
                {"FSOURCETYPE": "AR_receivable", "FSRCBILLNO": "AP1", "FREALPAYAMOUNT_S": "1"}
            ],
        },
    )
    assert "不存在" in refused(erp, "AP_PAYBILL", payment(world, "FK1", write_offs=(("AP9", "1"),)))


def test_a_payable_falls_due_by_its_suppliers_terms(erp: ErpService, world: World) -> None:
    erp.master.set_payment_terms(supplier(world), 7)
    booked_payable(erp, world, date="2026-11-03 10:00:00")
    assert erp.execute_bill_query(
        "AP_Payable", "FBillNo,FENDDATE_H", "FENDDATE_H<='2026-11-10'"
    ) == [["AP1", "2026-11-10"]]
    assert erp.execute_bill_query("AP_Payable", "FBillNo", "FENDDATE_H<='2026-11-09'") == []
    # Terms unset: the default, 30 days.
    assert DEFAULT_TERMS_DAYS == 30
    assert erp.master.due_date(world.suppliers[-1].code, "2026-11-01") == "2026-12-01"


def test_suppliers_carry_the_account_they_are_paid_to(erp: ErpService, world: World) -> None:
    rows = erp.execute_bill_query("BD_Supplier", "FNumber,FBankCode", "FNumber LIKE '31%'")
    assert rows == [[s.code, s.bank_account] for s in world.suppliers]
    assert all(len(account) == 18 and account.isdigit() for _, account in rows)
