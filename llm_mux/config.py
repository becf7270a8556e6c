"""Configuration files: find them, read them, hand them to the compiler.

Input: `Places` and the `--config` files. Output: `SourceFile`s in merge order
(user, project, then each `--config`) and the merged config the compiler
builds from them. Reading is the only effect here.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import msgspec

from llm_mux.compiler.diagnostics import Sink
from llm_mux.compiler.schema import Project
from llm_mux.compiler.source import KeyPath, SourceFile

from .errors import UsageError
from .paths import Places

if TYPE_CHECKING:  # the compiler's passes are imported when a file is really compiled
    from llm_mux.compiler.passes.config import MergedConfig

__all__ = [
    "anchor_project_paths",
    "config_paths",
    "display_path",
    "load_merged",
    "read_source",
]


def display_path(path: Path, cwd: Path) -> str:
    """Paths in messages: relative to the working directory when inside it."""
    try:
        return str(path.resolve().relative_to(cwd))
    except ValueError:
        return str(path)


def read_source(path: Path, cwd: Path, sink: Sink) -> SourceFile | None:
    shown = display_path(path, cwd)
    try:
        data = path.read_bytes()
    except OSError as error:
        from llm_mux.compiler.diagnostics import Location

        sink.error("E002", f"cannot read the file: {error.strerror}", Location(shown, 1, 1))
        return None
    from llm_mux.compiler.pipeline import decode_text

    return decode_text(shown, data, sink)


def config_paths(
    places: Places, extra: Sequence[Path], *, project_root: Path | None = None
) -> list[Path]:
    """The config files that exist, in merge order, each once."""
    root = project_root or places.project_root
    candidates = [places.user_config, root / ".llm-mux" / "config.toml"]
    found = [p for p in candidates if p.is_file()]
    for path in extra:
        full = places.cwd / path
        if not full.is_file():
            raise UsageError(f"--config file not found: {path}")
        found.append(full)
    unique: dict[Path, None] = {}
    for path in found:
        unique.setdefault(path.resolve(), None)
    return list(unique)


def load_merged(
    paths: Sequence[Path], places: Places, sink: Sink, env: Mapping[str, str]
) -> tuple[MergedConfig | None, list[SourceFile]]:
    from llm_mux.compiler.pipeline import load_config

    sources = [s for p in paths if (s := read_source(p, places.cwd, sink)) is not None]
    if len(sources) != len(paths):
        return None, sources
    merged = load_config(sources, sink, env)
    return (None if merged is None else anchor_project_paths(merged, places.cwd)), sources


def anchor_project_paths(merged: MergedConfig, cwd: Path) -> MergedConfig:
    """A relative ecosystem project `path` is relative to the config file that sets it
    (as the example config's `path = "../myapp/api"` is); `~` paths and absolute ones
    stay as they are."""
    ecosystems = dict(merged.config.ecosystems)
    for name, ecosystem in ecosystems.items():
        projects = {
            project: _anchored(merged, cwd, ("ecosystems", name, "projects", project, "path"), p)
            for project, p in ecosystem.projects.items()
        }
        ecosystems[name] = msgspec.structs.replace(ecosystem, projects=projects)
    config = msgspec.structs.replace(merged.config, ecosystems=ecosystems)
    return msgspec.structs.replace(merged, config=config)


def _anchored(merged: MergedConfig, cwd: Path, key: KeyPath, project: Project) -> Project:
    origin = merged.origin(key)
    if origin is None or project.path.startswith("~") or Path(project.path).is_absolute():
        return project
    base = (cwd / origin.path).parent
    return msgspec.structs.replace(project, path=os.path.normpath(base / project.path))


def environment() -> dict[str, str]:
    return dict(os.environ)
