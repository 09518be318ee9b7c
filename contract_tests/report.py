"""Reports of a verdict: report.json, JUnit XML for CI, and the rich summary the CLI prints."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from contract_tests.files import write_atomically
from contract_tests.html_report import write_html_report
from contract_tests.invariants import InvariantResult
from contract_tests.judge import Verdict
from contract_tests.metrics import FLOWS, ORDER_COUNT_KEYS

REPORT_FORMAT = 1
JUNIT_SUITE = "ecomock"
JUNIT_EXAMPLES = 3
VALIDITY_CASE = "run_valid"  # the JUnit test case that errors when the run proves nothing
VERDICT_STYLES = {"pass": "green", "fail": "red", "invalid": "yellow"}


def _round(value: float | None, digits: int = 4) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return round(value, digits)


def _iso(wall: float) -> str:
    return datetime.fromtimestamp(wall, UTC).isoformat(timespec="seconds")


def invariant_to_dict(inv: InvariantResult) -> dict[str, Any]:
    return {
        "name": inv.name,
        "description": inv.description,
        "passed": inv.passed,
        "checked": inv.checked,
        "violations": inv.violations,
        "summary": inv.summary,
        "breakdown": inv.breakdown,
        "error": inv.error,
        "duration_seconds": _round(inv.duration_seconds),
        "examples": inv.examples,
    }


def verdict_to_dict(verdict: Verdict) -> dict[str, Any]:
    """The report.json document; `RunMeta.from_report` reads its meta back."""
    meta = verdict.meta
    return {
        "format": REPORT_FORMAT,
        "verdict": verdict.verdict,
        "invalid_reasons": verdict.invalid_reasons,
        "seed": meta.seed,
        "scenario": meta.scenario,
        "connector": meta.connector,
        "run_dir": verdict.run_dir,
        "run": {
            "wall_started": meta.wall_started,
            "wall_ended": meta.wall_ended,
            "traffic_wall_seconds": meta.traffic_wall_seconds,
            "objectives": dict(meta.objectives),
            "connector_exit_code": meta.connector_exit_code,
            "status": verdict.run_status.as_dict() if verdict.run_status else None,
        },
        # The connector's planned crashes and restarts (a crash scenario's `crashes:`).
        "crashes": verdict.run_status.crashes if verdict.run_status else [],
        "judged_at": _iso(verdict.judged_wall),
        "judge_seconds": _round(verdict.duration_seconds),
        "orders": {key: verdict.counts.get(key, 0) for key in ORDER_COUNT_KEYS},
        # What happened to the trades, from the fakes' tables (metrics.count_flows).
        "flows": verdict.flows,
        # The run's money: settlements, the bank, supplier payments, fees, write-offs.
        "payments": verdict.money,
        "throughput": {
            "orders_per_min": _round(verdict.throughput.orders_per_min, 2),
            "orders": verdict.throughput.orders,
            "wall_seconds": _round(verdict.throughput.wall_seconds, 3),
            "basis": verdict.throughput.basis,
        },
        "latency_seconds": {
            flow: {
                "p50": _round(stats.p50),
                "p95": _round(stats.p95),
                "p99": _round(stats.p99),
                "max": _round(stats.max),
                "count": stats.count,
            }
            for flow, stats in verdict.latencies.items()
        },
        "invariants": [invariant_to_dict(inv) for inv in verdict.invariants],
        "faults": verdict.chaos.faults_section(),
        "calls": verdict.chaos.calls_section(),
        "missing_databases": verdict.missing_databases,
        "errors": verdict.errors,
    }


def write_report_json(
    verdict: Verdict, path: Path, extra: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Write report.json (keys of `extra` added at the top level); returns the document."""
    document = verdict_to_dict(verdict)
    if extra:
        document.update(extra)
    # default=str: a BLOB or odd value in an example must not cost the whole report.
    data = orjson.dumps(document, option=orjson.OPT_INDENT_2, default=str)
    write_atomically(Path(path), data + b"\n")
    return document


