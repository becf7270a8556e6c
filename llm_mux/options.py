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
    # The Rust llm-mux's trust flags: each trusts one part of the project for this run.
    allow_project_workflows: bool = False
    allow_project_backends: bool = False

    def allowed_parts(self) -> frozenset[str]:
        """The parts of an untrusted project's `.llm-mux/` this run may use."""
        flags = {"workflows": self.allow_project_workflows, "backends": self.allow_project_backends}
        return frozenset(part for part, given in flags.items() if given)
