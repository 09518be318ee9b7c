"""Split trades at the connector: the reference sends each sub-order (trade_mask 2048) as its
own delivery order; ships_split_trade_whole sends the first with every line and drops the
others."""

from __future__ import annotations

import importlib.util
from typing import Any

import yaml
from lxml import etree

from connectors.faulty.ships_split_trade_whole import ShipsSplitTradeWhole
from connectors.reference.mapper import TradeMapper
from tests.support.connector import make_trade
from tests.support.paths import ROOT


def sub_orders() -> tuple[dict[str, Any], dict[str, Any]]:
    """make_trade's platform order split in two: SKU-A in WH-GZ, SKU-B in WH-WH."""
    whole = make_trade(trade_mask=2048)
    first = {**whole, "detail_list": whole["detail_list"][:1]}
    second = {
        **whole,
        "trade_no": "2026111000000002",
        "warehouse_no": "WH-WH",
        "logistics_code": "YTO",
        "detail_list": whole["detail_list"][1:],
    }
    return first, second


def sent(mapper: TradeMapper, trade: dict[str, Any]) -> tuple[str | None, list[tuple[str, str]]]:
    """(warehouseCode, [(orderLineNo, itemCode)]) of the trade's delivery order."""
    root = etree.fromstring(mapper.delivery_order_xml(trade, str(trade["trade_no"]), "ZTO1"))
    lines = [
        (line.findtext("orderLineNo") or "", line.findtext("itemCode") or "")
        for line in root.iter("orderLine")
    ]
    return root.findtext("deliveryOrder/warehouseCode"), lines


def test_the_reference_sends_each_sub_order_with_its_own_lines() -> None:
    first, second = sub_orders()
    mapper = TradeMapper()
    assert mapper.accepts(first) and mapper.accepts(second)
    assert sent(mapper, first) == ("WH-GZ", [("11", "SKU-A")])
    assert sent(mapper, second) == ("WH-WH", [("12", "SKU-B")])


def test_ships_split_trade_whole_sends_the_first_with_every_line() -> None:
    first, second = sub_orders()
    faulty = ShipsSplitTradeWhole()
    assert faulty.accepts(first) and not faulty.accepts(second)
    assert faulty.accepts(first)  # seen again in an overlapping window: still the one
    assert sent(faulty, first) == ("WH-GZ", [("11", "SKU-A"), ("12", "SKU-B")])
    # Trades that are not split, and its ERP bookings, are the reference's.
    plain = make_trade("2026111000000003", src_tids="TB99002")
    assert faulty.accepts(plain)
    assert sent(faulty, plain) == sent(TradeMapper(), plain)
    assert faulty.outstock_model(first, "d") == TradeMapper().outstock_model(first, "d")


def test_its_profile_names_its_module_and_the_callbacks() -> None:
    path = ROOT / "connectors/faulty/ships_split_trade_whole/connector.yaml"
    profile = yaml.safe_load(path.read_text(encoding="utf-8"))
    module = "connectors.faulty.ships_split_trade_whole"
    assert profile["command"] == ["{python}", "-m", module]
    assert importlib.util.find_spec(f"{module}.__main__") is not None
    assert profile["callbacks"] == {
        "wms_confirm": "http://127.0.0.1:{port}/qimen/callback",
        "carrier_push": "http://127.0.0.1:{port}/kdniao/push",
    }
