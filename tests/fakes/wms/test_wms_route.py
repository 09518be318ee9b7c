"""The WMS keeps the delivery order's receiver province (receiverInfo.province) and hands the
carrier the parcel's route, warehouse province to receiver province, which its fees go by."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from lxml import etree

from fake_systems.common.context import SystemContext
from fake_systems.common.credentials import QimenCredentials
from fake_systems.wms.api.qimen_body import parse_create
from fake_systems.wms.service import WmsService
from simulator.clock import ManualClock
from simulator.world import World
from tests.support.wms import FIXED, RecordingCarrier, order, order_xml


def test_receiver_province_is_parsed_from_receiver_info(world: World) -> None:
    root = etree.fromstring(f"<request>{order_xml(world)}</request>".encode())
    assert parse_create(root, "C1").receiver_province == "广东省"


def test_the_parcel_leaves_with_its_route(
    make_context: Callable[[str], SystemContext], world: World, clock: ManualClock
) -> None:
    carrier = RecordingCarrier()
    wms = WmsService(make_context("wms"), QimenCredentials(), FIXED, carrier)
    wms.setup(world)
    wms.create_delivery_order(replace(order(world), receiver_province="湖南省"))
    clock.advance(600)
    assert len(carrier.handed_over) == 1
    assert carrier.routes == [(world.warehouses[0].province, "湖南省")]
    assert world.warehouses[0].province == "广东省"
