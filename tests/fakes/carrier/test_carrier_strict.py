"""Kdniao strict values: codes with control characters, over-long codes and over-deep
RequestData get `Success: false` with ResultCode 103, never 105, and create nothing."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from fake_systems.carrier.service import CarrierService
from tests.support.carrier import EORDER, ORDER, envelope, post

pytestmark = pytest.mark.anyio


def waybills(carrier: CarrierService) -> int:
    return int(carrier.ctx.conn.execute("SELECT COUNT(*) FROM waybills").fetchone()[0])


def create(**fields: Any) -> dict[str, Any]:
    """A complete 1007 (tests/support/carrier.py ORDER) with `fields` replaced."""
    return {**ORDER, "OrderCode": "2026111000000001", **fields}


@pytest.mark.parametrize(
    "data",
    [
        create(OrderCode="A\x00B"),
        create(OrderCode="A\nB"),
        create(OrderCode="A\u0085B"),
        create(OrderCode="O" * 100_000),
        create(OrderCode="O" * 65),
        create(ShipperCode="S\x1b"),
        create(Receiver={**ORDER["Receiver"], "ProvinceName": "广东\x00省"}),
        create(Receiver={**ORDER["Receiver"], "CityName": "市" * 256}),
    ],
)
async def test_control_characters_and_over_long_codes_are_format_errors(
    client: httpx.AsyncClient, carrier: CarrierService, data: dict[str, Any]
) -> None:
    answer = await post(client, EORDER, envelope("1007", data))
    assert (answer["Success"], answer["ResultCode"]) == (False, "103")
    assert waybills(carrier) == 0


async def test_deeply_nested_request_data_is_a_format_error(
    client: httpx.AsyncClient, carrier: CarrierService
) -> None:
    data = '{"OrderCode": "O1", "ShipperCode": "SF", "Commodity": ' + "[" * 500 + "]" * 500 + "}"
    answer = await post(client, EORDER, envelope("1007", data))
    assert (answer["Success"], answer["ResultCode"]) == (False, "103")
    assert waybills(carrier) == 0


async def test_whole_numbers_still_count_as_codes(
    client: httpx.AsyncClient, carrier: CarrierService
) -> None:
    answer = await post(client, EORDER, envelope("1007", create(OrderCode=2026111000000001)))
    assert (answer["Success"], answer["ResultCode"]) == (True, "100")
    assert waybills(carrier) == 1


async def test_addresses_and_goods_are_text_not_codes(
    client: httpx.AsyncClient, carrier: CarrierService
) -> None:
    # Longer than a code (64) but within an address part (255): a real address can be.
    long = "文三路" * 30
    data = create(
        Receiver={**ORDER["Receiver"], "Address": long, "Name": "欧阳" * 40},
        Commodity=[{"GoodsName": long}],
    )
    answer = await post(client, EORDER, envelope("1007", data))
    assert (answer["Success"], answer["ResultCode"]) == (True, "100")
    assert waybills(carrier) == 1
