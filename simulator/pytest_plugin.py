"""The pytest plugin (entry point `pytest11: ecomock`): certify a connector as a test session.

`pytest --ecomock-connector PROFILE [--ecomock-scenario FILE] [--ecomock-seed N]
[--ecomock-out DIR]` adds one test item per invariant the judge reports (`ecomock::<name>`)
and a `ecomock::run_valid` item, plays the scenario once, at the first item that needs it,
and passes or fails each item with the judge's verdict. Custom tests get the played run from
the session fixture `ecomock_run`. Without `--ecomock-connector` the plugin adds nothing and
plays nothing: this module imports only pytest and the standard library until then, as it
loads in every pytest session of an environment where ecomock is installed. docs/CI.md.

The items are added in `pytest_collection_modifyitems`, under one collector attached to the
session: it needs no test file, so `pytest --ecomock-connector X` works in any folder, and the
names are known before the run (`contract_tests.judge.invariant_names`), so `--collect-only`,
`-k` and junit.xml see them as ordinary tests.

It sits in the orchestration layer beside the CLI (it plays runs); see docs/ARCHITECTURE.md.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from contract_tests.database import RunConnection
    from contract_tests.judge import Verdict
    from simulator.connector import ConnectorProfile
    from simulator.runner import RunResult
    from simulator.scenario import Scenario

COLLECTOR = "ecomock"
VALIDITY_ITEM = "run_valid"  # the same name as the validity test case of the run's junit.xml
DEFAULT_SCENARIO = "smoke"
MARKER = "ecomock"  # on every item: `-m ecomock` runs them alone in a repository with tests
MARKER_HELP = "an ecomock certification test (the plugin marks its own items with it)"
# Options that mean nothing without a connector: given alone, they are a mistake worth saying.
DEPENDENT_OPTIONS = ("ecomock_scenario", "ecomock_seed", "ecomock_out")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("ecomock", "ecomock: play a scenario and judge a connector")
    group.addoption(
        "--ecomock-connector",
        metavar="PROFILE",
        help="connector profile (a connector.yaml, its folder, or a name under ecomock's"
        " connectors/, e.g. reference): play the scenario against it, one test per invariant",
    )
    group.addoption(
        "--ecomock-scenario",
        metavar="FILE",
        help=f"scenario YAML, or the name of a shipped one (default: {DEFAULT_SCENARIO})",
    )
    group.addoption("--ecomock-seed", metavar="N", type=int, help="override the scenario's seed")
    group.addoption(
        "--ecomock-out",
        metavar="DIR",
        help="run folder for the databases and reports (default: runs/<time>-<scenario>/)",
    )


class EcomockRunError(Exception):
    """The scenario could not be played at all (the connector would not start...)."""


class CheckFailed(Exception):
    """An ecomock item's failure: the whole report (no traceback to show) and its headline."""

    def __init__(self, text: str, headline: str) -> None:
        super().__init__(text)
        self.headline = headline


@dataclass(frozen=True)
class Crash:
    """Where and what in one line, as pytest's `reprcrash` (junit's message, `-r` lines)."""

    path: str
    lineno: int
    message: str


@dataclass(frozen=True)
class CheckReport:
    """A failed item's report (`longrepr`): the text in full, its headline for summaries."""

    text: str
    reprcrash: Crash

    def toterminal(self, tw: Any) -> None:
        tw.line(self.text)

    def __str__(self) -> str:
        return self.text


@dataclass
class EcomockRun:
    """The played run, as the `ecomock_run` fixture gives it to custom tests.

    `db` is one read-only sqlite3 connection with the run's oms, wms, erp, bank and carrier
    databases attached under those names (`SELECT ... FROM oms.orders JOIN wms....`).
    """

    run_dir: Path
    verdict: Verdict
    db: RunConnection


