"""`ecomock`: play scenarios against a connector, serve the fakes, judge finished runs."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table
from rich.text import Text

from contract_tests.coverage import Catalogue, coverage_markdown, read_run
from contract_tests.judge import Verdict, judge_folder
from contract_tests.report import (
    VERDICT_STYLES,
    invalid_text,
    money_text,
    summary_table,
    write_reports,
)
from fake_systems.common.app import CONTROL_TOKEN_ENV
from fake_systems.ecosystem import PUSHES, SYSTEMS, protocol_operations
from simulator.certificate import EXIT_CODES as CERTIFY_EXIT_CODES
from simulator.certificate import (
    CertifyError,
    default_key_path,
    harness_identity,
    load_suite,
    read_public_key,
    sign,
    signing_key,
    verify_certificate,
)
from simulator.certify import (
    CERTIFICATE_FILE,
    HARNESS_ROOT,
    SUITE_FILE,
    Certification,
    PlannedRun,
    write_certificate,
    write_summary,
)
from simulator.certify import certify as play_suite
from simulator.chaos import (
    DEFAULT_ENDPOINTS,
    ENDPOINTS_ENV,
    ChaosClient,
    ChaosError,
    read_endpoints,
    read_plan,
)
from simulator.connector import ConnectorError, ConnectorProfile, find_profile, load_profile
from simulator.progress import ProgressDisplay
from simulator.runner import (
    LocustTraffic,
    SimulatedDemand,
    Traffic,
    default_run_dir,
    play,
    run_async,
    serve_fakes,
)
from simulator.scenario import Scenario, ScenarioError, describe_validation_error, load_scenario

EXIT_CODES_HELP = (
    "Exit codes: 0 pass (every invariant held), 1 fail (an invariant was violated),"
    " 2 invalid (the run proves nothing: no orders, a database missing or damaged, the run"
    " interrupted or its connector dead, a declared fault that never fired; or it could not"
    " be started at all)."
)
app = typer.Typer(
    help=(
        "ecomock: fake OMS, WMS, ERP, bank and carrier servers, a simulated business driving them,"
        " and a judge of the connector in between.\n\n" + EXIT_CODES_HELP
    ),
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="markdown",
)
console = Console()
err_console = Console(stderr=True)
KEPT_REPORT_SECTIONS = ("locust",)


def _fail(message: str, code: int = 2) -> typer.Exit:
    err_console.print(f"[bold red]error:[/bold red] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def _require_fresh(out: Path, what: str) -> None:
    """Refuse an --out folder that holds anything: a run played into another run's folder would
    mix two runs' rows under one report, or meet databases of an older schema."""
    if out.exists() and any(out.iterdir()):
        raise _fail(f"--out: {out} is not empty; {what} needs a fresh folder")


def _announce(message: str) -> None:
    """Something the user must know at once, during the run (the connector died, a signal)."""
    console.print(Text(message, style="bold yellow"), highlight=False, soft_wrap=True)


def _conclude(verdict: Verdict) -> typer.Exit:
    """Print the verdict (and why it is invalid, unwrapped: paths stay whole); exit with it."""
    console.print(summary_table(verdict))
    console.print(money_text(verdict), highlight=False, soft_wrap=True)
    console.print(invalid_text(verdict), soft_wrap=True)
    return typer.Exit(verdict.exit_code)


ScenarioArg = Annotated[
    Path, typer.Argument(metavar="SCENARIO", help="scenario YAML, e.g. scenarios/demo.yaml")
]
ConnectorOpt = Annotated[
    str,
    typer.Option(
        "--connector", "-c", help="connector profile: a path, or a name under connectors/"
    ),
]
SeedOpt = Annotated[int | None, typer.Option(help="override the scenario's seed")]
DrillOpt = Annotated[
    float | None,
    typer.Option(help="scale every demand rate, e.g. 1.5 for a peak drill at 150 %", min=0.01),
]
OutOpt = Annotated[
    Path | None, typer.Option(help="run folder (default: `runs/<time>-<scenario>/`)")
]


