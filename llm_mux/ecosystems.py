"""Ecosystem detection: which `[ecosystems.NAME]` the working directory belongs to.

Input: the merged config, the working directory, the environment (for `~`).
Output: an `EcosystemView` for templates — `name`, `description`, `knowledge`,
`projects`, `current_project` — or the reason none was found. The current
project is the one whose `path` is the deepest ancestor of the working
directory; ties go to the first in file order, so detection is deterministic.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from llm_mux.compiler.schema import Config, Ecosystem, Project

__all__ = ["EcosystemView", "ProjectInfo", "detect_ecosystem", "expand_home"]


class ProjectInfo(str):
    """One project: renders (and compares, and hashes) as its name; `.path`, `.type`,
    `.description`, `.depends_on`, `.tags` are its fields.

    Being its own name lets `ecosystem.projects` serve both shapes templates use: a
    mapping by name (`ecosystem.projects.api`) whose iteration yields the project
    objects themselves (`{% for p in ecosystem.projects %}{{ p.name }}`, as the Rust
    llm-mux had it).
    """

    name: str
    path: str
    description: str | None
    type: str | None
    depends_on: tuple[str, ...]
    tags: tuple[str, ...]

    def __new__(
        cls,
        name: str,
        *,
        path: str,
        description: str | None,
        type: str | None,
        depends_on: tuple[str, ...],
        tags: tuple[str, ...],
    ) -> ProjectInfo:
        info = super().__new__(cls, name)
        info.name, info.path, info.description = name, path, description
        info.type, info.depends_on, info.tags = type, depends_on, tags
        return info


@dataclass(frozen=True, slots=True)
class EcosystemView:
    name: str
    description: str | None
    knowledge: tuple[str, ...]
    projects: Mapping[str, ProjectInfo]
    current_project: ProjectInfo | None
    memory: object = field(default=None)


def expand_home(path: str, env: Mapping[str, str]) -> Path:
    if path == "~" or path.startswith("~/"):
        home = env.get("HOME") or str(Path.home())
        return Path(home + path[1:])
    return Path(path)


def detect_ecosystem(
    config: Config, cwd: Path, env: Mapping[str, str], *, name: str | None = None
) -> tuple[EcosystemView | None, str]:
    """The ecosystem (named, or containing `cwd`) and, when there is none, why."""
    if name is not None:
        ecosystem = config.ecosystems.get(name)
        if ecosystem is None:
            return None, f"no ecosystem is named '{name}'"
        current = _deepest(ecosystem, cwd, env)
        return _view(name, ecosystem, current, env), ""
    best: tuple[int, str, str] | None = None
    for eco_name, ecosystem in config.ecosystems.items():
        current = _deepest(ecosystem, cwd, env)
        if current is None:
            continue
        depth = len(expand_home(ecosystem.projects[current].path, env).resolve().parts)
        if best is None or depth > best[0]:
            best = (depth, eco_name, current)
    if best is None:
        return None, _why_none(config, cwd)
    _, eco_name, current = best
    return _view(eco_name, config.ecosystems[eco_name], current, env), ""


def _why_none(config: Config, cwd: Path) -> str:
    if not config.ecosystems:
        return "no ecosystem is configured: add [ecosystems.NAME] with projects to a config file"
    return f"no ecosystem detected: {cwd} is not inside any project path of " + ", ".join(
        f"[ecosystems.{n}]" for n in config.ecosystems
    )


def _deepest(ecosystem: Ecosystem, cwd: Path, env: Mapping[str, str]) -> str | None:
    best: tuple[int, str] | None = None
    for name, project in ecosystem.projects.items():
        path = expand_home(project.path, env).resolve()
        if cwd == path or path in cwd.parents:
            depth = len(path.parts)
            if best is None or depth > best[0]:
                best = (depth, name)
    return best[1] if best else None


def _view(
    name: str, ecosystem: Ecosystem, current: str | None, env: Mapping[str, str]
) -> EcosystemView:
    # Keyed by the projects themselves: a lookup by name finds them, iteration yields them.
    infos = [_project(n, p, env) for n, p in ecosystem.projects.items()]
    projects: dict[str, ProjectInfo] = {info: info for info in infos}
    return EcosystemView(
        name=name,
        description=ecosystem.description,
        knowledge=tuple(ecosystem.knowledge),
        projects=projects,
        current_project=projects.get(current) if current else None,
    )


def _project(name: str, project: Project, env: Mapping[str, str]) -> ProjectInfo:
    return ProjectInfo(
        name=name,
        path=str(expand_home(project.path, env)),
        description=project.description,
        type=project.type,
        depends_on=tuple(project.depends_on),
        tags=tuple(project.tags),
    )
