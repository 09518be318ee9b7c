"""The reference connector's purchase-return flow: the buyer's draft goes to the warehouse as
a CGTH stockout.create; its stockout.confirm books the draft, saved again with what really
left, audited, and a red AP_Payable of minus shipped x price linked to it, once however often
the confirm comes; a return that shipped nothing books nothing; another outbound order's
confirm is not a return. faulty/books_requested_return_quantity books what was asked."""

from __future__ import annotations

import orjson
import pytest

from connectors.faulty.books_requested_return_quantity import BooksRequestedReturnQuantityFlow
from connectors.reference.clients.http import HttpClient
from connectors.reference.store import StateStore, Step, StepStatus
from connectors.reference.workflow import Workflow
from tests.support.connector import Peers4, make_workflow

LINES = [
    {"item": "SKU-A", "qty": 4, "price_cents": 350, "source": "RK1"},
    {"item": "SKU-B", "qty": 2, "price_cents": 100, "source": "RK1"},
]


def drafted(workflow: Workflow, peers: Peers4, bill_no: str = "MRB1") -> None:
    """As if the poll had found the buyer's draft (status A in the ERP)."""
    with workflow.store._transaction():
        workflow.store._add_steps(bill_no, [Step.WMS_STOCKOUT])
    workflow.store.conn.execute(
        "INSERT INTO purchase_returns (bill_no, fid, owner_code, supplier_code, warehouse_code,"
        " lines, created, received_wall) VALUES (?, 7, 'OWNER1', '3100001001', 'WH-GZ', ?,"
        " '2026-11-10 20:00:00', 0)",
        (bill_no, orjson.dumps(LINES).decode()),
    )
    peers.bills[("PUR_MRB", bill_no)] = "A"


def confirm(shipped: dict[str, int], order_type: str = "CGTH", owner: str = "OWNER1") -> bytes:
    lines = "".join(
        f"<orderLine><orderLineNo>{no}</orderLineNo><itemCode>{item}</itemCode>"
        f"<planQty>9</planQty><actualQty>{qty}</actualQty></orderLine>"
        for no, (item, qty) in enumerate(shipped.items(), start=1)
    )
    return (
        "<request><deliveryOrder><deliveryOrderCode>MRB1</deliveryOrderCode>"
        f"<ownerCode>{owner}</ownerCode><warehouseCode>WH-GZ</warehouseCode>"
        f"<orderType>{order_type}</orderType><status>DELIVERED</status>"
        "<orderConfirmTime>2026-11-10 21:00:00</orderConfirmTime></deliveryOrder>"
        f"<orderLines>{lines}</orderLines></request>"
    ).encode()


async def deliver(workflow: Workflow, *bodies: bytes) -> None:
    for body in bodies:
        answer = workflow.purchase_returns.receive(body)
        assert answer is not None and b"<flag>success</flag>" in answer.body
    assert await workflow.drain(5) == 0


@pytest.mark.anyio
async def test_a_return_goes_to_the_warehouse_and_is_booked_as_it_left_once(
    peers: Peers4, http: HttpClient, store: StateStore
) -> None:
    workflow = make_workflow(store, http)
    drafted(workflow, peers)
    assert await workflow.run_step("MRB1", Step.WMS_STOCKOUT)
    assert peers.delivery_codes == ["MRB1"]
    shipped = confirm({"SKU-A": 3, "SKU-B": 0})
    await deliver(workflow, shipped, shipped)  # the second: the WMS resent it
    mrb = peers.models[("PUR_MRB", "MRB1")]
    assert mrb["FID"] == 7
    assert [
        (e["FMaterialId"]["FNumber"], e["FRMREALQTY"], e["FSrcBillNo"]) for e in mrb["FPURMRBENTRY"]
    ] == [("SKU-A", 3, "RK1")]
    red = peers.models[("AP_Payable", "MRB1-AP")]
    assert [
        (e["FPriceQty"], e["FALLAMOUNTFOR"], e["FSOURCETYPE"], e["FSourceBillNo"])
        for e in red["FEntityDetail"]
    ] == [(-3, "-10.50", "PUR_MRB", "MRB1")]
    assert peers.bills[("PUR_MRB", "MRB1")] == peers.bills[("AP_Payable", "MRB1-AP")] == "C"
    assert peers.ops("erp").count("Save") == 2  # each bill once, whatever the repeats
    for step in (Step.ERP_PURCHASE_RETURN, Step.ERP_RED_PAYABLE):
        state = store.step("MRB1", step)
        assert state is not None and state.status is StepStatus.DONE


@pytest.mark.anyio
async def test_nothing_shipped_books_nothing_and_other_confirms_are_not_returns(
    peers: Peers4, http: HttpClient, store: StateStore
) -> None:
    workflow = make_workflow(store, http)
    drafted(workflow, peers)
    assert workflow.purchase_returns.receive(confirm({"SKU-A": 1}, order_type="DBCK")) is None
    await deliver(workflow, confirm({"SKU-A": 1}, owner="OWNER2"))  # not ours: nothing
    await deliver(workflow, confirm({"SKU-A": 0, "SKU-B": 0}))
    assert "Save" not in peers.ops("erp")
    assert peers.bills[("PUR_MRB", "MRB1")] == "A"  # the draft stays a draft


@pytest.mark.anyio
async def test_books_requested_return_quantity_books_what_was_asked(
    peers: Peers4, http: HttpClient, store: StateStore
) -> None:
    workflow = make_workflow(store, http, purchase_return_flow=BooksRequestedReturnQuantityFlow)
    drafted(workflow, peers)
    await deliver(workflow, confirm({"SKU-A": 3, "SKU-B": 0}))
    mrb = peers.models[("PUR_MRB", "MRB1")]
    assert [e["FRMREALQTY"] for e in mrb["FPURMRBENTRY"]] == [4, 2]
    red = peers.models[("AP_Payable", "MRB1-AP")]
    assert [e["FALLAMOUNTFOR"] for e in red["FEntityDetail"]] == ["-14.00", "-2.00"]


@pytest.mark.anyio
async def test_a_restart_finishes_the_booking_from_where_it_stopped(
    peers: Peers4, http: HttpClient, store: StateStore
) -> None:
    """The first process saved and submitted the return, then died: the next one audits it
    (no second save of a submitted bill) and books the red payable once."""
    first = make_workflow(store, http)
    drafted(first, peers)
    with store._transaction():
        store.conn.execute(
            "UPDATE purchase_returns SET shipped = ? WHERE bill_no = 'MRB1'",
            (orjson.dumps({"SKU-A": 2, "SKU-B": 2}).decode(),),
        )
        store._add_steps("MRB1", [Step.ERP_PURCHASE_RETURN, Step.ERP_RED_PAYABLE])
    with store._transaction():
        store.conn.execute(
            "UPDATE steps SET status = 'done' WHERE trade_no = 'MRB1' AND step = 'wms_stockout'"
        )
    peers.bills[("PUR_MRB", "MRB1")] = "B"
    second = make_workflow(store, http)
    assert second.resume() >= 1
    assert await second.drain(5) == 0
    assert peers.bills[("PUR_MRB", "MRB1")] == peers.bills[("AP_Payable", "MRB1-AP")] == "C"
    assert ("PUR_MRB", "MRB1") not in peers.models  # audited as it was saved
    red = peers.models[("AP_Payable", "MRB1-AP")]
    assert [e["FALLAMOUNTFOR"] for e in red["FEntityDetail"]] == ["-7.00", "-2.00"]
