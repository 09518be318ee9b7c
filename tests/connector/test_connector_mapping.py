"""The reference mapping: trade -> Kdniao, Qimen XML and K3 models, amounts to the cent."""

from __future__ import annotations

from typing import Any

import pytest
from lxml import etree

from connectors.reference.mapper import TradeMapper, unit_price_cents
from connectors.reference.settings import Settings, SettingsError
from tests.support.connector import make_trade


def test_paid_amounts_are_shares_with_freight_on_the_last_line() -> None:
    amounts = TradeMapper().paid_amounts_cents(make_trade())
    assert amounts == [2510, 17480 + 800]
    assert sum(amounts) == 20790  # the trade's paid, to the cent


def test_paid_amounts_without_freight_are_the_shares() -> None:
    trade = make_trade(post_amount="0.00", paid="199.90")
    assert TradeMapper().paid_amounts_cents(trade) == [2510, 17480]


def test_amounts_add_up_exactly_where_floats_would_not() -> None:
    lines = [
        {"rec_id": i, "spec_no": f"S{i}", "num": 1, "price": "0.10", "share_amount": "0.10"}
        for i in range(3)
    ]
    trade = make_trade(detail_list=lines, post_amount="0.20", paid="0.50")
    model = TradeMapper().receivable_model(trade, "2026-11-11 10:00:00")
    texts = [entry["FALLAMOUNTFOR"] for entry in model["FEntityDetail"]]
    assert texts == ["0.10", "0.10", "0.30"]


def test_unit_price_rounds_half_up_to_the_cent() -> None:
    assert unit_price_cents(1000, 3) == 333
    assert unit_price_cents(1001, 2) == 501  # 5.005 -> 5.01
    assert unit_price_cents(2510, 1) == 2510


@pytest.mark.parametrize(
    ("platform_id", "sub_platform_id", "code"),
    [(1, 1, "TM"), (1, 0, "TB"), (3, 0, "JD"), (69, 0, "DY"), (39, 0, "PDD"), (127, 0, "OTHER")],
)
def test_wdt_platform_ids_become_qimen_platform_codes(
    platform_id: int, sub_platform_id: int, code: str
) -> None:
    trade = make_trade(platform_id=platform_id, sub_platform_id=sub_platform_id)
    assert TradeMapper().source_platform_code(trade) == code


def test_a_receiver_without_a_district_gets_the_citys_name_for_kdniao() -> None:
    # Kdniao requires ExpAreaName; the district of a fuzzy address is in the address line.
    trade = make_trade(receiver_area="广东省 深圳市 ")
    receiver = TradeMapper().waybill_request(trade)["Receiver"]
    assert (receiver["CityName"], receiver["ExpAreaName"]) == ("深圳市", "深圳市")


def test_the_waybill_request_takes_the_area_names() -> None:
    receiver = TradeMapper().waybill_request(make_trade())["Receiver"]
    assert (receiver["ProvinceName"], receiver["CityName"], receiver["ExpAreaName"]) == (
        "广东省",
        "深圳市",
        "南山区",
    )


def test_delivery_order_xml_carries_the_contract_fields() -> None:
    body = TradeMapper().delivery_order_xml(make_trade(), "2026111000000001", "ZT123456789")
    root = etree.fromstring(body.encode())
    order = root.find("deliveryOrder")
    assert order is not None

    def text(path: str, node: Any = order) -> str | None:
        return node.findtext(path)

    assert text("deliveryOrderCode") == "2026111000000001"
    assert text("orderType") == "JYCK"
    assert text("warehouseCode") == "WH-GZ"
    assert text("sourcePlatformCode") == "TM"
    assert text("shopNick") == "TM-1"
    assert text("logisticsCode") == "ZTO"
    assert text("expressCode") == "ZT123456789"
    assert text("payTime") == "2026-11-10 20:00:05"
    assert text("totalAmount") == "207.90"
    assert text("freight") == "8.00"
    # 旗舰版 sends trade_time in ms and the area names only in receiver_area.
    assert text("createTime") == text("placeOrderTime") == "2026-11-10 20:00:01"
    assert text("receiverInfo/name") == "张三"
    assert (text("receiverInfo/province"), text("receiverInfo/city")) == ("广东省", "深圳市")
    assert text("receiverInfo/area") == "南山区"
    # Markup in an address is escaped, not interpreted.
    assert text("receiverInfo/detailAddress") == "科技园 <A&B> 座 1 号"
    lines = root.findall("orderLines/orderLine")
    assert [line.findtext("orderLineNo") for line in lines] == ["11", "12"]
    assert [line.findtext("itemCode") for line in lines] == ["SKU-A", "SKU-B"]
    assert [line.findtext("planQty") for line in lines] == ["3", "1"]
    assert [line.findtext("actualPrice") for line in lines] == ["25.10", "174.80"]
    assert {line.findtext("sourceOrderCode") for line in lines} == {"TB99001"}
    assert {line.findtext("ownerCode") for line in lines} == {"OWNER1"}
    assert {line.findtext("inventoryType") for line in lines} == {"ZP"}


