"""The K3 forms beyond sales: payable, purchase inbound, receipt, voucher, writable master data,
BatchSave, Delete / UnAudit transitions, and ExecuteBillQuery paging and verbatim literals."""

from __future__ import annotations

from typing import Any

import pytest

from fake_systems.common.credentials import K3Credentials
from fake_systems.erp.api.k3_answers import view_object
from fake_systems.erp.models import K3Error, MsgCode
from fake_systems.erp.service import ErpService
from simulator.world import World


@pytest.fixture
def creds() -> K3Credentials:
    return K3Credentials(password="pw")


def goods(world: World, qty: int = 3, amount: str = "30.00") -> dict[str, Any]:
    return {
        "FMaterialID": {"FNumber": world.skus[0].item_code},
        "FPriceQty": qty,
        "FALLAMOUNTFOR": amount,
    }


def payable(world: World, bill_no: str = "AP-1") -> dict[str, Any]:
    return {
        "FBillNo": bill_no,
        "FSUPPLIERID": {"FNumber": "SUP-A"},
        "FCURRENCYID": {"FNumber": "PRE001"},
        "FEntityDetail": [goods(world)],
    }


def instock(world: World, bill_no: str = "IN-1", **entry: Any) -> dict[str, Any]:
    line = {
        "FMaterialId": {"FNumber": world.skus[1].item_code},
        "FRealQty": 10,
        "FStockId": {"FNumber": world.warehouses[0].code},
        **entry,
    }
    return {"FBillNo": bill_no, "FSupplierId": {"FNumber": "SUP-B"}, "FInStockEntry": [line]}


def receipt(world: World, bill_no: str = "SK-1", *amounts: Any) -> dict[str, Any]:
    return {
        "FBillNo": bill_no,
        "FCONTACTUNIT": {"FNumber": world.shops[0].shop_no},
        "FRECEIVEBILLENTRY": [
            {"FSETTLETYPEID": {"FNumber": "JSFS04_SYS"}, "FRECTOTALAMOUNTFOR": amount}
            for amount in (amounts or ("100.10",))
        ],
    }


def voucher(bill_no: str, *lines: tuple[str, Any, Any]) -> dict[str, Any]:
    return {
        "FBillNo": bill_no,
        "FAccountBookID": {"FNumber": "001"},
        "FEntity": [
            {"FACCOUNTID": {"FNumber": account}, "FDEBIT": debit, "FCREDIT": credit}
            for account, debit, credit in lines
        ],
    }


def messages(error: K3Error) -> list[str]:
    return [item.message for item in error.errors]


def rows(erp: ErpService) -> list[tuple[Any, ...]]:
    return [
        tuple(row)
        for row in erp.conn.execute(
            "SELECT form_id, bill_no, document_status, amount_cents FROM documents ORDER BY fid"
        )
    ]


# ---------------------------------------------------------------- new bill forms


def test_payable_lifecycle_and_query(erp: ErpService, world: World) -> None:
    saved = erp.save("AP_Payable", payable(world))
    assert saved.successes[0].number == "AP-1"
    erp.submit("AP_Payable", ["AP-1"])
    erp.audit("AP_Payable", ["AP-1"])
    assert erp.execute_bill_query(
        "AP_Payable", "FBillNo,FSUPPLIERID.FNumber,FDocumentStatus,FALLAMOUNTFOR"
    ) == [["AP-1", "SUP-A", "C", 30.0]]
    assert erp.document("AP_Payable", "AP-1")["owner_code"] == "OWNER-A"  # type: ignore[index]
    with pytest.raises(K3Error) as unknown:
        erp.save("AP_Payable", {**payable(world, "AP-2"), "FSUPPLIERID": {"FNumber": "SUP-Z"}})
    assert messages(unknown.value) == ["字段[供应商]的值[SUP-Z]在基础资料中不存在或未审核"]


def test_instock_requires_a_stock(erp: ErpService, world: World) -> None:
    model = instock(world)
    del model["FInStockEntry"][0]["FStockId"]
    with pytest.raises(K3Error) as refused:
        erp.save("STK_InStock", model)
    assert refused.value.msg_code == MsgCode.VALIDATION_FAILED
    assert messages(refused.value) == ["明细信息第1行：字段[仓库]是必录字段"]
    erp.save("STK_InStock", instock(world, FTaxPrice="1.25"))
    assert erp.execute_bill_query(
        "STK_InStock", "FBillNo,FMaterialId.FNumber,FRealQty,FStockId.FNumber,FAllAmount"
    ) == [["IN-1", world.skus[1].item_code, 10, world.warehouses[0].code, 12.5]]


