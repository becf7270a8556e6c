"""What a store step is asked to store: JSON documents → checked items.

Input: the rendered `input` of a store step — model output, usually. It may be
one JSON object (bare or in a ``` fence), or several: a parallel query's
`=== backend ===` blocks, or two steps' outputs rendered one after the other.
Every object with a `facts`, `relationships` or `entities` list counts; the
lists are concatenated in order.
Output: a `Batch` of valid `Fact`s, `Relationship`s and `Entity`s, and one
`Skipped` (kind, 0-based index in the concatenated list, reason) per invalid
item. Unknown keys in an item are ignored: models add them freely.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TypeVar

from ..jsontext import describe_json

__all__ = [
    "KINDS",
    "Batch",
    "Entity",
    "Fact",
    "NoDocument",
    "Relationship",
    "Skipped",
    "fold_type",
    "parse_batch",
]

KINDS = ("facts", "relationships", "entities")
_OPENING = re.compile(r"[\[{]")
T = TypeVar("T")


class NoDocument(ValueError):
    """The input holds no JSON object with facts, relationships or entities."""


@dataclass(frozen=True, slots=True)
class Fact:
    project: str
    fact: str
    source: str
    confidence: float
    category: str | None = None
    source_type: str | None = None


@dataclass(frozen=True, slots=True)
class Relationship:
    source: str  # `from` in the JSON
    target: str  # `to`
    type: str
    evidence: str | None = None


@dataclass(frozen=True, slots=True)
class Entity:
    entity_type: str
    entity_name: str
    source: str
    project: str | None = None
    properties: Mapping[str, object] = field(default_factory=dict)
    confidence: float | None = None
    source_type: str | None = None


@dataclass(frozen=True, slots=True)
class Skipped:
    """An invalid item (`fact 2: missing "source"`) or a whole list (`entities: …`)."""

    kind: str  # "fact", "relationship", "entity"; a list's problem: "facts", …
    index: int | None
    reason: str

    def __str__(self) -> str:
        where = self.kind if self.index is None else f"{self.kind} {self.index}"
        return f"{where}: {self.reason}"


@dataclass(frozen=True, slots=True)
class Batch:
    facts: tuple[Fact, ...] = ()
    relationships: tuple[Relationship, ...] = ()
    entities: tuple[Entity, ...] = ()
    skipped: tuple[Skipped, ...] = ()

    @property
    def size(self) -> int:
        return len(self.facts) + len(self.relationships) + len(self.entities)


class _Invalid(ValueError):
    """One item's problem; the message is the reason shown to the user."""


# -- documents ---------------------------------------------------------------------
def parse_batch(text: str) -> Batch:
    """Every valid item in `text`; raises NoDocument when there is nothing to read."""
    documents = list(_documents(text))
    if not documents:
        raise NoDocument(
            "no JSON object with facts, relationships or entities found in the input "
            "(expected JSON, bare or in a ``` fence)"
        )
    raw: dict[str, list[object]] = {kind: [] for kind in KINDS}
    section_problems: list[Skipped] = []
    for document in documents:
        for kind in KINDS:
            value = document.get(kind)
            if value is None:
                continue
            if isinstance(value, list):
                raw[kind].extend(value)
            else:
                problem = f"must be a list, got {describe_json(value)}"
                section_problems.append(Skipped(kind, None, problem))
    facts, fact_problems = _check_all(raw["facts"], "fact", _fact)
    relationships, relationship_problems = _check_all(
        raw["relationships"], "relationship", _relationship
    )
    entities, entity_problems = _check_all(raw["entities"], "entity", _entity)
    return Batch(
        facts=tuple(facts),
        relationships=tuple(relationships),
        entities=tuple(entities),
        skipped=(*section_problems, *fact_problems, *relationship_problems, *entity_problems),
    )


def _documents(text: str) -> Iterator[Mapping[str, object]]:
    """Each top-level JSON value in `text`, in order, that is (or lists) a document.

    Scanning finds a bare document, one inside a ``` fence (the fence is text
    around it) and each of several, with prose in between, alike."""
    decoder = json.JSONDecoder()
    position = 0
    while (match := _OPENING.search(text, position)) is not None:
        try:
            value, end = decoder.raw_decode(text, match.start())
        except ValueError:
            position = match.start() + 1
            continue
        yield from _wanted(value)
        position = end


def _wanted(value: object) -> list[Mapping[str, object]]:
    """A document, or a list of documents (e.g. a parallel step's `json`)."""
    values = value if isinstance(value, list) else [value]
    return [v for v in values if isinstance(v, dict) and any(k in v for k in KINDS)]


# -- items -------------------------------------------------------------------------
def _check_all(
    values: list[object], kind: str, check: Callable[[Mapping[str, object]], T]
) -> tuple[list[T], list[Skipped]]:
    good: list[T] = []
    bad: list[Skipped] = []
    for index, value in enumerate(values):
        if not isinstance(value, dict):
            bad.append(Skipped(kind, index, f"is {describe_json(value)}, not an object"))
            continue
        try:
            good.append(check(value))
        except _Invalid as problem:
            bad.append(Skipped(kind, index, str(problem)))
    return good, bad


def _fact(item: Mapping[str, object]) -> Fact:
    return Fact(
        project=_text(item, "project"),
        fact=_text(item, "fact"),
        source=_text(item, "source"),
        confidence=_confidence(item, required=True) or 0.0,
        category=_optional_text(item, "category"),
        source_type=_optional_text(item, "source_type"),
    )


def _relationship(item: Mapping[str, object]) -> Relationship:
    return Relationship(
        source=_text(item, "from"),
        target=_text(item, "to"),
        type=fold_type(_text(item, "type")),
        evidence=_optional_text(item, "evidence"),
    )


def _entity(item: Mapping[str, object]) -> Entity:
    properties = item.get("properties")
    if properties is None:
        properties = {}
    elif not isinstance(properties, dict):
        raise _Invalid(f'"properties" must be an object, got {describe_json(properties)}')
    return Entity(
        entity_type=_text(item, "entity_type"),
        entity_name=_text(item, "entity_name"),
        source=_text(item, "source"),
        project=_optional_text(item, "project"),
        properties=dict(properties),
        confidence=_confidence(item, required=False),
        source_type=_optional_text(item, "source_type"),
    )


def fold_type(text: str) -> str:
    """A relationship type as stored: "Depends on" and "depends-on" are `depends_on`."""
    return re.sub(r"[\s-]+", "_", text.strip()).lower()


def _text(item: Mapping[str, object], key: str) -> str:
    if key not in item or item[key] is None:
        raise _Invalid(f'missing "{key}"')
    value = _optional_text(item, key)
    if not value:
        raise _Invalid(f'"{key}" is empty')
    return value


def _optional_text(item: Mapping[str, object], key: str) -> str | None:
    value = item.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise _Invalid(f'"{key}" must be text, got {describe_json(value)}')
    return value.strip() or None


def _confidence(item: Mapping[str, object], *, required: bool) -> float | None:
    value = item.get("confidence")
    if value is None:
        if required:
            raise _Invalid('missing "confidence"')
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _Invalid(f'"confidence" must be a number from 0 to 1, got {describe_json(value)}')
    if not 0 <= value <= 1:
        raise _Invalid(f'"confidence" must be from 0 to 1, got {value:g}')
    return float(value)
