"""Which `{{ }}` of a shell template sit inside quotes of the surrounding shell text.

Stage: template analysis for shell steps.  Input: the template's pieces in order (literal
shell text, and the offsets of `{{`).  Output: the offsets of `{{` that are inside '...' or
"..." — there automatic quoting would put quotes inside quotes (`echo "{{ x }}"` renders
`echo "'a b'"`), which the compiler warns about.

The scan follows sh: no escapes inside single quotes; a backslash escapes the next
character outside quotes and inside double quotes; a `#` that starts a word outside quotes
comments out the rest of the line.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["ShellQuoteScanner", "quoted_interpolations"]

_WORD_BREAKS = frozenset(" \t\n;&|()<>")
_SPECIAL = re.compile(r"['\"\\#]")  # the only characters that change the state


class ShellQuoteScanner:
    """The quote state of sh, fed literal text a piece at a time."""

    def __init__(self) -> None:
        self.quote: str | None = None  # "'" or '"' while inside quotes
        self._escaped = False
        self._comment = False
        self._previous = "\n"

    def feed(self, text: str) -> None:
        if not text:
            return
        if not (self._escaped or self._comment or _SPECIAL.search(text)):
            # Text without quotes, backslashes or # leaves the state as it is.
            self._previous = text[-1]
            return
        for char in text:
            self._step(char)
            self._previous = char

    def interpolate(self) -> None:
        """A `{{ }}` value comes next: it is part of the current word."""
        self._escaped = False
        self._previous = "x"

    def _step(self, char: str) -> None:
        if self._escaped:
            self._escaped = False
        elif self._comment:
            self._comment = char != "\n"
        elif self.quote == "'":
            self.quote = None if char == "'" else "'"
        elif char == "\\":
            self._escaped = True
        elif self.quote == '"':
            self.quote = None if char == '"' else '"'
        elif char in "'\"":
            self.quote = char
        elif char == "#" and self._previous in _WORD_BREAKS:
            self._comment = True


def quoted_interpolations(pieces: Iterable[str | int]) -> tuple[int, ...]:
    """Offsets (the ints of `pieces`) of interpolations that fall inside shell quotes.

    `pieces` alternates literal shell text (str) and interpolation offsets (int), in
    source order; block tags and comments are simply left out.
    """
    scanner = ShellQuoteScanner()
    quoted: list[int] = []
    for piece in pieces:
        if isinstance(piece, str):
            scanner.feed(piece)
        else:
            if scanner.quote is not None:
                quoted.append(piece)
            scanner.interpolate()
    return tuple(quoted)
