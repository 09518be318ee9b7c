"""The reference connector carries returns: one WMS return order per return refund, and on
the WMS's returnorder.confirm a SAL_RETURNSTOCK in the stock statuses the quality check found,
a red receivable of the refunded amount and the refund settled; the faulty variants change
exactly one of those."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from lxml import etree

from connectors.faulty.refunds_at_original_price import RefundsAtOriginalPrice
from connectors.faulty.restocks_defective_returns import RestocksDefective
from connectors.reference.callbacks import parse_return_confirm
from connectors.reference.clients.http import HttpClient
from connectors.reference.mapper import TradeMapper
from connectors.reference.store import StateStore, Step, StepStatus
from tests.support.connector import TRADE_NO, Peers4, make_trade, make_workflow

RETURN_CREATE = "taobao.qimen.returnorder.create"
LINES = [
    {"orderLineNo": "TB99001-1", "itemCode": "SKU-A", "inventoryType": "ZP", "actualQty": 1},
    {"orderLineNo": "TB99001-1", "itemCode": "SKU-A", "inventoryType": "CC", "actualQty": 1},
]


def refund(**overrides: Any) -> dict[str, Any]:
    """Two of the three units of the first line back (25.10 paid for three: 16.73)."""
    return {
        "refund_no": "TK0000000007",
        "type": 2,
        "status": 40,
        "trade_no": TRADE_NO,
        "owner_code": "OWNER1",
        "refund_amount": "16.73",
        "reason": "尺码不合适",
        "logistics_code": "ZTO",
        "logistics_no": "RT0000000007",
        "detail_list": [
            {"oid": "TB99001-1", "spec_no": "SKU-A", "num": 2, "refund_amount": "16.73"}
        ],
        **overrides,
    }


def created() -> httpx.Response:
    return httpx.Response(
        200,
        text="<response><flag>success</flag><code>0</code><message>ok</message>"
        "<returnOrderId>RO00000000000001</returnOrderId></response>",
    )


async def carried(
    peers: Peers4, http: HttpClient, store: StateStore, mapper: TradeMapper | None = None
) -> None:
    """The trade, its return followed (twice: seen in two windows), its confirm acted on."""
    store.add_trades([make_trade()])
    workflow = make_workflow(store, http, mapper)
    peers.script(RETURN_CREATE, created())
    workflow.start_return(refund())
    workflow.start_return(refund())
    assert await workflow.drain(5) == 0
    new, refund_no = store.receive_return_confirm(
        "RO1-FULFILLED", "TK0000000007", "OWNER1", LINES, "2026-11-12 10:00:00", {}
    )
    assert (new, refund_no) == (True, "TK0000000007")
    workflow.start_return_booking("TK0000000007")
    assert await workflow.drain(5) == 0


@pytest.mark.anyio
async def test_a_return_is_sent_once_and_booked_on_its_confirm(
    peers: Peers4, http: HttpClient, store: StateStore
) -> None:
    await carried(peers, http, store)
    [body] = [b for b in peers.wms_bodies if "<returnOrder>" in b]
    order = etree.fromstring(body)
    assert [
        order.findtext(f"returnOrder/{key}")
        for key in ("returnOrderCode", "preDeliveryOrderCode", "expressCode", "warehouseCode")
    ] == ["TK0000000007", TRADE_NO, "RT0000000007", "WH-GZ"]
    assert order.findtext("orderLines/orderLine/planQty") == "2"
    stock = peers.models[("SAL_RETURNSTOCK", "TK0000000007")]
    assert [
        (e["FRealQty"], e["FStockStatusId"]["FNumber"], e["FSrcBillNo"]) for e in stock["FEntity"]
    ] == [(1, "KCZT01_SYS", TRADE_NO), (1, "KCZT08_SYS", TRADE_NO)]
    red = peers.models[("AR_receivable", "TK0000000007")]
    entries = red["FEntityDetail"]
    assert [(e["FPriceQty"], e["FALLAMOUNTFOR"], e["FSourceBillNo"]) for e in entries] == [
        (-2, "-16.73", TRADE_NO)
    ]
    assert peers.bills[("AR_receivable", "TK0000000007")] == "C"
    assert {"refund_no": "TK0000000007"} in peers.oms_bodies
    for step in (Step.WMS_RETURN, Step.ERP_RETURNSTOCK, Step.ERP_RED_RECEIVABLE):
        state = store.step("TK0000000007", step)
        assert state is not None and state.status is StepStatus.DONE
    # The confirm pushed again is not acted on twice; another owner's is not ours.
    again = store.receive_return_confirm("RO1-FULFILLED", "TK0000000007", "OWNER1", LINES, None, {})
    other = store.receive_return_confirm("RO9-FULFILLED", "TK0000000007", "OWNER2", LINES, None, {})
    assert (again, other) == ((False, "TK0000000007"), (True, None))


@pytest.mark.anyio
async def test_a_return_of_a_trade_never_carried_is_left_alone(
    peers: Peers4, http: HttpClient, store: StateStore
) -> None:
    workflow = make_workflow(store, http)
    workflow.start_return(refund(trade_no="2026111099999999"))
    assert await workflow.drain(5) == 0
    assert not [b for b in peers.wms_bodies if "<returnOrder>" in b]


@pytest.mark.anyio
async def test_restocks_defective_books_every_unit_available(
    peers: Peers4, http: HttpClient, store: StateStore
) -> None:
    await carried(peers, http, store, RestocksDefective())
    stock = peers.models[("SAL_RETURNSTOCK", "TK0000000007")]
    assert [e["FStockStatusId"]["FNumber"] for e in stock["FEntity"]] == ["KCZT01_SYS"] * 2
    red = peers.models[("AR_receivable", "TK0000000007")]
    assert red["FEntityDetail"][0]["FALLAMOUNTFOR"] == "-16.73"  # only the status differs


@pytest.mark.anyio
async def test_refunds_at_original_price_reverses_price_times_units(
    peers: Peers4, http: HttpClient, store: StateStore
) -> None:
    await carried(peers, http, store, RefundsAtOriginalPrice())
    red = peers.models[("AR_receivable", "TK0000000007")]
    assert red["FEntityDetail"][0]["FALLAMOUNTFOR"] == "-20.00"  # 10.00 x 2, not 16.73
    stock = peers.models[("SAL_RETURNSTOCK", "TK0000000007")]
    assert [e["FStockStatusId"]["FNumber"] for e in stock["FEntity"]] == [
        "KCZT01_SYS",
        "KCZT08_SYS",
    ]


def test_a_return_confirm_is_read_per_line_and_inventory_type() -> None:
    body = (
        "<request><returnOrder><returnOrderCode>TK1</returnOrderCode>"
        "<returnOrderId>RO1</returnOrderId><ownerCode>OWNER1</ownerCode><status>FULFILLED</status>"
        "<outBizCode>RO1-FULFILLED</outBizCode><orderConfirmTime>2026-11-12 10:00:00"
        "</orderConfirmTime></returnOrder><orderLines>"
        "<orderLine><orderLineNo>1</orderLineNo><itemCode>SKU-A</itemCode>"
        "<inventoryType>ZP</inventoryType><actualQty>1</actualQty></orderLine>"
        "<orderLine><orderLineNo>1</orderLineNo><itemCode>SKU-A</itemCode>"
        "<inventoryType>CC</inventoryType><actualQty>2</actualQty></orderLine>"
        "</orderLines></request>"
    )
    confirm = parse_return_confirm(body.encode())
    assert (confirm.out_biz_code, confirm.return_order_code, confirm.owner_code) == (
        "RO1-FULFILLED",
        "TK1",
        "OWNER1",
    )
    assert [(ln["inventoryType"], ln["actualQty"]) for ln in confirm.lines] == [
        ("ZP", 1),
        ("CC", 2),
    ]
    with pytest.raises(ValueError, match="actualQty"):
        parse_return_confirm(body.replace("<actualQty>2</actualQty>", "").encode())