def failure_text(inv: InvariantResult) -> str:
    """A failed invariant for a CI log: what it checks, its summary, the first examples."""
    lines = [f"{inv.name}: {inv.description}", f"{inv.summary}"]
    for example in inv.examples[:JUNIT_EXAMPLES]:
        brief = {k: v for k, v in example.items() if k != "history"}
        lines.append(orjson.dumps(brief, default=str).decode())
    if len(inv.examples) > JUNIT_EXAMPLES:
        lines.append(f"... {inv.violations - JUNIT_EXAMPLES} more, see report.json")
    return "\n".join(lines)


def failure_message(inv: InvariantResult) -> str:
    """A failed invariant in one line: how many, and the first entities."""
    if inv.error:
        return f"could not run: {inv.error}"
    entities = ", ".join(str(e.get("entity")) for e in inv.examples[:JUNIT_EXAMPLES])
    return f"{inv.violations} violation(s) of {inv.checked} checked; first: {entities}"


def write_junit_xml(verdict: Verdict, path: Path) -> None:
    """One testsuite "ecomock": a `run_valid` testcase, then one per invariant.

    `run_valid` has an <error> when the run is invalid (its message the reasons), so CI marks
    the build broken rather than reading the invariants of a run that proves nothing.
    """
    failures = len(verdict.failed_invariants)
    errors = 1 if verdict.invalid_reasons else 0
    tests = str(len(verdict.invariants) + 1)
    root = ET.Element("testsuites", tests=tests, failures=str(failures), errors=str(errors))
    suite = ET.SubElement(
        root,
        "testsuite",
        name=JUNIT_SUITE,
        tests=tests,
        failures=str(failures),
        errors=str(errors),
        skipped="0",
        time=f"{verdict.duration_seconds:.3f}",
        timestamp=_iso(verdict.judged_wall),
    )
    properties = ET.SubElement(suite, "properties")
    for name, value in (
        ("scenario", verdict.meta.scenario),
        ("seed", verdict.meta.seed),
        ("connector", verdict.meta.connector),
        ("verdict", verdict.verdict),
    ):
        ET.SubElement(properties, "property", name=name, value=str(value))
    validity = ET.SubElement(
        suite, "testcase", classname=f"{JUNIT_SUITE}.{verdict.meta.scenario}", name=VALIDITY_CASE
    )
    if verdict.invalid_reasons:
        error = ET.SubElement(
            validity,
            "error",
            message="run invalid: " + verdict.invalid_reasons[0].splitlines()[0],
            type="InvalidRun",
        )
        error.text = "\n".join(verdict.invalid_reasons)
    for inv in verdict.invariants:
        case = ET.SubElement(
            suite,
            "testcase",
            classname=f"{JUNIT_SUITE}.{verdict.meta.scenario}",
            name=inv.name,
            time=f"{inv.duration_seconds:.3f}",
        )
        if not inv.passed:
            failure = ET.SubElement(
                case,
                "failure",
                message=failure_message(inv),
                type="InvariantError" if inv.error else "InvariantViolation",
            )
            failure.text = failure_text(inv)
    ET.indent(root)
    write_atomically(Path(path), ET.tostring(root, encoding="utf-8", xml_declaration=True))


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def summary_table(verdict: Verdict) -> Table:
    """One row per invariant: result, checked, violations and what went wrong first."""
    colour = VERDICT_STYLES[verdict.verdict]
    meta = verdict.meta
    table = Table(
        title=Text.assemble(
            ("ecomock verdict: ", "bold"),
            (verdict.verdict.upper(), f"bold {colour}"),
            f"  scenario {meta.scenario}, seed {meta.seed}, connector {meta.connector}",
        ),
        caption=_orders_line(verdict),
    )
    # Names and numbers never wrap; on a narrow terminal the detail column gives way.
    table.add_column("invariant", no_wrap=True)
    table.add_column("result", no_wrap=True)
    table.add_column("checked", justify="right", no_wrap=True)
    table.add_column("violations", justify="right", no_wrap=True)
    table.add_column("detail", overflow="fold", ratio=1)
    for inv in verdict.invariants:
        detail = inv.summary
        if not inv.passed and inv.examples:
            first = inv.examples[0]
            detail += f"; e.g. {first.get('entity')}: expected {first.get('expected')}"
            detail += f", observed {first.get('observed')}"
        table.add_row(
            inv.name,
            Text("pass", style="green") if inv.passed else Text("FAIL", style="bold red"),
            str(inv.checked),
            str(inv.violations),
            detail,
        )
    return table


