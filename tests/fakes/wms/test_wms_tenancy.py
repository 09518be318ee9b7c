"""WMS tenancy with the real carrier behind it: waybills, order codes and stock moves are the
order owner's; another owner's records answer exactly like missing ones."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import httpx
import pytest
from lxml import etree

from fake_systems.carrier.models import CarrierError
from fake_systems.carrier.service import CarrierService
from fake_systems.common.context import SystemContext
from fake_systems.common.credentials import KdniaoCredentials, QimenCredentials
from fake_systems.wms.api.qimen import create_app
from fake_systems.wms.service import WmsConfig, WmsService
from simulator.clock import CHINA, ManualClock, format_qimen_time
from simulator.world import World
from tests.support.pushes import mock_sender
from tests.support.tenancy import (
    CARRIER_CONNECTOR,
    CARRIER_TENANTS,
    CONNECTOR,
    OWNERS,
    TENANTS,
    TRAVEL,
)
from tests.support.wms import LINE_PRICE, ORDER_EXTRAS, PATH, sign, stockout_body

pytestmark = pytest.mark.anyio

WORK = WmsConfig(
    accept_seconds=(30, 30),
    pick_seconds=(100, 100),
    pack_seconds=(50, 50),
    receive_seconds=(300, 300),
    stock_change_reports=True,
    process_reports=True,
)
SHIPPED_AND_COLLECTED = 3 * 3600  # simulated seconds: shipped at 180 s, collected at 1 h after
UNKNOWN_WAYBILL = "SF100000000001"


@dataclass
class Site:
    """A WMS wired to a carrier, its Qimen app, and the pushes it sent to the connector."""

    wms: WmsService
    carrier: CarrierService
    client: httpx.AsyncClient
    clock: ManualClock
    pushes: list[tuple[str, etree._Element]] = field(default_factory=list)

    async def call(
        self, method: str, body: str, creds: QimenCredentials = CONNECTOR
    ) -> etree._Element:
        params = {
            "method": f"taobao.qimen.{method}",
            "timestamp": format_qimen_time(datetime.fromtimestamp(self.clock.wall(), CHINA)),
            "format": "xml",
            "app_key": creds.app_key,
            "v": "2.0",
            "sign_method": "md5",
            "customerId": creds.customer_id,
        }
        params["sign"] = sign(creds.secret, params, body)
        response = await self.client.post(PATH, params=params, content=body.encode())
        assert response.status_code == 200
        return etree.fromstring(response.content)

    async def run(self, sim_seconds: float) -> None:
        self.clock.advance(sim_seconds)
        await self.wms.ctx.dispatcher.drain(5)

    def pushed(self, method: str) -> list[etree._Element]:
        return [body for name, body in self.pushes if name == f"taobao.qimen.{method}"]

    def rows(self, sql: str, *args: object) -> list[tuple[object, ...]]:
        return [tuple(row) for row in self.wms.conn.execute(sql, args)]


@pytest.fixture
def site(
    make_context: Callable[[str], SystemContext],
    world: World,
    clock: ManualClock,
    asgi_client: Callable[[object], httpx.AsyncClient],
) -> Site:
    carrier = CarrierService(make_context("carrier"), CARRIER_CONNECTOR, TRAVEL)
    carrier.setup(world)
    for account in CARRIER_TENANTS.values():
        carrier.add_account(account)
    ctx = make_context("wms")
    wms = WmsService(ctx, CONNECTOR, WORK, carrier)
    wms.setup(world)
    wms.confirm_callback_url = "http://connector.test/qimen"
    made = Site(
        wms, carrier, asgi_client(create_app(wms, CONNECTOR, list(TENANTS.values()))), clock
    )

    def connector(request: httpx.Request) -> httpx.Response:
        made.pushes.append((request.url.params["method"], etree.fromstring(request.content)))
        return httpx.Response(200, text="<response><flag>success</flag></response>")

    ctx.dispatcher.sender = mock_sender(connector)
    return made


def delivery(
    world: World, code: str, owner: str | None, express: str | None = None, item: str = ""
) -> str:
    owner_tag = f"<ownerCode>{owner}</ownerCode>" if owner else ""
    express_tag = f"<expressCode>{express}</expressCode>" if express else ""
    return (
        "<request><deliveryOrder>"
        f"<deliveryOrderCode>{code}</deliveryOrderCode><orderType>JYCK</orderType>"
        f"<warehouseCode>{world.warehouses[0].code}</warehouseCode>{ORDER_EXTRAS}"
        f"<logisticsCode>SF</logisticsCode>{express_tag}</deliveryOrder>"
        f"<orderLines><orderLine><orderLineNo>1</orderLineNo>{owner_tag}"
        f"<itemCode>{item or world.skus[0].item_code}</itemCode><planQty>2</planQty>"
        f"{LINE_PRICE}</orderLine></orderLines></request>"
    )


def outcome(root: etree._Element) -> tuple[str | None, str | None]:
    return root.findtext("flag"), root.findtext("code")


def waybill_of(carrier: CarrierService, account: KdniaoCredentials, order_code: str) -> str:
    return carrier.create_waybill(order_code, "SF", account=account.ebusiness_id).logistic_code


def parcel_states(carrier: CarrierService) -> dict[str, int]:
    rows = carrier.ctx.conn.execute("SELECT logistic_code, state FROM parcels")
    return {row[0]: row[1] for row in rows}


# ------------------------------------------------------------------ waybills


async def test_another_owners_waybill_is_refused_like_one_nobody_issued(
    site: Site, world: World
) -> None:
    """Finding 3: A's order carrying B's waybill used to ship on it; B's parcel was collected
    with A's goods and B could no longer cancel its own waybill."""
    theirs = waybill_of(site.carrier, CARRIER_TENANTS["OWNER-B"], "B-ORDER-1")
    answers = {}
    for key in (theirs, UNKNOWN_WAYBILL):
        body = delivery(world, "A-STEAL-1", "OWNER-A", express=key)
        answer = await site.call("deliveryorder.create", body, TENANTS["OWNER-A"])
        answers[key] = etree.tostring(answer).decode().replace(key, "@KEY@")
    assert answers[theirs] == answers[UNKNOWN_WAYBILL]
    assert outcome(etree.fromstring(answers[theirs])) == ("failure", "isv.invalid-parameter")
    assert site.rows("SELECT * FROM delivery_orders") == []
    await site.run(SHIPPED_AND_COLLECTED)
    assert parcel_states(site.carrier) == {}
    # B's waybill is still B's to cancel: nothing of A's was handed over under it.
    site.carrier.cancel_waybill(
        "SF", "B-ORDER-1", theirs, account=CARRIER_TENANTS["OWNER-B"].ebusiness_id
    )


