"""`llm-mux backends | roles | teams | ecosystems | workflows`: what is configured.

Input: the merged config and the places llm-mux looks in. Output: a table for
people or (`--output json`) a JSON list. Nothing is called or executed; API
keys are never shown, only whether they are set.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from llm_mux.compiler.passes.config import MergedConfig
from llm_mux.compiler.passes.lower import backend_specs

from .config import environment
from .ecosystems import detect_ecosystem
from .paths import Places, builtin_workflows
from .teams import detect_team

__all__ = ["LISTINGS", "render_listing"]

Row = dict[str, object]


def backend_rows(places: Places, merged: MergedConfig) -> list[Row]:
    from .backends.pool import BackendPool

    env = environment()
    specs = backend_specs(merged.config)
    pool = BackendPool(specs, root=places.project_root, env=env)
    rows: list[Row] = []
    for name, spec in specs.items():
        reason = pool.availability(name)
        rows.append(
            {
                "name": name,
                "type": spec.kind,
                "command": spec.command,
                "model": spec.model,
                "enabled": spec.enabled,
                "available": reason is None,
                "reason": reason,
                "api_key_set": _key_set(spec.api_key, env),
            }
        )
    return rows


def _key_set(api_key: str | None, env: Mapping[str, str]) -> bool | None:
    if api_key is None:
        return None
    from llm_mux.compiler.envvars import UnsetVariable, expand_env

    try:
        return bool(expand_env(api_key, env))
    except UnsetVariable:
        return False


def role_rows(places: Places, merged: MergedConfig) -> list[Row]:
    config = merged.config
    team = detect_team(config, places.project_root)
    rows: list[Row] = []
    for name, role in config.roles.items():
        override = config.teams[team].roles.get(name) if team else None
        backends = override if isinstance(override, list) else getattr(override, "backends", None)
        rows.append(
            {
                "name": name,
                "execution": role.execution,
                "min_success": role.min_success,
                "backends": list(role.backends),
                "team_backends": list(backends) if backends is not None else None,
                "description": role.description,
            }
        )
    return rows


def team_rows(places: Places, merged: MergedConfig) -> list[Row]:
    detected = detect_team(merged.config, places.project_root)
    return [
        {
            "name": name,
            "detected": name == detected,
            "detect": list(team.detect),
            "verify": team.verify,
            "roles": sorted(team.roles),
            "description": team.description,
        }
        for name, team in merged.config.teams.items()
    ]


def ecosystem_rows(places: Places, merged: MergedConfig) -> list[Row]:
    view, _ = detect_ecosystem(merged.config, places.cwd, environment())
    rows: list[Row] = []
    for name, ecosystem in merged.config.ecosystems.items():
        current = (
            view.current_project.name
            if view and view.name == name and view.current_project
            else None
        )
        rows.append(
            {
                "name": name,
                "detected": view is not None and view.name == name,
                "current_project": current,
                "projects": sorted(ecosystem.projects),
                "description": ecosystem.description,
            }
        )
    return rows


def workflow_rows(places: Places, merged: MergedConfig) -> list[Row]:
    import tomllib

    from llm_mux.compiler.passes.load import too_deep

    rows: list[Row] = []
    seen: set[str] = set()
    for origin, directory in _workflow_dirs(places):
        for path in sorted(directory.glob("*.toml")) if directory.is_dir() else []:
            try:
                text = path.read_text("utf-8")
                if too_deep(text) is not None:
                    raise tomllib.TOMLDecodeError("nests too deep")
                description = tomllib.loads(text).get("description")
            except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
                description = "(does not parse: run llm-mux validate)"
            rows.append(
                {
                    "name": path.stem,
                    "origin": origin,
                    "path": str(path),
                    "shadowed": path.stem in seen,
                    "description": description if isinstance(description, str) else None,
                }
            )
            seen.add(path.stem)
    return rows


def _workflow_dirs(places: Places) -> list[tuple[str, Path]]:
    dirs = [("user", places.user_workflows), ("builtin", builtin_workflows())]
    return ([("project", places.project_workflows)] if places.has_project else []) + dirs


LISTINGS: dict[str, Callable[[Places, MergedConfig], list[Row]]] = {
    "backends": backend_rows,
    "roles": role_rows,
    "teams": team_rows,
    "ecosystems": ecosystem_rows,
    "workflows": workflow_rows,
}

_COLUMNS: dict[str, Sequence[str]] = {
    "backends": ("name", "type", "command", "model", "available", "reason"),
    "roles": ("name", "execution", "backends", "team_backends", "description"),
    "teams": ("name", "detected", "detect", "verify", "roles"),
    "ecosystems": ("name", "detected", "current_project", "projects", "description"),
    "workflows": ("name", "origin", "description", "path"),
}


def render_listing(kind: str, rows: list[Row], *, as_json: bool) -> str:
    if as_json:
        return json.dumps(rows, indent=2, ensure_ascii=False) + "\n"
    if not rows:
        return f"no {kind} configured\n"
    columns = _COLUMNS[kind]
    cells = [[_cell(row.get(c)) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    lines = ["  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip()]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    return "\n".join(lines) + "\n"


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(map(str, value)) or "-"
    return str(value)
