"""The seeds sweep's ledger (docs/seeds-sweep.csv): one line per run, kept in the repository,
so that a sweep longer than a working session (about six hours on two cores) is played in
parts, on any machine, and its figures stay with the code they were measured on.

A run's pass stands while the scenario file and the reference connector are the ones it was
played with (their fingerprints are on its line); `--pending` plays only the runs without
such a pass. The harness's commit is recorded too, but does not void a pass: a change to the
fakes or the judge that may change verdicts is replayed with `--scenario` or a new sweep."""

from __future__ import annotations

import csv
import hashlib
import subprocess
import threading
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

LEDGER = Path("docs/seeds-sweep.csv")
REFERENCE = Path("connectors/reference")
FIELDS = (
    "scenario", "seed", "verdict", "orders", "orders_per_min", "wall_seconds", "failing",
    "scenario_sha", "connector_sha", "commit", "finished_utc",
)  # fmt: skip
_append_lock = threading.Lock()


def digest(paths: Iterable[Path], root: Path) -> str:
    """The first 12 hex digits of a SHA-256 over the files' names (relative to `root`) and
    contents, in name order."""
    sha = hashlib.sha256()
    for path in sorted(paths, key=lambda p: p.relative_to(root).as_posix()):
        sha.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes())
    return sha.hexdigest()[:12]


def scenario_sha(scenario: Path) -> str:
    return digest([scenario], scenario.parent)


def connector_sha(folder: Path = REFERENCE) -> str:
    """The reference connector's source files (not its bytecode caches)."""
    files = [p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts]
    return digest(files, folder)


def commit() -> str:
    """The harness's commit, `-dirty` when the work tree has changes other than the ledger's
    (which a sweep writes as it goes), `?` outside git."""

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], capture_output=True, text=True, check=False).stdout

    head = git("rev-parse", "--short=7", "HEAD").strip()
    if not head:
        return "?"
    changed = git("status", "--porcelain", "--untracked-files=no", "--", ".", f":!{LEDGER}")
    return f"{head}-dirty" if changed.strip() else head


def fingerprints(scenario: Path) -> dict[str, str]:
    """What a run is about to play: the scenario file's and the reference connector's
    fingerprints and the harness's commit (taken before it starts: any may change while it
    plays, and the run plays what was on disk when it started)."""
    return {
        "scenario_sha": scenario_sha(scenario),
        "connector_sha": connector_sha(),
        "commit": commit(),
    }


def read(ledger: Path) -> list[dict[str, str]]:
    if not ledger.exists():
        return []
    with ledger.open(newline="", encoding="utf-8") as file:
        return list(csv.DictReader(file))


def line_of(scenario: str, played: dict[str, str], run: dict[str, Any]) -> dict[str, str]:
    """A finished run (`ecomock_run`'s figures) as a ledger line, with what it `played`
    (`fingerprints`, taken as it started)."""
    failing = sorted(run.get("failed_invariants") or ()) + list(run.get("invalid_reasons") or ())
    return {
        "scenario": scenario,
        "seed": str(run["seed"]),
        "verdict": str(run["verdict"]),
        "orders": str((run.get("orders") or {}).get("created", "")),
        "orders_per_min": str(run.get("orders_per_min", "")),
        "wall_seconds": str(run.get("wall_seconds", "")),
        "failing": "; ".join(failing),
        **played,
        "finished_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
    }


def append(ledger: Path, line: dict[str, str]) -> None:
    """Add one line (runs played side by side append from their threads)."""
    with _append_lock:
        new = not ledger.exists()
        with ledger.open("a", newline="", encoding="utf-8") as file:
            writer = csv.DictWriter(file, fieldnames=FIELDS, lineterminator="\n")
            if new:
                writer.writeheader()
            writer.writerow(line)


def current(
    lines: Sequence[dict[str, str]], path: Path, scenario: str
) -> dict[int, dict[str, str]]:
    """The scenario's last line per seed among those played with today's scenario file and
    reference connector."""
    if not lines:
        return {}  # nothing to match: no files to fingerprint
    wanted = (scenario, scenario_sha(path), connector_sha())
    last: dict[int, dict[str, str]] = {}
    for line in lines:
        if (line["scenario"], line["scenario_sha"], line["connector_sha"]) == wanted:
            last[int(line["seed"])] = line
    return last


def passed(lines: Sequence[dict[str, str]], path: Path, scenario: str) -> set[int]:
    """The seeds whose last current line is a pass."""
    return {
        seed for seed, line in current(lines, path, scenario).items() if line["verdict"] == "pass"
    }


def progress(
    lines: Sequence[dict[str, str]], planned: Sequence[tuple[Path, str, Sequence[int]]]
) -> list[tuple[str, ...]]:
    """Per planned scenario (path, name, seeds): how far the sweep is, from the ledger.
    Rows for `text_table`, the header first."""
    header = ("scenario", "seeds", "passed", "failing (seed: what)", "not played", "orders",
              "wall s (max)")  # fmt: skip
    rows: list[tuple[str, ...]] = [header]
    for path, name, seeds in planned:
        last = current(lines, path, name)
        played = [last[seed] for seed in seeds if seed in last]
        failing = [f"{line['seed']}: {line['failing'] or line['verdict']}" for line in played
                   if line["verdict"] != "pass"]  # fmt: skip
        orders = [int(line["orders"]) for line in played if line["orders"]]
        walls = [float(line["wall_seconds"]) for line in played if line["wall_seconds"]]
        rows.append((
            name, str(len(seeds)), str(len(played) - len(failing)), "; ".join(failing) or "-",
            ", ".join(str(seed) for seed in seeds if seed not in last) or "-",
            f"{min(orders)}-{max(orders)}" if orders else "-",
            f"{max(walls):.0f}" if walls else "-",
        ))  # fmt: skip
    return rows
