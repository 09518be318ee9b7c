"""`ecomock`: play scenarios against a connector, serve the fakes, judge finished runs."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Coroutine
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console

from contract_tests.judge import judge_folder
from contract_tests.report import summary_table, write_junit_xml, write_report_json
from simulator.connector import ConnectorError, load_profile
from simulator.progress import ProgressDisplay
from simulator.runner import default_run_dir, play, serve_fakes
from simulator.scenario import ScenarioError, load_scenario

app = typer.Typer(
    help=(
        "ecomock: fake OMS, WMS, ERP, bank and carrier servers, a simulated business driving them,"
        " and a judge of the connector in between."
    ),
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="rich",
)
console = Console()
T = TypeVar("T")
err_console = Console(stderr=True)


def run_async(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run on uvloop when installed (uvicorn[standard] brings it): the fakes serve faster."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coroutine)
    return uvloop.run(coroutine)


def _fail(message: str, code: int = 2) -> typer.Exit:
    err_console.print(f"[bold red]error:[/bold red] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


@app.command()
def run(
    scenario_file: Annotated[
        Path, typer.Argument(metavar="SCENARIO", help="scenario YAML, e.g. scenarios/demo.yaml")
    ],
    connector: Annotated[
        str,
        typer.Option(
            "--connector", "-c", help="connector profile: a path, or a name under connectors/"
        ),
    ] = "reference",
    seed: Annotated[int | None, typer.Option(help="override the scenario's seed")] = None,
    out: Annotated[
        Path | None, typer.Option(help="run folder [default: runs/<time>-<scenario>/]")
    ] = None,
) -> None:
    """Play SCENARIO against a connector, judge it, write report.json and junit.xml.

    Exits 0 when every invariant passed, 1 when one failed, 2 when the run could not be made.
    """
    try:
        scenario = load_scenario(scenario_file)
        profile = load_profile(connector)
    except (ScenarioError, ConnectorError) as exc:
        raise _fail(str(exc)) from exc
    if seed is not None:
        scenario = scenario.model_copy(update={"seed": seed})
    run_dir = out or default_run_dir(scenario.name)
    console.print(
        f"[bold]ecomock[/bold] playing [cyan]{scenario.name}[/cyan] (seed {scenario.seed}, "
        f"~{scenario.expected_orders:,.0f} orders over "
        f"{scenario.wall_duration_seconds:,.0f} wall s at "
        f"{scenario.clock.scale:g}x) against connector [cyan]{profile.name}[/cyan] → {run_dir}/",
        highlight=False,
    )
    try:
        with ProgressDisplay(console, f"{scenario.name} × {profile.name}") as display:
            result = run_async(play(scenario, profile, run_dir, display.show))
    except ConnectorError as exc:
        raise _fail(str(exc)) from exc
    console.print(summary_table(result.verdict))
    console.print(
        f"report: {run_dir / 'report.json'}   junit: {run_dir / 'junit.xml'}", highlight=False
    )
    raise typer.Exit(0 if result.verdict.passed else 1)


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
) -> None:
    """Serve the five fakes alone (no traffic) for developing a connector; Ctrl-C stops them."""
    try:
        scenario = load_scenario(scenario_file)
    except ScenarioError as exc:
        raise _fail(str(exc)) from exc
    if scale is not None:
        scenario = scenario.model_copy(
            update={"clock": scenario.clock.model_copy(update={"scale": scale})}
        )

    async def serve() -> None:
        async with serve_fakes(scenario, out) as fakes:
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
    """Judge a finished run again from its databases; rewrites report.json and junit.xml."""
    if not run_dir.is_dir():
        raise _fail(f"{run_dir} is not a folder")
    verdict = judge_folder(run_dir)
    write_report_json(verdict, run_dir / "report.json")
    write_junit_xml(verdict, run_dir / "junit.xml")
    console.print(summary_table(verdict))
    raise typer.Exit(0 if verdict.passed else 1)


if __name__ == "__main__":
    app()
