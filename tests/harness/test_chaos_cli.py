"""`ecomock chaos` against served fakes: list, add, remove and apply rules live, with the token
and addresses of the endpoints.json `ecomock up` writes."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

from simulator import cli
from simulator.cli import app
from simulator.runner import LiveFakes, serve_fakes
from simulator.scenario import load_scenario
from tests.support.paths import SMOKE

pytestmark = pytest.mark.anyio
TOKEN = "chaos-token"


@pytest.fixture(autouse=True)
def wide_console(monkeypatch: pytest.MonkeyPatch) -> None:
    """A wide table whatever the terminal: the CLI's console took its width when imported,
    which is 80 columns where no terminal is attached (an xdist worker), and a narrow table
    wraps the cells these tests read."""
    monkeypatch.setattr(cli.console, "width", 200)


async def chaos(*args: str, env: dict[str, str] | None = None) -> Result:
    """Run `ecomock chaos …` in a worker thread: the fakes answer on this test's event loop."""
    return await asyncio.to_thread(
        CliRunner().invoke, app, ["chaos", *args], env={"COLUMNS": "200", **(env or {})}
    )


def rules_of(fakes: LiveFakes, system: str) -> list[tuple[int, str, str]]:
    return [
        (r["id"], r["operation"], r["kind"])
        for r in fakes.ecosystem.contexts[system].faults.listing()
    ]


async def test_add_list_remove_and_apply_against_running_fakes(tmp_path: Path) -> None:
    scenario = load_scenario(SMOKE)
    async with serve_fakes(scenario, tmp_path, control_token=TOKEN) as fakes:
        where = ["--endpoints", str(tmp_path / "endpoints.json")]
        added = await chaos(
            "add", "--system", "wms", "--operation", "deliveryorder.create", "--kind", "http_503",
            "--rate", "0.1", "--from", "10m", "--until", "40m", *where,
        )  # fmt: skip
        assert added.exit_code == 0, added.output
        assert "added wms:2: http_503 on deliveryorder.create, 10 % of calls, 600 s – 2400 s" in (
            added.output
        )
        assert rules_of(fakes, "wms") == [
            (1, "deliveryorder.create", "lost_response"),
            (2, "deliveryorder.create", "http_503"),
        ]
        rule = fakes.ecosystem.contexts["wms"].faults.rules[1]
        assert (rule.rate, rule.start, rule.until) == (0.1, 600.0, 2400.0)

        listed = await chaos("list", *where)
        assert listed.exit_code == 0, listed.output
        assert "wms:1" in listed.output and "wms:2" in listed.output
        planned = scenario.faults[0].rate  # the scenario's own rule, listed with the new one
        assert planned is not None and f"{round(planned * 100)} % of calls" in listed.output

        plan = tmp_path / "plan.yaml"
        plan.write_text(
            "faults:\n"
            "  - {system: erp, operation: Save, kind: session_expired, every_nth: 5}\n"
            "  - {system: carrier, operation: '101', kind: push_duplicate, rate: 0.2,"
            " params: {copies: 2}}\n"
        )
        applied = await chaos("apply", str(plan), *where)
        assert applied.exit_code == 0, applied.output
        # a fake numbers its live rules after the whole plan's: unique within the plan
        assert rules_of(fakes, "erp") == [(2, "Save", "session_expired")]
        assert rules_of(fakes, "carrier") == [(2, "101", "push_duplicate")]
        assert fakes.ecosystem.contexts["carrier"].faults.rules[0].params == {"copies": 2.0}

        ambiguous = await chaos("remove", "2", *where)
        assert ambiguous.exit_code == 2
        assert "wms, erp, carrier each have a rule 2: name it as SYSTEM:2" in ambiguous.output
        assert len(rules_of(fakes, "carrier")) == 1  # refused: nothing removed
        removed = await chaos("remove", "wms:2", "carrier:2", *where)
        assert removed.exit_code == 0, removed.output
        assert "removed wms:2 (http_503 on deliveryorder.create, fired 0 times)" in removed.output
        assert "removed carrier:2 (push_duplicate on 101, fired 0 times)" in removed.output
        unique = await chaos("remove", "2", *where)  # only the ERP has a rule 2 now
        assert unique.exit_code == 0, unique.output
        assert "removed erp:2" in unique.output
        assert rules_of(fakes, "wms") == [(1, "deliveryorder.create", "lost_response")]
        assert rules_of(fakes, "erp") == rules_of(fakes, "carrier") == []
        nothing = await chaos("remove", "7", *where)
        assert nothing.exit_code == 2 and "no fake has a rule 7" in nothing.output


async def test_refusals_name_the_field_and_the_token(tmp_path: Path) -> None:
    scenario = load_scenario(SMOKE)
    async with serve_fakes(scenario, tmp_path, control_token=TOKEN) as fakes:
        where = ["--endpoints", str(tmp_path / "endpoints.json")]
        bad = await chaos("add", "--system", "wms", "--kind", "rejected", "--rate", "0.1", *where)
        assert bad.exit_code == 2
        assert "wms refused the rule: kind: wms has no rejected fault; only bank has it" in (
            bad.output
        )
        wrong_token = await chaos("list", *where, "--control-token", "nope")
        assert wrong_token.exit_code == 2
        assert "refused the control token" in wrong_token.output
        plan = tmp_path / "plan.yaml"
        plan.write_text(
            "faults:\n  - {system: erp, operation: Save, kind: busy, rate: 0.1}\n"
            "  - {system: erp, operation: Save, kind: busy, rate: 0.1, every_nth: 2}\n"
        )
        half = await chaos("apply", str(plan), *where)
        assert half.exit_code == 2
        assert "faults.1.every_nth: give either rate" in half.output
        assert rules_of(fakes, "erp") == []  # checked whole first: nothing was added
    missing = await chaos("list", "--endpoints", str(tmp_path / "nowhere.json"))
    assert missing.exit_code == 2
    assert "ecomock up" in missing.output


def test_help_reads_well() -> None:
    result = CliRunner().invoke(app, ["chaos", "--help"], env={"COLUMNS": "120"})
    assert result.exit_code == 0
    for command in ("list", "add", "remove", "apply"):
        assert command in result.output
    added = CliRunner().invoke(app, ["chaos", "add", "--help"], env={"COLUMNS": "120"})
    for option in ("--system", "--operation", "--kind", "--rate", "--every-nth", "--from",
                   "--until", "--param", "--endpoints", "--control-token"):  # fmt: skip
        assert option in added.output