def test_receipt_amounts_and_required_amount(erp: ErpService, world: World) -> None:
    erp.save("AR_RECEIVEBILL", receipt(world, "SK-1", "100.10", 0.2))
    assert erp.execute_bill_query("AR_RECEIVEBILL", "FBillNo,FRECAMOUNTFOR") == [["SK-1", 100.3]]
    assert erp.execute_bill_query(
        "AR_RECEIVEBILL", "FRECEIVEBILLENTRY_FSeq,FRECTOTALAMOUNTFOR"
    ) == [[1, 100.1], [2, 0.2]]
    with pytest.raises(K3Error) as refused:
        erp.save("AR_RECEIVEBILL", receipt(world, "SK-2", ""))
    assert messages(refused.value) == ["收款单明细第1行：字段[应收金额]是必录字段"]


def test_voucher_must_balance(erp: ErpService) -> None:
    with pytest.raises(K3Error) as unbalanced:
        erp.save("GL_VOUCHER", voucher("V-1", ("1122", "113.00", 0), ("6001", 0, "100.00")))
    assert messages(unbalanced.value) == ["凭证借贷不平衡：借方合计113.0，贷方合计100.0"]
    with pytest.raises(K3Error) as both:
        erp.save("GL_VOUCHER", voucher("V-1", ("1122", "1", "1"), ("9999", 0, "1")))
    assert messages(both.value) == [
        "凭证分录第1行：借方金额和贷方金额必须且只能录入一个",
        "凭证分录第2行：字段[科目编码]的值[9999]在基础资料中不存在或未审核",
    ]
    assert rows(erp) == []
    erp.save(
        "GL_VOUCHER",
        voucher("V-1", ("1122", "113.00", 0), ("6001", 0, "100.00"), ("2221", 0, "13.00")),
    )
    assert erp.execute_bill_query("GL_VOUCHER", "FBillNo,FDEBITTOTAL,FCREDITTOTAL") == [
        ["V-1", 113.0, 113.0]
    ]
    assert erp.execute_bill_query(
        "GL_VOUCHER", "FACCOUNTID.FNumber,FACCOUNTID.FName,FDEBIT,FCREDIT", "FCREDIT > 50"
    ) == [["6001", "主营业务收入", 0.0, 100.0]]


def test_view_names_the_partner_of_each_form(erp: ErpService, world: World) -> None:
    erp.save("AP_Payable", payable(world))
    erp.save("GL_VOUCHER", voucher("V-1", ("1002", "5", 0), ("1122", 0, "5")))
    assert view_object(erp.view("AP_Payable", "AP-1"))["SUPPLIERID"]["Number"] == "SUP-A"
    view = view_object(erp.view("GL_VOUCHER", "V-1"))
    assert view["AccountBookID"]["Number"] == "001"
    assert [(e["ACCOUNTID"]["Number"], e["DEBIT"], e["CREDIT"]) for e in view["FEntity"]] == [
        ("1002", 5.0, 0.0),
        ("1122", 0.0, 5.0),
    ]


# ---------------------------------------------------------------- status transitions