async def test_a_waybill_ships_only_for_the_owner_it_was_issued_for(
    site: Site, world: World
) -> None:
    integrators = waybill_of(site.carrier, CARRIER_CONNECTOR, "T-B-1")
    own = waybill_of(site.carrier, CARRIER_TENANTS["OWNER-A"], "A-OWN-1")
    b_order = delivery(world, "T-B-1", "OWNER-B", express=integrators)
    assert outcome(await site.call("deliveryorder.create", b_order)) == ("success", "0")
    # the integrator's waybill now carries B's goods: nobody else's order may take it
    for creds, owner in ((TENANTS["OWNER-A"], "OWNER-A"), (CONNECTOR, "OWNER-A")):
        stolen = delivery(world, "X-1", owner, express=integrators)
        assert outcome(await site.call("deliveryorder.create", stolen, creds)) == (
            "failure",
            "isv.invalid-parameter",
        )
    # A's own account's waybill: for A's orders, by A or by the integrator, never for B's
    for_b = delivery(world, "X-2", "OWNER-B", express=own)
    assert outcome(await site.call("deliveryorder.create", for_b)) == (
        "failure",
        "isv.invalid-parameter",
    )
    for_a = delivery(world, "A-OWN-1", "OWNER-A", express=own)
    assert outcome(await site.call("deliveryorder.create", for_a, TENANTS["OWNER-A"])) == (
        "success",
        "0",
    )
    assert sorted(site.rows("SELECT owner_code, express_code FROM delivery_orders")) == [
        ("OWNER-A", own),
        ("OWNER-B", integrators),
    ]
    # a cancelled waybill carries nothing
    voided = waybill_of(site.carrier, CARRIER_CONNECTOR, "T-A-9")
    site.carrier.cancel_waybill("SF", "T-A-9", voided)
    late = delivery(world, "T-A-9", "OWNER-A", express=voided)
    assert outcome(await site.call("deliveryorder.create", late)) == (
        "failure",
        "isv.invalid-parameter",
    )