@dataclass
class EcomockSession:
    """What the options asked for, and the run once played (or why it could not be)."""

    scenario: Scenario
    profile: ConnectorProfile
    run_dir: Path
    announcements: list[str] = field(default_factory=list)
    _result: RunResult | None = None
    _error: BaseException | None = None

    def result(self) -> RunResult:
        """The judged run: played at the first call, the same result (or error) after."""
        if self._result is None and self._error is None:
            from simulator.connector import ConnectorError
            from simulator.runner import play, run_async

            try:
                self._result = run_async(
                    play(
                        self.scenario,
                        self.profile,
                        self.run_dir,
                        lambda snapshot: None,
                        announce=self.announcements.append,
                    )
                )
            except ConnectorError as exc:
                self._error = EcomockRunError(f"the run could not be played: {exc}")
            except Exception as exc:
                # A bug, ours or the harness's: its traceback once, on the item that met it.
                self._error = EcomockRunError(
                    f"the run could not be played: {type(exc).__name__}: {exc}"
                    " (traceback on the first ecomock item)"
                )
                raise
        if self._error is not None:
            raise self._error
        assert self._result is not None
        return self._result

    @property
    def objectives(self) -> dict[str, float]:
        """The scenario's objectives, as the runner hands them to the judge."""
        return self.scenario.objectives.model_dump(exclude_none=True)

    @property
    def played(self) -> RunResult | None:
        return self._result


SESSION_KEY = pytest.StashKey[EcomockSession]()


def find_scenario(spec: str) -> Path:
    """A scenario file, or the name of one shipped in ecomock's scenarios/ (`double11`)."""
    from simulator.connector import REPO_ROOT

    shipped = REPO_ROOT / "scenarios"
    for candidate in (Path(spec), shipped / spec, shipped / f"{spec}.yaml"):
        if candidate.is_file():
            return candidate
    known = ", ".join(sorted(p.stem for p in shipped.glob("*.yaml")))
    raise pytest.UsageError(
        f"--ecomock-scenario: no scenario file at {spec!r}; shipped scenarios: {known}"
    )


def _session(config: pytest.Config) -> EcomockSession | None:
    """The plugin's state, or None when no --ecomock-connector was given."""
    return config.stash.get(SESSION_KEY, None)


def pytest_configure(config: pytest.Config) -> None:
    """With --ecomock-connector: load and check the profile and the scenario, before any test."""
    # Registered always, so custom tests may carry it under --strict-markers too.
    config.addinivalue_line("markers", f"{MARKER}: {MARKER_HELP}")
    connector: str | None = config.getoption("ecomock_connector")
    if connector is None:
        stray = [
            f"--{name.replace('_', '-')}"
            for name in DEPENDENT_OPTIONS
            if config.getoption(name) is not None
        ]
        if stray:
            raise pytest.UsageError(f"{', '.join(stray)} needs --ecomock-connector")
        return
    # Each xdist worker would play its own run (in the same --ecomock-out): one run, one process.
    workers = (
        config.getoption("numprocesses", None) if config.pluginmanager.hasplugin("xdist") else None
    )
    if workers not in (None, 0):
        raise pytest.UsageError(
            "--ecomock-connector plays one run in this process: run it without -n"
        )
    from fake_systems.ecosystem import PUSHES, protocol_operations
    from simulator.connector import ConnectorError, load_profile
    from simulator.runner import default_run_dir
    from simulator.scenario import ScenarioError, load_scenario

    try:
        profile = load_profile(connector)
    except ConnectorError as exc:
        raise pytest.UsageError(f"--ecomock-connector: {exc}") from exc
    scenario_file = find_scenario(config.getoption("ecomock_scenario") or DEFAULT_SCENARIO)
    try:
        scenario = load_scenario(scenario_file, protocol_operations(), PUSHES)
    except ScenarioError as exc:
        raise pytest.UsageError(f"--ecomock-scenario: {exc}") from exc
    seed: int | None = config.getoption("ecomock_seed")
    if seed is not None:
        scenario = scenario.model_copy(update={"seed": seed})
    out: str | None = config.getoption("ecomock_out")
    run_dir = Path(out) if out else default_run_dir(scenario.name)
    config.stash[SESSION_KEY] = EcomockSession(scenario, profile, run_dir)


def pytest_report_header(config: pytest.Config) -> str | None:
    session = _session(config)
    if session is None:
        return None
    scenario = session.scenario
    return (
        f"ecomock: connector {session.profile.name}, scenario {scenario.name} (seed"
        f" {scenario.seed}, ~{scenario.expected_orders:,.0f} orders over"
        f" {scenario.wall_duration_seconds:,.0f} wall s), run folder {session.run_dir}/"
    )


class EcomockCollector(pytest.Collector):
    """The `ecomock` node: one item per invariant the judge reports, and `run_valid`."""

    def collect(self) -> list[pytest.Item]:
        from contract_tests.judge import invariant_names

        session = _session(self.config)
        assert session is not None
        names = [VALIDITY_ITEM, *invariant_names(session.objectives)]
        items = [EcomockItem.from_parent(self, name=name) for name in names]
        for item in items:
            item.add_marker(MARKER)
        return list(items)


