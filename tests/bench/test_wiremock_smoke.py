"""The WireMock comparison's requests (load/bench/wiremock.py), in `make test`.

wrk and WireMock's JVM are `make bench`'s; what can break unseen is the request file they
replay: every line must be a create the fake takes (signed, fields complete, a waybill the
carrier issued for the owner). Here a few of them are sent and must all be stored.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from fake_systems.wms import qimen_xml
from load.bench.capacity import bench_scenario
from load.bench.wiremock import request_lines, sample_create
from simulator.demand import DemandModel
from simulator.runner import serve_fakes


@pytest.mark.anyio
async def test_the_replayed_creates_are_each_taken_by_the_fake(tmp_path: Path) -> None:
    scenario = bench_scenario(orders=10, rate_per_minute=1, seconds=60, seed=7)
    async with serve_fakes(scenario, tmp_path) as fakes:
        fakes.clock.start()
        fakes.ecosystem.oms.create_paid_order(
            DemandModel(fakes.world, scenario.demand, 7).next_trade()
        )
        qimen, trade, waybill, answer = await sample_create(fakes)
        assert qimen_xml.response_flag(answer.content) == "success"

        lines = list(request_lines(qimen, trade, "M", 5, waybill))
        async with httpx.AsyncClient(base_url=fakes.endpoints["wms"]["url"]) as http:
            for line in lines:
                target, body = line.split("\t")
                reply = await http.post(target, content=body.encode())
                assert qimen_xml.response_flag(reply.content) == "success", reply.text
        stored = fakes.ecosystem.wms.conn.execute(
            "SELECT count(*) FROM delivery_orders WHERE delivery_order_code LIKE 'M%'"
        ).fetchone()[0]
    assert stored == 5
