"""The cache file: `$XDG_STATE_HOME/llm-mux/cache.db`, one row per cached result.

Input: keys and results from `StepCache`, queries from `llm-mux cache`.
Output: rows in the `entries` table. SQLite in WAL mode: every entry is
committed on its own the moment its step (or item) succeeds, so a run that
crashes or is killed leaves every entry written before it intact and the file
usable. Outputs are stored redacted, like the ledger's.

- `entries`: `key` (the SHA-256 of `key.cache_key`), the `workflow`, `step`
  and for_each `item` that made it, the `run_id` that paid for it, when it was
  made and last used, how often it was reused (`hits`), what it `cost`, the
  step's `output` and its `result` record (`results.result_record`).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec

from ..database import Schema, open_database

__all__ = ["CACHE_SCHEMA", "CacheStore", "Entry", "cache_path", "now"]

_V1 = (
    """
    CREATE TABLE entries (
        key TEXT PRIMARY KEY,
        workflow TEXT NOT NULL,
        step TEXT NOT NULL,
        item INTEGER,
        run_id TEXT NOT NULL,
        created_at TEXT NOT NULL,
        used_at TEXT NOT NULL,
        hits INTEGER NOT NULL DEFAULT 0,
        cost REAL,
        output TEXT NOT NULL,
        result TEXT NOT NULL
    )
    """,
    "CREATE INDEX entries_used ON entries (used_at)",
)

CACHE_SCHEMA = Schema("step cache", (_V1,))


def cache_path(state_dir: Path) -> Path:
    return state_dir / "cache.db"


class Entry(msgspec.Struct, frozen=True):
    """One cached result: where it came from, and what it holds."""

    key: str
    workflow: str
    step: str
    item: int | None
    run_id: str
    created_at: str
    used_at: str
    hits: int
    cost: float | None
    output: str
    result: Mapping[str, object]

    def to_json(self) -> dict[str, object]:
        return {
            "key": self.key,
            "workflow": self.workflow,
            "step": self.step,
            "item": self.item,
            "run_id": self.run_id,
            "created_at": self.created_at,
            "used_at": self.used_at,
            "hits": self.hits,
            "cost": self.cost,
            "size": len(self.output),
        }


_COLUMNS = "key, workflow, step, item, run_id, created_at, used_at, hits, cost, output, result"


class CacheStore:
    """The open cache file. `CacheStore.open(path, create=False)` is None when there is none."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self.connection = connection

    @classmethod
    def open(cls, path: Path, *, create: bool = True) -> CacheStore | None:
        connection = open_database(path, CACHE_SCHEMA, create=create, durable=False)
        return None if connection is None else cls(connection)

    def close(self) -> None:
        self.connection.close()

    def get(self, key: str) -> Entry | None:
        """The entry for `key`, marked as used now."""
        row = self.connection.execute(
            f"SELECT {_COLUMNS} FROM entries WHERE key = ?", (key,)
        ).fetchone()
        if row is None:
            return None
        self.connection.execute(
            "UPDATE entries SET used_at = ?, hits = hits + 1 WHERE key = ?", (now(), key)
        )
        return _entry(row)

    def put(self, entry: Entry) -> None:
        """Write (or replace) one entry, committed at once."""
        values = (
            entry.key,
            entry.workflow,
            entry.step,
            entry.item,
            entry.run_id,
            entry.created_at,
            entry.used_at,
            entry.hits,
            entry.cost,
            entry.output,
            json.dumps(entry.result, ensure_ascii=False, default=str),
        )
        holes = ", ".join("?" for _ in values)
        self.connection.execute(
            f"INSERT OR REPLACE INTO entries ({_COLUMNS}) VALUES ({holes})", values
        )

    def entries(self) -> list[Entry]:
        """Every entry, most recently used first."""
        cursor = self.connection.execute(
            f"SELECT {_COLUMNS} FROM entries ORDER BY used_at DESC, rowid DESC"
        )
        return [_entry(row) for row in cursor.fetchall()]

    def clear(self, older_than: timedelta | None = None) -> int:
        """Remove every entry, or those not used for `older_than`; how many went."""
        if older_than is None:
            cursor = self.connection.execute("DELETE FROM entries")
        else:
            cutoff = (datetime.now(UTC) - older_than).isoformat(timespec="milliseconds")
            cursor = self.connection.execute("DELETE FROM entries WHERE used_at < ?", (cutoff,))
        return cursor.rowcount


def _entry(row: tuple[object, ...]) -> Entry:
    key, workflow, step, item, run_id, created, used, hits, cost, output, result = row
    return Entry(
        key=str(key),
        workflow=str(workflow),
        step=str(step),
        item=item if isinstance(item, int) else None,
        run_id=str(run_id),
        created_at=str(created),
        used_at=str(used),
        hits=int(hits) if isinstance(hits, int) else 0,
        cost=float(cost) if isinstance(cost, int | float) else None,
        output=str(output),
        result=_record(result),
    )


def _record(text: object) -> Mapping[str, object]:
    try:
        value = json.loads(str(text))
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")
