"""The reference callback server: signatures, inbox dedupe, acknowledgements, readiness."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlencode

import httpx
import orjson
import pytest
from lxml import etree

from connectors.faulty.accepts_forged_pushes import AcceptsForgedPushesHandlers
from connectors.faulty.completes_on_problem_parcel import CompletesOnProblemParcelHandlers
from connectors.reference.callbacks import (
    CallbackHandlers,
    create_callback_app,
    kdniao_signature_ok,
    parse_confirm,
    qimen_signature_ok,
)
from connectors.reference.store import StateStore, Step, StepStatus
from tests.support.connector import TRADE_NO, make_trade, qimen_md5

WMS_SECRET = "wms-secret"
API_KEY = "kdniao-key"
WAYBILL = "ZT123456789"


def kdniao_md5(request_data: str, api_key: str) -> str:
    return base64.b64encode(
        hashlib.md5((request_data + api_key).encode()).hexdigest().encode()
    ).decode()


def confirm_body(
    out_biz_code: str = "DO1-DELIVERED", code: str = TRADE_NO, owner: str = "OWNER1"
) -> str:
    return (
        '<?xml version="1.0" encoding="utf-8"?><request><deliveryOrder>'
        f"<deliveryOrderCode>{code}</deliveryOrderCode><deliveryOrderId>DO1</deliveryOrderId>"
        f"<ownerCode>{owner}</ownerCode>"
        "<warehouseCode>WH-GZ</warehouseCode><status>DELIVERED</status>"
        f"<outBizCode>{out_biz_code}</outBizCode><confirmType>0</confirmType>"
        f"<logisticsCode>ZTO</logisticsCode><expressCode>{WAYBILL}</expressCode>"
        "<orderConfirmTime>2026-11-10 22:00:00</orderConfirmTime></deliveryOrder>"
        f"<packages><package><logisticsCode>ZTO</logisticsCode><expressCode>{WAYBILL}</expressCode>"
        "<weight>1.200</weight></package></packages></request>"
    )


def confirm_params(body: str, secret: str = WMS_SECRET) -> dict[str, str]:
    params = {
        "method": "taobao.qimen.deliveryorder.confirm",
        "timestamp": "2026-11-10 22:00:01",
        "format": "xml",
        "app_key": "qm_app",
        "v": "2.0",
        "sign_method": "md5",
        "customerId": "CUST",
    }
    params["sign"] = qimen_md5(secret, params, body)
    return params


def push_form(state: str = "3", api_key: str = API_KEY, code: str = WAYBILL) -> bytes:
    request_data = orjson.dumps(
        {
            "EBusinessID": "1234567",
            "PushTime": "2026-11-11 10:00:00",
            "Count": 1,
            "Data": [
                {
                    "EBusinessID": "1234567",
                    "OrderCode": TRADE_NO,
                    "ShipperCode": "ZTO",
                    "LogisticCode": code,
                    "Success": True,
                    "State": state,
                    "StateEx": "301",
                    "Traces": [],
                }
            ],
        }
    ).decode()
    form = {
        "RequestData": request_data,
        "RequestType": "101",
        "DataSign": kdniao_md5(request_data, api_key),
        "DataType": "2",
    }
    return urlencode(form).encode()


class Recorder:
    """Stands in for the Workflow: records which flows a push started."""

    def __init__(self) -> None:
        self.shipments: list[str] = []
        self.completions: list[str] = []
        self.packages: list[str] = []

    def start_shipment(self, trade_no: str) -> None:
        self.shipments.append(trade_no)

    def start_completion(self, trade_no: str) -> None:
        self.completions.append(trade_no)

    def start_package(self, out_biz_code: str) -> None:
        self.packages.append(out_biz_code)


@pytest.fixture
def store(tmp_path: Path) -> StateStore:
    store = StateStore(tmp_path / "connector.db")
    store.add_trades([make_trade(TRADE_NO)])
    store.set_waybill(TRADE_NO, WAYBILL)
    store.record_delivery_code(TRADE_NO, TRADE_NO)
    return store


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def client(
    store: StateStore, recorder: Recorder, asgi_client: Callable[[object], httpx.AsyncClient]
) -> httpx.AsyncClient:
    handlers = CallbackHandlers(store, recorder, WMS_SECRET, API_KEY, "1234567", lambda: True)
    return asgi_client(create_callback_app(handlers))


def inbox_count(store: StateStore) -> int:
    return int(store.conn.execute("SELECT COUNT(*) FROM inbox").fetchone()[0])


# ---------------------------------------------------------------- pure verification


def test_qimen_signature_good_bad_and_tampered() -> None:
    body = confirm_body()
    params = confirm_params(body)
    assert qimen_signature_ok(params, body, WMS_SECRET)
    assert qimen_signature_ok({**params, "sign": params["sign"].lower()}, body, WMS_SECRET)
    assert not qimen_signature_ok(params, body, "another-secret")
    assert not qimen_signature_ok(params, body.replace("DO1", "DO2"), WMS_SECRET)
    assert not qimen_signature_ok({**params, "timestamp": "2026-11-10 22:00:02"}, body, WMS_SECRET)
    assert not qimen_signature_ok(
        {k: v for k, v in params.items() if k != "sign"}, body, WMS_SECRET
    )


def test_kdniao_signature_plain_and_url_encoded_once_more() -> None:
    data = '{"a":1}'
    sign = kdniao_md5(data, API_KEY)
    assert kdniao_signature_ok(data, sign, API_KEY)
    assert kdniao_signature_ok(data, sign.replace("=", "%3D"), API_KEY)
    assert not kdniao_signature_ok(data, sign, "other-key")
    assert not kdniao_signature_ok('{"a":2}', sign, API_KEY)


def test_parse_confirm_reads_the_package() -> None:
    confirm = parse_confirm(confirm_body().encode())
    assert confirm.owner_code == "OWNER1"
    assert confirm.out_biz_code == "DO1-DELIVERED"
    assert confirm.delivery_order_code == TRADE_NO
    assert confirm.delivery_order_id == "DO1"
    assert not confirm.partial
    assert confirm.shipment.express_code == WAYBILL
    assert confirm.shipment.logistics_code == "ZTO"
    assert confirm.shipment.confirm_time == "2026-11-10 22:00:00"


def test_the_last_confirm_of_a_split_order_gives_the_orders_own_waybill() -> None:
    # The second parcel has a number of its own; the OMS keeps one waybill per trade, the
    # one the connector created and subscribed to.
    body = confirm_body().replace(
        f"<package><logisticsCode>ZTO</logisticsCode><expressCode>{WAYBILL}",
        "<package><logisticsCode>ZTO</logisticsCode><expressCode>ZTO0000000002",
    )
    assert "ZTO0000000002" in body
    assert parse_confirm(body.encode()).shipment.express_code == WAYBILL


def test_parse_confirm_refuses_entities_and_garbage() -> None:
    with pytest.raises(ValueError):
        parse_confirm(b"<request><deliveryOrder>")
    with pytest.raises(ValueError, match="deliveryOrderCode"):
        parse_confirm(b"<request><deliveryOrder/></request>")
    evil = (
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b"<request><deliveryOrder><deliveryOrderCode>&x;</deliveryOrderCode></deliveryOrder></request>"
    )
    try:
        confirm = parse_confirm(evil)
    except ValueError:
        return
    assert "root:" not in confirm.delivery_order_code


# ---------------------------------------------------------------- WMS confirm


def flag_and_code(response: httpx.Response) -> tuple[str | None, str | None]:
    root = etree.fromstring(response.content)
    return root.findtext("flag"), root.findtext("code")


@pytest.mark.anyio
async def test_confirm_is_stored_once_and_starts_the_shipment_once(
    client: httpx.AsyncClient, store: StateStore, recorder: Recorder
) -> None:
    body = confirm_body()
    for _ in range(2):
        response = await client.post(
            "/qimen/callback", params=confirm_params(body), content=body.encode()
        )
        assert response.status_code == 200
        assert flag_and_code(response) == ("success", "0")
    assert recorder.shipments == [TRADE_NO]
    assert inbox_count(store) == 1
    for step in (Step.OMS_SHIPPED, Step.ERP_OUTSTOCK, Step.ERP_RECEIVABLE):
        state = store.step(TRADE_NO, step)
        assert state is not None and state.status is StepStatus.PENDING
    # The confirm proves the create arrived, even though its answer never did.
    assert store.is_done(TRADE_NO, Step.WMS_CREATE)
    shipment = store.shipment(TRADE_NO)
    assert (shipment.logistics_code, shipment.express_code) == ("ZTO", WAYBILL)


@pytest.mark.anyio
async def test_confirm_with_a_bad_sign_is_refused_and_changes_nothing(
    client: httpx.AsyncClient, store: StateStore, recorder: Recorder
) -> None:
    body = confirm_body()
    response = await client.post(
        "/qimen/callback", params=confirm_params(body, "wrong"), content=body.encode()
    )
    assert flag_and_code(response) == ("failure", "sign-check-failure")
    assert recorder.shipments == []
    assert inbox_count(store) == 0
    assert store.step(TRADE_NO, Step.OMS_SHIPPED) is None


@pytest.mark.anyio
async def test_malformed_confirm_is_refused(
    client: httpx.AsyncClient, store: StateStore, recorder: Recorder
) -> None:
    body = "<request><deliveryOrder></request>"
    response = await client.post(
        "/qimen/callback", params=confirm_params(body), content=body.encode()
    )
    assert flag_and_code(response)[0] == "failure"
    assert inbox_count(store) == 0 and recorder.shipments == []


@pytest.mark.anyio
async def test_confirm_for_an_unknown_code_is_acknowledged_but_starts_nothing(
    client: httpx.AsyncClient, store: StateStore, recorder: Recorder
) -> None:
    body = confirm_body(code="NOT-OURS")
    response = await client.post(
        "/qimen/callback", params=confirm_params(body), content=body.encode()
    )
    assert flag_and_code(response) == ("success", "0")
    assert recorder.shipments == []
    assert inbox_count(store) == 1


# ---------------------------------------------------------------- carrier push


@pytest.mark.anyio
async def test_signed_push_is_stored_once_and_queues_completion(
    client: httpx.AsyncClient, store: StateStore, recorder: Recorder
) -> None:
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    for _ in range(2):
        response = await client.post("/kdniao/push", content=push_form(), headers=headers)
        answer = response.json()
        assert answer["Success"] is True
        assert answer["EBusinessID"] == "1234567"
        assert answer["Reason"] == ""
        assert len(answer["UpdateTime"]) == 19
    assert recorder.completions == [TRADE_NO]
    assert inbox_count(store) == 1
    state = store.step(TRADE_NO, Step.OMS_COMPLETED)
    assert state is not None and state.status is StepStatus.PENDING


@pytest.mark.anyio
async def test_in_transit_push_is_recorded_but_completes_nothing(
    client: httpx.AsyncClient, store: StateStore, recorder: Recorder
) -> None:
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    response = await client.post("/kdniao/push", content=push_form(state="2"), headers=headers)
    assert response.json()["Success"] is True
    assert inbox_count(store) == 1
    assert recorder.completions == []
    assert store.step(TRADE_NO, Step.OMS_COMPLETED) is None


@pytest.mark.anyio
@pytest.mark.parametrize("faulty", [False, True], ids=["reference", "completes_on_problem_parcel"])
async def test_a_problem_state_completes_only_for_the_faulty_connector_and_302_completes(
    store: StateStore,
    recorder: Recorder,
    asgi_client: Callable[[object], httpx.AsyncClient],
    faulty: bool,
) -> None:
    """State 4 (a 405 delivery exception) is not an end; the 3 (302) after it completes."""
    cls = CompletesOnProblemParcelHandlers if faulty else CallbackHandlers
    client = asgi_client(
        create_callback_app(cls(store, recorder, WMS_SECRET, API_KEY, "1234567", lambda: True))
    )
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    problem = await client.post("/kdniao/push", content=push_form(state="4"), headers=headers)
    assert problem.json()["Success"] is True
    assert recorder.completions == ([TRADE_NO] if faulty else [])
    signed = await client.post("/kdniao/push", content=push_form(state="3"), headers=headers)
    assert signed.json()["Success"] is True
    assert inbox_count(store) == 2
    assert recorder.completions == [TRADE_NO] * (2 if faulty else 1)
    step = store.step(TRADE_NO, Step.OMS_COMPLETED)
    assert step is not None and step.status is StepStatus.PENDING


@pytest.mark.anyio
async def test_push_with_a_bad_sign_is_refused(
    client: httpx.AsyncClient, store: StateStore, recorder: Recorder
) -> None:
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    response = await client.post(
        "/kdniao/push", content=push_form(api_key="wrong"), headers=headers
    )
    assert response.json()["Success"] is False
    assert inbox_count(store) == 0
    assert recorder.completions == []


@pytest.mark.anyio
async def test_push_without_fields_is_refused(client: httpx.AsyncClient, store: StateStore) -> None:
    response = await client.post("/kdniao/push", content=b"RequestType=101")
    assert response.json()["Success"] is False
    assert inbox_count(store) == 0


# ---------------------------------------------------------------- readiness


@pytest.mark.anyio
async def test_health_turns_ready(
    store: StateStore, recorder: Recorder, asgi_client: Callable[[object], httpx.AsyncClient]
) -> None:
    ready = {"now": False}
    handlers = CallbackHandlers(store, recorder, WMS_SECRET, API_KEY, "1", lambda: ready["now"])
    client = asgi_client(create_callback_app(handlers))
    assert (await client.get("/health")).status_code == 503
    ready["now"] = True
    assert (await client.get("/health")).status_code == 200


@pytest.mark.anyio
async def test_confirm_of_another_owners_order_under_our_code_starts_nothing(
    client: httpx.AsyncClient, store: StateStore, recorder: Recorder
) -> None:
    """Another owner may use our trade_no as its deliveryOrderCode: its confirm (pushed to
    us, as every confirm is) must not mark our trade shipped with its waybill."""
    body = confirm_body("DO9-DELIVERED", owner="OWNER2")
    response = await client.post(
        "/qimen/callback", params=confirm_params(body), content=body.encode()
    )
    assert flag_and_code(response) == ("success", "0")
    assert recorder.shipments == []
    assert store.step(TRADE_NO, Step.OMS_SHIPPED) is None
    assert store.shipment(TRADE_NO).express_code is None
    ours = confirm_body()
    await client.post("/qimen/callback", params=confirm_params(ours), content=ours.encode())
    assert recorder.shipments == [TRADE_NO]


# ---------------------------------------------------------------- forged pushes


@pytest.mark.anyio
@pytest.mark.parametrize("checks", [True, False], ids=["reference", "accepts_forged_pushes"])
async def test_only_a_connector_without_the_signature_check_acts_on_forged_pushes(
    store: StateStore,
    recorder: Recorder,
    asgi_client: Callable[[object], httpx.AsyncClient],
    checks: bool,
) -> None:
    cls = CallbackHandlers if checks else AcceptsForgedPushesHandlers
    client = asgi_client(
        create_callback_app(cls(store, recorder, WMS_SECRET, API_KEY, "1234567", lambda: True))
    )
    body = confirm_body()
    confirm = await client.post(
        "/qimen/callback", content=body, params=confirm_params(body, "not-the-secret")
    )
    tracking = await client.post("/kdniao/push", content=push_form("3", "not-the-key"))
    if checks:
        assert flag_and_code(confirm) == ("failure", "sign-check-failure")
        assert tracking.json()["Success"] is False
        assert (recorder.shipments, inbox_count(store)) == ([], 0)
    else:
        assert flag_and_code(confirm) == ("success", "0")
        assert tracking.json()["Success"] is True
        assert (recorder.shipments, recorder.completions) == ([TRADE_NO], [TRADE_NO])
        assert inbox_count(store) == 2
