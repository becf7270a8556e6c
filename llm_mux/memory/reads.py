"""Reading an ecosystem's memory: facts, relationships, entities (with history).

Input: the database path and optional filters — `project` (facts and entities
of that project; relationships from or to it) and `search` (case-insensitive
substring of the text columns; SQLite folds ASCII letters only). Output: plain
dicts, ready for templates and for `--output json`. A database that does not
exist yet reads as empty: nothing has been stored.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

from ..database import open_database
from .schema import MEMORY_SCHEMA

__all__ = ["Row", "read_entities", "read_facts", "read_relationships"]

Row = dict[str, object]
T = TypeVar("T")


def read_facts(path: Path, *, project: str | None = None, search: str | None = None) -> list[Row]:
    where, params = _filters(
        ("project = ?", project), (_like("fact", "source", "category", "project"), search)
    )
    query = (
        "SELECT project, fact, source, confidence, category, source_type, created_at, "
        f"updated_at, run_id FROM facts {where} ORDER BY project, id"
    )
    return _read(path, lambda c: [_fact(r) for r in c.execute(query, params)])


def read_relationships(
    path: Path, *, project: str | None = None, search: str | None = None
) -> list[Row]:
    where, params = _filters(
        ("(from_name = ? OR to_name = ?)", project),
        (_like("from_name", "to_name", "type", "evidence"), search),
    )
    query = (
        "SELECT from_name, to_name, type, evidence, created_at, updated_at, run_id "
        f"FROM relationships {where} ORDER BY from_name, to_name, type"
    )
    return _read(path, lambda c: [_relationship(r) for r in c.execute(query, params)])


def read_entities(
    path: Path,
    *,
    project: str | None = None,
    search: str | None = None,
    history: bool = False,
) -> list[Row]:
    """Entities with their current `properties`; with `history`, every version too."""
    properties_match = (
        "EXISTS (SELECT 1 FROM entity_properties p WHERE p.entity_id = e.id AND "
        + _like("p.name", "p.value")
        + ")"
    )
    where, params = _filters(
        ("e.project = ?", project),
        (f"({_like('e.entity_type', 'e.entity_name', 'e.project')} OR {properties_match})", search),
    )
    query = (
        "SELECT e.id, e.entity_type, e.entity_name, e.project, e.source, e.confidence, "
        "e.source_type, e.created_at, e.updated_at, e.run_id FROM entities e "
        f"{where} ORDER BY e.project, e.entity_type, e.entity_name"
    )

    def read(connection: sqlite3.Connection) -> list[Row]:
        return [_entity(connection, r, history) for r in connection.execute(query, params)]

    return _read(path, read)


# -- helpers -----------------------------------------------------------------------
def _read(path: Path, read: Callable[[sqlite3.Connection], list[T]]) -> list[T]:
    connection = open_database(path, MEMORY_SCHEMA, create=False)
    if connection is None:
        return []
    try:
        return read(connection)
    finally:
        connection.close()


def _like(*columns: str) -> str:
    """One `?` per column; `_filters` repeats the pattern to match."""
    return "(" + " OR ".join(f"{c} LIKE ? ESCAPE '\\'" for c in columns) + ")"


def _filters(*conditions: tuple[str, str | None]) -> tuple[str, list[object]]:
    """`WHERE a AND b` over the conditions whose value is given, and their parameters."""
    clauses: list[str] = []
    params: list[object] = []
    for clause, value in conditions:
        if value is None:
            continue
        holes = clause.count("?")
        pattern = value if " LIKE " not in clause else _pattern(value)
        clauses.append(clause)
        params.extend([pattern] * holes)
    return ("WHERE " + " AND ".join(clauses)) if clauses else "", params


def _pattern(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _fact(row: Sequence[object]) -> Row:
    names = ("project", "fact", "source", "confidence", "category", "source_type")
    return dict(zip(names + ("created_at", "updated_at", "run_id"), row, strict=True))


def _relationship(row: Sequence[object]) -> Row:
    names = ("from", "to", "type", "evidence", "created_at", "updated_at", "run_id")
    return dict(zip(names, row, strict=True))


def _entity(connection: sqlite3.Connection, row: Sequence[object], history: bool) -> Row:
    entity_id, *fields = row
    names = ("entity_type", "entity_name", "project", "source", "confidence", "source_type")
    entity: Row = dict(zip(names + ("created_at", "updated_at", "run_id"), fields, strict=True))
    entity["project"] = entity["project"] or None
    versions = connection.execute(
        "SELECT name, value, valid_from, valid_to, source, run_id, value_type "
        "FROM entity_properties WHERE entity_id = ? ORDER BY name, valid_from, id",
        (entity_id,),
    ).fetchall()
    entity["properties"] = {v[0]: _decoded(v[1], v[6]) for v in versions if v[3] is None}
    if history:
        keys = ("name", "value", "valid_from", "valid_to", "source", "run_id")
        entity["history"] = [
            dict(zip(keys, (v[0], _decoded(v[1], v[6]), *v[2:6]), strict=True)) for v in versions
        ]
    return entity


def _decoded(value: str, value_type: str) -> object:
    """A stored property: text as it is, anything else parsed from JSON."""
    return value if value_type == "text" else json.loads(value)
