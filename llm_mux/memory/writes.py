"""Writing a checked `Batch` into an ecosystem's memory database, in one transaction.

Input: the database path, a `Batch` of valid items, the run id and the time.
Output: `Stored` counts (new / updated / unchanged per kind, property versions
opened). Either every item is written or, on any error, none is: the
transaction rolls back and the database is as it was.

Upserts follow the keys in `schema.py`: a fact, relationship or entity seen
again is updated in place (an optional field left out keeps its old value).
Entity properties keep history instead: a property whose value changed closes
its current row (`valid_to` = now) and opens a new one (`valid_from` = now); a
property set to null is closed without a successor; a property the item does
not mention is left as it is — an observation of some properties says nothing
about the others.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from ..database import open_database, transaction
from .items import Batch, Entity, Fact, Relationship
from .schema import MEMORY_SCHEMA

__all__ = ["Stored", "fact_key", "store_batch"]


@dataclass(frozen=True, slots=True)
class Stored:
    """What a store did: per kind ("facts", …) how many rows were new, updated, unchanged."""

    new: Counter[str] = field(default_factory=Counter)
    updated: Counter[str] = field(default_factory=Counter)
    unchanged: Counter[str] = field(default_factory=Counter)
    property_versions: int = 0  # property rows opened (first values and changes)

    def to_json(self) -> dict[str, object]:
        kinds = ("facts", "relationships", "entities")
        return {
            "new": {k: self.new[k] for k in kinds},
            "updated": {k: self.updated[k] for k in kinds},
            "unchanged": {k: self.unchanged[k] for k in kinds},
            "property_versions": self.property_versions,
        }


def fact_key(fact: str) -> str:
    """The fact as its upsert key: lower case, whitespace collapsed."""
    return re.sub(r"\s+", " ", fact).strip().casefold()


def store_batch(path: Path, batch: Batch, *, run_id: str | None, now: str) -> Stored:
    connection = open_database(path, MEMORY_SCHEMA)
    assert connection is not None  # created when missing
    try:
        with transaction(connection):
            return _write(connection, batch, run_id, now)
    finally:
        connection.close()


def _write(connection: sqlite3.Connection, batch: Batch, run_id: str | None, now: str) -> Stored:
    outcomes: Counter[tuple[str, str]] = Counter()
    versions = 0
    for fact in batch.facts:
        outcomes["facts", _write_fact(connection, fact, run_id, now)] += 1
    for relationship in batch.relationships:
        outcomes["relationships", _write_relationship(connection, relationship, run_id, now)] += 1
    for entity in batch.entities:
        outcome, opened = _write_entity(connection, entity, run_id, now)
        outcomes["entities", outcome] += 1
        versions += opened
    split: dict[str, Counter[str]] = {
        "new": Counter(),
        "updated": Counter(),
        "unchanged": Counter(),
    }
    for (kind, outcome), count in outcomes.items():
        split[outcome][kind] += count
    return Stored(split["new"], split["updated"], split["unchanged"], versions)


def _write_fact(connection: sqlite3.Connection, fact: Fact, run_id: str | None, now: str) -> str:
    key = (fact.project, fact_key(fact.fact))
    row = connection.execute(
        "SELECT id, fact, source, confidence, category, source_type FROM facts "
        "WHERE project = ? AND fact_key = ?",
        key,
    ).fetchone()
    if row is None:
        connection.execute(
            "INSERT INTO facts (project, fact, fact_key, source, confidence, category, "
            "source_type, created_at, updated_at, run_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (fact.project, fact.fact, key[1], fact.source, fact.confidence, fact.category)
            + (fact.source_type, now, now, run_id),
        )
        return "new"
    values = (
        fact.fact,
        fact.source,
        fact.confidence,
        fact.category or row[4],
        fact.source_type or row[5],
    )
    if values == tuple(row[1:]):
        return "unchanged"
    connection.execute(
        "UPDATE facts SET fact = ?, source = ?, confidence = ?, category = ?, source_type = ?, "
        "updated_at = ?, run_id = ? WHERE id = ?",
        (*values, now, run_id, row[0]),
    )
    return "updated"


def _write_relationship(
    connection: sqlite3.Connection, relationship: Relationship, run_id: str | None, now: str
) -> str:
    key = (relationship.source, relationship.target, relationship.type)
    row = connection.execute(
        "SELECT id, evidence FROM relationships WHERE from_name = ? AND to_name = ? AND type = ?",
        key,
    ).fetchone()
    if row is None:
        connection.execute(
            "INSERT INTO relationships (from_name, to_name, type, evidence, created_at, "
            "updated_at, run_id) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (*key, relationship.evidence, now, now, run_id),
        )
        return "new"
    evidence = relationship.evidence or row[1]
    if evidence == row[1]:
        return "unchanged"
    connection.execute(
        "UPDATE relationships SET evidence = ?, updated_at = ?, run_id = ? WHERE id = ?",
        (evidence, now, run_id, row[0]),
    )
    return "updated"


def _write_entity(
    connection: sqlite3.Connection, entity: Entity, run_id: str | None, now: str
) -> tuple[str, int]:
    """The entity's row, then its properties; returns the outcome and versions opened."""
    key = (entity.entity_type, entity.entity_name, entity.project or "")
    row = connection.execute(
        "SELECT id, source, confidence, source_type FROM entities "
        "WHERE entity_type = ? AND entity_name = ? AND project = ?",
        key,
    ).fetchone()
    if row is None:
        cursor = connection.execute(
            "INSERT INTO entities (entity_type, entity_name, project, source, confidence, "
            "source_type, created_at, updated_at, run_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (*key, entity.source, entity.confidence, entity.source_type, now, now, run_id),
        )
        entity_id = int(cursor.lastrowid or 0)
        opened, _ = _write_properties(connection, entity_id, entity, run_id, now)
        return "new", opened
    entity_id = int(row[0])
    values = (
        entity.source,
        entity.confidence if entity.confidence is not None else row[2],
        entity.source_type or row[3],
    )
    opened, changed = _write_properties(connection, entity_id, entity, run_id, now)
    if values == tuple(row[1:]) and not changed:
        return "unchanged", 0
    connection.execute(
        "UPDATE entities SET source = ?, confidence = ?, source_type = ?, updated_at = ?, "
        "run_id = ? WHERE id = ?",
        (*values, now, run_id, entity_id),
    )
    return "updated", opened


