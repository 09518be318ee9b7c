"""End to end under push faults (scenarios/chaos/webhook_storm.yaml): the reference connector
passes, and each push-defect connector fails on the invariant that names its defect."""

from __future__ import annotations

from pathlib import Path

import pytest

from contract_tests.database import attach_run
from fake_systems.ecosystem import PUSHES, protocol_operations
from simulator.scenario import load_scenario
from tests.support.paths import SCENARIOS
from tests.support.runs import failed, play

STORM = SCENARIOS / "chaos" / "webhook_storm.yaml"

pytestmark = pytest.mark.e2e


def test_reference_connector_passes_the_webhook_storm(tmp_path: Path) -> None:
    exit_code, report = play(STORM, "reference", tmp_path / "run")
    assert report["verdict"] == "pass", failed(report)
    assert exit_code == 0
    # The storm really blew: every rule of the plan hit its push, and every forged push
    # was refused.
    conn = attach_run(tmp_path / "run")
    try:
        hits = {
            (schema, row[0], row[1])
            for schema in ("wms", "carrier")
            for row in conn.execute(
                f"SELECT DISTINCT operation, outcome FROM {schema}.events WHERE kind = 'fault'"
            )
        }
        answers = [
            row[0]
            for schema in ("wms", "carrier")
            for row in conn.execute(
                f"SELECT outcome FROM {schema}.events WHERE kind = 'push_forged'"
            )
        ]
    finally:
        conn.close()
    planned = load_scenario(STORM, protocol_operations(), PUSHES).faults
    assert {(f.system, f.operation, f.kind) for f in planned} <= hits
    assert answers and all(answer == "refused:200" for answer in answers)
    checked = next(i for i in report["invariants"] if i["name"] == "no_action_on_forged_push")
    assert checked["checked"] > 0


@pytest.mark.parametrize(
    ("connector", "invariant"),
    [
        ("faulty/accepts_forged_pushes", "no_action_on_forged_push"),
        ("faulty/books_twice_on_duplicate_confirm", "no_duplicate_erp_documents"),
    ],
)
def test_push_defect_fails_on_its_invariant(tmp_path: Path, connector: str, invariant: str) -> None:
    exit_code, report = play(STORM, connector, tmp_path / "run")
    assert (exit_code, report["verdict"]) == (1, "fail")
    # A sale booked twice takes its units off the ERP's books twice: the ledgers part too
    # where enough units were booked again (more than 0.5 % of an item's stock). A trade
    # completed on a forged "signed" push before the carrier's own is completed before it was
    # signed for too, whenever a forged push lands before the parcel's real signing.
    also = {"three_ledgers_agree", "completed_only_when_signed"}
    assert failed(report) - also == {invariant}
    result = next(inv for inv in report["invariants"] if inv["name"] == invariant)
    assert result["violations"] > 0
    assert result["examples"] and all(example["entity"] for example in result["examples"])
