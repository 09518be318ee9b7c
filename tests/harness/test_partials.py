"""End to end, partial shipments: a connector that acknowledges the WMS's partial confirms
(confirmType 1) and ships the trade whole on the final one fails partial_shipments_complete,
naming each trade and its second package's waybill, and nothing else. The reference
connector's partial shipments are checked on scenarios/after_sales.yaml's run
(test_after_sales.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from contract_tests.database import attach_run
from tests.support.runs import failed, invariant, play
from tests.support.scenarios import smoke_variant

pytestmark = pytest.mark.e2e


def test_a_connector_that_ignores_partial_confirms_fails_naming_the_packages(
    tmp_path: Path,
) -> None:
    # Smoke's shape, an hour of it, half the orders of two units or more in two packages.
    scenario = smoke_variant(
        tmp_path,
        "partials",
        duration="1h",
        faults=[],
        demand={"orders_per_hour": 30, "mean_lines": 2.5},
        fulfilment={"partial_delivery_share": 0.5},
    )
    run = tmp_path / "run"
    exit_code, report = play(scenario, "faulty/ignores_partial_confirms", run)
    assert exit_code == 1
    assert failed(report) == {"partial_shipments_complete"}
    inv = invariant(report, "partial_shipments_complete")
    assert inv["checked"] == report["flows"]["partial"] > 0
    assert inv["breakdown"] == {"package waybill not in the OMS": inv["checked"]}
    conn = attach_run(run)
    try:
        for example in inv["examples"]:
            first, second = example["observed"]["packages"].values()
            # The trade was shipped whole under the order's own waybill (the first package's);
            # the second package's never reached the OMS.
            assert example["observed"]["missing_waybills"] == [second]
            row = conn.execute(
                "SELECT trade_status, logistics_no FROM oms.orders WHERE trade_no = ?",
                (example["entity"],),
            ).fetchone()
            assert tuple(row) == (95, first) or tuple(row) == (110, first)
            # Its outstock still books what both packages shipped.
            assert example["observed"]["outstock"] == example["expected"]["outstock"]
    finally:
        conn.close()