# ------------------------------------------------------------------ one code, two owners


async def test_one_code_under_two_owners_ships_apart_and_every_push_says_whose(
    site: Site, world: World
) -> None:
    for owner in OWNERS:
        answer = await site.call("deliveryorder.create", delivery(world, "SAME-1", owner))
        assert outcome(answer) == ("success", "0")
    await site.run(SHIPPED_AND_COLLECTED)
    shipped = dict(site.rows("SELECT owner_code, express_code FROM delivery_orders"))
    assert set(shipped) == set(OWNERS)
    assert shipped["OWNER-A"] != shipped["OWNER-B"]  # two parcels, one per owner
    assert parcel_states(site.carrier).keys() == set(shipped.values())
    waybills = site.carrier.ctx.conn.execute("SELECT logistic_code, owner_code FROM waybills")
    assert {row[0]: row[1] for row in waybills} == {v: k for k, v in shipped.items()}

    confirms = site.pushed("deliveryorder.confirm")
    assert len(confirms) == 2
    for confirm in confirms:
        owner = confirm.findtext("deliveryOrder/ownerCode")
        assert confirm.findtext("deliveryOrder/deliveryOrderCode") == "SAME-1"
        assert confirm.findtext("packages/package/expressCode") == shipped[str(owner)]
        assert {line.findtext("ownerCode") for line in confirm.iter("orderLine")} == {owner}
    changes = site.pushed("stockchange.report")
    assert len(changes) == 2
    assert sorted(c.findtext("items/item/ownerCode") or "" for c in changes) == list(OWNERS)
    for change in changes:
        order_id = (change.findtext("items/item/outBizCode") or "").split("-")[0]
        owner = site.rows(
            "SELECT owner_code FROM delivery_orders WHERE delivery_order_id = ?", order_id
        )
        assert owner == [(change.findtext("items/item/ownerCode"),)]
    reports = site.pushed("orderprocess.report")
    assert {r.findtext("order/ownerCode") for r in reports} == set(OWNERS)


async def test_the_integrator_names_the_owner_of_a_code_two_owners_use(
    site: Site, world: World
) -> None:
    for owner in OWNERS:
        await site.call("deliveryorder.create", delivery(world, "SAME-2", owner))
    ambiguous = "<request><deliveryOrderCode>SAME-2</deliveryOrderCode></request>"
    assert outcome(await site.call("deliveryorder.query", ambiguous)) == (
        "failure",
        "isv.invalid-parameter",
    )
    cancel = (
        f"<request><warehouseCode>{world.warehouses[0].code}</warehouseCode>"
        "<orderCode>SAME-2</orderCode></request>"
    )
    assert outcome(await site.call("order.cancel", cancel)) == ("failure", "isv.invalid-parameter")
    assert site.rows("SELECT DISTINCT status FROM delivery_orders") == [("NEW",)]
    named = ambiguous.replace("</request>", "<ownerCode>OWNER-B</ownerCode></request>")
    assert (await site.call("deliveryorder.query", named)).findtext(
        "deliveryOrder/ownerCode"
    ) == "OWNER-B"
    # each tenant sees one order under the code: its own
    for owner in OWNERS:
        seen = await site.call("deliveryorder.query", ambiguous, TENANTS[owner])
        assert seen.findtext("deliveryOrder/ownerCode") == owner


# ------------------------------------------------------------------ stock moves


