"""Team detection: which `[teams.NAME]` applies to this project.

Input: the merged config, the project root, `--team`. Output: a team name or
None. The first team in file order with a `detect` path or glob that matches
wins; `--team` overrides detection, and an unknown name is a usage error.
"""

from __future__ import annotations

from pathlib import Path

from llm_mux.compiler.diagnostics import did_you_mean
from llm_mux.compiler.schema import Config, Team

from .errors import UsageError

__all__ = ["detect_team", "select_team"]


def select_team(config: Config, root: Path, requested: str | None) -> str | None:
    if requested is None:
        return detect_team(config, root)
    if requested in config.teams:
        return requested
    suggestion = did_you_mean(requested, config.teams)
    known = ", ".join(config.teams) or "none are configured"
    raise UsageError(
        f"unknown team '{requested}'",
        hint=f"did you mean '{suggestion}'?" if suggestion else f"teams: {known}",
    )


def detect_team(config: Config, root: Path) -> str | None:
    for name, team in config.teams.items():
        if _matches(team, root):
            return name
    return None


def _matches(team: Team, root: Path) -> bool:
    for pattern in team.detect:
        if Path(pattern).is_absolute() or ".." in Path(pattern).parts:
            continue  # detection looks inside the project only
        if any(ch in pattern for ch in "*?["):
            if next(iter(root.glob(pattern)), None) is not None:
                return True
        elif (root / pattern).exists():
            return True
    return False
