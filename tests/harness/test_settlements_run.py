"""End to end, a short cut of scenarios/month_end.yaml (two simulated days, settled T+0): the
platforms bill and pay, the bank notifies the connector, and the reference books each credit
as one receipt bill, every invariant holding; each faulty money connector fails on its own
check alone. Latency aside, for all three: this module plays three runs at 20,000x and a
loaded CI machine can push a p99 over 3 s, which the latency tests judge, not these."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from contract_tests.database import attach_run
from tests.support import paths
from tests.support.runs import Report, failed, invariant, play

pytestmark = pytest.mark.e2e

MONTH_END = paths.SCENARIOS / "month_end.yaml"
MONEY_CHECKS = ("settlement_conserved", "receivable_written_off_once", "bank_credits_booked")


def short_month_end(folder: Path) -> Path:
    """month_end.yaml cut to two simulated days at a lower rate and with faster parcels, every
    platform settling the next night (T+0) and a third of the bills adjusted, so a short run
    sees a bill per shop paid."""
    raw = yaml.safe_load(MONTH_END.read_text(encoding="utf-8"))
    raw.update(name="month_end_short", duration="2d")
    raw["world"].update(skus=30, customers=200)
    raw["demand"] = {"orders_per_hour": 1.2}
    # Parcels signed within hours, so most of the first day's trades complete by midnight.
    raw["carrier"] = {"transit_hours": {"low": 2, "high": 8}, "transit_mode_hours": 4}
    raw["settlement"]["terms"] = {
        code: {**terms, "days": 0} for code, terms in raw["settlement"]["terms"].items()
    }
    raw["settlement"]["adjustment_share"] = 0.3
    raw["run"] = {"drain_timeout": "60s", "stall_timeout": "8s"}
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "month_end_short.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def played(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], tuple[Path, Report]]:
    """Plays the short scenario once per connector in this module, on first use."""
    folder = tmp_path_factory.mktemp("settlements")
    scenario = short_month_end(folder)
    runs: dict[str, tuple[Path, Report]] = {}

    def run(connector: str) -> tuple[Path, Report]:
        if connector not in runs:
            out = folder / connector.replace("/", "-")
            _, report = play(scenario, connector, out)
            runs[connector] = (out, report)
        return runs[connector]

    return run


def test_reference_books_every_settlement_paid(
    played: Callable[[str], tuple[Path, Report]],
) -> None:
    run_dir, report = played("reference")
    assert report["verdict"] != "invalid", report.get("invalid_reasons")
    assert {name for name in failed(report) if not name.startswith("latency_")} == set()
    settlements: dict[str, Any] = report["settlements"]
    assert settlements["paid"] == settlements["issued"] >= 5
    conn = attach_run(run_dir)
    try:
        paid, credits, receipts, money_in, bank_in = conn.execute(
            "SELECT (SELECT COUNT(*) FROM oms.settlements WHERE status = 'paid'),"
            " (SELECT COUNT(*) FROM bank.entries WHERE direction = 'CRDT'),"
            " (SELECT COUNT(*) FROM erp.documents WHERE form_id = 'AR_RECEIVEBILL'"
            "   AND document_status = 'C'),"
            " (SELECT SUM(real_cents) FROM erp.receipt_entries),"
            " (SELECT SUM(amount_cents) FROM bank.entries WHERE direction = 'CRDT')"
        ).fetchone()
        pushes = conn.execute(
            "SELECT COUNT(*) FROM bank.events WHERE kind = 'push_out' AND operation = 'camt.054'"
        ).fetchone()[0]
    finally:
        conn.close()
    # Money flowed: every paid bill one credit, notified, booked as one receipt of its amount.
    assert paid == credits == receipts == settlements["paid"]
    assert pushes >= credits
    assert money_in == bank_in == settlements["paid_cents"]
    for name in MONEY_CHECKS:
        assert invariant(report, name)["checked"] > 0


@pytest.mark.parametrize(
    ("connector", "check", "kind"),
    [
        (
            "faulty/writes_off_twice",
            "receivable_written_off_once",
            "written off by more than one receipt bill",
        ),
        (
            "faulty/books_commission_as_revenue",
            "settlement_conserved",
            "commission not booked as an expense",
        ),
    ],
)
def test_each_faulty_money_connector_fails_its_own_check(
    played: Callable[[str], tuple[Path, Report]], connector: str, check: str, kind: str
) -> None:
    _, report = played(connector)
    assert report["verdict"] == "fail"
    assert {name for name in failed(report) if not name.startswith("latency_")} == {check}
    result = invariant(report, check)
    assert set(result["breakdown"]) == {kind}
    assert result["violations"] == result["checked"] > 0
    assert result["examples"][0]["settlement_no"].startswith("ST")
