"""Scenario validation of push faults: they name a push of their system, as coverage lists it."""

from __future__ import annotations

from pathlib import Path

import pytest

from fake_systems.ecosystem import PUSHES, protocol_operations
from simulator.fault_plan import Stage
from simulator.scenario import ScenarioError, load_scenario
from tests.support.paths import SCENARIOS

HEAD = "name: x\nduration: 1h\ndemand: {orders_per_hour: 5}\nfaults:\n"


def plan(tmp_path: Path, fault: str) -> Path:
    path = tmp_path / "plan.yaml"
    path.write_text(HEAD + f"  - {{{fault}}}\n", encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "operation", ["deliveryorder.confirm", "deliveryorder.confirm (push)", "*"]
)
def test_a_push_fault_names_a_push_bare_or_as_coverage_labels_it(
    tmp_path: Path, operation: str
) -> None:
    path = plan(tmp_path, f"system: wms, operation: '{operation}', kind: push_duplicate, rate: 1")
    scenario = load_scenario(path, protocol_operations(), PUSHES)
    rule = scenario.faults[0].rule()
    assert rule.operation == operation.removesuffix(" (push)")
    assert rule.stage is Stage.PUSH
    assert rule.matches("wms", "deliveryorder.confirm", Stage.PUSH)


@pytest.mark.parametrize(
    ("fault", "field", "message"),
    [
        # A request operation is not a push.
        (
            "system: wms, operation: deliveryorder.create, kind: push_forged, rate: 1",
            "kind",
            "push_forged acts on pushes, and 'deliveryorder.create' is a request wms serves",
        ),
        # Nor the other way round.
        (
            "system: wms, operation: deliveryorder.confirm, kind: lost_response, rate: 1",
            "kind",
            "'deliveryorder.confirm' is a push wms sends",
        ),
        (
            "system: oms, operation: '*', kind: push_delay, rate: 1",
            "kind",
            "oms has no push_delay fault; only wms, bank, carrier have it",
        ),
        (
            "system: oms, operation: trade.push, kind: push_delay, rate: 1",
            "operation",
            "oms has no operation 'trade.push'",
        ),
        # "1008 (push)" names Kdniao's subscription request, which is no push.
        (
            "system: carrier, operation: '1008 (push)', kind: push_loss, rate: 1",
            "kind",
            "push_loss acts on pushes, and '1008' is a request carrier serves",
        ),
    ],
)
def test_a_push_fault_on_something_that_is_not_a_push_is_refused_naming_the_field(
    tmp_path: Path, fault: str, field: str, message: str
) -> None:
    path = plan(tmp_path, fault)
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path, protocol_operations(), PUSHES)
    assert f"faults.0.{field}:" in str(caught.value)
    assert message in str(caught.value)


def test_the_webhook_storm_declares_push_faults_the_fakes_have() -> None:
    scenario = load_scenario(
        SCENARIOS / "chaos" / "webhook_storm.yaml", protocol_operations(), PUSHES
    )
    kinds = {fault.kind for fault in scenario.faults}
    assert {
        "push_duplicate",
        "push_reorder",
        "push_delay",
        "push_loss",
        "push_receiver_failure",
        "push_forged",
    } <= kinds
