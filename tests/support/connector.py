"""Connector test helpers: an OMS trade, reference signers, scripted peers, a workflow on them.

Like the connector tests, they import nothing of the fakes: the signers are re-derived here."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl
from zoneinfo import ZoneInfo

import httpx
import orjson

from connectors.reference.clients.http import HttpClient
from connectors.reference.clients.k3 import K3Client
from connectors.reference.clients.kdniao import KdniaoClient
from connectors.reference.clients.oms import OmsClient
from connectors.reference.clients.qimen import QimenClient
from connectors.reference.count_flow import CountFlow
from connectors.reference.mapper import TradeMapper
from connectors.reference.purchase_return_flow import PurchaseReturnFlow
from connectors.reference.retry import RetryPolicy
from connectors.reference.settings import Settings
from connectors.reference.store import StateStore
from connectors.reference.transfer_flow import TransferFlow
from connectors.reference.workflow import Peers, Workflow

CHINA = ZoneInfo("Asia/Shanghai")
TRADE_NO = "2026111000000001"
# 60 simulated seconds last 10 ms: the graded schedule runs in a blink.
FAST = RetryPolicy(time_scale=6000.0)
OMS_SECRET, WMS_SECRET, API_KEY = "oms-secret:oms-salt", "wms-secret", "kd-key"
K3_APP_ID, K3_APP_SECRET = "301234_ZWNvbW9jay1rMy1hcHAtc2VjcmV0LTI0", "k3-secret"


def k3_client(http: HttpClient) -> K3Client:
    """The connector's K3 client for user `user` of data centre `acct`, with the test app."""
    return K3Client(http, "http://erp", "acct", "user", K3_APP_ID, K3_APP_SECRET, 2052)


def make_trade(trade_no: str = "2026111000000001", **overrides: Any) -> dict[str, Any]:
    """A trade as the 旗舰版 query returns it (numbers, ids, ms): two lines, a discount, freight."""
    trade: dict[str, Any] = {
        "trade_no": trade_no,
        "src_tids": "TB99001",
        "platform_id": 1,  # 淘宝, sub-platform 1 天猫
        "sub_platform_id": 1,
        "shop_no": "TM-1",
        "owner_code": "OWNER1",
        "warehouse_no": "WH-GZ",
        "logistics_code": "ZTO",
        "trade_status": 30,
        "trade_time": 1794312001000,  # ms: 2026-11-10 20:00:01 China time
        "pay_time": "2026-11-10 20:00:05",
        "modified": "2026-11-10 20:00:05",
        "receiver_name": "张三",
        "receiver_mobile": "13900000000",
        "receiver_province": 440000,
        "receiver_city": 0,
        "receiver_district": 0,
        "receiver_area": "广东省 深圳市 南山区",
        "receiver_address": "科技园 <A&B> 座 1 号",
        "goods_amount": 230.0,
        "discount": 30.1,
        "post_amount": 8.0,
        "paid": 207.9,
        "detail_list": [
            {
                "rec_id": 11,
                "src_oid": "TB99001-1",
                "src_tid": "TB99001",
                "spec_no": "SKU-A",
                "goods_name": "杯子",
                "num": 3,
                "price": 10.0,
                "share_amount": 25.1,
            },
            {
                "rec_id": 12,
                "src_oid": "TB99001-2",
                "src_tid": "TB99001",
                "spec_no": "SKU-B",
                "goods_name": "茶壶",
                "num": 1,
                "price": 200.0,
                "share_amount": 174.8,
            },
        ],
    }
    trade.update(overrides)
    return trade


def wdt_md5(secret: str, params: dict[str, str]) -> str:
    """旺店通旗舰版, re-derived from the public clients: md5(secret + sorted k+v + secret)."""
    joined = "".join(k + v for k, v in sorted(params.items()) if k != "sign")
    return hashlib.md5((secret + joined + secret).encode()).hexdigest()


