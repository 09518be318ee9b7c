"""The reference connector's count flow: an inventory.report books one audited
STK_StockCountGain of the items counted over the books and one audited STK_StockCountLoss of
those under, at the counted warehouse, each once however often the report comes; their note
is flagged [超差] when the count is out of its class's tolerance and not when within.
faulty/books_count_gain_as_loss books the gains as a loss."""

from __future__ import annotations

from typing import Any

import pytest

from connectors.faulty.books_count_gain_as_loss import BooksCountGainAsLossFlow
from connectors.reference.clients.http import HttpClient
from connectors.reference.count_flow import out_of_tolerance
from connectors.reference.store import StateStore, Step, StepStatus
from connectors.reference.workflow import Workflow
from tests.support.connector import Peers4, make_workflow


def report(
    code: str = "PD1",
    abc_class: str = "C",
    book: int = 500,
    diffs: Any = (("SKU-A", 2), ("SKU-B", -1)),
) -> bytes:
    items = "".join(
        f"<item><itemCode>{item}</itemCode><inventoryType>ZP</inventoryType>"
        f"<quantity>{qty}</quantity></item>"
        for item, qty in diffs
    )
    return (
        f"<request><warehouseCode>WH-GZ</warehouseCode><checkOrderCode>{code}</checkOrderCode>"
        "<checkOrderId>PD01</checkOrderId><ownerCode>OWNER1</ownerCode>"
        "<checkTime>2026-11-10 21:00:00</checkTime><outBizCode>PD01-CHECK</outBizCode>"
        f"<adjustType>CHECK</adjustType><items>{items}</items>"
        f"<extendProps><abcClass>{abc_class}</abcClass><bookQty>{book}</bookQty></extendProps>"
        "</request>"
    ).encode()


async def deliver(workflow: Workflow, *bodies: bytes) -> None:
    for body in bodies:
        answer = workflow.counts.receive(body)
        assert b"<flag>success</flag>" in answer.body
    assert await workflow.drain(5) == 0


def entries(model: dict[str, Any], qty_key: str) -> list[tuple[str, str, int]]:
    return [
        (e["FMaterialId"]["FNumber"], e["FStockId"]["FNumber"], e[qty_key])
        for e in model["FBillEntry"]
    ]


@pytest.mark.anyio
async def test_a_count_is_booked_as_a_gain_and_a_loss_once(
    peers: Peers4, http: HttpClient, store: StateStore
) -> None:
    workflow = make_workflow(store, http)
    await deliver(workflow, report())
    gain = peers.models[("STK_StockCountGain", "PD1")]
    loss = peers.models[("STK_StockCountLoss", "PD1")]
    assert entries(gain, "FGainQty") == [("SKU-A", "WH-GZ", 2)]
    assert entries(loss, "FLossQty") == [("SKU-B", "WH-GZ", 1)]
    assert gain["FNote"] == loss["FNote"] == "PD1"  # 3 of 500: within C's 1 %
    assert peers.bills[("STK_StockCountGain", "PD1")] == "C"
    assert peers.bills[("STK_StockCountLoss", "PD1")] == "C"
    for step in (Step.ERP_COUNT_GAIN, Step.ERP_COUNT_LOSS):
        state = store.step("PD1", step)
        assert state is not None and state.status is StepStatus.DONE
    saves = peers.ops("erp").count("Save")
    await deliver(workflow, report(), report())
    assert peers.ops("erp").count("Save") == saves == 2


@pytest.mark.anyio
async def test_a_count_out_of_tolerance_is_flagged_and_only_its_loss_booked(
    peers: Peers4, http: HttpClient, store: StateStore
) -> None:
    workflow = make_workflow(store, http)
    await deliver(workflow, report(abc_class="A", diffs=(("SKU-B", -2),)))
    assert peers.models[("STK_StockCountLoss", "PD1")]["FNote"] == "[超差] PD1"
    assert ("STK_StockCountGain", "PD1") not in peers.models


def test_tolerances_by_class() -> None:
    # 3 units off of 1,000: 0.3 % is A's limit (not over it); 4 units are over.
    assert not out_of_tolerance("A", 1000, {"X": 3})
    assert out_of_tolerance("A", 1000, {"X": -4})
    assert not out_of_tolerance("B", 1000, {"X": 5}) and out_of_tolerance("B", 1000, {"X": 6})
    assert not out_of_tolerance("C", 1000, {"X": -10}) and out_of_tolerance("C", 1000, {"X": 11})
    assert out_of_tolerance("C", 0, {"X": 1})  # nothing on the books: any find is out


@pytest.mark.anyio
async def test_a_malformed_report_is_refused(
    peers: Peers4, http: HttpClient, store: StateStore
) -> None:
    workflow = make_workflow(store, http)
    answer = workflow.counts.receive(b"<request><checkOrderCode>PD1</checkOrderCode></request>")
    assert b"<flag>failure</flag>" in answer.body
    assert await workflow.drain(5) == 0
    assert peers.ops("erp") == []


@pytest.mark.anyio
async def test_books_count_gain_as_loss_books_the_gains_as_a_loss(
    peers: Peers4, http: HttpClient, store: StateStore
) -> None:
    workflow = make_workflow(store, http, count_flow=BooksCountGainAsLossFlow)
    await deliver(workflow, report())
    assert ("STK_StockCountGain", "PD1") not in peers.models
    wrong = peers.models[("STK_StockCountLoss", "PD1-G")]
    assert entries(wrong, "FLossQty") == [("SKU-A", "WH-GZ", 2)]
    assert wrong["FNote"] == "PD1"
