"""Fuzzing receipt bills (AR_RECEIVEBILL): whatever amounts, handling charges and write-off
entries arrive, the answer is K3's, a refusal changes nothing (the receipts' own tables
included), and no receivable is ever written off, over its audited receipts, beyond its
amount. Saves alone and auto-audited, then Submit and Audit of everything saved so far."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from fake_systems.erp.service import ErpService
from simulator.world import World
from tests.fakes.erp.test_erp_fuzz import check, fuzzed, json_values
from tests.support.erp import STUB
from tests.support.fuzzing import Post, fuzz_settings

__all__ = ["fuzzed"]  # the fixture, shared with the adapter's fuzz tests

pytestmark = pytest.mark.fuzz

RECEIVABLE_CENTS = 2500
amounts = (
    st.decimals(min_value=-100, max_value=100, places=2).map(str)
    | st.sampled_from(("25.00", "12.50", "0", "-0.01", "1e3", "NaN", "", "25.001"))
    | json_values
)
write_off = st.fixed_dictionaries(
    {"FSRCBILLNO": st.sampled_from(("FZ-T1", "FZ-T9", "", "FZ-H1")) | json_values},
    optional={
        "FSRCBILLTYPEID": st.sampled_from(("AR_receivable", "SAL_OUTSTOCK")) | json_values,
        "FREALRECAMOUNT": amounts,
    },
)


def receipt_tables(service: ErpService) -> list[Any]:
    return [
        [tuple(row) for row in service.conn.execute(f"SELECT * FROM {table} ORDER BY 1, 2")]
        for table in ("receipt_entries", "write_offs")
    ]


def audited_write_offs(service: ErpService) -> int:
    (cents,) = service.conn.execute(
        "SELECT COALESCE(SUM(w.amount_cents), 0) FROM write_offs AS w JOIN documents AS d"
        " ON d.fid = w.fid WHERE d.document_status = 'C' AND w.source_bill_no = 'FZ-T1'"
    ).fetchone()
    return int(cents)


@fuzz_settings(share=0.2)
@given(
    gross=amounts,
    handling=st.none() | amounts,
    real=st.none() | amounts,
    sources=st.lists(write_off, max_size=3) | json_values,
    audit=st.booleans(),
)
def test_receipts_never_write_off_beyond_a_receivable(
    fuzzed: tuple[ErpService, Post],
    world: World,
    gross: Any,
    handling: Any,
    real: Any,
    sources: Any,
    audit: bool,
) -> None:
    service, post = fuzzed
    shop = {"FNumber": world.shops[0].shop_no}
    if service.document("AR_receivable", "FZ-T1") is None:
        entry = {"FMATERIALID": {"FNumber": world.skus[0].item_code}, "FPriceQty": 1}
        service.save(
            "AR_receivable",
            {
                "FBillNo": "FZ-T1",
                "FCUSTOMERID": shop,
                "FEntityDetail": [{**entry, "FALLAMOUNTFOR": "25.00"}],
            },
            auto_submit_audit=True,
        )
    leg: dict[str, Any] = {"FRECTOTALAMOUNTFOR": gross}
    if handling is not None:
        leg["FHANDLINGCHARGEFOR"] = handling
    if real is not None:
        leg["FREALRECAMOUNTFOR"] = real
    (count,) = service.conn.execute("SELECT COUNT(*) FROM documents").fetchone()
    model = {
        "FBillNo": f"FZ-S{count}",
        "FCONTACTUNIT": shop,
        "FRECEIVEBILLENTRY": [leg],
        "FRECEIVEBILLSRCENTITY": sources,
    }
    before = receipt_tables(service)
    answer = check(
        service,
        post,
        STUB.format("DynamicFormService.Save"),
        orjson.dumps(
            {"formid": "AR_RECEIVEBILL", "data": {"Model": model, "IsAutoSubmitAndAudit": audit}}
        ),
    )
    status = answer["Result"]["ResponseStatus"]
    if not status["IsSuccess"]:
        assert receipt_tables(service) == before
    event(f"saved {'audited' if audit else 'alone'}" if status["IsSuccess"] else "refused")
    # Whatever was saved but not audited tries its audit now: K3 lets through only what is open.
    waiting = [
        row[0]
        for row in service.conn.execute(
            "SELECT bill_no FROM documents WHERE form_id = 'AR_RECEIVEBILL'"
            " AND document_status IN ('A', 'B')"
        )
    ]
    for number in waiting:
        for op in ("Submit", "Audit"):
            body = {"formid": "AR_RECEIVEBILL", "data": {"Numbers": [number]}}
            check(service, post, STUB.format(f"DynamicFormService.{op}"), orjson.dumps(body))
    written = audited_write_offs(service)
    assert 0 <= written <= RECEIVABLE_CENTS
    event("receivable fully written off" if written == RECEIVABLE_CENTS else "partly or not")
