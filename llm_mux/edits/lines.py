"""Lines the way edits see them: split on "\\n" only, endings kept.

Input: a file's text. Output: its lines (each with its "\\n" or "\\r\\n", the
last one possibly without), and the file's line ending. `str.splitlines`
is not used on purpose: it also splits on form feeds and other separators
that are ordinary characters inside a source line.
"""

from __future__ import annotations

import re

__all__ = ["line_ending", "split_lines"]

_LINE = re.compile(r"[^\n]*\n|[^\n]+\Z")


def split_lines(text: str) -> list[str]:
    return _LINE.findall(text)


def line_ending(text: str) -> str:
    """The file's line ending: that of its first line ("\\n" for a file with none)."""
    first = text.find("\n")
    return "\r\n" if first > 0 and text[first - 1] == "\r" else "\n"
