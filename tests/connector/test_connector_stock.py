"""The reference connector's stock flows: an audited purchase order polled from the ERP
becomes one WMS entry order; its entryorder.confirm books a stock-in of every unit counted in
and a payable of the sound ones at the order's price, linked as K3 wants, once; a
stockchange.report sets the WMS's available stock in the OMS. The faulty variants change
exactly one of those."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from lxml import etree

from connectors.faulty.books_ordered_quantity import BooksOrderedQuantity
from connectors.faulty.never_pushes_stock import NeverPushesStock
from connectors.faulty.pushes_on_hand_stock import PushesOnHandStock
from connectors.reference.clients.http import HttpClient
from connectors.reference.mapper import TradeMapper
from connectors.reference.retry import RetryableError
from connectors.reference.stock_flow import ENTRY_CONFIRM_METHOD, STOCK_CHANGE_METHOD
from connectors.reference.store import StateStore, Step, StepStatus
from connectors.reference.workflow import Workflow
from tests.support.connector import Peers4, make_workflow

ENTRY_CREATE = "taobao.qimen.entryorder.create"
INVENTORY = "taobao.qimen.inventory.query"
PO = "CGDD00000042"
# One purchase order, two items: 10 of A at 3.50, 5 of B at 2.00 (FTaxPrice as K3 writes it).
PO_ROWS = [
    [PO, "2026-11-10 21:00:00", "3100001001", "OWNER1", "WH-GZ", "SKU-A", 10, 3.5],
    [PO, "2026-11-10 21:00:00", "3100001001", "OWNER1", "WH-GZ", "SKU-B", 5, 2.0],
]


def ok(extra: str = "") -> httpx.Response:
    return httpx.Response(
        200,
        text=f"<response><flag>success</flag><code>0</code><message>ok</message>{extra}</response>",
    )


def confirm(owner: str = "OWNER1") -> bytes:
    """A came over and partly damaged (11: 9 ZP, 2 CC); B short (4 ZP)."""
    lines = "".join(
        f"<orderLine><orderLineNo>{no}</orderLineNo><itemCode>{item}</itemCode>"
        f"<inventoryType>{kind}</inventoryType><actualQty>{qty}</actualQty></orderLine>"
        for no, item, kind, qty in (
            ("1", "SKU-A", "ZP", 9),
            ("1", "SKU-A", "CC", 2),
            ("2", "SKU-B", "ZP", 4),
        )
    )
    return (
        f"<request><entryOrder><entryOrderCode>{PO}</entryOrderCode><ownerCode>{owner}"
        f"</ownerCode><status>FULFILLED</status><outBizCode>EO1-FULFILLED</outBizCode>"
        f"</entryOrder><orderLines>{lines}</orderLines></request>"
    ).encode()


async def polled(
    peers: Peers4, http: HttpClient, store: StateStore, mapper: Any = None
) -> Workflow:
    """The purchase order polled (twice: the second poll sees it again) and sent."""
    workflow = make_workflow(store, http, mapper)
    peers.script("ExecuteBillQuery", httpx.Response(200, json=PO_ROWS))
    peers.script("ExecuteBillQuery", httpx.Response(200, json=PO_ROWS))
    peers.script(ENTRY_CREATE, ok("<entryOrderId>EO1</entryOrderId>"))
    assert await workflow.stock.poll_once() == 1
    assert await workflow.stock.poll_once() == 0
    assert await workflow.drain(5) == 0
    return workflow


async def received(
    peers: Peers4, http: HttpClient, store: StateStore, mapper: Any = None
) -> Workflow:
    workflow = await polled(peers, http, store, mapper)
    answer = workflow.stock.receive(ENTRY_CONFIRM_METHOD, confirm())
    assert b"<flag>success</flag>" in answer.body
    assert await workflow.drain(5) == 0
    return workflow


@pytest.mark.anyio
async def test_a_purchase_order_becomes_one_entry_order(
    peers: Peers4, http: HttpClient, store: StateStore
) -> None:
    await polled(peers, http, store)
    [body] = [b for b in peers.wms_bodies if "<entryOrder>" in b]
    order = etree.fromstring(body)
    assert [
        order.findtext(f"entryOrder/{key}")
        for key in (
            "entryOrderCode",
            "purchaseOrderCode",
            "orderType",
            "ownerCode",
            "warehouseCode",
            "supplierCode",
        )
    ] == [PO, PO, "CGRK", "OWNER1", "WH-GZ", "3100001001"]
    assert [
        (line.findtext("itemCode"), line.findtext("planQty"))
        for line in order.iterfind("orderLines/orderLine")
    ] == [("SKU-A", "10"), ("SKU-B", "5")]
    # The second poll asked from the approval time seen, inclusive.
    assert (
        store.conn.execute("SELECT value FROM cursor WHERE name = 'purchase_orders'").fetchone()[0]
        == "2026-11-10 21:00:00"
    )


@pytest.mark.anyio
async def test_a_confirm_books_what_came_in_and_pays_what_was_accepted_once(
    peers: Peers4, http: HttpClient, store: StateStore
) -> None:
    workflow = await received(peers, http, store)
    stock_in = peers.models[("STK_InStock", f"{PO}-RK")]
    assert [
        (e["FMaterialId"]["FNumber"], e["FRealQty"], e["FSrcBillTypeId"], e["FSrcBillNo"])
        for e in stock_in["FInStockEntry"]
    ] == [("SKU-A", 11, "PUR_PurchaseOrder", PO), ("SKU-B", 4, "PUR_PurchaseOrder", PO)]
    payable = peers.models[("AP_Payable", f"{PO}-AP")]
    assert [
        (e["FMATERIALID"]["FNumber"], e["FPriceQty"], e["FALLAMOUNTFOR"], e["FSourceBillNo"])
        for e in payable["FEntityDetail"]
    ] == [("SKU-A", 9, "31.50", f"{PO}-RK"), ("SKU-B", 4, "8.00", f"{PO}-RK")]
    assert (
        peers.bills[("STK_InStock", f"{PO}-RK")] == peers.bills[("AP_Payable", f"{PO}-AP")] == "C"
    )
    for step in (Step.WMS_ENTRY, Step.ERP_INSTOCK, Step.ERP_PAYABLE):
        state = store.step(PO, step)
        assert state is not None and state.status is StepStatus.DONE
    saves = peers.ops("erp").count("Save")
    # The confirm again, or another owner's under the same code: nothing more is booked.
    workflow.stock.receive(ENTRY_CONFIRM_METHOD, confirm())
    workflow.stock.receive(ENTRY_CONFIRM_METHOD, confirm(owner="OWNER2"))
    assert await workflow.drain(5) == 0
    assert peers.ops("erp").count("Save") == saves == 2


@pytest.mark.anyio
async def test_books_ordered_quantity_books_and_pays_the_order(
    peers: Peers4, http: HttpClient, store: StateStore
) -> None:
    await received(peers, http, store, BooksOrderedQuantity())
    stock_in = peers.models[("STK_InStock", f"{PO}-RK")]
    assert [e["FRealQty"] for e in stock_in["FInStockEntry"]] == [10, 5]
    payable = peers.models[("AP_Payable", f"{PO}-AP")]
    assert [e["FALLAMOUNTFOR"] for e in payable["FEntityDetail"]] == ["35.00", "10.00"]


def change(*moves: tuple[str, str, int]) -> bytes:
    items = "".join(
        f"<item><warehouseCode>{wh}</warehouseCode><itemCode>{item}</itemCode>"
        f"<quantity>{qty}</quantity></item>"
        for wh, item, qty in moves
    )
    return f"<request><items>{items}</items></request>".encode()


@pytest.mark.anyio
@pytest.mark.parametrize(
    "mapper",
    [TradeMapper(), NeverPushesStock(), PushesOnHandStock()],
    ids=["reference", "never", "on_hand"],
)
async def test_a_stock_change_sets_the_wms_available_stock_in_the_oms(
    peers: Peers4, http: HttpClient, store: StateStore, mapper: TradeMapper
) -> None:
    workflow = make_workflow(store, http, mapper)
    answer = workflow.stock.receive(
        STOCK_CHANGE_METHOD, change(("WH-GZ", "SKU-A", -2), ("WH-GZ", "SKU-B", 4))
    )
    assert b"<flag>success</flag>" in answer.body  # acknowledged either way
    peers.script(
        INVENTORY,
        ok(
            "<items><item><warehouseCode>WH-GZ</warehouseCode><itemCode>SKU-A</itemCode>"
            "<quantity>17</quantity><lockQuantity>3</lockQuantity></item><item>"
            "<warehouseCode>WH-GZ</warehouseCode><itemCode>SKU-B</itemCode>"
            "<quantity>40</quantity><lockQuantity>0</lockQuantity></item></items>"
        ),
    )
    synced = await workflow.stock.sync_once()
    counts = [b for b in peers.oms_bodies if isinstance(b, list)]
    if isinstance(mapper, NeverPushesStock):
        assert synced == 0 and INVENTORY not in peers.ops("wms") and counts == []
        return
    assert synced == 2 and await workflow.stock.sync_once() == 0  # nothing left marked
    asked = etree.fromstring(peers.wms_bodies[-1].encode())
    assert [c.findtext("itemCode") for c in asked.iterfind("criteriaList/criteria")] == [
        "SKU-A",
        "SKU-B",
    ]
    # The reference sets what is free to sell; pushes_on_hand_stock adds the 3 units held by
    # delivery orders, which the OMS already keeps reserved.
    a_units = "20" if isinstance(mapper, PushesOnHandStock) else "17"
    assert counts == [
        [
            {"warehouse_no": "WH-GZ", "defect_mode": 1, "remark": "WMS stock"},
            [
                {"spec_no": "SKU-A", "remark": "", "new_num": a_units, "defect": False},
                {"spec_no": "SKU-B", "remark": "", "new_num": "40", "defect": False},
            ],
        ]
    ]


@pytest.mark.anyio
async def test_an_item_the_inventory_answer_left_out_stays_marked(
    peers: Peers4, http: HttpClient, store: StateStore
) -> None:
    workflow = make_workflow(store, http, TradeMapper())
    workflow.stock.receive(
        STOCK_CHANGE_METHOD, change(("WH-GZ", "SKU-A", -2), ("WH-GZ", "SKU-B", 4))
    )
    item = "<item><warehouseCode>WH-GZ</warehouseCode><itemCode>{}</itemCode><quantity>{}"
    item += "</quantity><lockQuantity>0</lockQuantity></item>"
    peers.script(INVENTORY, ok(f"<items>{item.format('SKU-A', 17)}</items>"))
    with pytest.raises(RetryableError, match="no answer for 1 item"):
        await workflow.stock.sync_once()
    # A was told and set; B is asked again, alone, and set once the WMS tells it.
    peers.script(INVENTORY, ok(f"<items>{item.format('SKU-B', 40)}</items>"))
    assert await workflow.stock.sync_once() == 1
    asked = etree.fromstring(peers.wms_bodies[-1].encode())
    assert [c.findtext("itemCode") for c in asked.iterfind("criteriaList/criteria")] == ["SKU-B"]
    assert await workflow.stock.sync_once() == 0
    counts = [b[1] for b in peers.oms_bodies if isinstance(b, list)]
    assert counts == [
        [{"spec_no": "SKU-A", "remark": "", "new_num": "17", "defect": False}],
        [{"spec_no": "SKU-B", "remark": "", "new_num": "40", "defect": False}],
    ]