def test_delivery_order_code_is_the_trade_no_on_every_attempt() -> None:
    mapper = TradeMapper()
    trade = make_trade()
    assert {mapper.delivery_order_code(trade, n) for n in (1, 2, 3, 4)} == {"2026111000000001"}


def test_outstock_model() -> None:
    model = TradeMapper().outstock_model(make_trade(), "2026-11-11 09:00:00")
    assert model["FBillNo"] == "2026111000000001"
    assert model["FDate"] == "2026-11-11 09:00:00"
    assert model["FCustomerID"] == {"FNumber": "TM-1"}
    entries = model["FEntity"]
    assert [e["FMaterialID"]["FNumber"] for e in entries] == ["SKU-A", "SKU-B"]
    assert [e["FRealQty"] for e in entries] == [3, 1]
    assert [e["FAllAmount"] for e in entries] == ["25.10", "182.80"]
    assert [e["FTaxPrice"] for e in entries] == ["8.37", "182.80"]
    assert {e["FStockID"]["FNumber"] for e in entries} == {"WH-GZ"}


def test_receivable_model_totals_the_paid_amount() -> None:
    model = TradeMapper().receivable_model(make_trade(), "2026-11-11 09:00:00")
    assert model["FBillNo"] == "2026111000000001"
    assert model["FCUSTOMERID"] == {"FNumber": "TM-1"}
    assert model["FCURRENCYID"] == {"FNumber": "PRE001"}
    entries = model["FEntityDetail"]
    assert [e["FMATERIALID"]["FNumber"] for e in entries] == ["SKU-A", "SKU-B"]
    assert [e["FPriceQty"] for e in entries] == [3, 1]
    total = sum(int(e["FALLAMOUNTFOR"].replace(".", "")) for e in entries)
    assert total == 20790


def test_waybill_and_subscribe_requests() -> None:
    mapper = TradeMapper()
    trade = make_trade()
    request = mapper.waybill_request(trade)
    assert request["OrderCode"] == "2026111000000001"
    assert request["ShipperCode"] == "ZTO"
    assert request["Receiver"]["Name"] == "张三"
    assert request["Receiver"]["ExpAreaName"] == "南山区"
    assert [c["Goodsquantity"] for c in request["Commodity"]] == [3, 1]
    assert mapper.subscribe_request(trade, "ZT1") == {
        "OrderCode": "2026111000000001",
        "ShipperCode": "ZTO",
        "LogisticCode": "ZT1",
    }


def test_a_trade_without_lines_is_refused() -> None:
    with pytest.raises(ValueError, match="detail_list"):
        TradeMapper().receivable_model(make_trade(detail_list=[]), "2026-11-11 09:00:00")


def test_only_paid_trades_are_accepted() -> None:
    mapper = TradeMapper()
    assert mapper.accepts(make_trade())
    assert not mapper.accepts(make_trade(trade_status=95))


ENV = {
    "ECOMOCK_OMS_URL": "http://127.0.0.1:1/",
    "ECOMOCK_OMS_SID": "sid",
    "ECOMOCK_OMS_APP_KEY": "key",
    "ECOMOCK_OMS_APP_SECRET": "secret:salt",
    "ECOMOCK_OMS_QIMEN_APP_KEY": "30000001",
    "ECOMOCK_OMS_QIMEN_SECRET": "qm-secret",
    "ECOMOCK_OMS_QIMEN_TARGET_APP_KEY": "23000000",
    "ECOMOCK_WMS_URL": "http://127.0.0.1:2",
    "ECOMOCK_WMS_APP_KEY": "qm",
    "ECOMOCK_WMS_SECRET": "qs",
    "ECOMOCK_WMS_CUSTOMER_ID": "CUST",
    "ECOMOCK_CARRIER_URL": "http://127.0.0.1:3",
    "ECOMOCK_CARRIER_EBUSINESS_ID": "1234567",
    "ECOMOCK_CARRIER_API_KEY": "kd",
    "ECOMOCK_ERP_URL": "http://127.0.0.1:4",
    "ECOMOCK_ERP_ACCT_ID": "acct",
    "ECOMOCK_ERP_USERNAME": "user",
    "ECOMOCK_ERP_APP_ID": "301234_ZWNvbW9jay1rMy1hcHAtc2VjcmV0LTI0",
    "ECOMOCK_ERP_APP_SECRET": "k3-secret",
    "ECOMOCK_ERP_LCID": "2052",
    "ECOMOCK_CONNECTOR_PORT": "18080",
    "ECOMOCK_STATE_DIR": "/tmp/state",
    "ECOMOCK_TIME_SCALE": "60",
    "REFERENCE_POLL_SECONDS": "0.5",
}


