"""End to end, a short cut of scenarios/month_end.yaml (two simulated days, settled T+0): the
platforms bill and pay, the bank notifies the connector, and the reference books each credit
as one receipt bill; the buyer restocks, the payables fall due at once and the reference pays
each through the bank, booking the settled ones and nothing for the rejected; every invariant
holds, the bills adjusted over a reconciliation threshold are flagged, and the carrier's daily
fee statements are booked as payables (and paid); the bank charges each payment and the
account, and the reference books each closed day's fees from its statement. Each faulty money
connector fails on its own check alone (paying twice also leaves the bank's statements
unexplained). Latency aside, for all seven: this module plays seven runs at 20,000x and a
loaded CI machine can push a p99 over 3 s, which the latency tests judge, not these."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from contract_tests.database import attach_run
from tests.support.paths import MONTH_END
from tests.support.runs import Report, failed, invariant, play
from tests.support.scenarios import scenario_variant, short_month_end

pytestmark = pytest.mark.e2e

MONEY_CHECKS = (
    "settlement_conserved",
    "receivable_written_off_once",
    "bank_credits_booked",
    "reconciliation_flags_differences",
    "payments_match_payables",
    "carrier_fees_booked",
    "bank_statements_close",
)


def short_month_end_file(folder: Path) -> Path:
    """month_end.yaml cut short (tests/support/scenarios.py, `short_month_end`)."""
    return scenario_variant(MONTH_END, folder, "month_end_short", **short_month_end())


@pytest.fixture(scope="module")
def played(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], tuple[Path, Report]]:
    """Plays the short scenario once per connector in this module, on first use."""
    folder = tmp_path_factory.mktemp("settlements")
    scenario = short_month_end_file(folder)
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
    assert failed(report) == set()
    settlements: dict[str, Any] = report["settlements"]
    assert settlements["paid"] == settlements["issued"] >= 5
    conn = attach_run(run_dir)
    try:
        paid, credits, receipts, money_in, bank_in = conn.execute(
            "SELECT (SELECT COUNT(*) FROM oms.settlements WHERE status = 'paid'),"
            " (SELECT COUNT(*) FROM bank.entries WHERE direction = 'CRDT'),"
            " (SELECT COUNT(*) FROM erp.documents WHERE form_id = 'AR_RECEIVEBILL'"
            "   AND document_status = 'C'),"
            " (SELECT SUM(e.real_cents) FROM erp.receipt_entries AS e JOIN erp.documents AS d"
            "   ON d.fid = e.fid AND d.form_id = 'AR_RECEIVEBILL'),"
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
    # Payables paid: each settled payment booked once, each rejected one booked as nothing.
    conn = attach_run(run_dir)
    try:
        statuses = dict(
            conn.execute("SELECT status, COUNT(*) FROM bank.payments GROUP BY status").fetchall()
        )
        bills, rejected_booked = conn.execute(
            "SELECT (SELECT COUNT(*) FROM erp.documents WHERE form_id = 'AP_PAYBILL'"
            "   AND document_status = 'C'),"
            " (SELECT COUNT(*) FROM bank.payments AS p JOIN erp.documents AS d"
            "   ON d.form_id = 'AP_PAYBILL' AND d.bill_no = p.end_to_end_id"
            "   WHERE p.status = 'RJCT')"
        ).fetchone()
    finally:
        conn.close()
    assert set(statuses) == {"ACSC", "RJCT"}
    assert bills == statuses["ACSC"] >= 5
    assert rejected_booked == 0
    for name in MONEY_CHECKS:
        assert invariant(report, name)["checked"] > 0
    # The cut adjusts two bills in five, some over a threshold: the reference flagged them.
    assert settlements["adjusted_over_thresholds"] > 0
    conn = attach_run(run_dir)
    try:
        (flagged,) = conn.execute(
            "SELECT COUNT(*) FROM erp.documents WHERE form_id = 'AR_RECEIVEBILL'"
            " AND json_extract(model, '$.FREMARK') LIKE '对账差异需审批%'"
        ).fetchone()
    finally:
        conn.close()
    assert flagged == settlements["adjusted_over_thresholds"]
    # The bank charged each settled payment and, on the 2nd, the account; the reference
    # fetched each closed day's statement and booked its fees, to the cent.
    money: dict[str, Any] = report["payments"]
    assert money["bank_fees"]["count"] > statuses["ACSC"]
    # (a day still open at the end is not booked yet: its fees wait for its statement)
    assert 0 < money["fees_booked"]["cents"] <= money["bank_fees"]["cents"]
    assert money["statements_fetched"] >= 1
    assert money["payments_settled"]["count"] == statuses["ACSC"]
    assert money["settlements_paid"] == {"count": paid, "cents": settlements["paid_cents"]}


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
        (
            "faulty/flags_by_amount_only",
            "reconciliation_flags_differences",
            "difference at or over a threshold not flagged",
        ),
        (
            "faulty/pays_twice_on_retry",
            "payments_match_payables",
            "payable paid more than once",
        ),
        (
            "faulty/books_fees_without_weight",
            "carrier_fees_booked",
            "payable differs from the statement's total",
        ),
        ("faulty/ignores_bank_fees", "bank_statements_close", "fees not booked"),
    ],
)
def test_each_faulty_money_connector_fails_its_own_check(
    played: Callable[[str], tuple[Path, Report]], connector: str, check: str, kind: str
) -> None:
    _, report = played(connector)
    assert report["verdict"] == "fail"
    # Paying twice also moves money the ERP never books: the bank's statements disagree too.
    also = {"bank_statements_close"} if connector == "faulty/pays_twice_on_retry" else set()
    assert failed(report) == {check} | also
    result = invariant(report, check)
    if check == "payments_match_payables":
        # Every payable paid twice; the second payments are never booked (and a payable whose
        # first payment the bank rejected is paid once, by its unbooked second).
        assert kind in result["breakdown"]
        assert set(result["breakdown"]) <= {kind, "executed payment not booked"}
        assert result["examples"][0]["payable"].endswith("-AP")
        return
    assert set(result["breakdown"]) == {kind}
    if check == "bank_statements_close":
        # Every closed day with a fee (a payment settled, or the account fee) is short.
        assert 0 < result["violations"] <= result["checked"]
        assert result["examples"][0]["entity"].startswith("STMT-")
        return
    if check == "carrier_fees_booked":
        # A day's statement holds a parcel over a kilo: booked short, every day.
        assert result["violations"] > 0
        assert result["examples"][0]["entity"].startswith("FS")
        return
    if check == "reconciliation_flags_differences":
        # Only the bills adjusted over 0.5 % (all under 500 CNY at this size) are missed.
        assert 0 < result["violations"] < result["checked"]
        assert result["examples"][0]["expected"]["flagged"] is True
    else:
        assert result["violations"] == result["checked"] > 0
    assert result["examples"][0]["settlement_no"].startswith("ST")
