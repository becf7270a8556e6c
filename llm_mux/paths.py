"""Where llm-mux looks: XDG directories, the project root, workflow names.

Input: the working directory and the environment. Output: paths. Nothing here
reads a config file; it only says where they are.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

import msgspec

from .errors import UsageError

__all__ = ["Places", "find_places", "find_workflow", "workflow_names"]

PROJECT_DIR = ".llm-mux"
_WORKFLOW_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")


class Places(msgspec.Struct, frozen=True):
    cwd: Path
    project_root: Path
    has_project: bool
    user_dir: Path
    state_dir: Path

    @property
    def user_config(self) -> Path:
        return self.user_dir / "config.toml"

    @property
    def project_config(self) -> Path:
        return self.project_root / PROJECT_DIR / "config.toml"

    @property
    def project_workflows(self) -> Path:
        return self.project_root / PROJECT_DIR / "workflows"

    @property
    def user_workflows(self) -> Path:
        return self.user_dir / "workflows"

    def workflow_dirs(self) -> list[Path]:
        """Name lookup order: project, user, then the workflows shipped with llm-mux."""
        dirs = [self.user_workflows, builtin_workflows()]
        return ([self.project_workflows] if self.has_project else []) + dirs


def builtin_workflows() -> Path:
    return Path(__file__).parent / "workflows"


def find_places(cwd: Path, env: Mapping[str, str]) -> Places:
    cwd = cwd.resolve()
    root = project_root(cwd)
    home = Path(env.get("HOME") or Path.home())
    config_home = Path(env.get("XDG_CONFIG_HOME") or home / ".config")
    state_home = Path(env.get("XDG_STATE_HOME") or home / ".local" / "state")
    return Places(
        cwd=cwd,
        project_root=root or cwd,
        has_project=root is not None,
        user_dir=config_home / "llm-mux",
        state_dir=state_home / "llm-mux",
    )


def project_root(start: Path) -> Path | None:
    """The nearest ancestor of `start` (itself included) that holds `.llm-mux/`."""
    for directory in (start, *start.parents):
        if (directory / PROJECT_DIR).is_dir():
            return directory
    return None


def is_path_like(target: str) -> bool:
    return "/" in target or target.endswith(".toml") or target in (".", "..")


# Names the Rust llm-mux gave built-in workflows, and ours.
BUILTIN_ALIASES = {"repository-review": "review"}


def find_workflow(target: str, places: Places) -> Path:
    """A workflow path from a path or a name; unknown names are a usage error."""
    if is_path_like(target):
        path = places.cwd / target
        if not path.is_file():
            raise UsageError(f"workflow file not found: {target}")
        return path
    if not _WORKFLOW_NAME.fullmatch(target) or ".." in target:
        raise UsageError(
            f"'{target}' is not a workflow name", hint="names are letters, digits, _ . -"
        )
    for directory in places.workflow_dirs():
        candidate = directory / f"{target}.toml"
        if candidate.is_file():
            return candidate
    if target in BUILTIN_ALIASES:  # only when no file by the old name exists
        return builtin_workflows() / f"{BUILTIN_ALIASES[target]}.toml"
    known = ", ".join(workflow_names(places)) or "none"
    raise UsageError(
        f"no workflow named '{target}'",
        hint=f"known workflows: {known}; looked in "
        + ", ".join(str(d) for d in places.workflow_dirs()),
    )


def workflow_names(places: Places) -> list[str]:
    names: dict[str, None] = {}
    for directory in places.workflow_dirs():
        if directory.is_dir():
            names.update((p.stem, None) for p in sorted(directory.glob("*.toml")))
    return list(names)


def environment() -> Mapping[str, str]:
    return dict(os.environ)
