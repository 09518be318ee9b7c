"""The pytest plugin (simulator/pytest_plugin.py, docs/CI.md), through inner pytest sessions.

Each test runs pytest with `pytester`, in a folder of its own holding no test of ours, as a
vendor runs it in their repository. The end-to-end ones play a shortened smoke (one simulated
hour, about 5 wall seconds, no faults) against a real connector process, in a pytest
subprocess: pytester's in-process runs drop the modules first imported during them, and a
second run would then mix two copies of httpcore (its errors escaping httpx's handlers).
The quick ones run in process, with what the plugin imports lazily imported here first.
"""

from __future__ import annotations

import json
from pathlib import Path

import defusedxml.ElementTree as SafeET
import pytest

# Imported before any in-process inner session does (see above, and `imported_first`).
import simulator.pytest_plugin
import simulator.runner
from contract_tests.invariants import INVARIANTS
from fake_systems.ecosystem import PUSHES, protocol_operations
from simulator.connector import load_profile
from simulator.scenario import load_scenario
from tests.support.paths import SMOKE
from tests.support.scenarios import smoke_variant, with_latency_margin

pytest_plugins = ["pytester"]

# What the judge reports on every run, in its order, before the run: the items' names.
EVERY_RUN = ["run_databases_present", *(inv.name for inv in INVARIANTS)]

CUSTOM_TEST = """
def test_my_rule(ecomock_run):
    # A vendor's own rule, on the played run: every order the OMS holds reached the WMS.
    created = ecomock_run.db.execute("SELECT count(*) FROM oms.orders").fetchone()[0]
    at_wms = ecomock_run.db.execute(
        "SELECT count(DISTINCT delivery_order_code) FROM wms.delivery_orders"
    ).fetchone()[0]
    assert created == ecomock_run.verdict.counts["created"] > 0
    assert at_wms == created
    assert (ecomock_run.run_dir / "report.html").is_file()
"""

# Counts the runs the session plays, to show it is one whatever asks for it.
COUNTING_CONFTEST = """
import simulator.runner

PLAYS = []
_play = simulator.runner.play


def counting_play(*args, **kwargs):
    PLAYS.append(args[2])
    return _play(*args, **kwargs)


def pytest_configure(config):
    simulator.runner.play = counting_play


def pytest_unconfigure(config):
    (config.rootpath / "plays.json").write_text(__import__("json").dumps([str(p) for p in PLAYS]))
"""


@pytest.fixture(autouse=True, scope="module")
def imported_first() -> None:
    """What the plugin's options load, loaded once by this process first: the modules it
    imports lazily (an operation's protocol, Faker's locales) then outlive the in-process
    sessions, which drop those first imported during them, and no other test of this worker
    meets a second copy."""
    load_profile("reference")
    load_scenario(SMOKE, protocol_operations(), PUSHES)


def short_smoke(folder: Path, **settings: object) -> Path:
    """An hour of smoke without faults, with the tests' margin on the latency objectives."""
    path = smoke_variant(folder, "smoke-short", **{"duration": "1h", "faults": [], **settings})
    return with_latency_margin(path, folder)


def item_names(result: pytest.RunResult) -> list[str]:
    return [line for line in result.outlines if line.startswith("ecomock::")]


def junit_cases(path: Path) -> dict[str, SafeET.Element]:
    root = SafeET.parse(path).getroot()
    return {
        case.get("name"): case
        for case in root.iter("testcase")
        if case.get("classname") == "ecomock"
    }


def test_the_plugin_loads_through_its_entry_point(pytestconfig: pytest.Config) -> None:
    # `make test` itself loads it by the pytest11 entry point (pyproject.toml), inert.
    assert pytestconfig.pluginmanager.get_plugin("ecomock") is simulator.pytest_plugin


def test_without_a_connector_there_are_no_ecomock_items(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_mine="def test_one():\n    assert 1 + 1 == 2\n", test_rule=CUSTOM_TEST)
    collected = pytester.runpytest("--collect-only", "-q")
    assert collected.ret == 0
    assert item_names(collected) == []
    assert "2 tests collected" in collected.stdout.str()
    result = pytester.runpytest("-rs")
    result.assert_outcomes(passed=1, skipped=1)  # the fixture's test waits for a connector
    result.stdout.fnmatch_lines(["*ecomock_run needs a run: pass --ecomock-connector PROFILE*"])
    result.stdout.no_fnmatch_line("ecomock: connector*")  # no header, no summary section
    result.stdout.no_fnmatch_line("*= ecomock =*")
    assert not (pytester.path / "runs").exists()


