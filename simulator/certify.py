"""`ecomock certify`: play the suite level by level, then write certificate.json and index.html.

Playing one run is the caller's (the CLI's `play_run`, with its progress display); this module
plans the runs from the suite, reads each run's report.json for the certificate, and renders
the summary page (docs/CERTIFY.md).
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from contract_tests.files import write_atomically
from contract_tests.html_report import STYLE
from contract_tests.metrics import FLOWS
from contract_tests.run_status import INTERRUPTED
from fake_systems.ecosystem import PUSHES, protocol_operations
from simulator.certificate import (
    CERTIFICATE_FORMAT,
    CERTIFICATE_KIND,
    NOT_AVAILABLE,
    Suite,
    SuiteLevel,
    level_verdict,
    overall_verdict,
    results_hash,
    sha256_file,
    suite_hash,
)
from simulator.scenario import Scenario, ScenarioError, load_scenario

CERTIFICATE_FILE = "certificate.json"
SUMMARY_FILE = "index.html"
HARNESS_ROOT = Path(__file__).resolve().parents[1]
SUITE_FILE = HARNESS_ROOT / "scenarios" / "certify" / "suite.yaml"


@dataclass(frozen=True)
class PlannedRun:
    """One run of a level: a scenario with its seed (and drill) set, and its folder."""

    level: int
    file: str  # as the suite names it
    scenario: Scenario
    dir: str  # relative to the certification's folder

    @property
    def seed(self) -> int:
        return self.scenario.seed

    @property
    def drill(self) -> float | None:
        drill = self.scenario.demand.drill
        return None if drill == 1 else drill


def plan_level(suite_path: Path, level: SuiteLevel) -> tuple[list[PlannedRun], list[str]]:
    """The level's runs, or the problems that keep it from running (a scenario file missing
    or invalid): a level is played whole or not at all."""
    planned: list[PlannedRun] = []
    problems: list[str] = []
    for index, run in enumerate(level.runs):
        try:
            scenario = load_scenario(
                suite_path.parent / run.scenario, protocol_operations(), PUSHES
            )
            if run.drill is not None:
                scenario = scenario.with_drill(run.drill)
        except (ScenarioError, ValueError) as exc:
            problems.append(f"L{level.level} runs.{index}.scenario: {exc}")
            continue
        drilled = f"-drill{run.drill:g}" if run.drill is not None else ""
        for seed in run.seeds:
            planned.append(
                PlannedRun(
                    level.level,
                    run.scenario,
                    scenario.model_copy(update={"seed": seed}),
                    f"L{level.level}/{Path(run.scenario).stem}-seed{seed}{drilled}",
                )
            )
    return ([] if problems else planned), problems


def run_figures(report: Mapping[str, Any]) -> dict[str, Any]:
    """The key figures of one run, from its report.json."""
    latency = report.get("latency_seconds") or {}
    return {
        "orders_created": (report.get("orders") or {}).get("created"),
        "orders_per_min": (report.get("throughput") or {}).get("orders_per_min"),
        "p99_seconds": {flow: (latency.get(flow) or {}).get("p99") for flow in FLOWS},
        "faults_hit": (report.get("faults") or {}).get("total"),
        "crashes": len(report.get("crashes") or []),
    }


def record_run(planned: PlannedRun, out: Path, error: str | None = None) -> dict[str, Any]:
    """The certificate's entry for a run: its verdict and figures from its report.json, or
    "error" when it could not be played or left no report."""
    entry: dict[str, Any] = {
        "scenario": planned.scenario.name,
        "file": planned.file,
        "seed": planned.seed,
        "drill": planned.drill,
        "dir": None,
        "verdict": "error",
        "report_sha256": None,
    }
    report_path = out / planned.dir / "report.json"
    report: dict[str, Any] | None = None
    if error is None:
        try:
            report = json.loads(report_path.read_bytes())
        except (OSError, ValueError) as exc:
            error = f"no readable report.json in {planned.dir}: {exc}"
    if report is None:
        return {**entry, "error": error}
    return {
        **entry,
        "dir": planned.dir,
        "verdict": report.get("verdict"),
        "report_sha256": sha256_file(report_path),
        "figures": run_figures(report),
        "failed_invariants": [
            inv.get("name") for inv in report.get("invariants", []) if not inv.get("passed")
        ],
        "invalid_reasons": report.get("invalid_reasons", []),
    }


def interrupted(run: Mapping[str, Any], out: Path) -> bool:
    """Whether SIGTERM or Ctrl-C stopped this run: then the suite stops too."""
    if run.get("dir") is None:
        return False
    report = json.loads((out / run["dir"] / "report.json").read_bytes())
    status = (report.get("run") or {}).get("status") or {}
    return bool(status.get("state") == INTERRUPTED)


def level_figures(runs: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """A level's figures over its runs: orders in all, the slowest rate, the worst p99s."""
    figures = [run["figures"] for run in runs if "figures" in run]
    rates = [f["orders_per_min"] for f in figures if f["orders_per_min"] is not None]
    worst: dict[str, float | None] = {}
    for flow in FLOWS:
        values = [f["p99_seconds"][flow] for f in figures if f["p99_seconds"][flow] is not None]
        worst[flow] = max(values) if values else None
    return {
        "runs": len(runs),
        "runs_passed": sum(run["verdict"] == "pass" for run in runs),
        "orders_created": sum(f["orders_created"] or 0 for f in figures),
        "slowest_orders_per_min": min(rates) if rates else None,
        "worst_p99_seconds": worst,
    }


