"""The reference connector's transfer flow: a DBCK stockout.confirm books one audited
STK_TRANSFEROUT of what left the sender; the DBRK entryorder.confirm, one audited
STK_TRANSFERIN linked to it of what arrived, the rest as lost on the way; each once, whatever
order the confirms come in and however often. Other stockout and entry confirms are not
transfers. faulty/books_transfer_twice books a resent stockout.confirm again."""

from __future__ import annotations

from typing import Any

import pytest

from connectors.faulty.books_transfer_twice import BooksTransferTwiceFlow
from connectors.reference.clients.http import HttpClient
from connectors.reference.store import StateStore, Step, StepStatus
from connectors.reference.transfer_flow import ENTRY_CONFIRM_METHOD, STOCKOUT_CONFIRM_METHOD
from connectors.reference.workflow import Workflow
from tests.support.connector import Peers4, make_workflow

SENT = (("SKU-A", 6), ("SKU-B", 4))
RECEIVED = (("SKU-A", 4), ("SKU-B", 4))  # two of A lost on the way


def lines(units: tuple[tuple[str, int], ...], plan: bool = False) -> str:
    sent = dict(SENT)
    return "".join(
        f"<orderLine><orderLineNo>{no}</orderLineNo><itemCode>{item}</itemCode>"
        + (f"<planQty>{sent[item]}</planQty>" if plan else "")
        + f"<inventoryType>ZP</inventoryType><actualQty>{qty}</actualQty></orderLine>"
        for no, (item, qty) in enumerate(units, start=1)
    )


def stockout(code: str = "DB1", order_type: str = "DBCK", owner: str = "OWNER1") -> bytes:
    return (
        f"<request><deliveryOrder><deliveryOrderCode>{code}</deliveryOrderCode>"
        f"<deliveryOrderId>SO1</deliveryOrderId><ownerCode>{owner}</ownerCode>"
        f"<warehouseCode>WH-GZ</warehouseCode><orderType>{order_type}</orderType>"
        "<status>DELIVERED</status><outBizCode>SO1-DELIVERED</outBizCode>"
        "<orderConfirmTime>2026-11-10 21:00:00</orderConfirmTime></deliveryOrder>"
        f"<orderLines>{lines(SENT)}</orderLines></request>"
    ).encode()


def arrived(code: str = "DB1", order_type: str = "DBRK", owner: str = "OWNER1") -> bytes:
    return (
        f"<request><entryOrder><entryOrderCode>{code}</entryOrderCode>"
        f"<entryOrderId>EO1</entryOrderId><ownerCode>{owner}</ownerCode>"
        f"<warehouseCode>WH-WH</warehouseCode><entryOrderType>{order_type}</entryOrderType>"
        "<status>FULFILLED</status><outBizCode>EO1-FULFILLED</outBizCode>"
        "<operateTime>2026-11-11 02:00:00</operateTime></entryOrder>"
        f"<orderLines>{lines(RECEIVED, plan=True)}</orderLines></request>"
    ).encode()


def entries(model: dict[str, Any], key: str, *fields: str) -> list[tuple[Any, ...]]:
    return [
        tuple(e[f]["FNumber"] if isinstance(e[f], dict) else e[f] for f in fields)
        for e in model[key]
    ]


async def deliver(workflow: Workflow, *pushes: tuple[str, bytes]) -> None:
    for method, body in pushes:
        answer = workflow.transfers.receive(method, body)
        assert answer is not None and b"<flag>success</flag>" in answer.body
    assert await workflow.drain(5) == 0


@pytest.mark.anyio
@pytest.mark.parametrize("in_first", [False, True], ids=["out_first", "in_first"])
async def test_a_transfer_is_booked_out_and_in_with_its_loss_once(
    peers: Peers4, http: HttpClient, store: StateStore, in_first: bool
) -> None:
    workflow = make_workflow(store, http)
    pushes = [(STOCKOUT_CONFIRM_METHOD, stockout()), (ENTRY_CONFIRM_METHOD, arrived())]
    await deliver(workflow, *(reversed(pushes) if in_first else pushes))
    out = peers.models[("STK_TRANSFEROUT", "DB1")]
    assert out["FNote"] == "DB1"
    assert entries(out, "FSTKTRSOUTENTRY", "FMaterialID", "FQty", "FSrcStockID") == [
        ("SKU-A", 6, "WH-GZ"),
        ("SKU-B", 4, "WH-GZ"),
    ]
    into = peers.models[("STK_TRANSFERIN", "DB1")]
    assert entries(
        into,
        "FSTKTRSINENTRY",
        "FMaterialID",
        "FQty",
        "FPathLossQty",
        "FDestStockID",
        "FSrcBillTypeId",
        "FSrcBillNo",
    ) == [
        ("SKU-A", 4, 2, "WH-WH", "STK_TRANSFEROUT", "DB1"),
        ("SKU-B", 4, 0, "WH-WH", "STK_TRANSFEROUT", "DB1"),
    ]
    assert peers.bills[("STK_TRANSFEROUT", "DB1")] == peers.bills[("STK_TRANSFERIN", "DB1")] == "C"
    for step in (Step.ERP_TRANSFER_OUT, Step.ERP_TRANSFER_IN):
        state = store.step("DB1", step)
        assert state is not None and state.status is StepStatus.DONE
    saves = peers.ops("erp").count("Save")
    # Both confirms again, and another owner's under the same code: nothing more is booked.
    await deliver(workflow, *pushes, (STOCKOUT_CONFIRM_METHOD, stockout(owner="OWNER2")))
    assert peers.ops("erp").count("Save") == saves == 2


@pytest.mark.anyio
async def test_other_confirms_are_not_transfers(
    peers: Peers4, http: HttpClient, store: StateStore
) -> None:
    workflow = make_workflow(store, http)
    answer = workflow.transfers.receive(STOCKOUT_CONFIRM_METHOD, stockout(order_type="PTCK"))
    assert answer is not None and b"ignored" in answer.body
    # A purchase receipt's entry confirm is the stock flow's (None: not handled here).
    assert workflow.transfers.receive(ENTRY_CONFIRM_METHOD, arrived(order_type="CGRK")) is None
    bad = workflow.transfers.receive(STOCKOUT_CONFIRM_METHOD, b"<request><deliveryOrder>")
    assert bad is not None and b"<flag>failure</flag>" in bad.body
    assert await workflow.drain(5) == 0
    assert peers.ops("erp") == []


@pytest.mark.anyio
async def test_books_transfer_twice_books_a_resent_stockout_again(
    peers: Peers4, http: HttpClient, store: StateStore
) -> None:
    workflow = make_workflow(store, http, transfer_flow=BooksTransferTwiceFlow)
    await deliver(workflow, (STOCKOUT_CONFIRM_METHOD, stockout()))
    await deliver(workflow, (STOCKOUT_CONFIRM_METHOD, stockout()))
    again = peers.models[("STK_TRANSFEROUT", "DB1-R1")]
    assert again["FNote"] == "DB1"
    assert again["FSTKTRSOUTENTRY"] == peers.models[("STK_TRANSFEROUT", "DB1")]["FSTKTRSOUTENTRY"]
    assert peers.bills[("STK_TRANSFEROUT", "DB1-R1")] == "C"