def entry(world: World, code: str, owner: str, item: str) -> str:
    return (
        f"<request><entryOrder><entryOrderCode>{code}</entryOrderCode><ownerCode>{owner}"
        f"</ownerCode><warehouseCode>{world.warehouses[0].code}</warehouseCode>"
        "<orderType>CGRK</orderType></entryOrder><orderLines><orderLine>"
        f"<itemCode>{item}</itemCode><planQty>5</planQty></orderLine></orderLines></request>"
    )


def transfer(world: World, code: str, owner: str, item: str) -> str:
    return (
        f"<request><erpOrderCode>{code}</erpOrderCode><ownerCode>{owner}</ownerCode>"
        f"<fromStoreCode>{world.warehouses[0].code}</fromStoreCode>"
        f"<toStoreCode>{world.warehouses[1].code}</toStoreCode><transferItems><transferItem>"
        f"<scItemCode>{item}</scItemCode><inventoryType>1</inventoryType><count>1</count>"
        "</transferItem></transferItems></request>"
    )


def stockout(world: World, code: str, owner: str, item: str) -> str:
    """A purchase return (CGTH) of one unit from the first warehouse."""
    return stockout_body(world, code, qty=1, owner=owner).replace(world.skus[0].item_code, item)


def inventory(world: World, owner: str, item: str) -> str:
    return (
        f"<request><criteriaList><criteria><warehouseCode>{world.warehouses[0].code}"
        f"</warehouseCode><ownerCode>{owner}</ownerCode><itemCode>{item}</itemCode>"
        "</criteria></criteriaList></request>"
    )


async def own_item(site: Site, world: World, owner: str, item: str) -> None:
    """An item of `owner` (added by the integrator) with 5 on hand in the first warehouse."""
    add = (
        f"<request><actionType>add</actionType><warehouseCode>OTHER</warehouseCode>"
        f"<ownerCode>{owner}</ownerCode><item>"
        f"<itemCode>{item}</itemCode><itemName>{item}</itemName></item></request>"
    )
    assert outcome(await site.call("singleitem.synchronize", add)) == ("success", "0")
    assert outcome(await site.call("entryorder.create", entry(world, f"E-{item}", owner, item)))
    await site.run(400)


async def test_no_order_of_one_owner_touches_another_owners_stock(site: Site, world: World) -> None:
    await own_item(site, world, "OWNER-B", "B-ONLY-1")
    stock_sql = "SELECT warehouse_code, item_code, on_hand, reserved FROM stock ORDER BY 1, 2"
    before, ledger = site.rows(stock_sql), site.rows("SELECT COUNT(*) FROM stock_ledger")
    for method, body in (
        ("deliveryorder.create", delivery(world, "A-1", "OWNER-A", item="B-ONLY-1")),
        ("entryorder.create", entry(world, "A-E1", "OWNER-A", "B-ONLY-1")),
        ("transferorder.create", transfer(world, "A-T1", "OWNER-A", "B-ONLY-1")),
        ("stockout.create", stockout(world, "A-S1", "OWNER-A", "B-ONLY-1")),
        ("inventory.query", inventory(world, "OWNER-A", "B-ONLY-1")),
    ):
        # the integrator may act for A, but not with B's item
        assert outcome(await site.call(method, body)) == ("failure", "ITEM_NOT_EXIST"), method
    # the shared catalog's stock is every owner's: one tenant may not carry it off
    shared = transfer(world, "A-T2", "OWNER-A", world.skus[0].item_code)
    assert outcome(await site.call("transferorder.create", shared, TENANTS["OWNER-A"])) == (
        "failure",
        "isv.permission-denied",
    )
    shipped = stockout(world, "A-S2", "OWNER-A", world.skus[0].item_code)
    assert outcome(await site.call("stockout.create", shipped, TENANTS["OWNER-A"])) == (
        "failure",
        "isv.permission-denied",
    )
    await site.run(3600)  # nothing was accepted: nothing ships
    assert site.rows(stock_sql) == before
    assert site.rows("SELECT COUNT(*) FROM stock_ledger") == ledger
    # B's own moves of its own item still work
    moved = transfer(world, "B-T1", "OWNER-B", "B-ONLY-1")
    assert outcome(await site.call("transferorder.create", moved, TENANTS["OWNER-B"])) == (
        "success",
        "0",
    )