class Peers4:
    """Scripted OMS, WMS, carrier and ERP behind one MockTransport; records every call."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []
        self.delivery_codes: list[str] = []
        self.bills: dict[tuple[str, str], str] = {}
        self.models: dict[tuple[str, str], dict[str, Any]] = {}
        self.oms_bodies: list[dict[str, Any]] = []
        self.wms_bodies: list[str] = []  # every WMS call's XML body, scripted answers too
        self.carrier_forms: list[dict[str, str]] = []  # every carrier call's form, scripted too
        self.scripted: dict[str, list[httpx.Response]] = {}
        self.lost: dict[str, int] = {}
        self.session = "S1"
        self.trades: list[dict[str, Any]] = []
        self.refunds: list[dict[str, Any]] = []  # served by aftersales.refund.Refund.search
        self.now = datetime(2026, 11, 10, 22, 30, 0, tzinfo=CHINA)
        self.sim_seconds = 2.5 * 3600
        self.windows: list[tuple[str, str, int]] = []
        self.k3_signs: list[str] = []  # every LoginBySign sign, in order

    def script(self, op: str, *responses: httpx.Response) -> None:
        """The next calls of `op` get these answers, in order, instead of the normal one."""
        self.scripted.setdefault(op, []).extend(responses)

    def handler(self, request: httpx.Request) -> httpx.Response:
        system = request.url.host
        op = self._operation(system, request)
        self.calls.append((system, op))
        if system == "wms":
            self.wms_bodies.append(request.content.decode())
        if system == "carrier":
            self.carrier_forms.append(dict(parse_qsl(request.content.decode())))
        if self.scripted.get(op):
            return self.scripted[op].pop(0)
        answer: httpx.Response = getattr(self, f"_{system}")(request, op)
        if self.lost.get(op, 0) > 0:
            self.lost[op] -= 1
            return httpx.Response(504)  # the work is done, the answer never arrives
        return answer

    @staticmethod
    def _operation(system: str, request: httpx.Request) -> str:
        if system == "oms":
            return request.url.params.get("method", request.url.path)
        if system == "wms":
            return request.url.params["method"]
        if system == "carrier":
            return dict(parse_qsl(request.content.decode()))["RequestType"]
        return request.url.path.split(".")[-3]

    def _oms(self, request: httpx.Request, op: str) -> httpx.Response:
        if request.url.path == "/_fake/clock":
            return httpx.Response(
                200,
                json={
                    "now_text": self.now.strftime("%Y-%m-%d %H:%M:%S"),
                    "sim_seconds": self.sim_seconds,
                },
            )
        if request.url.path == "/router/qm":
            # The Qimen custom scenario: these scripted peers hold no Taobao/Tmall trades.
            empty = {"total_count": 0, "order": []}
            return httpx.Response(200, json={"response": {"status": 0, "data": empty}})
        params = dict(request.url.params)
        body = request.content.decode()
        secret, salt = OMS_SECRET.split(":")
        assert params["salt"] == salt
        assert params["sign"] == wdt_md5(secret, {**params, "body": body})
        arguments = orjson.loads(body)  # the positional arguments: one params object, or
        business = arguments[0]  # a stock count's two (pdOrder, specList), kept as a list
        self.oms_bodies.append(business if len(arguments) == 1 else arguments)
        if op == "sales.TradeQuery.queryWithDetail":
            start, end = business["start_time"], business["end_time"]
            size, page = int(params["page_size"]), int(params["page_no"])
            window = [t for t in self.trades if start <= t["modified"] < end]
            self.windows.append((start, end, page))
            data = {"total_count": len(window), "order": window[page * size : (page + 1) * size]}
            return httpx.Response(200, json={"status": 0, "data": data})
        if op == "aftersales.refund.Refund.search":
            start, end = business["modified_from"], business["modified_to"]
            found = [
                r
                for r in self.refunds
                if start <= r["modified"] < end
                and all(r[key] == business[key] for key in ("type", "status") if key in business)
            ]
            return httpx.Response(
                200, json={"status": 0, "data": {"total_count": len(found), "order": found}}
            )
        return httpx.Response(200, json={"status": 0, "data": {}})

    def _wms(self, request: httpx.Request, op: str) -> httpx.Response:
        params = dict(request.url.params)
        assert params["sign"] == qimen_md5(WMS_SECRET, params, request.content.decode())
        code = request.content.decode().split("<deliveryOrderCode>")[1].split("<")[0]
        self.delivery_codes.append(code)
        return httpx.Response(
            200,
            text="<response><flag>success</flag><code>0</code><message>ok</message>"
            f"<deliveryOrderId>DO-{code}</deliveryOrderId></response>",
        )

    def _carrier(self, request: httpx.Request, op: str) -> httpx.Response:
        form = dict(parse_qsl(request.content.decode()))
        expected = hashlib.md5((form["RequestData"] + API_KEY).encode()).hexdigest()
        assert form["DataSign"] == base64.b64encode(expected.encode()).decode()
        data = orjson.loads(form["RequestData"])
        if op == "1007":
            order = {"OrderCode": data["OrderCode"], "LogisticCode": "ZT" + data["OrderCode"][-6:]}
            return httpx.Response(200, json={"Success": True, "ResultCode": "100", "Order": order})
        if op == "1816":
            answer = {"Success": True, "ResultCode": "100", "Reason": ""}
            return httpx.Response(200, json={**answer, "InterceptStatus": "requested"})
        return httpx.Response(200, json={"Success": True, "Reason": ""})

    def _erp(self, request: httpx.Request, op: str) -> httpx.Response:
        body = orjson.loads(request.content)
        if op == "LoginBySign":
            acct, user, app_id, stamp, sign, lcid = body["parameters"]
            assert (acct, user, app_id, lcid) == ("acct", "user", K3_APP_ID, 2052)
            # five values sorted and joined, SHA-256: re-derived from the public clients
            signed = "".join(sorted([acct, user, app_id, K3_APP_SECRET, stamp]))
            assert sign == hashlib.sha256(signed.encode()).hexdigest()
            self.k3_signs.append(sign)
            return httpx.Response(
                200,
                json={"LoginResultType": 1},
                headers={"set-cookie": f"kdservice-sessionid={self.session}; path=/"},
            )
        if request.headers.get("cookie") != f"kdservice-sessionid={self.session}":
            status = {"IsSuccess": False, "MsgCode": 1, "Errors": [{"Message": "会话信息已丢失"}]}
            return httpx.Response(200, json={"Result": {"ResponseStatus": status}})
        ok = {"Result": {"ResponseStatus": {"IsSuccess": True, "MsgCode": 0, "Errors": []}}}
        if op == "ExecuteBillQuery":
            data = body["data"]
            bill_no = data["FilterString"].split("'")[1]
            status_code = self.bills.get((data["FormId"], bill_no))
            return httpx.Response(200, json=[[bill_no, status_code]] if status_code else [])
        form = body["formid"]
        if op == "Save":
            model = body["data"]["Model"]
            self.bills[(form, model["FBillNo"])] = "A"
            self.models[(form, model["FBillNo"])] = model
        else:
            bill_no = body["data"]["Numbers"][0]
            self.bills[(form, bill_no)] = {"Submit": "B", "Audit": "C"}[op]
        return httpx.Response(200, json=ok)

    def ops(self, system: str) -> list[str]:
        return [op for s, op in self.calls if s == system]


def make_workflow(
    store: StateStore,
    http: HttpClient,
    mapper: TradeMapper | None = None,
    policy: RetryPolicy = FAST,
    transfer_flow: Callable[[Workflow], TransferFlow] = TransferFlow,
    count_flow: Callable[[Workflow], CountFlow] = CountFlow,
    purchase_return_flow: Callable[[Workflow], PurchaseReturnFlow] = PurchaseReturnFlow,
) -> Workflow:
    """The reference workflow against the scripted peers behind `http`, on the fast clock
    unless `policy` says otherwise (and with another transfer flow, for a faulty one)."""
    clients = Peers(
        oms=OmsClient(http, "http://oms", "sid", "key", OMS_SECRET),
        wms=QimenClient(http, "http://wms", "qm", WMS_SECRET, "CUST"),
        carrier=KdniaoClient(http, "http://carrier", "1234567", API_KEY),
        erp=k3_client(http),
    )
    return Workflow(
        store,
        clients,
        mapper or TradeMapper(),
        policy,
        max_in_flight=4,
        transfer_flow=transfer_flow,
        count_flow=count_flow,
        purchase_return_flow=purchase_return_flow,
    )


def connector_settings(state_dir: Path, time_scale: float = 6000.0) -> Settings:
    """Settings for building a connector's parts in process (no peer is called through them)."""
    text = {f.name: "x" for f in dataclasses.fields(Settings) if f.type == "str"}
    return Settings(
        **text,
        erp_lcid=2052,
        port=0,
        state_dir=state_dir,
        time_scale=time_scale,
    )


def qimen_md5(secret: str, params: dict[str, str], body: str) -> str:
    """Re-derived from the public description, not imported: sorted k+v, secret on both ends."""
    joined = "".join(k + params[k] for k in sorted(params) if k != "sign")
    return hashlib.md5((secret + joined + body + secret).encode()).hexdigest().upper()
