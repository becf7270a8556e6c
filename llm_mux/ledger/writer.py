"""The ledger's writer: one thread that does the run ledger's disk work, in order.

Input: jobs queued by the recorder as a run goes — transactions on the ledger
database and step output files. Output: those rows and files, written by a thread
of its own so that a run never waits for the disk: creating a file can take a
quarter of a millisecond on a busy disk, as long as starting `sh -c true`, and a
commit about as long. `close` waits until every queued job is done.

The ledger never stops a run: after the first database failure the writer stops
writing and says so once (one warning on stderr), and the run goes on unrecorded.
A job that fails with anything else is a bug: it is raised again by `close`.
"""

from __future__ import annotations

import queue
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path

import click

from ..database import DatabaseError, open_database, transaction
from .schema import LEDGER_SCHEMA

__all__ = ["LedgerWriter"]

Statements = Callable[[sqlite3.Connection], None]


class LedgerWriter:
    """The open ledger at `path`, written on a thread of its own."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._jobs: queue.SimpleQueue[Callable[[], None] | None] = queue.SimpleQueue()
        self._connection: sqlite3.Connection | None = None
        self._bug: BaseException | None = None
        self._thread = threading.Thread(target=self._work, name="llm-mux-ledger", daemon=True)
        self._thread.start()

    def submit(self, job: Callable[[], None]) -> None:
        """Run `job` on the writer thread, after every job submitted before it."""
        self._jobs.put(job)

    def write(self, statements: Statements) -> None:
        """Queue one transaction."""
        self.submit(lambda: self.transaction(statements))

    def transaction(self, statements: Statements) -> None:
        """Run `statements` in one transaction now (on the writer thread, from a job)."""
        if self._connection is None:
            return
        try:
            with transaction(self._connection):
                statements(self._connection)
        except (sqlite3.Error, OSError) as error:
            self._give_up(error)

    def close(self) -> None:
        """Wait for every queued job, close the database; raise what a job's bug raised."""
        if self._thread.is_alive():
            self._jobs.put(None)
            self._thread.join()
        if self._bug is not None:
            bug, self._bug = self._bug, None
            raise bug

    def _work(self) -> None:
        try:
            self._connection = open_database(self._path, LEDGER_SCHEMA, durable=False)
        except (DatabaseError, sqlite3.Error, OSError) as error:
            self._give_up(error)
        while (job := self._jobs.get()) is not None:
            try:
                job()
            except Exception as error:  # the jobs after it still run; close() raises it
                self._bug = self._bug or error
        self._disconnect()

    def _disconnect(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def _give_up(self, error: Exception) -> None:
        self._disconnect()
        click.echo(
            f"llm-mux: warning: the run ledger cannot be written ({error}); "
            "this run is not recorded",
            err=True,
        )