def level_entry(
    level: SuiteLevel, runs: Sequence[Mapping[str, Any]], problems: Sequence[str]
) -> dict[str, Any]:
    """A level of the certificate: "not_available" (with why), or its verdict from its runs."""
    if not level.available:
        return {
            "level": level.level,
            "name": level.name,
            "verdict": NOT_AVAILABLE,
            "reason": level.reason,
            "runs": [],
        }
    return {
        "level": level.level,
        "name": level.name,
        "verdict": level_verdict([run["verdict"] for run in runs], problems),
        "problems": list(problems),
        "seeds": sorted({run["seed"] for run in runs}),
        "figures": level_figures(runs),
        "runs": list(runs),
    }


@dataclass(frozen=True)
class Certification:
    """What is certified: the connector, the suite, and up to which level."""

    connector: str
    connector_profile: Path
    suite_path: Path
    suite: Suite
    up_to: int
    harness: Mapping[str, Any]


def certify(
    job: Certification,
    out: Path,
    play_run: Callable[[PlannedRun, Path], None],
    announce: Callable[[str], None],
) -> dict[str, Any]:
    """Play every available level up to `job.up_to`, in order; the unsigned certificate.

    `play_run(planned, run_dir)` plays one run, leaving its reports in `run_dir`; an
    exception from it makes that run an "error". SIGTERM or Ctrl-C stops the suite after the
    run it stopped; the levels not played are errors.
    """
    levels: list[dict[str, Any]] = []
    stopped = False
    for level in job.suite.levels:
        if level.level > job.up_to:
            break
        if not level.available:
            announce(f"L{level.level} {level.name}: not available: {level.reason}")
            levels.append(level_entry(level, [], []))
            continue
        planned, problems = plan_level(job.suite_path, level)
        if stopped:
            problems = ["not played: the certification was interrupted"]
        runs: list[dict[str, Any]] = []
        for index, run in enumerate(planned if not problems else []):
            announce(
                f"L{level.level} {level.name}: run {index + 1} of {len(planned)},"
                f" {run.file} seed {run.seed}" + (f" drill {run.drill:g}" if run.drill else "")
            )
            try:
                play_run(run, out / run.dir)
            except Exception as exc:
                runs.append(record_run(run, out, error=f"{type(exc).__name__}: {exc}"))
                continue
            runs.append(record_run(run, out))
            if interrupted(runs[-1], out):
                stopped = True
                problems = ["interrupted: the runs after this one were not played"]
                break
        entry = level_entry(level, runs, problems)
        for problem in problems:
            announce(f"L{level.level} {level.name}: {problem}")
        announce(f"L{level.level} {level.name}: {entry['verdict'].upper()}")
        levels.append(entry)
    digest, files = suite_hash(job.suite_path, job.suite)
    certificate = {
        "format": CERTIFICATE_FORMAT,
        "kind": CERTIFICATE_KIND,
        "issued_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "harness": dict(job.harness),
        "connector": {
            "name": job.connector,
            "profile": shown_path(job.connector_profile),
            "profile_sha256": sha256_file(job.connector_profile),
        },
        "suite": {
            "path": shown_path(job.suite_path),
            "version": job.suite.version,
            "sha256": digest,
            "files": files,
        },
        "levels_requested": job.up_to,
        "levels": levels,
        "verdict": overall_verdict(level["verdict"] for level in levels),
    }
    certificate["results_sha256"] = results_hash(run for level in levels for run in level["runs"])
    return certificate


