"""Placing diff hunks in a file by their content, not by their line numbers.

Input: a file's text and the hunks of its `FilePatch`. Output: the new text,
or an `EditError` naming the file and the hunk that matches nowhere.

A hunk's old side (context and removed lines) is looked for in the file,
comparing lines without their trailing whitespace; among the places it
matches, the one nearest the header's line number wins, so a hunk whose
numbers drifted (the model miscounted, or an earlier hunk added lines) still
lands where it belongs. Hunks go in order and never overlap. Context lines
keep the file's own text; added lines take the file's line ending.
"""

from __future__ import annotations

from collections.abc import Sequence

from .lines import line_ending, split_lines
from .model import EditError, Hunk, HunkLine

__all__ = ["apply_hunks"]

_QUOTED = 80  # characters of a hunk line quoted in an error


def apply_hunks(path: str, text: str, hunks: Sequence[Hunk]) -> str:
    """`text` with every hunk applied, in order."""
    lines = split_lines(text)
    eol = line_ending(text)
    floor = 0  # hunks apply in order: the next one starts after the previous one
    shift = 0  # lines added minus removed so far: where later line numbers now point
    for number, hunk in enumerate(hunks, 1):
        at = _locate(lines, hunk, floor, shift)
        if at is None:
            raise EditError(_no_match(path, number, len(hunks), hunk, lines[floor:]))
        replacement = _replacement(lines[at : at + len(hunk.old_lines)], hunk, eol)
        lines[at : at + len(hunk.old_lines)] = replacement
        floor = at + len(replacement)
        shift += len(replacement) - len(hunk.old_lines)
    return "".join(_terminated(lines, eol))


def _locate(lines: Sequence[str], hunk: Hunk, floor: int, shift: int) -> int | None:
    """Where the hunk's old side starts: the match nearest its header's line number."""
    wanted = [_key(line.text) for line in hunk.old_lines]
    if not wanted:  # a pure insertion ("-5,0" inserts after line 5): only the number says where
        return min(max((hunk.old_start or 0) + shift, floor), len(lines))
    expected = floor if hunk.old_start is None else max(hunk.old_start - 1 + shift, floor)
    keys = [_key(line) for line in lines]
    starts = [
        start
        for start in range(floor, len(keys) - len(wanted) + 1)
        if keys[start : start + len(wanted)] == wanted
    ]
    return min(starts, key=lambda start: abs(start - expected), default=None)


def _replacement(matched: Sequence[str], hunk: Hunk, eol: str) -> list[str]:
    """The new lines: context from the file itself, added lines from the hunk."""
    old = iter(matched)
    result: list[str] = []
    for line in hunk.lines:
        if line.op == " ":
            result.append(next(old))
        elif line.op == "-":
            next(old)
        else:
            result.append(line.text + (eol if line.newline else ""))
    return result


def _terminated(lines: list[str], eol: str) -> list[str]:
    """Every line but the last ends with a newline (a kept last line may now be inside)."""
    return [
        line if index == len(lines) - 1 or line.endswith("\n") else line + eol
        for index, line in enumerate(lines)
    ]


def _key(line: str) -> str:
    return line.rstrip()


def _no_match(path: str, number: int, total: int, hunk: Hunk, rest: Sequence[str]) -> str:
    """Why a hunk matches nowhere: a line the file lacks, or lines out of order."""
    present = {_key(line) for line in rest}
    missing = next((line for line in hunk.old_lines if _key(line.text) not in present), None)
    if missing is not None:
        why = f"the file has no line {_shown(missing)}"
    else:
        why = "its context and removed lines are in the file, but not together in this order"
    return (
        f"{path}: hunk {number} of {total} ({hunk.header}) does not match the file: {why} "
        "(line numbers may be off, but context and removed lines must match the file, "
        "trailing whitespace aside)"
    )


def _shown(line: HunkLine) -> str:
    text = line.text.strip()
    return repr(text if len(text) <= _QUOTED else text[: _QUOTED - 1] + "…")