def test_the_items_are_named_from_the_registry_before_the_run(pytester: pytest.Pytester) -> None:
    scenario = short_smoke(pytester.path, objectives={"orders_per_min": 10})
    pytester.makepyfile(test_mine="def test_one():\n    assert 1 + 1 == 2\n")
    out = pytester.path / "run"
    result = pytester.runpytest(
        "--collect-only",
        "-q",
        "-m",
        "ecomock",  # the plugin's marker: its items alone, not the repository's tests
        "--ecomock-connector",
        "reference",
        "--ecomock-scenario",
        str(scenario),
        "--ecomock-out",
        str(out),
    )
    assert result.ret == 0
    expected = ["run_valid", *EVERY_RUN, "throughput_objective"]
    assert item_names(result) == [f"ecomock::{name}" for name in expected]
    assert (
        f"{len(expected)}/{len(expected) + 1} tests collected (1 deselected)" in result.outlines[-1]
    )
    assert not out.exists()  # collecting plays nothing


def test_the_header_says_what_will_be_played(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest(
        "--collect-only",
        "--ecomock-connector",
        "faulty/skips_shop",
        "--ecomock-scenario",
        "demo",  # a shipped scenario, by name
        "--ecomock-seed",
        "5",
        "--ecomock-out",
        "there",
    )
    assert result.ret == 0
    result.stdout.fnmatch_lines(
        ["ecomock: connector skips_shop, scenario demo (seed 5, ~*), run folder there/"]
    )


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--ecomock-connector", "nowhere"], "--ecomock-connector: no connector profile at"),
        (["--ecomock-connector", "reference", "--ecomock-scenario", "nowhere"], "shipped"),
        (["--ecomock-seed", "3"], "--ecomock-seed needs --ecomock-connector"),
        (["--ecomock-connector", "reference", "-n", "2"], "run it without -n"),
    ],
)
def test_usage_mistakes_are_named(
    pytester: pytest.Pytester, arguments: list[str], message: str
) -> None:
    result = pytester.runpytest(*arguments)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert message in result.stderr.str()