def _play(
    scenario_file: Path,
    connector: str,
    seed: int | None,
    drill: float | None,
    out: Path | None,
    traffic: Traffic,
    source: str,
) -> None:
    """Load, play, judge and report one run; exits 0 pass, 1 fail, 2 invalid or could not run."""
    try:
        scenario = load_scenario(scenario_file, protocol_operations(), PUSHES)
        profile = load_profile(connector)
        if drill is not None:
            scenario = scenario.with_drill(drill)
    except (ScenarioError, ConnectorError) as exc:
        raise _fail(str(exc)) from exc
    except ValidationError as exc:
        raise _fail(f"--drill: {describe_validation_error(exc)}") from exc
    if seed is not None:
        scenario = scenario.model_copy(update={"seed": seed})
    if out is not None:
        _require_fresh(out, "a run")
    try:
        verdict = _play_scenario(
            scenario, profile, out or default_run_dir(scenario.name), traffic, source
        )
    except ConnectorError as exc:
        raise _fail(str(exc)) from exc
    raise _conclude(verdict)


def _play_scenario(
    scenario: Scenario, profile: ConnectorProfile, run_dir: Path, traffic: Traffic, source: str
) -> Verdict:
    """Play one run with live progress and say where its reports are; its verdict."""
    drilled = f", drill {scenario.demand.drill:g}x" if scenario.demand.drill != 1 else ""
    console.print(
        f"[bold]ecomock[/bold] playing [cyan]{scenario.name}[/cyan] (seed {scenario.seed}"
        f"{drilled}, ~{scenario.expected_orders:,.0f} orders over "
        f"{scenario.wall_duration_seconds:,.0f} wall s at "
        f"{scenario.clock.scale:g}x, {source}) against connector [cyan]{profile.name}[/cyan]"
        f" → {run_dir}/",
        highlight=False,
    )
    with ProgressDisplay(console, f"{scenario.name} × {profile.name}") as display:
        result = run_async(
            play(scenario, profile, run_dir, display.show, traffic, announce=_announce)
        )
    console.print(
        f"report: {run_dir / 'report.html'}   json: {run_dir / 'report.json'}"
        f"   junit: {run_dir / 'junit.xml'}",
        highlight=False,
    )
    return result.verdict


@app.command()
def run(
    scenario_file: ScenarioArg,
    connector: ConnectorOpt = "reference",
    seed: SeedOpt = None,
    drill: DrillOpt = None,
    out: OutOpt = None,
) -> None:
    """Play SCENARIO against a connector, judge it, write report.html, report.json, junit.xml.

    Exits 0 when every invariant passed, 1 when one failed, 2 when the run is invalid (no
    orders, the connector died, SIGTERM or Ctrl-C stopped it) or could not be made. SIGTERM and
    Ctrl-C stop the connector and still write the reports, marked interrupted; a second one
    quits at once. The connector is stopped even if ecomock is killed.
    """
    _play(scenario_file, connector, seed, drill, out, SimulatedDemand(), "simulated demand")


@app.command()
def load(
    scenario_file: ScenarioArg,
    connector: ConnectorOpt = "reference",
    seed: SeedOpt = None,
    drill: DrillOpt = None,
    workers: Annotated[
        int,
        typer.Option(help="Locust workers beside a master (0: one Locust process)", min=0),
    ] = 0,
    out: OutOpt = None,
) -> None:
    """Like `run`, but Locust pushes the orders over HTTP, following the scenario's curve.

    report.json gains a `locust` section with Locust's own statistics. See docs/LOAD.md.
    """
    source = f"Locust, {workers} workers" if workers else "Locust"
    _play(scenario_file, connector, seed, drill, out, LocustTraffic(workers), source)