def test_settings_from_env() -> None:
    settings = Settings.from_env(ENV)
    assert settings.oms_url == "http://127.0.0.1:1"  # trailing slash dropped
    assert settings.port == 18080
    assert settings.time_scale == 60.0
    assert settings.poll_seconds == 0.5
    assert settings.erp_lcid == 2052
    assert settings.wall_seconds(60) == 1.0


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("ECOMOCK_WMS_SECRET", "", "ECOMOCK_WMS_SECRET is required"),
        ("ECOMOCK_CONNECTOR_PORT", "http", "must be a TCP port"),
        ("ECOMOCK_TIME_SCALE", "-1", "must be positive"),
        ("REFERENCE_POLL_SECONDS", "soon", "must be a number"),
    ],
)
def test_settings_name_the_bad_variable(name: str, value: str, message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        Settings.from_env({**ENV, name: value})


# What the Qimen WMS standard (奇门仓储接口标准) marks 必填 on deliveryorder.create, and what
# Kdniao marks required on 1007: the connector must send every one, non-empty.
QIMEN_REQUIRED_ORDER = (
    "deliveryOrderCode",
    "orderType",
    "warehouseCode",
    "sourcePlatformCode",
    "createTime",
    "placeOrderTime",
    "operateTime",
    "shopNick",
    "logisticsCode",
)
QIMEN_REQUIRED_CONTACT = ("name", "mobile", "province", "city", "detailAddress")
QIMEN_REQUIRED_LINE = ("ownerCode", "itemCode", "planQty", "actualPrice")
KDNIAO_REQUIRED_PARTY = ("Name", "ProvinceName", "CityName", "ExpAreaName", "Address")


def test_delivery_order_xml_carries_every_field_qimen_requires() -> None:
    body = TradeMapper().delivery_order_xml(make_trade(), "2026111000000001", "ZT123456789")
    order = etree.fromstring(body.encode()).find("deliveryOrder")
    assert order is not None
    missing = [name for name in QIMEN_REQUIRED_ORDER if not order.findtext(name)]
    for block in ("senderInfo", "receiverInfo"):
        missing += [
            f"{block}/{name}"
            for name in QIMEN_REQUIRED_CONTACT
            if not order.findtext(f"{block}/{name}")
        ]
    for line in etree.fromstring(body.encode()).findall("orderLines/orderLine"):
        missing += [name for name in QIMEN_REQUIRED_LINE if not line.findtext(name)]
    assert missing == []
    assert order.findtext("createTime") == "2026-11-10 20:00:01"
    assert order.findtext("operateTime") == "2026-11-10 20:00:05"  # paid: the ERP's to ship


def test_trade_times_in_milliseconds_become_qimen_times() -> None:
    # 旺店通旗舰版 writes times as milliseconds since the epoch; Qimen wants China time text.
    trade = make_trade(trade_time=1_794_657_600_000, pay_time="1794657605000")
    order = etree.fromstring(TradeMapper().delivery_order_xml(trade, "C1", "ZT1").encode()).find(
        "deliveryOrder"
    )
    assert order is not None
    assert order.findtext("createTime") == "2026-11-14 20:00:00"
    assert order.findtext("payTime") == "2026-11-14 20:00:05"


def test_waybill_request_carries_every_field_kdniao_requires() -> None:
    request = TradeMapper().waybill_request(make_trade())
    assert all(request.get(name) for name in ("PayType", "ExpType", "Quantity"))
    for party in ("Sender", "Receiver"):
        assert all(request[party].get(name) for name in KDNIAO_REQUIRED_PARTY), party
        assert request[party].get("Tel") or request[party].get("Mobile"), party
    assert request["Commodity"] and all(item["GoodsName"] for item in request["Commodity"])


@pytest.mark.parametrize(
    ("qimen", "kdniao"), [("YUNDA", "YD"), ("POSTB", "YZPY"), ("SF", "SF"), ("ZTO", "ZTO")]
)
def test_the_carrier_gets_kdniao_codes_the_wms_gets_qimen_codes(qimen: str, kdniao: str) -> None:
    mapper = TradeMapper()
    trade = make_trade(logistics_code=qimen)
    assert mapper.waybill_request(trade)["ShipperCode"] == kdniao
    assert mapper.subscribe_request(trade, "N1")["ShipperCode"] == kdniao
    body = mapper.delivery_order_xml(trade, "C1", "N1")
    assert etree.fromstring(body.encode()).findtext("deliveryOrder/logisticsCode") == qimen