# ------------------------------------------------------------------ existence


async def test_another_owners_records_answer_exactly_like_missing_ones(
    site: Site, world: World
) -> None:
    """Finding 8 (WMS): for tenant A, each of B's codes gets the answer a never-used code
    gets, with the code itself replaced."""
    b = TENANTS["OWNER-B"]
    await own_item(site, world, "OWNER-B", "B-ITEM-1")
    waybill = waybill_of(site.carrier, CARRIER_TENANTS["OWNER-B"], "B-ORDER-9")
    await site.call("deliveryorder.create", delivery(world, "B-ORDER-9", "OWNER-B", waybill), b)
    ret = (
        "<request><returnOrder><returnOrderCode>R-{n}</returnOrderCode><warehouseCode>"
        f"{world.warehouses[0].code}</warehouseCode><orderType>THRK</orderType>"
        "<preDeliveryOrderCode>{key}</preDeliveryOrderCode></returnOrder><orderLines>"
        f"<orderLine><itemCode>{world.skus[0].item_code}</itemCode><planQty>1</planQty>"
        "</orderLine></orderLines></request>"
    )
    update = (
        "<request><actionType>update</actionType><warehouseCode>OTHER</warehouseCode>"
        "<ownerCode>OWNER-A</ownerCode><item>"
        "<itemCode>{key}</itemCode><itemName>x</itemName></item></request>"
    )
    cases = [
        ("deliveryorder.query", "<request><deliveryOrderCode>{key}</deliveryOrderCode></request>"),
        (
            "order.cancel",
            f"<request><warehouseCode>{world.warehouses[0].code}</warehouseCode>"
            "<orderCode>{key}</orderCode></request>",
        ),
        ("entryorder.query", "<request><entryOrderCode>{key}</entryOrderCode></request>"),
        ("returnorder.create", ret),
        ("singleitem.synchronize", update),
        ("singleitem.synchronize", update.replace("update", "add")),
        ("inventory.query", inventory(world, "OWNER-A", "{key}")),
        ("deliveryorder.create", delivery(world, "A-N-{n}", "OWNER-A", item="{key}")),
        ("deliveryorder.create", delivery(world, "A-W-{n}", "OWNER-A", express="{key}")),
    ]
    foreign = {
        "deliveryorder.query": "B-ORDER-9",
        "order.cancel": "B-ORDER-9",
        "entryorder.query": "E-B-ITEM-1",
        "returnorder.create": "B-ORDER-9",
        "singleitem.synchronize": "B-ITEM-1",
        "inventory.query": "B-ITEM-1",
    }
    for n, (method, template) in enumerate(cases):
        key = foreign.get(method, "B-ITEM-1" if "itemCode>{key}" in template else waybill)
        missing = f"NEVER{n:03d}"
        answers = []
        for used in (key, missing):
            body = template.replace("{key}", used).replace("{n}", f"{n}-{used}")
            answer = await site.call(method, body, TENANTS["OWNER-A"])
            answers.append(etree.tostring(answer).decode().replace(used, "@KEY@"))
        assert answers[0] == answers[1], (method, answers)
        assert outcome(etree.fromstring(answers[0]))[0] == "failure", method
    # and nothing of B's moved
    assert site.rows("SELECT owner_code, status FROM delivery_orders") == [("OWNER-B", "NEW")]


async def test_the_carrier_never_lets_a_number_nobody_issued_carry_goods(site: Site) -> None:
    assert not site.carrier.waybill_usable(UNKNOWN_WAYBILL, "OWNER-A")
    issued = site.carrier.issue_waybill("T-1", "SF", "OWNER-A")
    assert site.carrier.waybill_usable(issued, "OWNER-A")
    assert not site.carrier.waybill_usable(issued, "OWNER-B")
    # one order code, two owners: two waybills; a repeat gets the owner's first one back
    assert site.carrier.issue_waybill("T-1", "SF", "OWNER-B") != issued
    assert site.carrier.issue_waybill("T-1", "SF", "OWNER-A") == issued
    with pytest.raises(CarrierError):
        site.carrier.issue_waybill("T-2", "NOPE", "OWNER-A")