def shown_path(path: Path) -> str:
    """A path inside ecomock's checkout relative to it (the same on every machine)."""
    try:
        return str(path.resolve().relative_to(HARNESS_ROOT))
    except ValueError:
        return str(path)


def write_certificate(certificate: Mapping[str, Any], out: Path) -> Path:
    """certificate.json in `out`, indented (the signature does not depend on the layout)."""
    path = out / CERTIFICATE_FILE
    data = json.dumps(certificate, indent=2, ensure_ascii=False) + "\n"
    write_atomically(path, data.encode())
    return path


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _run_row(run: Mapping[str, Any]) -> str:
    verdict = str(run["verdict"])
    figures = run.get("figures") or {}
    p99 = figures.get("p99_seconds") or {}
    rate = figures.get("orders_per_min")
    if run.get("dir") is not None:
        link = f'<a href="{html.escape(run["dir"])}/report.html">report</a>'
    else:
        link = html.escape(run.get("error") or "")
    why = ", ".join(run.get("failed_invariants") or []) or "; ".join(
        run.get("invalid_reasons") or []
    )
    drill = "" if run.get("drill") is None else f" ×{run['drill']:g}"
    return (
        f"<tr><td>{html.escape(str(run['file']))}{drill}</td><td class=num>{run['seed']}</td>"
        f'<td><span class="verdict {html.escape(verdict)}">{html.escape(verdict)}</span></td>'
        f"<td class=num>{figures.get('orders_created') or 0:,}</td>"
        f"<td class=num>{'-' if rate is None else f'{rate:,.0f}'}</td>"
        + "".join(f"<td class=num>{_seconds(p99.get(flow))}</td>" for flow in FLOWS)
        + f"<td>{link}</td><td>{html.escape(why)}</td></tr>"
    )


def _level_section(level: Mapping[str, Any]) -> str:
    verdict = str(level["verdict"])
    title = f"L{level['level']} {html.escape(str(level['name']))}"
    shown = verdict.replace("_", " ")
    badge = f'<span class="verdict {html.escape(verdict)}">{html.escape(shown)}</span>'
    if verdict == NOT_AVAILABLE:
        return f"<h2>{title} {badge}</h2><p>{html.escape(str(level['reason']))}</p>"
    problems = "".join(f"<li>{html.escape(p)}</li>" for p in level.get("problems", []))
    head = "".join(
        f"<th>{h}</th>"
        for h in (
            "scenario",
            "seed",
            "verdict",
            "orders",
            "orders / min",
            *(f"p99 {flow} (s)" for flow in FLOWS),
            "run",
            "failed / invalid because",
        )
    )
    rows = "".join(_run_row(run) for run in level["runs"])
    return (
        f"<h2>{title} {badge}</h2>"
        + (f'<div class="invalid-box"><ul>{problems}</ul></div>' if problems else "")
        + f"<table><tr>{head}</tr>{rows}</table>"
    )


def render_summary(certificate: Mapping[str, Any]) -> str:
    """index.html: the verdict per level, each run linked to its report.html."""
    verdict = str(certificate["verdict"])
    connector = html.escape(str(certificate["connector"]["name"]))
    harness = certificate["harness"]
    suite = certificate["suite"]
    signer = (certificate.get("signature") or {}).get("public_key", "unsigned")
    levels = "".join(_level_section(level) for level in certificate["levels"])
    badge = f'<span class="verdict {html.escape(verdict)}">{html.escape(verdict.upper())}</span>'
    dirty = " (with uncommitted changes)" if harness.get("dirty") else ""
    return f"""<!doctype html><html lang="en"><meta charset="utf-8">
<title>ecomock certification {html.escape(verdict)}: {connector}</title>
<style>{STYLE}.not_available{{background:#6b7280}}.error{{background:#7f1d1d}}</style><body>
<h1>ecomock certification {badge}</h1>
<p class="meta">connector <b>{connector}</b>, levels 1–{certificate["levels_requested"]},
issued {html.escape(str(certificate["issued_at"]))}<br>
ecomock {html.escape(str(harness.get("version")))} at commit
{html.escape(str(harness.get("commit")))}{dirty}<br>
suite {html.escape(str(suite["path"]))} version {suite["version"]}, sha256
<code>{html.escape(str(suite["sha256"]))}</code><br>
signed with Ed25519 key <code>{html.escape(str(signer))}</code>:
<code>ecomock verify certificate.json --public-key FILE</code> checks it.</p>
{levels}
</body></html>
"""


def write_summary(certificate: Mapping[str, Any], out: Path) -> Path:
    path = out / SUMMARY_FILE
    write_atomically(path, render_summary(certificate).encode())
    return path
