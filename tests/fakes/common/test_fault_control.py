"""`/_fake/faults` on every fake: the rules in force listed, added and removed live, each fake
with its own injector; a rule added there acts on the wire and lands in the history."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from fake_systems.common.faults import NO_FAULTS, FaultInjector, FaultRule, Stage
from fake_systems.ecosystem import SYSTEMS
from simulator.runner import serve_fakes
from simulator.scenario import load_scenario
from tests.support.operations import VALID
from tests.support.paths import SMOKE
from tests.support.site import Site

pytestmark = pytest.mark.anyio

CREATE = "deliveryorder.create"


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[Site]:
    opened = Site.open(tmp_path / "site")
    try:
        yield opened
    finally:
        await opened.close()


def fault_rows(site: Site, system: str) -> list[tuple[str, str, str | None]]:
    rows = site.ecosystem.contexts[system].conn.execute(
        "SELECT operation, outcome, entity FROM events WHERE kind = 'fault' ORDER BY seq"
    )
    return [(str(row[0]), str(row[1]), row[2]) for row in rows]


async def test_a_rule_added_live_acts_on_the_wire_is_counted_and_removed(site: Site) -> None:
    wms = site.clients["wms"]
    assert (await wms.get("/_fake/faults")).json() == []
    added = await wms.post(
        "/_fake/faults", json={"operation": CREATE, "kind": "lost_response", "every_nth": 1}
    )
    assert added.status_code == 201, added.text
    rule = added.json()
    assert (rule["system"], rule["operation"], rule["kind"], rule["every_nth"]) == (
        "wms",
        CREATE,
        "lost_response",
        1,
    )
    assert (rule["matched"], rule["fired"], rule["from"], rule["until"]) == (0, 0, 0.0, None)

    request = await VALID["wms"][CREATE].build(site)
    lost = await wms.send(request)
    assert lost.status_code == 504  # committed, and the answer lost as a gateway times out
    [row] = fault_rows(site, "wms")
    assert row[:2] == (CREATE, "lost_response") and row[2]  # the delivery order's code
    [listed] = (await wms.get("/_fake/faults")).json()
    assert (listed["id"], listed["matched"], listed["fired"]) == (rule["id"], 1, 1)

    removed = await wms.delete(f"/_fake/faults/{rule['id']}")
    assert removed.status_code == 200 and removed.json()["fired"] == 1
    assert (await wms.get("/_fake/faults")).json() == []
    again = await wms.send(request)
    assert again.status_code == 200 and "<flag>" in again.text
    assert len(fault_rows(site, "wms")) == 1
    gone = await wms.delete(f"/_fake/faults/{rule['id']}")
    assert gone.status_code == 404
    assert gone.json() == {"detail": f"no fault rule {rule['id']} on the wms fake"}


async def test_each_fake_owns_its_rules(site: Site) -> None:
    added = await site.clients["erp"].post(
        "/_fake/faults", json={"system": "erp", "operation": "Save", "kind": "busy", "rate": 0.5}
    )
    assert added.status_code == 201, added.text
    for system in SYSTEMS:
        listed = (await site.clients[system].get("/_fake/faults")).json()
        assert [rule["kind"] for rule in listed] == (["busy"] if system == "erp" else []), system
    injectors = {id(ctx.faults) for ctx in site.ecosystem.contexts.values()}
    assert len(injectors) == len(SYSTEMS)
    assert NO_FAULTS.rules == []


def test_the_shared_empty_plan_refuses_rules() -> None:
    with pytest.raises(TypeError, match="NO_FAULTS"):
        NO_FAULTS.add(FaultRule("wms", "*", "busy", rate=1.0))
    assert NO_FAULTS.listing() == []


def test_a_fake_keeps_the_plans_ids_and_dice() -> None:
    """Split per fake, a rule keeps its id and so its dice: the hits of a shared plan."""
    rules = [
        FaultRule("wms", CREATE, "http_503", rate=0.3),
        FaultRule("erp", "Save", "busy", rate=0.3),
        FaultRule("erp", "Audit", "busy", every_nth=2),
    ]
    shared = FaultInjector(rules, seed=9)
    erp = FaultInjector(rules, seed=9).for_system("erp")
    assert [rule["id"] for rule in erp.listing()] == [2, 3]
    hits = [erp.pick("erp", "Save", Stage.BEFORE) is not None for _ in range(60)]
    assert hits == [shared.pick("erp", "Save", Stage.BEFORE) is not None for _ in range(60)]
    assert 0 < sum(hits) < 60
    assert erp.add(FaultRule("erp", "*", "latency", rate=1.0)) == 4
    assert [rule["id"] for rule in shared.listing()] == [1, 2, 3]  # the plan is left alone


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"operation": CREATE, "kind": "rejected", "rate": 0.1}, "kind", "only bank"),
        ({"operation": CREATE, "kind": "teleport", "rate": 0.1}, "kind", "Input should be"),
        ({"operation": "deliveryorder.creat", "kind": "busy", "rate": 0.1}, "operation", "no"),
        ({"operation": CREATE, "kind": "busy"}, "every_nth", "either rate"),
        (
            {"operation": CREATE, "kind": "busy", "rate": 0.1, "every_nth": 2},
            "every_nth",
            "not both",
        ),
        (
            {"operation": CREATE, "kind": "busy", "rate": 0.1, "from": "1h", "until": "30m"},
            "until",
            "after",
        ),
        ({"operation": CREATE, "kind": "push_duplicate", "rate": 0.1}, "kind", "acts on pushes"),
        ({"operation": CREATE, "kind": "busy", "rate": 0.1, "colour": "red"}, "colour", "Extra"),
        ({"system": "oms", "operation": "*", "kind": "busy", "rate": 0.1}, "system", "oms fake"),
        (
            {"operation": "*", "kind": "clock_skew", "rate": 0.5, "params": {"seconds": 60}},
            "rate",
            "give rate: 1",
        ),
        ({"operation": "*", "kind": "clock_skew", "rate": 1}, "params", "needs seconds"),
    ],
)
async def test_a_bad_rule_is_refused_naming_the_field(
    site: Site, body: dict[str, object], field: str, words: str
) -> None:
    response = await site.clients["wms"].post("/_fake/faults", json=body)
    assert response.status_code == 422, response.text
    [error] = response.json()["detail"]
    assert error["loc"] == ["body", field]
    assert words in error["msg"]
    assert (await site.clients["wms"].get("/_fake/faults")).json() == []


async def test_a_served_fake_guards_its_faults_and_lists_the_scenarios_rules(
    tmp_path: Path,
) -> None:
    scenario = load_scenario(SMOKE)  # one rule: lost_response on the WMS's creates
    async with (
        serve_fakes(scenario, tmp_path, control_token="tok") as fakes,
        httpx.AsyncClient(timeout=5) as client,
    ):
        url = fakes.servers.urls["wms"] + "/_fake/faults"
        refused = await client.post(url, json={"operation": "*", "kind": "busy", "rate": 1})
        assert refused.status_code == 401
        assert fakes.ecosystem.contexts["wms"].faults.listing()[0]["kind"] == "lost_response"
        granted = await client.get(url, headers={"Authorization": "Bearer tok"})
        assert [(r["id"], r["operation"], r["rate"]) for r in granted.json()] == [(1, CREATE, 0.2)]
        endpoints = json.loads((tmp_path / "endpoints.json").read_text())
        assert endpoints["wms"]["control_token"] == "tok"
