"""Read-only access to a run folder: the five fakes' SQLite files attached to one connection."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path
from urllib.parse import quote

# Attach names are the file stems: oms.db is `oms`, so SQL reads `oms.orders`, `wms.stock`, ...
SYSTEMS: tuple[str, ...] = ("oms", "wms", "erp", "bank", "carrier")


class RunConnection(sqlite3.Connection):
    """A connection with the run's databases attached; remembers which files were missing."""

    run_dir: Path
    missing: list[str]
    attach_errors: dict[str, str]


def _uri(path: Path, *, immutable: bool = False) -> str:
    # Percent-encode so folders with spaces, '?' or '#' still form a valid URI.
    flags = "mode=ro&immutable=1" if immutable else "mode=ro"
    return f"file:{quote(path.resolve().as_posix())}?{flags}"


def attach_run(run_dir: Path) -> RunConnection:
    """Open `run_dir`'s oms/wms/erp/bank/carrier databases read-only under those schema names.

    A missing or unreadable file is attached as an empty in-memory schema, so the connection
    always works and a query touching it fails with "no such table: wms.delivery_orders"
    (which the judge reports as a failed invariant). The names are in `conn.missing`.
    Readers never block the fakes: the files are in WAL mode, so this may be opened while a
    run is writing. Open it after the fakes have created their files; a file created later is
    not picked up.
    """
    conn = sqlite3.connect(":memory:", uri=True, factory=RunConnection, check_same_thread=False)
    assert isinstance(conn, RunConnection)
    conn.row_factory = sqlite3.Row
    conn.run_dir = Path(run_dir)
    conn.missing = []
    conn.attach_errors = {}
    for name in SYSTEMS:
        path = Path(run_dir) / f"{name}.db"
        if not path.is_file():
            conn.missing.append(name)
            conn.attach_errors[name] = f"{path} does not exist"
            conn.execute("ATTACH DATABASE ':memory:' AS " + name)
            continue
        try:
            conn.execute("ATTACH DATABASE ? AS " + name, (_uri(path),))
            # ATTACH is lazy: touching the schema is what actually opens the file.
            conn.execute(f"SELECT count(*) FROM {name}.sqlite_master").fetchone()
        except sqlite3.Error as first:
            # A read-only copy of a finished run (no -shm file, folder not writable) can still
            # be read as immutable; a live run never lands here because its -shm file exists.
            with contextlib.suppress(sqlite3.Error):
                conn.execute("DETACH DATABASE " + name)
            try:
                conn.execute("ATTACH DATABASE ? AS " + name, (_uri(path, immutable=True),))
                conn.execute(f"SELECT count(*) FROM {name}.sqlite_master").fetchone()
            except sqlite3.Error:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("DETACH DATABASE " + name)
                conn.missing.append(name)
                conn.attach_errors[name] = f"{path}: {first}"
                conn.execute("ATTACH DATABASE ':memory:' AS " + name)
    # Belt and braces: nothing the judge runs may write, even to the in-memory main schema.
    conn.execute("PRAGMA query_only = 1")
    return conn


def has_table(conn: sqlite3.Connection, schema: str, table: str) -> bool:
    """Whether `schema.table` exists (schema must be one of SYSTEMS)."""
    if schema not in SYSTEMS:
        raise ValueError(f"unknown schema {schema!r}")
    row = conn.execute(
        f"SELECT 1 FROM {schema}.sqlite_master WHERE type = 'table' AND name = ?", (table,)
    ).fetchone()
    return row is not None


def integrity_errors(conn: RunConnection) -> dict[str, str]:
    """The attached files SQLite's `quick_check` finds damaged, each with what it found.

    Garbage in a page the judge's queries happen not to read would otherwise go unnoticed
    (a run whose oms.db is half overwritten could pass); this reads every page once.
    """
    errors: dict[str, str] = {}
    for name in SYSTEMS:
        if name in conn.missing:
            continue
        path = conn.run_dir / f"{name}.db"
        try:
            rows = conn.execute(f"PRAGMA {name}.quick_check(3)").fetchall()
        except sqlite3.Error as exc:
            errors[name] = f"{path}: {exc}"
            continue
        problems = [str(row[0]) for row in rows if row[0] != "ok"]
        if problems:
            errors[name] = f"{path}: " + "; ".join(problems)
    return errors
