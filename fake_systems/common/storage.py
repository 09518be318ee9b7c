"""SQLite storage shared by the fakes: one WAL database file per system, plus its history."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson

from fake_systems.common.privacy import mask_phone_numbers, scrub
from simulator.clock import Clock, format_qimen_time

HISTORY_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    seq        INTEGER PRIMARY KEY,
    sim_time   TEXT    NOT NULL,
    wall_time  REAL    NOT NULL,
    kind       TEXT    NOT NULL,   -- api_in | push_out | push_forged | state | fault
    operation  TEXT    NOT NULL,   -- protocol method or state machine name
    entity     TEXT,               -- business key the event is about
    outcome    TEXT    NOT NULL,   -- ok | error code | new state
    payload    TEXT                -- JSON, secrets removed
);
CREATE INDEX IF NOT EXISTS events_entity ON events(entity);
"""

# Never written to the history: signatures and credentials.
SECRET_FIELDS = frozenset(
    {
        "sign",
        "wdt_sign",
        "DataSign",
        "password",
        "secret",
        "app_secret",
        "qimen_secret",
        "api_key",
        "AppKey",
        "appsecret",
    }
)


def open_database(path: Path | str) -> sqlite3.Connection:
    """Open (or create) a system's database: WAL, no fsync, explicit transactions."""
    conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA journal_mode=WAL")
    # No fsync, not even at checkpoints: commits were a quarter of a create's time (profiled,
    # docs/PERFORMANCE.md). A killed process loses nothing committed; only an OS crash could,
    # and a run interrupted by one is void anyway.
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.executescript(HISTORY_SCHEMA)
    return conn


# Work to do once the open transaction of a connection commits (by id(conn)): pushes, which
# must not leave for a change that is then rolled back.
_AFTER_COMMIT: dict[int, list[Callable[[], None]]] = {}
# Work to do once the open transaction ends either way (`after_transaction`).
_AFTER_END: dict[int, list[Callable[[], None]]] = {}


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One atomic unit of work: a failed request leaves no trace in the tables, and what was
    deferred to its commit (`after_commit`) happens only if it commits."""
    if conn.in_transaction:  # nested: the outer transaction decides
        yield conn
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        _AFTER_COMMIT.pop(id(conn), None)
        conn.execute("ROLLBACK")
        for action in _AFTER_END.pop(id(conn), ()):
            action()
        raise
    conn.execute("COMMIT")
    for action in (*_AFTER_END.pop(id(conn), ()), *_AFTER_COMMIT.pop(id(conn), ())):
        action()


def after_commit(conn: sqlite3.Connection, action: Callable[[], None]) -> None:
    """Run `action` when `conn`'s open transaction commits (never if it rolls back); at once
    when no transaction is open."""
    if conn.in_transaction:
        _AFTER_COMMIT.setdefault(id(conn), []).append(action)
    else:
        action()


def after_transaction(conn: sqlite3.Connection, action: Callable[[], None]) -> None:
    """Run `action` when `conn`'s open transaction ends, committed or rolled back (at once
    when none is open): for what happened whatever became of the work, such as a refusal's
    cause."""
    if conn.in_transaction:
        _AFTER_END.setdefault(id(conn), []).append(action)
    else:
        action()


def redact(payload: Any) -> Any:
    """Copy of a payload with secrets removed and personal data masked, for history and logs."""
    return scrub(payload, SECRET_FIELDS)


class History:
    """Appends to a system's `events` table; every request in and push out goes through here."""

    def __init__(self, conn: sqlite3.Connection, clock: Clock) -> None:
        self.conn = conn
        self.clock = clock
        # Formatting the simulated time was a hot spot; it changes far less often than we write.
        self._sim_text_at: float | None = None
        self._sim_text = ""

    def _sim_time(self) -> str:
        now = self.clock.sim_seconds()
        if now != self._sim_text_at:
            self._sim_text_at, self._sim_text = now, format_qimen_time(self.clock.now())
        return self._sim_text

    def record(
        self,
        kind: str,
        operation: str,
        outcome: str,
        entity: str | None = None,
        payload: Any = None,
    ) -> None:
        body = None
        if payload is not None:
            cleaned = redact(payload)
            body = cleaned if isinstance(cleaned, str) else orjson.dumps(cleaned).decode()
        self.conn.execute(
            "INSERT INTO events (sim_time, wall_time, kind, operation, entity, outcome, payload)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                self._sim_time(),
                self.clock.wall(),
                kind,
                # Callers put what they were sent here too (a method name, a path): a phone
                # number in it is masked; business keys never look like one.
                mask_phone_numbers(operation),
                mask_phone_numbers(entity) if entity else entity,
                outcome,
                body,
            ),
        )
