"""`ecosystem.memory` in templates: what earlier workflows stored, read on demand.

Input: the detected `EcosystemView` and the user config directory. Output: the
same ecosystem with `memory` set to a `MemoryView`, whose `facts`,
`relationships` and `entities` are lists of plain dicts (so `fact.project`,
`rel.from` and `| json` all work in templates). Nothing is read until a
template touches one of them; a missing database reads as empty lists. A read
is cached until the database files change, so a step after a store step in the
same run sees what it stored, and a for_each over many items reads once.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

from ..ecosystems import EcosystemView
from .location import memory_path
from .reads import Row, read_entities, read_facts, read_relationships

__all__ = ["MemoryView", "with_memory"]

_Stamp = tuple[tuple[int, int], ...]


class MemoryView:
    """`ecosystem.memory`: `facts`, `relationships` and `entities` of one ecosystem."""

    __slots__ = ("_cache", "_path")

    def __init__(self, path: Path) -> None:
        self._path = path
        self._cache: dict[str, tuple[_Stamp, list[Row]]] = {}

    @property
    def facts(self) -> list[Row]:
        return self._load("facts", read_facts)

    @property
    def relationships(self) -> list[Row]:
        return self._load("relationships", read_relationships)

    @property
    def entities(self) -> list[Row]:
        return self._load("entities", read_entities)

    def __repr__(self) -> str:
        return f"MemoryView({str(self._path)!r})"

    def _load(self, kind: str, read: Callable[[Path], list[Row]]) -> list[Row]:
        stamp = self._stamp()
        cached = self._cache.get(kind)
        if cached is None or cached[0] != stamp:
            cached = (stamp, read(self._path) if stamp else [])
            self._cache[kind] = cached
        # A copy: templates cannot change the list, but a filter may sort it in place.
        return list(cached[1])

    def _stamp(self) -> _Stamp:
        """Size and modification time of the database and its WAL; () when missing."""
        stamps = []
        for path in (self._path, self._path.with_name(self._path.name + "-wal")):
            try:
                info = path.stat()
            except FileNotFoundError:
                if path == self._path:
                    return ()
                continue
            stamps.append((info.st_size, info.st_mtime_ns))
        return tuple(stamps)


def with_memory(ecosystem: EcosystemView | None, user_dir: Path) -> EcosystemView | None:
    if ecosystem is None:
        return None
    view = MemoryView(memory_path(user_dir, ecosystem.name))
    return dataclasses.replace(ecosystem, memory=view)