def test_a_scenario_error_names_its_field(pytester: pytest.Pytester) -> None:
    scenario = short_smoke(pytester.path, demand={"orders_per_hour": -1})
    result = pytester.runpytest(
        "--ecomock-connector", "reference", "--ecomock-scenario", str(scenario)
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "demand.orders_per_hour" in result.stderr.str()


@pytest.mark.e2e
def test_the_reference_connector_passes_every_item(pytester: pytest.Pytester) -> None:
    """One run for the session: the custom test asks for it first, the items reuse it."""
    scenario = short_smoke(pytester.path)
    out = pytester.path / "run"
    pytester.makeconftest(COUNTING_CONFTEST)
    pytester.makepyfile(test_rule=CUSTOM_TEST)
    result = pytester.runpytest_subprocess(
        "-v",
        "--ecomock-connector",
        "reference",
        "--ecomock-scenario",
        str(scenario),
        "--ecomock-out",
        str(out),
        "--junitxml",
        str(pytester.path / "junit.xml"),
    )
    names = ["run_valid", *EVERY_RUN]
    result.assert_outcomes(passed=len(names) + 1)  # and the custom test
    result.stdout.fnmatch_lines([f"ecomock::{name} PASSED*" for name in names], consecutive=True)
    result.stdout.fnmatch_lines(["*verdict PASS: 0 of * invariants failed*"])
    assert json.loads((pytester.path / "plays.json").read_text()) == [str(out)]
    report = json.loads((out / "report.json").read_text())
    assert report["verdict"] == "pass"
    # What the judge reported is what the items were named after, before the run.
    assert [inv["name"] for inv in report["invariants"]] == EVERY_RUN
    cases = junit_cases(pytester.path / "junit.xml")
    assert list(cases) == names
    assert all(case.find("failure") is None for case in cases.values())


@pytest.mark.e2e
def test_a_lost_order_fails_its_item_naming_the_order(pytester: pytest.Pytester) -> None:
    scenario = short_smoke(pytester.path)
    out = pytester.path / "run"
    junit = pytester.path / "junit.xml"
    result = pytester.runpytest_subprocess(
        "--ecomock-connector",
        "faulty/skips_shop",
        "--ecomock-scenario",
        str(scenario),
        "--ecomock-out",
        str(out),
        "--junitxml",
        str(junit),
    )
    result.assert_outcomes(passed=len(EVERY_RUN), failed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    report = json.loads((out / "report.json").read_text())
    lost = next(inv for inv in report["invariants"] if inv["name"] == "no_lost_orders")
    first = lost["examples"][0]["entity"]
    assert lost["violations"] > 0 and first
    result.stdout.fnmatch_lines(
        [
            "*_ ecomock::no_lost_orders _*",
            "no_lost_orders: every paid OMS order has a WMS delivery order, but one *",
            f'*"entity":"{first}","expected":"a WMS delivery order*',
            f"run folder: {out}/ (report.html, report.json, junit.xml)",
        ]
    )
    result.stdout.fnmatch_lines(["FAILED ecomock::no_lost_orders - *"])
    failure = junit_cases(junit)["no_lost_orders"].find("failure")
    assert failure is not None and first in (failure.text or "")
    headline = f"{lost['violations']} violation(s) of {lost['checked']} checked; first: {first}, "
    assert failure.get("message", "").startswith(headline)


@pytest.mark.e2e
def test_an_invalid_run_fails_run_valid_with_the_reason(pytester: pytest.Pytester) -> None:
    """A run without orders proves nothing: its vacuous invariants pass, run_valid fails."""
    scenario = short_smoke(pytester.path, duration="1m", demand={"orders_per_hour": 0.001})
    junit = pytester.path / "junit.xml"
    result = pytester.runpytest_subprocess(
        "--ecomock-connector", "reference", "--ecomock-scenario", str(scenario), "--junitxml", junit
    )
    result.assert_outcomes(passed=len(EVERY_RUN), failed=1)
    result.stdout.fnmatch_lines(
        [
            "*_ ecomock::run_valid _*",
            "INVALID RUN: it proves nothing",
            "  - no orders in the run: the OMS holds none, so nothing was tested",
            "verdict INVALID: 0 of * invariants failed; 0 orders; report: runs/*/report.html",
            "FAILED ecomock::run_valid - run invalid: no orders in the run*",
        ]
    )
    failure = junit_cases(junit)["run_valid"].find("failure")
    assert failure is not None
    assert (
        failure.get("message")
        == "run invalid: no orders in the run: the OMS holds none, so nothing was tested"
    )
    # Without --ecomock-out, the run folder is where `ecomock run` puts it.
    [run_dir] = (pytester.path / "runs").iterdir()
    assert run_dir.name.endswith("-smoke-short") and (run_dir / "report.html").is_file()


@pytest.mark.e2e
def test_a_connector_that_cannot_start_fails_every_item(pytester: pytest.Pytester) -> None:
    profile = pytester.path / "dead" / "connector.yaml"
    profile.parent.mkdir()
    profile.write_text(
        "name: dead\n"
        'command: ["{python}", "-c", "raise SystemExit(3)"]\n'
        "callbacks:\n"
        '  wms_confirm: "http://127.0.0.1:{port}/qimen/callback"\n'
        '  carrier_push: "http://127.0.0.1:{port}/kdniao/push"\n'
        'ready: "http://127.0.0.1:{port}/health"\n'
    )
    scenario = short_smoke(pytester.path)
    result = pytester.runpytest_subprocess(
        "--ecomock-connector", str(profile), "--ecomock-scenario", str(scenario)
    )
    result.assert_outcomes(failed=len(EVERY_RUN) + 1)
    failures = [line for line in result.outlines if line.startswith("the run could not be")]
    assert len(failures) == len(EVERY_RUN) + 1  # each item says why, without a traceback
    assert all("connector exited with code 3 before it was ready" in line for line in failures)
    result.stdout.no_fnmatch_line("Traceback*")


def test_a_run_that_breaks_shows_its_traceback_once(pytester: pytest.Pytester) -> None:
    """A bug, not a verdict: the first item shows where; the others say so in a line."""
    scenario = short_smoke(pytester.path)
    taken = pytester.path / "taken"
    taken.write_text("a file where the run folder should go")
    result = pytester.runpytest_subprocess(
        "--ecomock-connector",
        "reference",
        "--ecomock-scenario",
        str(scenario),
        "--ecomock-out",
        str(taken),
    )
    result.assert_outcomes(failed=len(EVERY_RUN) + 1)
    result.stdout.fnmatch_lines(["E   *FileExistsError*", "*_ ecomock::run_databases_present _*"])
    repeated = [line for line in result.outlines if line.startswith("the run could not be")]
    assert len(repeated) == len(EVERY_RUN)
    assert all("FileExistsError" in line for line in repeated)
