"""`llm-mux memory facts | relationships | entities`: what workflows have stored.

Input: the global options, the kind, `--ecosystem` (default: the one detected
from the working directory), `--project`, `--search` and, for entities,
`--history`. Output: a table for people, or a JSON list with `--output json`.
No ecosystem detected and none named is a usage error (exit 2), as is naming
an ecosystem that is neither configured nor has a memory database.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import click

from llm_mux.compiler.diagnostics import Sink, did_you_mean
from llm_mux.compiler.schema import Config

from ..commands import CompileFailed, emit, places_for
from ..config import config_paths, environment, load_merged
from ..ecosystems import detect_ecosystem
from ..errors import UsageError
from ..options import GlobalOptions
from ..paths import Places
from ..tables import cell, local_time, render_table
from .location import memory_path
from .reads import Row, read_entities, read_facts, read_relationships

__all__ = ["KINDS", "memory_command", "render_memory"]

KINDS = ("facts", "relationships", "entities")


def memory_command(
    options: GlobalOptions,
    kind: str,
    *,
    ecosystem: str | None,
    project: str | None,
    search: str | None,
    history: bool = False,
) -> int:
    places = places_for(options)
    config = _config(places, options)
    name = _ecosystem(config, places, ecosystem)
    path = memory_path(places.user_dir, name)
    if ecosystem is not None and not path.exists() and name not in config.ecosystems:
        suggestion = did_you_mean(name, config.ecosystems)
        known = ", ".join(config.ecosystems) or "none are configured"
        raise UsageError(
            f"no ecosystem '{name}': it is not configured and has no memory",
            hint=f"did you mean '{suggestion}'?" if suggestion else f"ecosystems: {known}",
        )
    rows = _read(kind, path, project=project, search=search, history=history)
    if options.output == "json":
        emit(json.dumps(rows, indent=2, ensure_ascii=False) + "\n", options)
    else:
        emit(render_memory(kind, rows, ecosystem=name, history=history), options)
    return 0


def _config(places: Places, options: GlobalOptions) -> Config:
    from llm_mux.compiler.pipeline import finish

    sink = Sink()
    paths = config_paths(places, options.configs)
    merged, sources = load_merged(paths, places, sink, environment())
    for diagnostic in finish(sink, sources):
        click.echo(diagnostic.render(), err=True)
    if merged is None:
        raise CompileFailed("the configuration has errors; fix the errors above")
    return merged.config


def _ecosystem(config: Config, places: Places, named: str | None) -> str:
    if named is not None:
        return named
    detected, why_not = detect_ecosystem(config, places.cwd, environment())
    if detected is None:
        raise UsageError(why_not, hint="name one with --ecosystem NAME")
    return detected.name


def _read(
    kind: str, path: Path, *, project: str | None, search: str | None, history: bool
) -> list[Row]:
    if kind == "entities":
        return read_entities(path, project=project, search=search, history=history)
    readers: Mapping[str, Callable[..., list[Row]]] = {
        "facts": read_facts,
        "relationships": read_relationships,
    }
    return readers[kind](path, project=project, search=search)


# -- text --------------------------------------------------------------------------
def render_memory(kind: str, rows: Sequence[Row], *, ecosystem: str, history: bool) -> str:
    if not rows:
        return f"no {kind} stored in memory '{ecosystem}'\n"
    if kind == "facts":
        headers: Sequence[str] = ("project", "fact", "source", "confidence", "category")
        cells = [[cell(r[h]) for h in headers] for r in rows]
    elif kind == "relationships":
        headers = ("from", "type", "to", "evidence")
        cells = [[cell(r[h]) for h in headers] for r in rows]
    elif history:
        headers = ("type", "name", "project", "property", "value", "valid from", "valid to")
        cells = [_version_cells(r, v) for r in rows for v in _history(r) or [None]]
    else:
        headers = ("type", "name", "project", "properties", "confidence", "source")
        cells = [_entity_cells(r) for r in rows]
    return render_table(headers, cells)


def _entity_cells(entity: Row) -> list[str]:
    properties = entity["properties"]
    assert isinstance(properties, Mapping)
    shown = ", ".join(f"{k}={_value(v)}" for k, v in properties.items())
    return [
        cell(entity["entity_type"]),
        cell(entity["entity_name"]),
        cell(entity["project"]),
        shown or "-",
        cell(entity["confidence"]),
        cell(entity["source"]),
    ]


def _history(entity: Row) -> list[Row | None]:
    versions = entity.get("history")
    return versions if isinstance(versions, list) else []


def _version_cells(entity: Row, version: Row | None) -> list[str]:
    """One property version; an entity without properties still gets its row."""
    named = [cell(entity["entity_type"]), cell(entity["entity_name"]), cell(entity["project"])]
    if version is None:
        return [*named, "-", "-", "-", "-"]
    return [
        *named,
        cell(version["name"]),
        _value(version["value"]),
        local_time(version["valid_from"]),
        local_time(version["valid_to"]) if version["valid_to"] else "current",
    ]


def _value(value: object) -> str:
    """A property value: text as is, anything else as JSON."""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
