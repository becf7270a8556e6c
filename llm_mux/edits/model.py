"""The vocabulary of edits: what a model asked for, before anything touches a file.

Input: nothing — plain frozen values built by `parse_diff` and `parse_json`.
Output: the `Edit` union (`Replace`, `WriteFile`, `DeleteFile`, `FilePatch`),
`Hunk`/`HunkLine` for diffs, and `EditError`, whose message names the path and
the reason in words a workflow author (or the model, when it is asked again)
can act on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = [
    "DeleteFile",
    "Edit",
    "EditError",
    "FilePatch",
    "Hunk",
    "HunkLine",
    "Replace",
    "WriteFile",
]


class EditError(Exception):
    """Edits that cannot be parsed, confined or applied; nothing has been written."""


@dataclass(frozen=True, slots=True)
class Replace:
    """`{path, old, new}`: `old` must occur exactly once (trailing whitespace aside)."""

    path: str
    old: str
    new: str


@dataclass(frozen=True, slots=True)
class WriteFile:
    """`{path, content}`: the whole file, created or overwritten."""

    path: str
    content: str


@dataclass(frozen=True, slots=True)
class DeleteFile:
    """`{path, delete: true}`."""

    path: str


@dataclass(frozen=True, slots=True)
class HunkLine:
    """One hunk line: `op` is " " (context), "-" (removed) or "+" (added).

    `newline` is False after a `\\ No newline at end of file` marker.
    """

    op: Literal[" ", "-", "+"]
    text: str
    newline: bool = True


@dataclass(frozen=True, slots=True)
class Hunk:
    """One `@@` block; `old_start` is None when the header gave no line numbers."""

    header: str
    old_start: int | None
    lines: tuple[HunkLine, ...]

    @property
    def old_lines(self) -> tuple[HunkLine, ...]:
        return tuple(line for line in self.lines if line.op != "+")

    @property
    def new_lines(self) -> tuple[HunkLine, ...]:
        return tuple(line for line in self.lines if line.op != "-")


@dataclass(frozen=True, slots=True)
class FilePatch:
    """One file's part of a unified diff; None on a side means `/dev/null`."""

    old_path: str | None
    new_path: str | None
    hunks: tuple[Hunk, ...]

    @property
    def path(self) -> str:
        """The name to report: the new name, or the old one for a deletion."""
        name = self.new_path or self.old_path
        assert name is not None  # the parser never builds /dev/null on both sides
        return name


Edit = Replace | WriteFile | DeleteFile | FilePatch