class EcomockItem(pytest.Item):
    """One of the judge's invariants (or the run's validity), judged on the session's run."""

    def runtest(self) -> None:
        from contract_tests.judge import invariant_names
        from contract_tests.report import failure_message, failure_text

        session = _session(self.config)
        assert session is not None
        verdict = session.result().verdict
        where = f"run folder: {verdict.run_dir}/ (report.html, report.json, junit.xml)"
        if self.name == VALIDITY_ITEM:
            # An invalid run proves nothing, whatever its invariants say: this item says why.
            reasons = list(verdict.invalid_reasons)
            # Items are named before the run; an invariant the judge added since is not lost.
            named = set(invariant_names(session.objectives))
            unnamed = sorted({inv.name for inv in verdict.invariants} - named)
            if unnamed:
                reasons.append(f"the judge reported invariants no test item names: {unnamed}")
            if reasons:
                lines = "\n".join(f"  - {reason}" for reason in reasons)
                raise CheckFailed(
                    f"INVALID RUN: it proves nothing\n{lines}\n{where}",
                    "run invalid: " + reasons[0].splitlines()[0],  # as the run's junit.xml
                )
            return
        try:
            inv = verdict.invariant(self.name)
        except KeyError:
            missing = f"the judge did not report {self.name}"
            raise CheckFailed(f"{missing}\n{where}", missing) from None
        self.user_properties += [("checked", inv.checked), ("violations", inv.violations)]
        if not inv.passed:
            raise CheckFailed(f"{failure_text(inv)}\n{where}", failure_message(inv))

    def repr_failure(
        self,
        excinfo: pytest.ExceptionInfo[BaseException],
        style: Any = None,
    ) -> str | Any:
        """The judge's own words for a verdict; a traceback only for a bug."""
        error = excinfo.value
        if isinstance(error, CheckFailed | EcomockRunError):
            text = str(error)
            headline = error.headline if isinstance(error, CheckFailed) else text
            path, lineno, _ = self.reportinfo()
            return CheckReport(text, Crash(str(path), lineno or 0, headline))
        return super().repr_failure(excinfo, style)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        # No file of the user's holds these tests: the progress line reads `ecomock ..F..`.
        return self.config.rootpath / COLLECTOR, None, f"{COLLECTOR}::{self.name}"


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    """Add the ecomock items (first among the hooks, so that -k, -m and others see them)."""
    if _session(config) is None:
        return
    collector = EcomockCollector.from_parent(session, name=COLLECTOR, nodeid=COLLECTOR)
    # Through the collection hooks, as a file's tests are: the terminal counts the items and a
    # broken collector is a collection error, not a crash.
    report = config.hook.pytest_make_collect_report(collector=collector)
    config.hook.pytest_collectreport(report=report)
    items.extend(node for node in report.result if isinstance(node, pytest.Item))


@pytest.fixture(scope="session")
def ecomock_run(request: pytest.FixtureRequest) -> Iterator[EcomockRun]:
    """The session's played run: its folder, the judge's Verdict, and the attached databases.

    Skipped without --ecomock-connector, so tests written on it can live beside unit tests.
    """
    session = _session(request.config)
    if session is None:
        pytest.skip("ecomock_run needs a run: pass --ecomock-connector PROFILE")
    from contract_tests.database import attach_run

    result = session.result()
    db = attach_run(result.run_dir)
    try:
        yield EcomockRun(result.run_dir, result.verdict, db)
    finally:
        db.close()


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    """After the tests: the verdict, why the run was invalid, where its reports are."""
    session = _session(config)
    if session is None or config.option.collectonly:
        return
    terminalreporter.section("ecomock")
    for message in session.announcements:
        terminalreporter.write_line(message)
    result = session.played
    if result is None:
        terminalreporter.write_line("the scenario was not played (no ecomock item ran)")
        return
    verdict = result.verdict
    terminalreporter.write_line(
        f"verdict {verdict.verdict.upper()}: {len(verdict.failed_invariants)} of"
        f" {len(verdict.invariants)} invariants failed; {verdict.counts.get('created', 0)}"
        f" orders; report: {result.run_dir / 'report.html'}"
    )
    for reason in verdict.invalid_reasons:
        terminalreporter.write_line(f"  invalid: {reason}")
