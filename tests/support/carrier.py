"""Carrier test helpers: Kdniao accounts and paths, a reference DataSign, signed form posts."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any
from urllib.parse import urlencode

import httpx

from fake_systems.carrier.models import CarrierConfig
from fake_systems.common.credentials import KdniaoCredentials
from tests.support.site import Site

EBID = "1234567"
KEY = "test-api-key"
CREDENTIALS = KdniaoCredentials(ebusiness_id=EBID, api_key=KEY)
EORDER = "/api/EOrderService"
DIST = "/api/dist"
QUERY = "/Ebusiness/EbusinessOrderHandle.aspx"
# Where each RequestType is posted (docs/protocols/carrier.md).
PATH_OF = {
    "1007": EORDER,
    "1147": EORDER,
    "1816": EORDER,
    "1950": EORDER,
    "1008": DIST,
    "8008": DIST,
    "1002": QUERY,
    "8001": QUERY,
    "2002": QUERY,
}
OTHER = KdniaoCredentials(ebusiness_id="7654321", api_key="other-api-key", owners=("OWNER-B",))
# Fixed durations: collected at 1 h, left origin at 2.5 h, arrived at 11 h, out at 12 h,
# signed at 14 h after hand-over.
FIXED = CarrierConfig(
    collect_hours=(1.0, 1.0),
    transit_hours=(10.0, 10.0),
    transit_mode_hours=10.0,
    dispatch_hours=(1.0, 1.0),
    delivery_hours=(2.0, 2.0),
)


def sign(request_data: str, key: str = KEY) -> str:
    """Re-derived from the public description, not imported from the code under test."""
    return base64.b64encode(
        hashlib.md5((request_data + key).encode()).hexdigest().encode()
    ).decode()


def envelope(
    request_type: str,
    data: object,
    account: KdniaoCredentials = CREDENTIALS,
    **override: str,
) -> dict[str, str]:
    """The signed form of a Kdniao call; `override` replaces its fields after signing."""
    request_data = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
    form = {
        "RequestData": request_data,
        "EBusinessID": account.ebusiness_id,
        "RequestType": request_type,
        "DataSign": sign(request_data, account.api_key),
        "DataType": "2",
    }
    form.update(override)
    return form


def request(
    client: httpx.AsyncClient,
    request_type: str,
    data: object,
    account: KdniaoCredentials = CREDENTIALS,
) -> httpx.Request:
    """A signed Kdniao form of `request_type`, to its path, not sent."""
    return client.build_request(
        "POST",
        PATH_OF[request_type],
        content=urlencode(envelope(request_type, data, account)).encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded;charset=utf-8"},
    )


async def post(client: httpx.AsyncClient, path: str, form: dict[str, str]) -> dict[str, Any]:
    """Post `form` url-encoded to `path`; the JSON answer, which must come with HTTP 200."""
    response = await client.post(
        path,
        content=urlencode(form).encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded;charset=utf-8"},
    )
    assert response.status_code == 200
    answer: dict[str, Any] = response.json()
    return answer


# A 1007 request as a merchant sends it: every field Kdniao marks required (PayType, ExpType,
# Quantity, a Sender and a Receiver with a phone and an address, the Commodity) and more.
ORDER = {
    "OrderCode": "T20261110000001",
    "ShipperCode": "SF",
    "PayType": 3,
    "ExpType": 1,
    "Sender": {
        "Name": "仓库",
        "Mobile": "13900000000",
        "ProvinceName": "广东省",
        "CityName": "广州市",
        "ExpAreaName": "白云区",
        "Address": "太和镇物流园1号",
    },
    "Receiver": {
        "Name": "张三",
        "Tel": "0571-88888888",
        "ProvinceName": "浙江省",
        "CityName": "杭州市",
        "ExpAreaName": "西湖区",
        "Address": "文三路 1 号",
    },
    "Commodity": [{"GoodsName": "杯子", "Goodsquantity": 1}],
    "Weight": 1.2,
    "Quantity": 1,
}


# ---------------------------------------------------------------- one valid request per type
# Each builds what its RequestType needs on `site` (a waybill), then the request the
# connector's account signs; tests/support/operations.py holds the table of them.


async def valid_waybill(site: Site) -> httpx.Request:
    """1007: an electronic waybill for ORDER."""
    return request(site.clients["carrier"], "1007", ORDER, site.credentials.carrier)


async def _waybill(site: Site) -> str:
    """A waybill issued through 1007; its number."""
    answer = (await site.clients["carrier"].send(await valid_waybill(site))).json()
    return str(answer["Order"]["LogisticCode"])


async def _about_waybill(
    site: Site, request_type: str, *fields: str, travelled: bool = False
) -> httpx.Request:
    """A request naming `fields` of a fresh waybill; `travelled`: the parcel was handed over
    three hours ago, so it has traces."""
    code = await _waybill(site)
    if travelled:
        site.ecosystem.carrier.hand_over(code, str(ORDER["ShipperCode"]), 1.2)
        site.clock.advance(3 * 3600)
    known = {
        "ShipperCode": ORDER["ShipperCode"],
        "OrderCode": ORDER["OrderCode"],
        "LogisticCode": code,
        "ExpNo": code,
    }
    data = {name: known[name] for name in fields}
    return request(site.clients["carrier"], request_type, data, site.credentials.carrier)


async def valid_cancel(site: Site) -> httpx.Request:
    """1147: cancel a waybill not yet handed over."""
    return await _about_waybill(site, "1147", "ShipperCode", "OrderCode", "ExpNo")


async def valid_intercept(site: Site) -> httpx.Request:
    """1816 (ecomock's): intercept a waybill whose parcel is on its way."""
    return await _about_waybill(
        site, "1816", "ShipperCode", "LogisticCode", "OrderCode", travelled=True
    )


async def valid_statements(site: Site) -> httpx.Request:
    """1950 (ecomock's): the account's closed fee statements, first page."""
    return request(site.clients["carrier"], "1950", {"PageIndex": 1}, site.credentials.carrier)


async def valid_subscribe(site: Site) -> httpx.Request:
    """1008: subscribe to a waybill's tracking."""
    return await _about_waybill(site, "1008", "ShipperCode", "LogisticCode", "OrderCode")


async def valid_subscribe_plus(site: Site) -> httpx.Request:
    """8008: the value-added subscription."""
    return await _about_waybill(site, "8008", "ShipperCode", "LogisticCode", "OrderCode")


async def valid_track(site: Site) -> httpx.Request:
    """1002: a waybill's tracking now."""
    return await _about_waybill(site, "1002", "ShipperCode", "LogisticCode", travelled=True)


async def valid_track_plus(site: Site) -> httpx.Request:
    """8001: the value-added tracking query."""
    return await _about_waybill(site, "8001", "ShipperCode", "LogisticCode", travelled=True)


async def valid_recognise(site: Site) -> httpx.Request:
    """2002: which carrier a waybill number belongs to."""
    return await _about_waybill(site, "2002", "LogisticCode")
