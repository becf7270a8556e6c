"""Options every command accepts, gathered into one value the commands receive."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["GlobalOptions"]


@dataclass(frozen=True, slots=True)
class GlobalOptions:
    """Options every command accepts, before or after the command name."""

    directory: Path | None
    configs: tuple[Path, ...]
    team: str | None
    output: str
    output_file: Path | None
    debug: bool
    quiet: bool
    trust: bool