def test_status_transitions_z_a_b_c_d(erp: ErpService, world: World) -> None:
    erp.save("AP_Payable", payable(world))
    fid = erp.document("AP_Payable", "AP-1")["fid"]  # type: ignore[index]
    # a draft (Z, as K3's Draft leaves it) saved again becomes A
    erp.conn.execute("UPDATE documents SET document_status = 'Z' WHERE fid = ?", (fid,))
    erp.save("AP_Payable", {"FID": fid, "FNote": "草稿转保存"})
    assert rows(erp)[0][2] == "A"
    early = erp.unaudit("AP_Payable", ["AP-1"])
    assert [e.message for e in early.errors] == ["单据[AP-1]未审核，不允许反审核"]
    assert early.msg_code == MsgCode.NOT_OPERABLE
    erp.submit("AP_Payable", ["AP-1"])
    with pytest.raises(K3Error, match="单据已提交，不允许修改"):
        erp.save("AP_Payable", {"FID": fid, "FNote": "x"})
    erp.audit("AP_Payable", ["AP-1"])
    with pytest.raises(K3Error, match="单据已审核，不允许修改") as audited:
        erp.save("AP_Payable", {"FID": fid, "FNote": "x"})
    assert audited.value.msg_code == MsgCode.NOT_OPERABLE
    assert erp.delete("AP_Payable", ["AP-1"]).errors[0].message == "单据[AP-1]已审核，不允许删除"
    erp.unaudit("AP_Payable", ["AP-1"])
    assert rows(erp)[0][2] == "D"
    erp.save("AP_Payable", {"FID": fid, "FEntityDetail": [goods(world, 1, "10.00")]})
    assert rows(erp)[0][2:] == ("D", 1000)
    erp.submit("AP_Payable", ["AP-1"])
    assert rows(erp)[0][2] == "B"
    assert erp.delete("AP_Payable", ["AP-1"]).errors[0].message == "单据[AP-1]已提交，不允许删除"


def test_delete_removes_document_and_entries(erp: ErpService, world: World) -> None:
    erp.save("STK_InStock", instock(world))
    result = erp.delete("STK_InStock", ["IN-1", "IN-404"])
    assert [s.number for s in result.successes] == ["IN-1"]
    assert [(e.dindex, e.message) for e in result.errors] == [(1, "单据编号为[IN-404]的单据不存在")]
    assert rows(erp) == []
    assert erp.conn.execute("SELECT COUNT(*) FROM document_entries").fetchone()[0] == 0


# ---------------------------------------------------------------- BatchSave


def test_batch_save_keeps_the_good_models_and_reports_the_others(
    erp: ErpService, world: World
) -> None:
    bad = payable(world, "AP-2")
    del bad["FSUPPLIERID"]
    result = erp.batch_save(
        "AP_Payable", [payable(world, "AP-1"), bad, payable(world, "AP-1"), payable(world, "AP-3")]
    )
    assert [(s.number, s.dindex) for s in result.successes] == [("AP-1", 0), ("AP-3", 3)]
    assert [(e.dindex, e.message) for e in result.errors] == [
        (1, "字段[供应商]是必录字段"),
        (2, "违反字段唯一性要求：单据编号[AP-1]已存在"),
    ]
    assert result.msg_code == MsgCode.VALIDATION_FAILED
    assert [row[1] for row in rows(erp)] == ["AP-1", "AP-3"]
    with pytest.raises(K3Error, match="参数Model不能为空"):
        erp.batch_save("AP_Payable", {"FBillNo": "not a list"})


# ---------------------------------------------------------------- master data


def test_new_material_is_usable_only_once_audited(erp: ErpService, world: World) -> None:
    erp.save(
        "BD_MATERIAL", {"FNumber": "M-NEW", "FName": "新物料", "FMaterialGroup": {"FNumber": "g"}}
    )
    assert erp.execute_bill_query(
        "BD_MATERIAL", "FNumber,FName,FDocumentStatus,FMaterialGroup.FNumber", "FNumber = 'M-NEW'"
    ) == [["M-NEW", "新物料", "A", "g"]]
    model = payable(world)
    model["FEntityDetail"][0]["FMATERIALID"] = {"FNumber": "M-NEW"}
    with pytest.raises(K3Error) as unaudited:
        erp.save("AP_Payable", model)
    assert messages(unaudited.value) == [
        "明细第1行：字段[物料编码]的值[M-NEW]在基础资料中不存在或未审核"
    ]
    erp.submit("BD_MATERIAL", ["M-NEW"])
    erp.audit("BD_MATERIAL", ["M-NEW"])
    erp.save("AP_Payable", model)
    with pytest.raises(K3Error, match="单据已审核，不允许修改"):
        fid = erp.execute_bill_query("BD_MATERIAL", "FMATERIALID", "FNumber = 'M-NEW'")[0][0]
        erp.save("BD_MATERIAL", {"FMATERIALID": fid, "FName": "改名"})
    erp.unaudit("BD_MATERIAL", ["M-NEW"])
    with pytest.raises(K3Error):
        erp.save("AP_Payable", {**model, "FBillNo": "AP-2"})
    with pytest.raises(K3Error) as duplicate:
        erp.save("BD_MATERIAL", {"FNumber": "M-NEW", "FName": "重复"})
    assert messages(duplicate.value) == ["违反字段唯一性要求：编码[M-NEW]已存在"]
    with pytest.raises(K3Error) as missing:
        erp.save("BD_Customer", {"FNumber": "", "FName": None})
    assert messages(missing.value) == ["字段[编码]是必录字段", "字段[名称]是必录字段"]


