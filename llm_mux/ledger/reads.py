"""Reading the run ledger back: recent runs, and one run with its steps and calls.

Input: the ledger path, a limit or a run id (a unique prefix will do; `last` is
the newest run). Output: plain dicts — JSON columns decoded, token counts
gathered into `usage` — for `llm-mux runs list | show | resume`. An unknown run
id is a usage error (exit 2).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from ..database import open_database
from ..errors import UsageError
from .orphans import mark_orphaned
from .schema import LEDGER_SCHEMA

__all__ = ["LAST", "Row", "chain_spent", "list_runs", "load_run"]

# `llm-mux runs show last`: the newest run (run ids are dates, never this word).
LAST = "last"

Row = dict[str, object]
_TOKENS = ("prompt_tokens", "completion_tokens", "total_tokens")


def list_runs(path: Path, *, limit: int) -> list[Row]:
    """The newest `limit` runs, newest first."""
    connection = open_database(path, LEDGER_SCHEMA, create=False)
    if connection is None:
        return []
    try:
        with connection:
            mark_orphaned(connection, datetime.now(UTC).isoformat(timespec="milliseconds"))
        cursor = connection.execute(
            "SELECT * FROM runs ORDER BY started_at DESC, rowid DESC LIMIT ?", (limit,)
        )
        return [_run(cursor, row) for row in cursor.fetchall()]
    finally:
        connection.close()


def load_run(path: Path, run_id: str) -> Row:
    """One run with `steps` (in declaration order), each with its backend `calls` and
    (a best-of-N apply step) its `candidates`."""
    connection = open_database(path, LEDGER_SCHEMA, create=False)
    if connection is None:
        raise _unknown(run_id, "no run has been recorded yet")
    try:
        run_id = _resolve(connection, run_id)
        cursor = connection.execute("SELECT * FROM runs WHERE id = ?", (run_id,))
        run = _run(cursor, cursor.fetchone())
        cursor = connection.execute(
            "SELECT * FROM steps WHERE run_id = ? ORDER BY position", (run_id,)
        )
        steps = [_step(cursor, row) for row in cursor.fetchall()]
        cursor = connection.execute("SELECT * FROM calls WHERE run_id = ? ORDER BY id", (run_id,))
        calls = [_call(cursor, row) for row in cursor.fetchall()]
        cursor = connection.execute(
            "SELECT * FROM candidates WHERE run_id = ? ORDER BY step, candidate", (run_id,)
        )
        candidates = [_candidate(cursor, row) for row in cursor.fetchall()]
    finally:
        connection.close()
    for step in steps:
        step["calls"] = [c for c in calls if c["step"] == step["name"]]
        step["candidates"] = [c for c in candidates if c["step"] == step["name"]]
    run["steps"] = steps
    return run


def chain_spent(path: Path, run_id: str) -> tuple[float, int]:
    """Cost and tokens spent by `run_id` and every run it resumed, transitively
    (an unknown cost counts as nothing)."""
    connection = open_database(path, LEDGER_SCHEMA, create=False)
    if connection is None:
        return 0.0, 0
    cost, tokens, seen = 0.0, 0, set[str]()
    try:
        current: object = run_id
        while isinstance(current, str) and current not in seen:
            seen.add(current)
            row = connection.execute(
                "SELECT cost, total_tokens, resumed_from FROM runs WHERE id = ?", (current,)
            ).fetchone()
            if row is None:
                break
            cost += float(row[0] or 0.0)
            tokens += int(row[1] or 0)
            current = row[2]
    finally:
        connection.close()
    return cost, tokens


def _resolve(connection: sqlite3.Connection, run_id: str) -> str:
    """The id itself, the newest run for `last`, or the one run whose id starts with it."""
    if run_id == LAST:
        row = connection.execute(
            "SELECT id FROM runs ORDER BY started_at DESC, rowid DESC LIMIT 1"
        ).fetchone()
        if row is None:
            raise _unknown(run_id, "no run has been recorded yet")
        return str(row[0])
    if connection.execute("SELECT 1 FROM runs WHERE id = ?", (run_id,)).fetchone():
        return run_id
    pattern = run_id.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    matches = [
        str(row[0])
        for row in connection.execute(
            "SELECT id FROM runs WHERE id LIKE ? ESCAPE '\\' ORDER BY id LIMIT 6", (pattern,)
        )
    ]
    if len(matches) == 1:
        return matches[0]
    if matches:
        shown = ", ".join(matches[:5]) + (", …" if len(matches) > 5 else "")
        raise UsageError(f"several runs start with '{run_id}'", hint=f"give more of: {shown}")
    raise _unknown(run_id, "`llm-mux runs list` shows the recorded runs")


def _unknown(run_id: str, hint: str) -> UsageError:
    return UsageError(f"no run '{run_id}' in the run ledger", hint=hint)


def _columns(cursor: sqlite3.Cursor, row: Sequence[object]) -> Row:
    return {d[0]: value for d, value in zip(cursor.description, row, strict=True)}


def _with_usage(record: Row) -> Row:
    counts = [record.pop(name) for name in _TOKENS]
    record["usage"] = (
        dict(zip(_TOKENS, counts, strict=True)) if any(c is not None for c in counts) else None
    )
    return record


def _run(cursor: sqlite3.Cursor, row: Sequence[object]) -> Row:
    columns = _columns(cursor, row)
    # `run_id`, as `run --output json` and the run document name it (the column is `id`).
    run = _with_usage({"run_id": columns.pop("id"), **columns})
    run["args"] = json.loads(str(run["args"] or "{}"))
    run["invocation"] = _json(run.get("invocation")) or {}
    return run


def _step(cursor: sqlite3.Cursor, row: Sequence[object]) -> Row:
    step = _with_usage(_columns(cursor, row))
    step.pop("run_id")
    step["inputs"] = json.loads(str(step["inputs"])) if step["inputs"] else {}
    step["backends"] = json.loads(str(step["backends"])) if step["backends"] else []
    step["result"] = _json(step.get("result"))
    return step


def _candidate(cursor: sqlite3.Cursor, row: Sequence[object]) -> Row:
    candidate = _columns(cursor, row)
    candidate.pop("run_id")
    return candidate


def _json(text: object) -> object:
    """A JSON column's value; None when empty (rows from before the column existed)."""
    return json.loads(text) if isinstance(text, str) and text else None


def _call(cursor: sqlite3.Cursor, row: Sequence[object]) -> Row:
    call = _with_usage(_columns(cursor, row))
    call.pop("run_id")
    call["ok"] = bool(call["ok"])
    return call
