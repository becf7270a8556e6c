"""The memory database's tables, as migrations (`llm_mux.database.Schema`).

Input: nothing. Output: `MEMORY_SCHEMA`. Each table has a natural key that
store steps upsert on, so storing the same knowledge twice updates it:

- `facts`: (`project`, `fact_key`), `fact_key` being the fact folded to lower
  case with its whitespace collapsed — "Uses  PostgreSQL" and "uses postgresql"
  are one fact; the latest spelling is kept in `fact`.
- `relationships`: (`from_name`, `to_name`, `type`), the type folded to
  lower_snake_case ("Depends on" = "depends_on").
- `entities`: (`entity_type`, `entity_name`, `project`), `project` being ''
  when an entity belongs to no project (NULLs would defeat the UNIQUE key).
- `entity_properties`: one row per value a property has had; the current one
  has `valid_to` NULL, at most one per (entity, name). `value` is a string's text
  itself (`value_type` 'text'), or any other value as JSON (`value_type` 'json').

Times are ISO-8601 UTC text; `run_id` is the run that last wrote the row.
"""

from __future__ import annotations

from ..database import Schema

__all__ = ["MEMORY_SCHEMA"]

_V1 = (
    """
    CREATE TABLE facts (
        id INTEGER PRIMARY KEY,
        project TEXT NOT NULL,
        fact TEXT NOT NULL,
        fact_key TEXT NOT NULL,
        source TEXT NOT NULL,
        confidence REAL NOT NULL,
        category TEXT,
        source_type TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        run_id TEXT,
        UNIQUE (project, fact_key)
    )
    """,
    """
    CREATE TABLE relationships (
        id INTEGER PRIMARY KEY,
        from_name TEXT NOT NULL,
        to_name TEXT NOT NULL,
        type TEXT NOT NULL,
        evidence TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        run_id TEXT,
        UNIQUE (from_name, to_name, type)
    )
    """,
    """
    CREATE TABLE entities (
        id INTEGER PRIMARY KEY,
        entity_type TEXT NOT NULL,
        entity_name TEXT NOT NULL,
        project TEXT NOT NULL DEFAULT '',
        source TEXT NOT NULL,
        confidence REAL,
        source_type TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        run_id TEXT,
        UNIQUE (entity_type, entity_name, project)
    )
    """,
    """
    CREATE TABLE entity_properties (
        id INTEGER PRIMARY KEY,
        entity_id INTEGER NOT NULL REFERENCES entities (id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        value TEXT NOT NULL,
        valid_from TEXT NOT NULL,
        valid_to TEXT,
        source TEXT,
        run_id TEXT
    )
    """,
    """
    CREATE UNIQUE INDEX entity_properties_current
        ON entity_properties (entity_id, name) WHERE valid_to IS NULL
    """,
    "CREATE INDEX entity_properties_entity ON entity_properties (entity_id, name, valid_from)",
    "CREATE INDEX relationships_to ON relationships (to_name)",
    "CREATE INDEX entities_project ON entities (project)",
)

# Version 2: a string property is stored as the text itself (what `sqlite3` shows is
# the value), other values as JSON; `value_type` says which. Rows written by version 1
# (all JSON) are converted in place; their history is kept.
_V2 = (
    "ALTER TABLE entity_properties ADD COLUMN value_type TEXT NOT NULL DEFAULT 'json'",
    """
    UPDATE entity_properties SET value = json_extract(value, '$'), value_type = 'text'
    WHERE json_valid(value) AND json_type(value) = 'text'
    """,
)

MEMORY_SCHEMA = Schema("memory database", (_V1, _V2))
