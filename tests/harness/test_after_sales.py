"""End to end, scenarios/after_sales.yaml: buyers cancel paid trades before shipment; the
reference connector stops them (at the WMS too), a connector that ignores cancellations
ships them and fails on cancelled_not_shipped, naming them."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from contract_tests.database import attach_run
from simulator.demand import DemandModel
from simulator.scenario import load_scenario
from tests.support import paths
from tests.support.runs import failed, invariant, play

AFTER_SALES = paths.SCENARIOS / "after_sales.yaml"

pytestmark = pytest.mark.e2e


def planned_cancellations() -> dict[str, int]:
    """Which trades the scenario's buyers cancel, per stage: its demand model replayed."""
    scenario = load_scenario(AFTER_SALES)
    model = DemandModel(scenario.world.build(scenario.seed), scenario.demand, scenario.seed)
    stages = Counter(a.cancel.stage for a in model.arrivals(scenario.duration) if a.cancel)
    return dict(sorted(stages.items()))


def test_reference_connector_stops_cancelled_trades(tmp_path: Path) -> None:
    exit_code, report = play(AFTER_SALES, "reference", tmp_path / "run")
    assert report["verdict"] == "pass", failed(report)
    assert exit_code == 0
    orders = report["orders"]
    by_stage = planned_cancellations()
    planned = sum(by_stage.values())
    # Every cancellation the scenario plans happened in the OMS, none more; both stages.
    assert report["cancellations"] == {
        "planned": planned,
        "planned_by_stage": by_stage,
        "cancelled": planned,
    }
    assert set(by_stage) == {"before_pickup", "before_picking"}
    assert orders["cancelled"] == planned >= 5
    # All the others shipped and were booked; the cancelled ones nowhere.
    assert orders["shipped"] == orders["invoiced"] == orders["created"] - planned
    assert invariant(report, "cancelled_not_shipped")["checked"] == planned
    # Some had reached the WMS and were cancelled there, within the objective.
    at_wms = report["latency_seconds"]["cancel_to_wms"]
    assert at_wms["count"] > 0 and at_wms["p99"] <= 3.0
    conn = attach_run(tmp_path / "run")
    canceled = conn.execute(
        "SELECT COUNT(*) FROM wms.delivery_orders AS d JOIN oms.orders AS o"
        " ON o.trade_no = d.delivery_order_code WHERE d.status = 'CANCELED' AND o.trade_status = 5"
    ).fetchone()[0]
    conn.close()
    assert canceled == at_wms["count"]


def test_a_connector_that_ignores_cancellations_fails_naming_the_trades(tmp_path: Path) -> None:
    exit_code, report = play(AFTER_SALES, "faulty/ships_cancelled_orders", tmp_path / "run")
    assert exit_code == 1
    # Every other check passes on it: only the cancellation check sees the defect.
    assert failed(report) == {"cancelled_not_shipped"}
    inv = invariant(report, "cancelled_not_shipped")
    assert inv["breakdown"]["shipped"] == inv["violations"] > 0
    named = [example["entity"] for example in inv["examples"]]
    conn = attach_run(tmp_path / "run")
    for trade_no in named:
        status, shipped = conn.execute(
            "SELECT o.trade_status, d.status FROM oms.orders AS o JOIN wms.delivery_orders AS d"
            " ON d.delivery_order_code = o.trade_no WHERE o.trade_no = ?",
            (trade_no,),
        ).fetchone()
        assert (status, shipped) == (5, "DELIVERED")
    conn.close()
    assert report["latency_seconds"]["cancel_to_wms"]["count"] == 0