def _write_properties(
    connection: sqlite3.Connection, entity_id: int, entity: Entity, run_id: str | None, now: str
) -> tuple[int, bool]:
    """Versions opened, and whether any property changed (a closed one counts)."""
    opened = 0
    changed = False
    for name, value in entity.properties.items():
        encoded = _encoded(value)
        current = connection.execute(
            "SELECT id, value, value_type FROM entity_properties "
            "WHERE entity_id = ? AND name = ? AND valid_to IS NULL",
            (entity_id, name),
        ).fetchone()
        if (tuple(current[1:]) if current is not None else None) == encoded:
            continue  # the same value, or null for a property that has none
        changed = True
        if current is not None:
            connection.execute(
                "UPDATE entity_properties SET valid_to = ? WHERE id = ?", (now, current[0])
            )
        if encoded is not None:
            connection.execute(
                "INSERT INTO entity_properties (entity_id, name, value, value_type, "
                "valid_from, source, run_id) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (entity_id, name, *encoded, now, entity.source, run_id),
            )
            opened += 1
    return opened, changed


def _encoded(value: object) -> tuple[str, str] | None:
    """A property's (value, value_type): a string as itself, anything else as JSON."""
    if value is None:
        return None
    if isinstance(value, str):
        return value, "text"
    return json.dumps(value, sort_keys=True, ensure_ascii=False), "json"