def _orders_line(verdict: Verdict) -> str:
    counts = ", ".join(f"{key} {verdict.counts.get(key, 0)}" for key in ORDER_COUNT_KEYS)
    per_min = verdict.throughput.orders_per_min
    rate = "-" if per_min is None else f"{per_min:.0f}"
    return f"orders: {counts}; throughput {rate} orders/min" + _faults_line(verdict)


def _faults_line(verdict: Verdict) -> str:
    """What the fault plan did, in one line (nothing when the run had no faults)."""
    faults = verdict.chaos.faults_section()
    if not faults["total"] and not faults["plan"]:
        return ""
    kinds = ", ".join(f"{kind} {count}" for kind, count in faults["by_kind"].items()) or "none"
    calls = verdict.chaos.calls_section()
    total, recovered = calls["total"], calls["recovered"]
    return (
        f"\nfaults: {kinds}; calls: {total['invoke']} invoked, {total['ok']} ok,"
        f" {total['fail']} fail, {total['info']} info; recovered"
        f" {recovered['recovered']} of {recovered['met_fault']} orders that met a fault"
    )


def latency_table(verdict: Verdict) -> Table:
    """Wall-second latencies of the three flows."""
    table = Table(title="latency (wall seconds)")
    table.add_column("flow")
    for column in ("count", "p50", "p95", "p99", "max"):
        table.add_column(column, justify="right")
    for flow in FLOWS:
        stats = verdict.latencies.get(flow)
        if stats is None:
            continue
        table.add_row(
            flow,
            str(stats.count),
            _seconds(stats.p50),
            _seconds(stats.p95),
            _seconds(stats.p99),
            _seconds(stats.max),
        )
    return table


def invalid_text(verdict: Verdict) -> Text:
    """Why the run is invalid, one reason a line (empty for a valid run)."""
    if not verdict.invalid_reasons:
        return Text()
    text = Text("INVALID RUN: it proves nothing, whatever the invariants say\n", "bold yellow")
    for reason in verdict.invalid_reasons:
        text.append(f"  - {reason}\n")
    return text


def money_text(verdict: Verdict) -> Text:
    """One line of the run's money (report.json's `payments`); empty when no money moved."""
    money = verdict.money

    def figure(key: str) -> tuple[int, str]:
        value = money.get(key) or {}
        cents = value.get("cents") or 0
        return int(value.get("count") or 0), f"¥{cents / 100:,.2f}"

    billed, paid = figure("settlements_billed"), figure("settlements_paid")
    credits, debits = figure("bank_credits"), figure("bank_debits")
    fees, settled = figure("bank_fees"), figure("payments_settled")
    if not (billed[0] or credits[0] or debits[0]):
        return Text()
    rejected = figure("payments_rejected")[0]
    return Text(
        f"money: settlements {billed[0]} billed, {paid[0]} paid {paid[1]};"
        f" bank credits {credits[0]} {credits[1]}, debits {debits[0]} {debits[1]}"
        f" (fees {fees[0]} {fees[1]}); supplier payments {settled[0]} settled {settled[1]},"
        f" {rejected} rejected; statements fetched {money.get('statements_fetched') or 0}"
    )


def render_summary(verdict: Verdict, console: Console | None = None) -> None:
    """Print the invariants table, why the run is invalid if it is, the money line and the
    latency table."""
    (console or Console()).print(
        Group(
            summary_table(verdict),
            invalid_text(verdict),
            money_text(verdict),
            latency_table(verdict),
        )
    )


def write_reports(verdict: Verdict, run_dir: Path, extra: Mapping[str, Any] | None = None) -> None:
    """report.json, junit.xml and report.html, side by side in the run folder."""
    write_report_json(verdict, run_dir / "report.json", extra=extra)
    write_junit_xml(verdict, run_dir / "junit.xml")
    write_html_report(verdict, run_dir, run_dir / "report.html")