def test_world_customer_unaudited_blocks_new_bills(erp: ErpService, world: World) -> None:
    shop = world.shops[0].shop_no
    assert erp.unaudit("BD_Customer", [shop]).is_success
    with pytest.raises(K3Error, match="不存在或未审核"):
        erp.save("AR_RECEIVEBILL", receipt(world))


# ---------------------------------------------------------------- ExecuteBillQuery


def test_paging_and_injection_looking_literals_are_data(erp: ErpService, world: World) -> None:
    hostile = "x' OR '1'='1'; DROP TABLE documents; --"
    for index in range(5):
        erp.save(
            "AP_Payable", {**payable(world, f"AP-{index}"), "FNote": hostile if index == 3 else "n"}
        )
    page = erp.execute_bill_query(
        "AP_Payable", "FBillNo", order_string="FBillNo DESC", start_row=1, limit=2
    )
    assert page == [["AP-3"], ["AP-2"]]
    assert erp.execute_bill_query(
        "AP_Payable", "FBillNo", top_row_count=3, start_row=2, limit=5
    ) == [["AP-2"]]
    quoted = hostile.replace("'", "''")
    assert erp.execute_bill_query("AP_Payable", "FBillNo,FNote", f"FNote = '{quoted}'") == [
        ["AP-3", hostile]
    ]
    for filter_string in (hostile, "FNote = 'a'; DELETE FROM documents", "FBillNo = (SELECT 1)"):
        with pytest.raises(K3Error) as refused:
            erp.execute_bill_query("AP_Payable", "FBillNo", filter_string)
        assert refused.value.msg_code in (MsgCode.PARAMETER_ERROR, MsgCode.FIELD_MISSING)
    assert len(rows(erp)) == 5
    with pytest.raises(K3Error) as unknown:
        erp.execute_bill_query("GL_VOUCHER", "FBillNo,FNoSuchField")
    assert unknown.value.msg_code == MsgCode.FIELD_MISSING
    assert messages(unknown.value) == ["元数据中标识为FNoSuchField的字段不存在"]


def test_fee_payable_names_a_cost_item_instead_of_a_material(erp: ErpService) -> None:
    """A 费用应付单 to an express company: its entry names the 费用项目, no material."""
    carrier = "3900000001"
    fee = {
        "FBillNo": "FS-1",
        "FSUPPLIERID": {"FNumber": carrier},
        "FEntityDetail": [
            {"FCOSTID": {"FNumber": "FY001"}, "FPriceQty": 3, "FALLAMOUNTFOR": "34.00"}
        ],
    }
    erp.save("AP_Payable", fee)
    erp.submit("AP_Payable", ["FS-1"])
    erp.audit("AP_Payable", ["FS-1"])
    assert erp.execute_bill_query(
        "AP_Payable",
        "FBillNo,FSUPPLIERID.FNumber,FALLAMOUNTFOR",
        f"FSUPPLIERID.FNumber='{carrier}'",
    ) == [["FS-1", carrier, 34.0]]
    wrong = {**fee, "FBillNo": "FS-2"}
    wrong["FEntityDetail"] = [{"FCOSTID": {"FNumber": "FY999"}, "FPriceQty": 1}]
    with pytest.raises(K3Error) as unknown:
        erp.save("AP_Payable", wrong)
    assert messages(unknown.value) == [
        "明细第1行：字段[费用项目编码]的值[FY999]在基础资料中不存在或未审核"
    ]
    # Elsewhere a cost item is no material: a receivable still needs one.
    with pytest.raises(K3Error):
        erp.save("AR_receivable", {**fee, "FCUSTOMERID": {"FNumber": "SHOP-1"}})