@app.command()
def up(
    out: Annotated[Path, typer.Option(help="folder for the databases and endpoints.json")] = Path(
        "runs/up"
    ),
    scenario_file: Annotated[
        Path, typer.Option("--scenario", help="scenario whose world and clock to use")
    ] = Path("scenarios/demo.yaml"),
    scale: Annotated[
        float | None, typer.Option(help="override the clock scale (1 = real time)")
    ] = None,
    host: Annotated[
        str,
        typer.Option(
            help="address to listen on; beyond loopback (e.g. 0.0.0.0) /_fake/ needs a token"
        ),
    ] = "127.0.0.1",
    control_token: Annotated[
        str | None,
        typer.Option(
            envvar=CONTROL_TOKEN_ENV,
            help="bearer token /_fake/ requires (default: none on loopback, else generated)",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Serve the five fakes alone (no traffic) for developing a connector; Ctrl-C stops them.

    /_fake/ (the clock, every tenant's history, the fault rules) is a local development
    surface: on loopback it needs nothing; with --host beyond loopback it needs
    `Authorization: Bearer <token>`, the token written to endpoints.json (`control_token`).
    `ecomock chaos` changes the fault plan while it runs.
    """
    try:
        scenario = load_scenario(scenario_file, protocol_operations(), PUSHES)
    except ScenarioError as exc:
        raise _fail(str(exc)) from exc
    if scale is not None:
        scenario = scenario.model_copy(
            update={"clock": scenario.clock.model_copy(update={"scale": scale})}
        )

    async def serve() -> None:
        async with serve_fakes(scenario, out, host, control_token) as fakes:
            fakes.clock.start()
            console.print_json(json.dumps(fakes.endpoints, ensure_ascii=False))
            console.print(
                f"endpoints written to {out / 'endpoints.json'}; Ctrl-C to stop", highlight=False
            )
            await asyncio.Event().wait()

    try:
        run_async(serve())
    except KeyboardInterrupt:
        console.print("stopped")


@app.command()
def check(
    run_dir: Annotated[Path, typer.Argument(metavar="DIR", help="a finished run folder")],
) -> None:
    """Judge a finished run again from its databases; rewrites the three reports.

    Exits 0 pass, 1 fail, 2 invalid: a folder without its databases or with a damaged one, a
    run without orders, or one that was interrupted, killed or lost its connector.
    """
    if not run_dir.is_dir():
        raise _fail(f"{run_dir} is not a folder")
    verdict = judge_folder(run_dir)
    try:
        write_reports(verdict, run_dir, extra=_kept_sections(run_dir))
    except OSError as exc:
        # A read-only copy of a run can still be judged; only the rewrite is lost.
        err_console.print(
            f"[yellow]warning:[/yellow] reports not rewritten: {exc}", highlight=False
        )
    raise _conclude(verdict)


@app.command()
def certify(
    connector: ConnectorOpt = "reference",
    level: Annotated[
        int,
        typer.Option(help="certify levels 1 up to this one (L5 peak alone is ~25 wall min)"),
    ] = 6,
    out: Annotated[
        Path | None, typer.Option(help="certification folder (default: `runs/<time>-certify/`)")
    ] = None,
    suite_file: Annotated[
        Path, typer.Option("--suite", help="the suite file (levels, scenarios, seeds)")
    ] = SUITE_FILE,
    key: Annotated[
        Path | None,
        typer.Option(
            help="Ed25519 signing key, PEM; made on first use (default: $ECOMOCK_CERTIFY_KEY,"
            " else ~/.config/ecomock/certify-key)",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Play the certification suite against a connector, level by level; write a signed
    certificate.json and index.html (each run's report.html linked) in the folder.

    L1 sales order flow, L2 after-sales, L3 stock and master data, L4 money, L5 peak, L6
    chaos, crash and restart. A level passes only when every run of it passed; one whose flows
    do not exist yet is "not available", never passed. Exits 0 when every available level
    passed, 1 when a level failed, 2 when a run was invalid or could not be played, or the
    suite could not run. See docs/CERTIFY.md.
    """
    if not 1 <= level <= 6:
        raise _fail(f"--level: {level} is not a level (1 to 6)")
    out = out or default_run_dir("certify")
    _require_fresh(out, "a certification")
    try:
        suite = load_suite(suite_file)
        profile = load_profile(connector)
        profile_path = find_profile(connector)
        signer, made = signing_key(key or default_key_path())
    except (CertifyError, ConnectorError) as exc:
        raise _fail(str(exc)) from exc
    if made:
        console.print(f"made a signing key: {key or default_key_path()}", highlight=False)
    job = Certification(
        profile.name, profile_path, suite_file, suite, level, harness_identity(HARNESS_ROOT)
    )

    def play_run(planned: PlannedRun, run_dir: Path) -> None:
        _play_scenario(planned.scenario, profile, run_dir, SimulatedDemand(), "simulated demand")

    document = sign(play_suite(job, out, play_run, _say), signer)
    summary = certify_summary(document)
    write_certificate(document, out)
    page = write_summary(document, out)
    console.print(summary)
    console.print(
        f"certificate: {out / CERTIFICATE_FILE}   summary: {page}\n"
        f"signed by {document['signature']['public_key']}",
        highlight=False,
    )
    raise typer.Exit(CERTIFY_EXIT_CODES[document["verdict"]])


def _say(message: str) -> None:
    console.print(Text(message, style="bold"), highlight=False, soft_wrap=True)


def certify_summary(document: dict[str, Any]) -> Table:
    """The levels' verdicts as a table, for the console."""
    table = Table(title=f"certification of {document['connector']['name']}: {document['verdict']}")
    for column in ("level", "verdict", "runs passed", "orders", "why"):
        table.add_column(column)
    for entry in document["levels"]:
        figures = entry.get("figures") or {}
        verdict = entry["verdict"]
        why = entry.get("reason") or "; ".join(entry.get("problems") or [])
        runs = "" if "figures" not in entry else f"{figures['runs_passed']}/{figures['runs']}"
        table.add_row(
            f"L{entry['level']} {entry['name']}",
            Text(verdict, style=VERDICT_STYLES.get(verdict, "")),
            runs,
            f"{figures.get('orders_created', 0):,}" if figures else "",
            why,
        )
    return table


@app.command()
def verify(
    certificate: Annotated[Path, typer.Argument(metavar="CERTIFICATE", help="a certificate.json")],
    public_key: Annotated[
        Path | None,
        typer.Option(
            help="the expected signer's public key (base64 as in the certificate, or PEM)"
        ),
    ] = None,
    suite_file: Annotated[
        Path | None,
        typer.Option("--suite", help="also check the suite hash against this suite file"),
    ] = None,
) -> None:
    """Check a certificate: its Ed25519 signature, each run's report.json (beside it) against
    its hash, the results hash, and that every verdict follows from its runs.

    Without --public-key, a valid signature proves the certificate was not changed since it
    was signed, not who signed it. Exits 0 when it verifies, 1 when it does not, 2 when the
    certificate or the key file cannot be read.
    """
    if not certificate.is_file():
        raise _fail(f"{certificate} is not a file")
    try:
        pinned = read_public_key(public_key) if public_key is not None else None
    except CertifyError as exc:
        raise _fail(str(exc)) from exc
    problems = verify_certificate(certificate, pinned, suite_file)
    if problems:
        for problem in problems:
            console.print(Text(f"✗ {problem}", style="red"), highlight=False, soft_wrap=True)
        raise typer.Exit(1)
    document = json.loads(certificate.read_text(encoding="utf-8"))
    signer = document["signature"]["public_key"]
    console.print(
        Text(
            f"✓ {certificate} verifies: {document['connector']['name']} {document['verdict']}"
            f" (levels 1–{document['levels_requested']}), signed by {signer}"
            + ("" if pinned else " (not pinned: --public-key says who must have signed)"),
            style="green",
        ),
        highlight=False,
        soft_wrap=True,
    )


def _kept_sections(run_dir: Path) -> dict[str, Any]:
    """Sections of an earlier report.json the judge cannot rebuild (Locust's statistics)."""
    try:
        earlier = json.loads((run_dir / "report.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(earlier, dict):
        return {}
    return {key: earlier[key] for key in KEPT_REPORT_SECTIONS if key in earlier}


@app.command()
def coverage(
    runs: Annotated[list[Path], typer.Argument(help="run folders (`runs/<time>-<scenario>`)")],
    out: Annotated[
        Path | None, typer.Option(help="write the Markdown here (docs/COVERAGE.md)")
    ] = None,
) -> None:
    """Which operations of each fake the runs exercised, and which none touched.

    Read from the runs' histories. Regenerate docs/COVERAGE.md with one run per shipped
    scenario: `ecomock coverage runs/coverage-* --out docs/COVERAGE.md`.
    """
    missing = [str(run) for run in runs if not run.is_dir()]
    if missing:
        raise _fail(f"not a run folder: {', '.join(missing)}")
    offered = protocol_operations()
    catalogue = {
        system: Catalogue(tuple(sorted(offered[system])), PUSHES[system]) for system in SYSTEMS
    }
    page = coverage_markdown([read_run(run, SYSTEMS) for run in runs], catalogue)
    if out is None:
        console.print(page, highlight=False, markup=False)
    else:
        out.write_text(page, encoding="utf-8")
        console.print(f"coverage of {len(runs)} run(s) written to {out}", highlight=False)


chaos_app = typer.Typer(
    help=(
        "Change the fault plan of a running `ecomock up`, live (Toxiproxy-style): list, add"
        " and remove the rules each fake plays at /_fake/faults. A rule has the fields of a"
        " scenario's `faults:` entry and is checked the same way; windows count simulated"
        " time from the start of `ecomock up`'s clock. See docs/CHAOS.md for every kind."
    ),
    no_args_is_help=True,
    rich_markup_mode="markdown",
)
app.add_typer(chaos_app, name="chaos")

EndpointsOpt = Annotated[
    Path,
    typer.Option(
        "--endpoints",
        envvar=ENDPOINTS_ENV,
        help="the endpoints.json of the running `ecomock up` (its --out folder)",
    ),
]
TokenOpt = Annotated[
    str | None,
    typer.Option(
        envvar=CONTROL_TOKEN_ENV,
        help="bearer token for /_fake/ (default: the control_token in endpoints.json)",
        show_default=False,
    ),
]


@contextmanager
def _chaos_client(endpoints: Path, control_token: str | None) -> Iterator[ChaosClient]:
    """A client of the running fakes' /_fake/faults, closed afterwards; its errors (and
    those of the block using it) end the command with their message."""
    try:
        client = ChaosClient(read_endpoints(endpoints, control_token))
    except ChaosError as exc:
        raise _fail(str(exc)) from exc
    try:
        yield client
    except ChaosError as exc:
        raise _fail(str(exc)) from exc
    finally:
        client.close()


def _how_often(rule: dict[str, Any]) -> str:
    if rule.get("every_nth"):
        return f"1 in every {rule['every_nth']} calls"
    return f"{float(rule.get('rate') or 0) * 100:g} % of calls"


def _window(rule: dict[str, Any]) -> str:
    until = rule.get("until")
    return f"{rule.get('from', 0):g} s – " + ("end" if until is None else f"{until:g} s")


def _rule_id(rule: dict[str, Any]) -> str:
    return f"{rule['system']}:{rule['id']}"


@chaos_app.command("list")
def chaos_list(
    system: Annotated[
        list[str] | None, typer.Option(help="only this fake's rules (repeatable)")
    ] = None,
    endpoints: EndpointsOpt = DEFAULT_ENDPOINTS,
    control_token: TokenOpt = None,
) -> None:
    """The fault rules in force on the running fakes: id, what, how often, window, and how
    many calls each matched and hit so far."""
    with _chaos_client(endpoints, control_token) as client:
        rules = client.listing(system)
    table = Table(title=f"fault rules in force ({len(rules)})")
    table.add_column("id", no_wrap=True)
    for column in ("kind", "operation", "how often", "window (simulated)", "params"):
        table.add_column(column)
    table.add_column("matched", justify="right")
    table.add_column("fired", justify="right")
    for rule in rules:
        table.add_row(
            _rule_id(rule),
            rule["kind"],
            rule["operation"],
            _how_often(rule),
            _window(rule),
            json.dumps(rule.get("params") or {}, ensure_ascii=False),
            str(rule["matched"]),
            str(rule["fired"]),
        )
    console.print(table)


@chaos_app.command("add")
def chaos_add(
    system: Annotated[str, typer.Option(help="oms, wms, erp, bank or carrier")],
    kind: Annotated[str, typer.Option(help="the fault's kind, e.g. http_503 (docs/CHAOS.md)")],
    operation: Annotated[
        str, typer.Option(help="an operation or push of that fake, or * for every one")
    ] = "*",
    rate: Annotated[float | None, typer.Option(help="share of matching calls hit, 0..1")] = None,
    every_nth: Annotated[int | None, typer.Option(help="or: hit every Nth matching call")] = None,
    start: Annotated[
        str | None, typer.Option("--from", help="window opens, simulated time: 10m, 1h30m")
    ] = None,
    until: Annotated[str | None, typer.Option(help="window closes, simulated time")] = None,
    param: Annotated[
        list[str] | None, typer.Option(help="the kind's own parameter, KEY=VALUE (repeatable)")
    ] = None,
    endpoints: EndpointsOpt = DEFAULT_ENDPOINTS,
    control_token: TokenOpt = None,
) -> None:
    """Add a rule, e.g. `ecomock chaos add --system wms --operation deliveryorder.create
    --kind http_503 --rate 0.1 --from 10m --until 40m`; prints its id."""
    entry: dict[str, Any] = {"system": system, "operation": operation, "kind": kind}
    optional = {"rate": rate, "every_nth": every_nth, "from": start, "until": until}
    entry.update({key: value for key, value in optional.items() if value is not None})
    params: dict[str, Any] = {}
    for item in param or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise _fail(f"--param {item!r}: expected KEY=VALUE, e.g. seconds=30")
        params[key] = _number_or_text(value)
    if params:
        entry["params"] = params
    with _chaos_client(endpoints, control_token) as client:
        rule = client.add(entry)
    _print_added(rule)


def _number_or_text(value: str) -> float | str:
    try:
        return float(value)
    except ValueError:
        return value


@chaos_app.command("remove")
def chaos_remove(
    rule_ids: Annotated[
        list[str],
        typer.Argument(metavar="ID...", help="rule ids as `chaos list` shows them: wms:3"),
    ],
    endpoints: EndpointsOpt = DEFAULT_ENDPOINTS,
    control_token: TokenOpt = None,
) -> None:
    """Remove rules by id (`wms:3`, or `3` when only one fake has a rule 3)."""
    with _chaos_client(endpoints, control_token) as client:
        for reference in rule_ids:
            rule = client.remove(reference)
            console.print(
                f"removed {_rule_id(rule)} ({rule['kind']} on {rule['operation']},"
                f" fired {rule['fired']} times)",
                highlight=False,
                soft_wrap=True,
            )


@chaos_app.command("apply")
def chaos_apply(
    plan: Annotated[
        Path, typer.Argument(metavar="PLAN", help="YAML with a `faults:` list, as in a scenario")
    ],
    endpoints: EndpointsOpt = DEFAULT_ENDPOINTS,
    control_token: TokenOpt = None,
) -> None:
    """Add every rule of a plan file. The whole file is checked first: one bad rule and
    none is added."""
    try:
        rules = read_plan(plan)
    except ChaosError as exc:
        raise _fail(str(exc)) from exc
    with _chaos_client(endpoints, control_token) as client:
        added = client.apply(rules)
    for rule in added:
        _print_added(rule)


def _print_added(rule: dict[str, Any]) -> None:
    console.print(
        f"added {_rule_id(rule)}: {rule['kind']} on {rule['operation']}, {_how_often(rule)},"
        f" {_window(rule)}",
        highlight=False,
        soft_wrap=True,
    )


if __name__ == "__main__":
    app()
