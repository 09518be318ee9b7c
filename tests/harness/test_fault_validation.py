"""A scenario's `faults:` plan is checked against the fakes before anything runs: every bad rule
is refused with the field that is wrong (`faults.N.field: …`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from fake_systems.ecosystem import PUSHES, protocol_operations
from simulator.chaos import ChaosError, read_plan
from simulator.scenario import ScenarioError, load_scenario
from tests.support.paths import SMOKE

GOOD = "{system: bank, operation: pain.001, kind: busy, rate: 0.1}"


def with_faults(tmp_path: Path, *rules: str) -> Path:
    """The smoke scenario with its plan replaced by `rules` (flow-style YAML mappings)."""
    text = SMOKE.read_text(encoding="utf-8")
    head, _, tail = text.partition("faults:\n")
    tail = tail[tail.index("run:") :]
    path = tmp_path / "plan.yaml"
    lines = "".join(f"  - {rule}\n" for rule in rules)
    path.write_text(f"{head}faults:\n{lines}{tail}", encoding="utf-8")
    return path


def refusal(path: Path) -> str:
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path, protocol_operations(), PUSHES)
    return str(caught.value)


@pytest.mark.parametrize(
    ("rule", "field", "words"),
    [
        ("{system: shop, operation: '*', kind: busy, rate: 0.1}", "system", "'oms'"),
        ("{system: wms, operation: deliveryorder.creat, kind: busy, rate: 0.1}",
         "operation", "wms has no operation 'deliveryorder.creat'"),
        ("{system: wms, operation: '*', kind: gremlins, rate: 0.1}", "kind", "http_503"),
        ("{system: wms, operation: '*', kind: rejected, rate: 0.1}",
         "kind", "wms has no rejected fault; only bank has it"),
        ("{system: oms, operation: '*', kind: push_duplicate, rate: 0.1}",
         "kind", "oms has no push_duplicate fault"),
        ("{system: wms, operation: deliveryorder.create, kind: push_delay, rate: 0.1}",
         "kind", "push_delay acts on pushes, and 'deliveryorder.create' is a request"),
        ("{system: wms, operation: deliveryorder.confirm, kind: http_503, rate: 0.1}",
         "kind", "http_503 acts on requests (or the business), and 'deliveryorder.confirm'"),
        ("{system: wms, operation: '*', kind: stock_out, rate: 0.1, every_nth: 3}",
         "every_nth", "give either rate (a share of calls) or every_nth, not both or neither"),
        ("{system: wms, operation: '*', kind: stock_out}", "every_nth", "not both or neither"),
        ("{system: wms, operation: '*', kind: busy, rate: 0.1, from: 40m, until: 10m}",
         "until", "until (600 s) must come after from (2400 s)"),
        ("{system: wms, operation: '*', kind: busy, rate: 0.1, from: 10m, until: 10m}",
         "until", "must come after from"),
    ],
)  # fmt: skip
def test_a_bad_rule_is_refused_naming_its_field(
    tmp_path: Path, rule: str, field: str, words: str
) -> None:
    message = refusal(with_faults(tmp_path, GOOD, rule))
    assert f"faults.1.{field}: " in message, message
    assert words in message, message
    assert "faults.0" not in message  # the good rule before it is not blamed


def test_good_rules_of_every_stage_load(tmp_path: Path) -> None:
    path = with_faults(
        tmp_path,
        GOOD,
        "{system: wms, operation: deliveryorder.confirm, kind: push_duplicate, every_nth: 2}",
        "{system: carrier, operation: '101', kind: push_forged, rate: 0.05}",
        "{system: erp, operation: Save, kind: lost_response, rate: 0.1, from: 0, until: 1h}",
        "{system: wms, operation: '*', kind: stock_out, rate: 0.01}",
    )
    scenario = load_scenario(path, protocol_operations(), PUSHES)
    assert [rule.kind for rule in scenario.faults] == [
        "busy", "push_duplicate", "push_forged", "lost_response", "stock_out",
    ]  # fmt: skip
    window = scenario.faults[3].rule()
    assert (window.start, window.until) == (0.0, 3600.0)


def test_a_plan_file_is_checked_as_a_scenario_is(tmp_path: Path) -> None:
    plan = tmp_path / "plan.yaml"
    plan.write_text(
        f"faults:\n  - {GOOD}\n  - {{system: bank, operation: '*', kind: rate_limited, rate: 1}}\n"
    )
    with pytest.raises(ChaosError) as caught:
        read_plan(plan)
    assert "faults.1.kind: bank has no rate_limited fault" in str(caught.value)
    plan.write_text(f"faults:\n  - {GOOD}\nseed: 3\n")
    with pytest.raises(ChaosError, match="seed: Extra inputs"):
        read_plan(plan)
    plan.write_text(f"faults:\n  - {GOOD}\n")
    [rule] = read_plan(plan)
    assert (rule.system, rule.kind, rule.rate) == ("bank", "busy", 0.1)


@pytest.mark.parametrize(
    ("rule", "field", "words"),
    [
        # The WMS's business kinds hit the orders deliveryorder.create brought, nothing else.
        ("{system: wms, operation: order.cancel, kind: stock_out, rate: 0.1}",
         "kind", "stock_out acts on the wms's business, not on a call: give "
                 "'deliveryorder.create' or '*'"),
        ("{system: wms, operation: inventory.query, kind: short_pick, rate: 0.1}",
         "kind", "short_pick acts on the wms's business"),
        ("{system: erp, operation: '*', kind: stock_out, rate: 0.1}",
         "kind", "erp has no stock_out fault; only wms has it"),
        # The simulator's trades reach the OMS through no call: `*` only.
        ("{system: oms, operation: sales.TradeQuery.queryWithDetail, kind: odd_data, rate: 1}",
         "kind", "odd_data acts on the oms's business, not on a call: give '*'"),
        ("{system: wms, operation: '*', kind: odd_data, rate: 1}",
         "kind", "wms has no odd_data fault; only oms has it"),
        # Their parameters.
        ("{system: wms, operation: '*', kind: stock_out, rate: 0.1, "
         "params: {restock_after: -5}}",
         "params", "restock_after must be a number of seconds, 0 or more"),
        ("{system: wms, operation: '*', kind: short_pick, rate: 0.1, "
         "params: {restock_after: soon}}",
         "params", "restock_after must be a number of seconds"),
        ("{system: wms, operation: '*', kind: stock_out, rate: 0.1, params: {restock: 60}}",
         "params", "stock_out has no parameter 'restock' (it takes: restock_after)"),
        ("{system: oms, operation: '*', kind: odd_data, rate: 0.1, params: {variant: klingon}}",
         "params", "variant must be one of fuzzy_address, emoji, long_text, many_lines, "
         "gift_line, duplicate_sku, coupon, one_fen"),
        ("{system: oms, operation: '*', kind: odd_data, rate: 0.1, "
         "params: {restock_after: 60}}",
         "params", "odd_data has no parameter 'restock_after' (it takes: variant)"),
    ],
)  # fmt: skip
def test_a_bad_business_rule_is_refused_naming_its_field(
    tmp_path: Path, rule: str, field: str, words: str
) -> None:
    message = refusal(with_faults(tmp_path, GOOD, rule))
    assert f"faults.1.{field}: " in message, message
    assert words in message, message


@pytest.mark.parametrize(
    ("rule", "field", "words"),
    [
        ("{system: carrier, operation: '1007', kind: problem_parcel, rate: 0.1,"
         " params: {fate: vanished}}",
         "params", "unknown fate 'vanished'; the fates are refused, lost, stuck,"
                   " exception_then_signed, address_problem, locker_overdue"),
        ("{system: carrier, operation: '1007', kind: problem_parcel, rate: 0.1,"
         " params: {state_ex: 404}}",
         "params", "problem_parcel has no parameter 'state_ex' (it takes: fate)"),
        ("{system: carrier, operation: '1002', kind: problem_parcel, rate: 0.1}",
         "kind", "problem_parcel acts on the carrier's business, not on a call: give '1007'"),
        ("{system: wms, operation: '*', kind: problem_parcel, rate: 0.1}",
         "kind", "wms has no problem_parcel fault; only carrier has it"),
        ("{system: wms, operation: '*', kind: clock_skew, rate: 1}",
         "params", "clock_skew needs seconds"),
        ("{system: wms, operation: '*', kind: clock_skew, rate: 1, params: {seconds: 0}}",
         "params", "other than 0"),
        ("{system: wms, operation: '*', kind: clock_skew, rate: 1, params: {seconds: 90000}}",
         "params", "within ±86,400"),
        ("{system: wms, operation: '*', kind: clock_skew, rate: 1, params: {minutes: 5}}",
         "params", "clock_skew has no parameter 'minutes' (it takes: seconds)"),
        ("{system: wms, operation: '*', kind: clock_skew, rate: 0.5, params: {seconds: 60}}",
         "rate", "clock_skew holds for its whole window (from, until): give rate: 1, not 0.5"),
        ("{system: wms, operation: '*', kind: clock_skew, every_nth: 3, params: {seconds: 60}}",
         "every_nth", "give rate: 1, not every_nth"),
        ("{system: wms, operation: deliveryorder.create, kind: clock_skew, rate: 1,"
         " params: {seconds: 60}}",
         "kind", "clock_skew puts the whole wms clock off: declare it on operation '*'"),
    ],
)  # fmt: skip
def test_a_bad_world_rule_is_refused_naming_its_field(
    tmp_path: Path, rule: str, field: str, words: str
) -> None:
    message = refusal(with_faults(tmp_path, GOOD, rule))
    assert f"faults.1.{field}: " in message, message
    assert words in message, message


def test_good_business_rules_load(tmp_path: Path) -> None:
    path = with_faults(
        tmp_path,
        "{system: wms, operation: deliveryorder.create, kind: stock_out, rate: 0.1,"
        " params: {restock_after: 0}}",
        "{system: wms, operation: '*', kind: short_pick, every_nth: 9}",
        "{system: oms, operation: '*', kind: odd_data, rate: 0.01, params: {variant: emoji}}",
        "{system: oms, operation: '*', kind: odd_data, rate: 0.01, params: {variant: coupon}}",
        "{system: oms, operation: '*', kind: odd_data, every_nth: 3, params: {variant: one_fen}}",
    )
    scenario = load_scenario(path, protocol_operations(), PUSHES)
    assert [(rule.kind, dict(rule.params)) for rule in scenario.faults] == [
        ("stock_out", {"restock_after": 0}),
        ("short_pick", {}),
        ("odd_data", {"variant": "emoji"}),
        ("odd_data", {"variant": "coupon"}),
        ("odd_data", {"variant": "one_fen"}),
    ]


def test_good_carrier_and_clock_rules_load(tmp_path: Path) -> None:
    path = with_faults(
        tmp_path,
        GOOD,
        "{system: carrier, operation: '1007', kind: problem_parcel, rate: 0.2,"
        " params: {fate: exception_then_signed}}",
        "{system: carrier, operation: '*', kind: problem_parcel, every_nth: 5}",
        "{system: oms, operation: '*', kind: clock_skew, rate: 1, from: 10m, until: 1h,"
        " params: {seconds: -90}}",
    )
    scenario = load_scenario(path, protocol_operations(), PUSHES)
    assert [(r.kind, r.operation, dict(r.params)) for r in scenario.faults[1:]] == [
        ("problem_parcel", "1007", {"fate": "exception_then_signed"}),
        ("problem_parcel", "*", {}),
        ("clock_skew", "*", {"seconds": -90}),
    ]
