"""Three chaos scenarios (scenarios/chaos/): a carrier rate limit, the Double 11 peak with two
crashes, and every fault kind at once. Each loads against the fakes' catalogue (so it cannot
rot); short versions of the last two pass with the reference connector, every rule fired."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from fake_systems.ecosystem import PUSHES, protocol_operations
from simulator.fault_plan import KINDS
from simulator.scenario import Scenario, load_scenario
from tests.support.paths import SCENARIOS
from tests.support.runs import Report, failed, invariant, play

CHAOS = SCENARIOS / "chaos"
# Graded retries after 1, 5 and 15 simulated minutes: a step's last attempt comes 21 minutes
# after its first (connectors/reference/retry.py).
LAST_ATTEMPT_SIM_SECONDS = 21 * 60


def shipped(name: str) -> Scenario:
    return load_scenario(CHAOS / f"{name}.yaml", protocol_operations(), PUSHES)


def shortened(name: str, tmp_path: Path, change: dict[str, Any]) -> Path:
    """The shipped file with top-level sections changed (one level deep), written to tmp_path."""
    data = yaml.safe_load((CHAOS / f"{name}.yaml").read_text())
    for key, value in change.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    path = tmp_path / f"{name}-short.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    return path


# ---------------------------------------------------------------- the files


@pytest.mark.parametrize("name", ["carrier_rate_limit", "double11_crashes", "everything_at_once"])
def test_chaos_scenario_loads_against_the_fakes(name: str) -> None:
    scenario = shipped(name)
    assert scenario.name == name
    assert scenario.faults
    assert "To pass" in scenario.description
    assert scenario.expected_orders >= 100


def test_carrier_rate_limit_throttles_a_busy_window_a_retrying_connector_outlasts() -> None:
    scenario = shipped("carrier_rate_limit")
    assert {(f.system, f.operation, f.kind) for f in scenario.faults} == {
        ("carrier", "*", "rate_limited"),
        ("carrier", "1007", "http_429"),
    }
    window = {(f.start, f.until) for f in scenario.faults}
    [(start, until)] = window
    assert until - start < LAST_ATTEMPT_SIM_SECONDS
    busiest = scenario.demand.peak_rate(until, since=start)
    assert busiest > 2 * scenario.demand.peak_rate(start)


def test_double11_crashes_keeps_double11s_spike_and_crashes_in_it() -> None:
    scenario = shipped("double11_crashes")
    double11 = load_scenario(SCENARIOS / "double11.yaml")
    assert scenario.clock.scale == double11.clock.scale
    assert scenario.demand.peak_rate(scenario.duration) == double11.demand.peak_rate(
        double11.duration
    )
    assert [c.signal for c in scenario.crashes] == ["KILL", "TERM"]
    # The spike is the curve's one segment at 36x; the SIGKILL falls in it.
    spike_end = next(step.until for step in scenario.demand.curve or [] if step.factor == 36)
    assert spike_end - 60 <= scenario.crashes[0].at < spike_end
    # Light faults (a dozen hits a rule, so that each fires on every seed): the crashes matter.
    assert all(rule.kind == "lost_response" and rule.rate <= 0.03 for rule in scenario.faults)


def test_everything_at_once_plays_every_request_and_push_kind() -> None:
    scenario = shipped("everything_at_once")
    played = {rule.kind for rule in scenario.faults}
    # Every kind of every stage, business included; but `rejected`, which answers the bank's
    # pain.001, and no flow of the reference sends one yet.
    assert played == set(KINDS) - {"rejected"}
    assert len(scenario.crashes) == 1
    # The ERP outage is alone: a bill step it refuses has its last attempt before any other
    # ERP fault starts.
    [outage] = [rule for rule in scenario.faults if rule.kind == "outage"]
    others = [r for r in scenario.faults if r.system == "erp" and r.kind not in ("outage",)]
    assert all(r.start >= outage.until + LAST_ATTEMPT_SIM_SECONDS for r in others)


# ---------------------------------------------------------------- short runs


def assert_faults_mattered(report: Report, *, refusals: bool) -> None:
    """Every rule hit, calls were left in doubt (and refused, if the plan refuses any), orders
    met faults and all recovered."""
    assert report["faults"]["plan"]
    assert all(rule["hits"] > 0 for rule in report["faults"]["plan"]), report["faults"]["plan"]
    calls = report["calls"]
    assert calls["total"]["info"] > 0
    if refusals:
        assert calls["total"]["fail"] > 0
    else:
        # A lost answer is a call in doubt, never a refusal. Only the operations the plan hits
        # are held to it: a restart can have a step refused elsewhere (CI saw one such call in
        # a crash run), and the recovery check below still demands that every order recovered.
        targeted = {(rule["system"], rule["operation"]) for rule in report["faults"]["plan"]}
        refused = {
            (op["system"], op["operation"]): op["fail"]
            for op in calls["per_operation"]
            if op["fail"] and (op["system"], op["operation"]) in targeted
        }
        assert not refused, (refused, calls["per_operation"])
    recovered = calls["recovered"]
    assert recovered["met_fault"] > 0
    assert recovered["recovered"] == recovered["met_fault"], recovered["not_recovered"]
    orders = report["orders"]
    assert orders["created"] == orders["at_wms"] == orders["shipped"] == orders["invoiced"]


@pytest.mark.e2e
def test_a_connector_deaf_to_retry_after_fails_respects_retry_after(tmp_path: Path) -> None:
    # One hour at 360x (10 wall s), throttled from 20 to 40 minutes at four times the traffic:
    # every order still gets through, so only the new invariant can tell the hammering apart.
    rules = yaml.safe_load((CHAOS / "carrier_rate_limit.yaml").read_text())["faults"]
    path = shortened(
        "carrier_rate_limit",
        tmp_path,
        {
            "duration": "1h",
            "demand": {
                "curve": [
                    {"until": "20m", "factor": 1},
                    {"until": "40m", "factor": 4},
                    {"until": "1h", "factor": 1},
                ]
            },
            # The shipped rules (a 429's Retry-After: 1) in the shorter window, 429s more often.
            "faults": [{**r, "from": "20m", "until": "40m", "rate": 0.3} for r in rules],
        },
    )
    exit_code, report = play(path, "faulty/ignores_retry_after", tmp_path / "run")
    assert (exit_code, report["verdict"]) == (1, "fail")
    assert failed(report) == {"respects_retry_after"}
    throttled = invariant(report, "respects_retry_after")
    assert throttled["violations"] > 0
    assert throttled["breakdown"] == {"carrier http_429": throttled["violations"]}
    for example in throttled["examples"]:
        assert example["entity"] and example["operation"] == "1007"
        assert example["expected"] == "the next 1007 call at least 1 s later"
    orders = report["orders"]
    assert orders["created"] == orders["at_wms"] == orders["shipped"] == orders["invoiced"]


@pytest.mark.e2e
def test_double11_with_two_crashes_converges(tmp_path: Path) -> None:
    # The first 17 minutes (the evening, the spike, the start of the decay, both crashes) at
    # 150x and a quarter of the orders; every rule on every 8th call, so that each fires.
    rules = yaml.safe_load((CHAOS / "double11_crashes.yaml").read_text())["faults"]
    path = shortened(
        "double11_crashes",
        tmp_path,
        {
            "duration": "17m",
            "clock": {"scale": 150},
            "demand": {"drill": 0.25},
            # Settling waits at most this for pushes in flight: a tracking push the crash
            # missed is redelivered 30 simulated minutes later, after the run.
            "run": {"stall_timeout": "5s"},
            "faults": [
                {k: v for k, v in r.items() if k != "rate"} | {"every_nth": 8} for r in rules
            ],
        },
    )
    run_dir = tmp_path / "run"
    exit_code, report = play(path, "reference", run_dir)
    assert (exit_code, report["verdict"]) == (0, "pass"), (failed(report), report["crashes"])
    assert_faults_mattered(report, refusals=False)  # lost answers only
    assert report["orders"]["created"] >= 40
    kill, term = report["crashes"]
    assert (kill["exit"], term["exit"]) == ("signal SIGKILL", "code 0")
    assert kill["error"] is None and term["error"] is None
    assert (run_dir / "connector.log").read_text().count("reference connector up on") == 3


@pytest.mark.e2e
def test_everything_at_once_passes_with_every_rule_fired(tmp_path: Path) -> None:
    # One hour at 300x with the orders of two (so that each operation sees as many calls as in
    # the shipped two hours), the crash at half time.
    crash = yaml.safe_load((CHAOS / "everything_at_once.yaml").read_text())["crashes"][0]
    path = shortened(
        "everything_at_once",
        tmp_path,
        {
            "duration": "1h",
            "clock": {"scale": 300},
            "demand": {"orders_per_hour": 120},
            "run": {"stall_timeout": "8s"},
            "crashes": [{**crash, "at": "30m"}],
        },
    )
    run_dir = tmp_path / "run"
    exit_code, report = play(path, "reference", run_dir)
    assert (exit_code, report["verdict"]) == (0, "pass"), (failed(report), report["crashes"])
    assert_faults_mattered(report, refusals=True)
    assert set(report["faults"]["by_kind"]) == {
        rule["kind"] for rule in yaml.safe_load(path.read_text())["faults"]
    }
    [crash_played] = report["crashes"]
    assert crash_played["exit"] == "signal SIGKILL" and crash_played["error"] is None
    forged = next(i for i in report["invariants"] if i["name"] == "no_action_on_forged_push")
    assert forged["checked"] > 0
    # The 429s were judged (the verdict passed, so each retry waited its Retry-After).
    assert invariant(report, "respects_retry_after")["checked"] > 0
