"""SQLite files llm-mux owns: the ecosystem memory databases and the run ledger.

Input: a path and a `Schema` (its migrations, in order). Output: an open
`sqlite3.Connection` in autocommit mode — transactions are explicit, through
`transaction()` — with the WAL journal (readers never wait for a writer), a
busy timeout (concurrent runs queue for the write lock instead of failing),
foreign keys on, and the schema migrated to the newest version. New files are
created with mode 0600: they hold prompts, outputs and what was learnt about
the user's code.

The `schema_version` table holds one row, the number of migrations applied;
a later llm-mux appends a migration and older files catch up when opened.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import stat
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import msgspec

from .errors import MuxError

__all__ = ["BUSY_TIMEOUT_S", "DatabaseError", "Schema", "open_database", "transaction"]

# Long enough for any store step or ledger write of another run to finish.
BUSY_TIMEOUT_S = 30.0


class Schema(msgspec.Struct, frozen=True):
    """`migrations[i]` takes a file from version i to i + 1 (statements run in order)."""

    name: str  # how messages name the file: "memory database", "run ledger"
    migrations: tuple[tuple[str, ...], ...]

    @property
    def version(self) -> int:
        return len(self.migrations)


class DatabaseError(MuxError):
    """A database llm-mux cannot use (corrupt, newer schema, unwritable)."""


def open_database(
    path: Path, schema: Schema, *, create: bool = True, durable: bool = True
) -> sqlite3.Connection | None:
    """The database at `path`, migrated; None when it does not exist and `create` is false.

    `durable=False` lets a commit skip fsync (WAL with synchronous=NORMAL): a power
    cut may lose the last commits but never corrupts the file. The ledger uses it
    so recording 200 quick steps does not cost 200 disk flushes."""
    if not path.exists():
        if not create:
            return None
        _create_private(path)
    _keep_private(path)
    connection = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
    try:
        _prepare(connection, schema, durable=durable)
    except sqlite3.Error as error:
        connection.close()
        raise DatabaseError(f"cannot use the {schema.name} {path}: {error}") from None
    except DatabaseError:
        connection.close()
        raise
    return connection


def _prepare(connection: sqlite3.Connection, schema: Schema, *, durable: bool) -> None:
    """WAL, pragmas and migrations — retried while another process sets up the same file.

    While one connection switches a new file to WAL or recovers its index, SQLite
    answers others SQLITE_BUSY without calling the busy handler, so the timeout
    alone does not make two runs opening one new database wait for each other.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT_S
    while True:
        try:
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA foreign_keys=ON")
            if not durable:
                connection.execute("PRAGMA synchronous=NORMAL")
            _migrate(connection, schema)
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) and "busy" not in str(error):
                raise
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


@contextmanager
def transaction(connection: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """All or nothing. IMMEDIATE takes the write lock up front, so two writers queue on
    the busy timeout instead of one failing when it upgrades a read lock."""
    connection.execute("BEGIN IMMEDIATE")
    try:
        yield connection
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    connection.execute("COMMIT")


def _create_private(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    # An empty file is a valid, empty SQLite database; SQLite gives the -wal and -shm
    # files it creates next to it the same permissions. Another run may be first.
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))


def _keep_private(path: Path) -> None:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        path.chmod(0o600)


def _version(connection: sqlite3.Connection) -> int:
    row = connection.execute("SELECT max(version) FROM schema_version").fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def _migrate(connection: sqlite3.Connection, schema: Schema) -> None:
    # Most opens find the file current: check without taking the write lock.
    if _current(connection, schema):
        return
    with transaction(connection):
        connection.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        version = _version(connection)
        for migration in schema.migrations[version:]:
            for statement in migration:
                connection.execute(statement)
        connection.execute("DELETE FROM schema_version")
        connection.execute("INSERT INTO schema_version (version) VALUES (?)", (schema.version,))


def _current(connection: sqlite3.Connection, schema: Schema) -> bool:
    has_table = connection.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'"
    ).fetchone()
    if not has_table:
        return False
    version = _version(connection)
    if version > schema.version:
        raise DatabaseError(
            f"the {schema.name} was written by a newer llm-mux "
            f"(schema version {version}; this llm-mux knows up to {schema.version})",
            hint="upgrade llm-mux",
        )
    return version == schema.version
