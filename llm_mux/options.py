"""Options every command accepts, gathered into one value the commands receive."""

from __future__ import annotations

from pathlib import Path

import msgspec

__all__ = ["GlobalOptions"]


class GlobalOptions(msgspec.Struct, frozen=True):
    """Options every command accepts, before or after the command name."""

    directory: Path | None
    configs: tuple[Path, ...]
    team: str | None
    output: str
    output_file: Path | None
    debug: bool
    quiet: bool
    trust: bool
