"""The ERP service: sessions, document state machine, validation, amounts and ExecuteBillQuery."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
import pytest

from fake_systems.common.context import SystemContext
from fake_systems.common.credentials import K3Credentials
from fake_systems.erp.master_data import MaterialChange
from fake_systems.erp.models import MSG_AUDITED_NO_CHANGE, K3Error, MsgCode
from fake_systems.erp.service import ErpService, LoginFailed
from simulator.clock import ManualClock
from simulator.world import World, barcode_of


@pytest.fixture
def creds() -> K3Credentials:
    return K3Credentials(password="s3cret")


def outstock(world: World, bill_no: str = "T0001", **overrides: Any) -> dict[str, Any]:
    sku_a, sku_b = world.skus[0].item_code, world.skus[1].item_code
    model: dict[str, Any] = {
        "FBillNo": bill_no,
        "FDate": "2026-11-10 20:00:00",
        "FSaleOrgId": {"FNumber": "100"},
        "FStockOrgId": {"FNumber": "100"},
        "FCustomerID": {"FNumber": world.shops[0].shop_no},
        "FNote": "order",
        "FEntity": [
            {
                "FMaterialID": {"FNumber": sku_a},
                "FRealQty": 2,
                "FTaxPrice": 12.5,
                "FAllAmount": 25.0,
                "FStockID": {"FNumber": world.warehouses[0].code},
            },
            {"FMaterialID": {"FNumber": sku_b}, "FRealQty": "1", "FAllAmount": "0.10"},
        ],
    }
    model.update(overrides)
    return model


def receivable(
    world: World, bill_no: str = "T0001", amounts: tuple[Any, ...] = (25.0,)
) -> dict[str, Any]:
    return {
        "FBillNo": bill_no,
        "FDATE": "2026-11-10 20:00:00",
        "FCUSTOMERID": {"FNumber": world.shops[1].shop_no},
        "FCURRENCYID": {"FNumber": "PRE001"},
        "FSETTLEORGID": {"FNumber": "100"},
        "FEntityDetail": [
            {
                "FMATERIALID": {"FNumber": world.skus[i].item_code},
                "FPriceQty": 1,
                "FALLAMOUNTFOR": amount,
            }
            for i, amount in enumerate(amounts)
        ],
    }


def status(erp: ErpService, form_id: str, bill_no: str) -> str:
    document = erp.document(form_id, bill_no)
    assert document is not None
    return str(document["document_status"])


def count_documents(erp: ErpService) -> int:
    return int(erp.conn.execute("SELECT COUNT(*) FROM documents").fetchone()[0])


# ---------------------------------------------------------------- sessions


def test_login_issues_a_session_that_is_valid(erp: ErpService, creds: K3Credentials) -> None:
    result = erp.login(creds.acct_id, creds.username, "s3cret", 2052)
    assert erp.session_valid(result.session_id)
    assert not erp.session_valid("forged")
    assert not erp.session_valid(None)


@pytest.mark.parametrize(
    ("acct", "user", "password", "text"),
    [
        ("ecomock-acct", "connector", "wrong", "用户名或密码错误"),
        ("ecomock-acct", "someone", "s3cret", "用户名或密码错误"),
        ("other-acct", "connector", "s3cret", "数据中心[other-acct]不存在"),
    ],
)
def test_login_refused(erp: ErpService, acct: str, user: str, password: str, text: str) -> None:
    with pytest.raises(LoginFailed, match=r"^" + text.replace("[", r"\[").replace("]", r"\]")):
        erp.login(acct, user, password)
    assert erp.conn.execute("SELECT COUNT(*) FROM sessions").fetchone()[0] == 0


def test_logout_and_expiry_end_sessions(erp: ErpService, creds: K3Credentials) -> None:
    first = erp.login(creds.acct_id, creds.username, "s3cret")
    second = erp.login(creds.acct_id, creds.username, "s3cret")
    erp.logout(first.session_id)
    assert not erp.session_valid(first.session_id)
    assert erp.session_valid(second.session_id)
    assert erp.expire_sessions() == 1
    assert not erp.session_valid(second.session_id)


# ---------------------------------------------------------------- state machine


def test_save_submit_audit_walks_a_to_c_with_clock_stamps(
    erp: ErpService, world: World, clock: ManualClock
) -> None:
    saved = erp.save("SAL_OUTSTOCK", outstock(world))
    assert saved.is_success and saved.successes[0].number == "T0001"
    fid = saved.successes[0].id
    assert status(erp, "SAL_OUTSTOCK", "T0001") == "A"

    clock.advance(60)
    submitted = erp.submit("SAL_OUTSTOCK", ["T0001"])
    assert [(s.id, s.number, s.dindex) for s in submitted.successes] == [(fid, "T0001", 0)]
    assert status(erp, "SAL_OUTSTOCK", "T0001") == "B"

    clock.advance(120)
    audited = erp.audit("SAL_OUTSTOCK", ["T0001"])
    assert audited.is_success
    document = erp.document("SAL_OUTSTOCK", "T0001")
    assert document is not None
    assert document["document_status"] == "C"
    assert document["saved_wall"] == 1_800_000_000.0
    assert document["submitted_wall"] == pytest.approx(1_800_000_001.0)
    assert document["audited_wall"] == pytest.approx(1_800_000_003.0)
    assert document["audited_sim"] == "2026-11-10 20:03:00"
    states = erp.conn.execute(
        "SELECT operation, outcome FROM events"
        " WHERE kind = 'state' AND entity = 'T0001' ORDER BY seq"
    ).fetchall()
    assert [tuple(row) for row in states] == [
        ("SAL_OUTSTOCK.Save", "A"),
        ("SAL_OUTSTOCK.Submit", "B"),
        ("SAL_OUTSTOCK.Audit", "C"),
    ]


def test_save_on_audited_document_is_refused_and_changes_nothing(
    erp: ErpService, world: World
) -> None:
    fid = erp.save("SAL_OUTSTOCK", outstock(world), auto_submit_audit=True).successes[0].id
    assert status(erp, "SAL_OUTSTOCK", "T0001") == "C"
    before = erp.document("SAL_OUTSTOCK", "T0001")
    with pytest.raises(K3Error) as refused:
        erp.save("SAL_OUTSTOCK", outstock(world, FID=fid, FNote="changed"))
    assert refused.value.errors[0].message == MSG_AUDITED_NO_CHANGE
    assert refused.value.msg_code == MsgCode.NOT_OPERABLE
    assert erp.document("SAL_OUTSTOCK", "T0001") == before


def test_save_on_submitted_document_is_refused(erp: ErpService, world: World) -> None:
    fid = erp.save("SAL_OUTSTOCK", outstock(world)).successes[0].id
    erp.submit("SAL_OUTSTOCK", ["T0001"])
    with pytest.raises(K3Error, match="已提交"):
        erp.save("SAL_OUTSTOCK", {"FID": fid, "FNote": "x"})


def test_save_with_fid_updates_a_created_document(erp: ErpService, world: World) -> None:
    fid = erp.save("SAL_OUTSTOCK", outstock(world)).successes[0].id
    sku = world.skus[5].item_code
    # keys in another case, and only some fields: the rest of the model is kept
    result = erp.save(
        "sal_outstock",
        {
            "fid": str(fid),
            "fentity": [{"fmaterialid": {"fnumber": sku}, "frealqty": 3, "fallamount": "9.99"}],
        },
    )
    assert result.successes[0].id == fid
    document = erp.document("SAL_OUTSTOCK", "T0001")
    assert document is not None
    assert document["document_status"] == "A"
    assert document["amount_cents"] == 999
    assert [(e["material_number"], e["qty"], e["amount_cents"]) for e in document["entries"]] == [
        (sku, 3, 999)
    ]
    model = orjson.loads(document["model"])
    assert model["FNote"] == "order" and "FEntity" not in model and "fentity" in model
    assert count_documents(erp) == 1


def test_save_with_unknown_fid_is_not_found(erp: ErpService, world: World) -> None:
    with pytest.raises(K3Error) as missing:
        erp.save("SAL_OUTSTOCK", outstock(world, FID=999))
    assert missing.value.msg_code == MsgCode.NOT_FOUND
    assert count_documents(erp) == 0


def test_duplicate_bill_number_is_refused(erp: ErpService, world: World) -> None:
    erp.save("SAL_OUTSTOCK", outstock(world))
    with pytest.raises(K3Error, match="唯一性") as duplicate:
        erp.save("SAL_OUTSTOCK", outstock(world))
    assert duplicate.value.msg_code == MsgCode.VALIDATION_FAILED
    assert count_documents(erp) == 1
    # the same number on the other form is a different document
    erp.save("AR_receivable", receivable(world))
    assert count_documents(erp) == 2


def test_bill_number_generated_when_absent(erp: ErpService, world: World) -> None:
    model = outstock(world)
    del model["FBillNo"]
    result = erp.save("SAL_OUTSTOCK", model)
    fid = result.successes[0].id
    assert result.successes[0].number == f"XSCKD{fid:08d}"
    assert erp.document("SAL_OUTSTOCK", f"XSCKD{fid:08d}") is not None


def test_batch_submit_reports_partial_success_by_dindex(erp: ErpService, world: World) -> None:
    erp.save("SAL_OUTSTOCK", outstock(world, "N1"))
    erp.save("SAL_OUTSTOCK", outstock(world, "N2"))
    erp.submit("SAL_OUTSTOCK", ["N2"])
    result = erp.submit("SAL_OUTSTOCK", ["N1", "NOPE", "N2"])
    assert [(s.number, s.dindex) for s in result.successes] == [("N1", 0)]
    assert [(e.dindex, e.message) for e in result.errors] == [
        (1, "单据编号为[NOPE]的单据不存在"),
        (2, "单据[N2]已提交，不允许重复提交"),
    ]
    assert result.msg_code == MsgCode.NOT_FOUND and not result.is_success
    assert status(erp, "SAL_OUTSTOCK", "N1") == "B"


def test_audit_needs_submission_and_is_not_repeated(erp: ErpService, world: World) -> None:
    erp.save("SAL_OUTSTOCK", outstock(world))
    refused = erp.audit("SAL_OUTSTOCK", ["T0001"])
    assert refused.errors[0].message == "单据[T0001]未提交，不允许审核"
    assert refused.msg_code == MsgCode.NOT_OPERABLE
    assert status(erp, "SAL_OUTSTOCK", "T0001") == "A"
    erp.submit("SAL_OUTSTOCK", ["T0001"])
    assert erp.audit("SAL_OUTSTOCK", ["T0001"]).is_success
    again = erp.audit("SAL_OUTSTOCK", ["T0001"])
    assert again.errors[0].message == "单据[T0001]已审核，不允许重复审核"
    assert (
        erp.submit("SAL_OUTSTOCK", ["T0001"]).errors[0].message == "单据[T0001]已审核，不允许提交"
    )


def test_unaudit_reopens_then_save_and_resubmit(erp: ErpService, world: World) -> None:
    fid = erp.save("SAL_OUTSTOCK", outstock(world), auto_submit_audit=True).successes[0].id
    assert erp.unaudit("SAL_OUTSTOCK", ids=str(fid)).is_success
    document = erp.document("SAL_OUTSTOCK", "T0001")
    assert document is not None
    assert document["document_status"] == "D" and document["audited_wall"] is None
    erp.save("SAL_OUTSTOCK", {"FID": fid, "FNote": "fixed"})
    assert status(erp, "SAL_OUTSTOCK", "T0001") == "D"
    assert erp.submit("SAL_OUTSTOCK", ids=[fid]).is_success
    assert (
        erp.unaudit("SAL_OUTSTOCK", ["T0001"]).errors[0].message
        == "单据[T0001]未审核，不允许反审核"
    )


def test_ids_as_comma_text(erp: ErpService, world: World) -> None:
    a = erp.save("SAL_OUTSTOCK", outstock(world, "I1")).successes[0].id
    b = erp.save("SAL_OUTSTOCK", outstock(world, "I2")).successes[0].id
    result = erp.submit("SAL_OUTSTOCK", ids=f"{a}, {b},x")
    assert [s.number for s in result.successes] == ["I1", "I2"]
    assert [(e.dindex, e.message) for e in result.errors] == [(2, "内码为[x]的单据不存在")]


def test_batch_without_numbers_or_ids_is_a_parameter_error(erp: ErpService) -> None:
    with pytest.raises(K3Error) as refused:
        erp.submit("SAL_OUTSTOCK", [])
    assert refused.value.msg_code == MsgCode.PARAMETER_ERROR


def test_delete_only_before_submission(erp: ErpService, world: World) -> None:
    erp.save("SAL_OUTSTOCK", outstock(world, "D1"))
    erp.save("SAL_OUTSTOCK", outstock(world, "D2"), auto_submit_audit=True)
    result = erp.delete("SAL_OUTSTOCK", ["D1", "D2"])
    assert [s.number for s in result.successes] == ["D1"]
    assert result.errors[0].message == "单据[D2]已审核，不允许删除"
    assert erp.document("SAL_OUTSTOCK", "D1") is None
    assert erp.conn.execute("SELECT COUNT(*) FROM document_entries").fetchone()[0] == 2


# ---------------------------------------------------------------- validation


def _messages(error: K3Error) -> list[tuple[str | None, str]]:
    return [(e.field_name, e.message) for e in error.errors]


def test_missing_customer_and_material_are_required_field_errors(
    erp: ErpService, world: World
) -> None:
    model = outstock(world)
    del model["FCustomerID"]
    model["FEntity"][1]["FMaterialID"] = {"FNumber": ""}
    with pytest.raises(K3Error) as refused:
        erp.save("SAL_OUTSTOCK", model)
    assert refused.value.msg_code == MsgCode.VALIDATION_FAILED
    assert _messages(refused.value) == [
        ("FCustomerID", "字段[客户]是必录字段"),
        ("FMaterialID", "明细信息第2行：字段[物料编码]是必录字段"),
    ]
    assert count_documents(erp) == 0


def test_receivable_requires_its_own_keys(erp: ErpService, world: World) -> None:
    model = receivable(world)
    del model["FCUSTOMERID"]
    model["FEntityDetail"] = []
    with pytest.raises(K3Error) as refused:
        erp.save("AR_receivable", model)
    assert _messages(refused.value) == [
        ("FCUSTOMERID", "字段[客户]是必录字段"),
        ("FEntityDetail", "字段[明细]是必录字段，至少需要录入一行分录"),
    ]


def test_receivable_entry_without_material(erp: ErpService, world: World) -> None:
    model = receivable(world)
    del model["FEntityDetail"][0]["FMATERIALID"]
    with pytest.raises(K3Error) as refused:
        erp.save("AR_receivable", model)
    assert _messages(refused.value) == [("FMATERIALID", "明细第1行：字段[物料编码]是必录字段")]


def test_unknown_customer_material_stock_org_are_refused(erp: ErpService, world: World) -> None:
    model = outstock(world, FCustomerID={"FNumber": "NO-SHOP"}, FSaleOrgId={"FNumber": "999"})
    model["FEntity"][0]["FMaterialID"] = {"FNumber": "0000"}
    model["FEntity"][0]["FStockID"] = {"FNumber": "WH-XX"}
    with pytest.raises(K3Error) as refused:
        erp.save("SAL_OUTSTOCK", model)
    assert _messages(refused.value) == [
        ("FCustomerID", "字段[客户]的值[NO-SHOP]在基础资料中不存在或未审核"),
        ("fsaleorgid", "字段[组织]的值[999]在基础资料中不存在或未审核"),
        ("FMaterialID", "明细信息第1行：字段[物料编码]的值[0000]在基础资料中不存在或未审核"),
        ("FStockID", "明细信息第1行：字段[仓库]的值[WH-XX]在基础资料中不存在或未审核"),
    ]
    assert count_documents(erp) == 0


@pytest.mark.parametrize(
    ("entry_change", "text"),
    [
        ({"FRealQty": None}, "字段[实发数量]是必录字段"),
        ({"FRealQty": 1.5}, "字段[实发数量]的值[1.5]不是整数"),
        ({"FRealQty": True}, "不是整数"),
        ({"FAllAmount": "12,5"}, "字段[价税合计]的值[12,5]格式不正确"),
        ({"FTaxPrice": "abc"}, "字段[含税单价]的值[abc]格式不正确"),
        ({"FMaterialID": "123"}, "字段[物料编码]的值格式不正确"),
    ],
)
def test_malformed_entry_values(
    erp: ErpService, world: World, entry_change: dict[str, Any], text: str
) -> None:
    model = outstock(world)
    model["FEntity"][0].update(entry_change)
    with pytest.raises(K3Error, match=text.replace("[", r"\[").replace("]", r"\]")):
        erp.save("SAL_OUTSTOCK", model)
    assert count_documents(erp) == 0


def test_model_missing_or_not_an_object(erp: ErpService) -> None:
    models: list[Any] = [None, {}, [1]]
    for model in models:
        with pytest.raises(K3Error) as refused:
            erp.save("SAL_OUTSTOCK", model)
        assert refused.value.msg_code == MsgCode.PARAMETER_ERROR


def test_unknown_form_and_master_data_forms(erp: ErpService, world: World) -> None:
    with pytest.raises(K3Error, match="业务对象不存在"):
        erp.save("SAL_NOPE", outstock(world))
    with pytest.raises(K3Error) as master:
        erp.save("BD_STOCK", {"FNumber": "1", "FName": "仓"})
    assert master.value.msg_code == MsgCode.NO_PERMISSION
    assert _messages(master.value) == [("FormId", "没有BD_STOCK的保存权限")]


# ---------------------------------------------------------------- amounts


def test_amount_is_the_exact_sum_of_entries(erp: ErpService, world: World) -> None:
    # float arithmetic would book 0.29 as 28 cents and 1.005 as 100; the ERP books 29 and 101
    amounts = (0.1, 0.2, 0.29, 1.005, "19.99", "19.99", "19.99")
    erp.save("AR_receivable", receivable(world, "R1", amounts=amounts))
    document = erp.document("AR_receivable", "R1")
    assert document is not None
    assert [e["amount_cents"] for e in document["entries"]] == [10, 20, 29, 101, 1999, 1999, 1999]
    assert document["amount_cents"] == 6157
    erp.save("SAL_OUTSTOCK", outstock(world, "S1"))
    outbound = erp.document("SAL_OUTSTOCK", "S1")
    assert outbound is not None
    assert outbound["amount_cents"] == 2510
    assert [(e["qty"], e["price_cents"]) for e in outbound["entries"]] == [(2, 1250), (1, None)]


def test_amount_computed_from_price_when_left_out(erp: ErpService, world: World) -> None:
    model = outstock(world)
    model["FEntity"] = [
        {"FMaterialID": {"FNumber": world.skus[0].item_code}, "FRealQty": 3, "FTaxPrice": "33.335"},
        {"FMaterialID": {"FNumber": world.skus[1].item_code}, "FRealQty": 1},  # a gift
    ]
    erp.save("SAL_OUTSTOCK", model)
    document = erp.document("SAL_OUTSTOCK", "T0001")
    assert document is not None
    # 3 x 33.335 = 100.005 → 100.01 (half up), the gift 0
    assert [e["amount_cents"] for e in document["entries"]] == [10001, 0]
    assert document["amount_cents"] == 10001


# ---------------------------------------------------------------- ExecuteBillQuery


def _seed_outstocks(erp: ErpService, world: World, count: int) -> None:
    for i in range(count):
        erp.save(
            "SAL_OUTSTOCK",
            outstock(world, f"Q{i:03d}", FCustomerID={"FNumber": world.shops[i % 2].shop_no}),
            auto_submit_audit=i % 3 == 0,
        )


def test_query_filter_and_paging(erp: ErpService, world: World) -> None:
    _seed_outstocks(erp, world, 12)
    shop = world.shops[0].shop_no
    rows = erp.execute_bill_query(
        "SAL_OUTSTOCK",
        "FBillNo,FDocumentStatus,FCustomerID.FNumber,FBillAllAmount",
        f"FCustomerID.FNumber = '{shop}' and FDocumentStatus='C'",
    )
    # shops alternate (even i → shops[0]); audited when i % 3 == 0: i in 0, 6
    assert rows == [["Q000", "C", shop, 25.1], ["Q006", "C", shop, 25.1]]
    page = erp.execute_bill_query(
        "SAL_OUTSTOCK", "FBillNo", "", "FBillNo DESC", start_row=2, limit=3
    )
    assert page == [["Q009"], ["Q008"], ["Q007"]]
    top = erp.execute_bill_query(
        "SAL_OUTSTOCK", "FBillNo", "", "", start_row=1, limit=10, top_row_count=3
    )
    assert top == [["Q001"], ["Q002"]]
    assert erp.execute_bill_query("SAL_OUTSTOCK", "FBillNo", "FBillNo = 'none'") == []


def test_query_entry_rows_and_money(erp: ErpService, world: World) -> None:
    erp.save("SAL_OUTSTOCK", outstock(world))
    rows = erp.execute_bill_query(
        "sal_outstock",
        "fbillno, FMaterialID.FNumber, FRealQty, FAllAmount, FTaxPrice, FStockID.FNumber",
    )
    assert rows == [
        ["T0001", world.skus[0].item_code, 2, 25.0, 12.5, world.warehouses[0].code],
        ["T0001", world.skus[1].item_code, 1, 0.1, None, None],
    ]
    filtered = erp.execute_bill_query(
        "SAL_OUTSTOCK", "FEntity_FSeq", "FAllAmount > 1 OR FRealQty IN (7, 8)"
    )
    assert filtered == [[1]]


def test_query_receivable_totals(erp: ErpService, world: World) -> None:
    erp.save("AR_receivable", receivable(world, "R1", amounts=("1.10", "2.20")))
    assert erp.execute_bill_query("AR_receivable", "FBillNo,FALLAMOUNTFOR,FCURRENCYID.FNumber") == [
        ["R1", 3.3, "PRE001"]
    ]
    assert erp.execute_bill_query(
        "AR_receivable", "FALLAMOUNTFOR_D,FPriceQty", "FALLAMOUNTFOR = 3.3"
    ) == [
        [1.1, 1],
        [2.2, 1],
    ]


def test_query_master_data(erp: ErpService, world: World) -> None:
    rows = erp.execute_bill_query("BD_MATERIAL", "FNumber,FName", "", "", 0, 2)
    assert rows == [
        [world.skus[0].item_code, world.skus[0].name],
        [world.skus[1].item_code, world.skus[1].name],
    ]
    customers = erp.execute_bill_query("BD_Customer", "FNumber", "FDocumentStatus = 'C'")
    assert sorted(row[0] for row in customers) == sorted(shop.shop_no for shop in world.shops)


@pytest.mark.parametrize(
    ("form", "keys", "filter_string", "code", "text"),
    [
        (
            "SAL_OUTSTOCK",
            "FBillNo,FNoSuchField",
            "",
            MsgCode.FIELD_MISSING,
            "元数据中标识为FNoSuchField的字段不存在",
        ),
        (
            "SAL_OUTSTOCK",
            "FBillNo",
            "FOther = 1",
            MsgCode.FIELD_MISSING,
            "元数据中标识为FOther的字段不存在",
        ),
        ("SAL_OUTSTOCK", "FBillNo", "FBillNo = = 'x'", MsgCode.PARAMETER_ERROR, "过滤条件语法错误"),
        (
            "SAL_OUTSTOCK",
            "FBillNo",
            "FBillNo = 'x'; DROP TABLE documents",
            MsgCode.PARAMETER_ERROR,
            "语法错误",
        ),
        ("SAL_OUTSTOCK", " , ", "", MsgCode.PARAMETER_ERROR, "FieldKeys不能为空"),
        ("NOPE", "FBillNo", "", MsgCode.PARAMETER_ERROR, "业务对象不存在"),
    ],
)
def test_query_errors(
    erp: ErpService,
    world: World,
    form: str,
    keys: str,
    filter_string: str,
    code: MsgCode,
    text: str,
) -> None:
    erp.save("SAL_OUTSTOCK", outstock(world))
    with pytest.raises(K3Error, match=text) as refused:
        erp.execute_bill_query(form, keys, filter_string)
    assert refused.value.msg_code == code
    assert count_documents(erp) == 1


def test_quotes_in_filter_values_are_data_not_sql(erp: ErpService, world: World) -> None:
    erp.save("SAL_OUTSTOCK", outstock(world, "O'Brien"))
    assert erp.execute_bill_query("SAL_OUTSTOCK", "FBillNo", "FBillNo = 'O''Brien'") == [
        ["O'Brien"]
    ]
    assert erp.execute_bill_query("SAL_OUTSTOCK", "FBillNo", "FBillNo = 'x'' OR ''1''=''1'") == []


def test_setup_twice_keeps_master_data_and_fids(
    make_context: Callable[[str], SystemContext], world: World, creds: K3Credentials
) -> None:
    first = ErpService(make_context("erp"), creds)
    first.setup(world)
    fid = first.save("SAL_OUTSTOCK", outstock(world)).successes[0].id
    again = ErpService(make_context("erp"), creds)
    again.setup(world)
    assert again.execute_bill_query("BD_Customer", "FNumber", "") == first.execute_bill_query(
        "BD_Customer", "FNumber", ""
    )
    assert again.save("SAL_OUTSTOCK", outstock(world, "T0002")).successes[0].id == fid + 1


# ---------------------------------------------------------------- master-data changes


def test_material_changes_are_queryable_by_modify_date_and_recorded(
    erp: ErpService, world: World, clock: ManualClock
) -> None:
    """The business's changes move FModifyDate, so a connector polling `FModifyDate>=` finds
    exactly them; each is recorded with the state it leaves; a discontinued material (FIsSale
    off) stays usable on the bills of what was sold before (a forbidden one would not be)."""
    sku = world.skus[0].item_code
    fields = "FNumber,FName,FBARCODE,F_ECO_RetailPrice,FIsSale,FForbidStatus"
    [seeded] = erp.execute_bill_query("BD_MATERIAL", fields, f"FNumber='{sku}'")
    assert seeded == [
        sku,
        world.skus[0].name,
        barcode_of(sku),
        world.skus[0].price_cents / 100,
        1,
        "A",
    ]
    loaded = erp.execute_bill_query("BD_MATERIAL", "FModifyDate", f"FNumber='{sku}'")[0][0]
    clock.advance(600)
    erp.change_material(sku, MaterialChange("rename", name="新名"))
    erp.change_material(sku, MaterialChange("price", price_cents=12345))
    erp.change_material(
        "1234567890123456", MaterialChange("new", name="新品", barcode="6900", price_cents=500)
    )
    clock.advance(60)
    erp.change_material(sku, MaterialChange("discontinue"))
    changed = erp.execute_bill_query(
        "BD_MATERIAL", fields, f"FModifyDate>'{loaded}'", order_string="FNumber"
    )
    assert changed == [
        ["1234567890123456", "新品", "6900", 5.0, 1, "A"],
        [sku, "新名", barcode_of(sku), 123.45, 0, "A"],
    ]
    log = erp.conn.execute(
        "SELECT number, change, name, price_cents, is_sale FROM material_changes ORDER BY seq"
    ).fetchall()
    assert [tuple(r) for r in log] == [
        (sku, "rename", "新名", world.skus[0].price_cents, 1),
        (sku, "price", "新名", 12345, 1),
        ("1234567890123456", "new", "新品", 500, 1),
        (sku, "discontinue", "新名", 12345, 0),
    ]
    assert erp.save("SAL_OUTSTOCK", outstock(world), auto_submit_audit=True).is_success
