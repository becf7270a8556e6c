"""`{old, new}` edits: replace text that occurs exactly once, trailing whitespace aside.

Input: a file's text, `old` and `new`. Output: the new text, or an
`EditError` saying that `old` matches nowhere or in several places (with
their line numbers, so the model can add context when asked again).

Models lose and add trailing spaces, and write `\\n` where a file has
`\\r\\n`, so both sides are compared with every line's trailing whitespace
removed; a match is then mapped back onto the file's own characters. When
the match ends at the end of a line, that line's trailing whitespace goes
with it (the line is replaced whole); in a `\\r\\n` file, `new` gets `\\r\\n`.
"""

from __future__ import annotations

from dataclasses import dataclass

from .lines import line_ending, split_lines
from .model import EditError

__all__ = ["replace_once"]

_QUOTED = 120  # characters of `old` quoted in an error
_LISTED = 5  # line numbers listed for an ambiguous match


def replace_once(path: str, text: str, old: str, new: str) -> str:
    if not old.strip():
        raise EditError(
            f'{path}: "old" is empty: give the exact text to replace, '
            'or "content" to write the whole file'
        )
    view = _View.of(text)
    wanted = _View.of(old, final_newline=False).text
    starts = _occurrences(view.text, wanted)
    if not starts:
        raise EditError(
            f'{path}: "old" does not match the file: {_shown(old)} is not in it '
            "(it must match exactly once, trailing whitespace aside)"
        )
    if len(starts) > 1:
        lines = ", ".join(str(view.line[start] + 1) for start in starts[:_LISTED])
        raise EditError(
            f'{path}: "old" matches {len(starts)} places (lines {lines}): '
            "include more surrounding lines so that it matches exactly one"
        )
    begin, end = view.span(starts[0], starts[0] + len(wanted))
    return text[:begin] + _with_line_ending(new, line_ending(text)) + text[end:]


@dataclass(frozen=True, slots=True)
class _View:
    """A text with each line's trailing whitespace removed, mapped back to the original.

    Every line of the view ends with "\n" (with `final_newline`, even a last
    line that has none in the original, so `old` may end with a newline there).
    """

    text: str
    origin: tuple[int, ...]  # per view char: its index in the original
    line: tuple[int, ...]  # per view char: its line number (0-based)
    ending: tuple[int, ...]  # per line: where its "\n" or "\r\n" starts
    stop: tuple[int, ...]  # per line: the index just after its ending

    @classmethod
    def of(cls, original: str, *, final_newline: bool = True) -> _View:
        chars: list[str] = []
        origin: list[int] = []
        numbers: list[int] = []
        ending: list[int] = []
        stop: list[int] = []
        offset = 0
        for number, line in enumerate(split_lines(original)):
            kept = line.rstrip()
            has_newline = line.endswith("\n")
            width = len(kept) + (1 if has_newline or final_newline else 0)
            chars.append(kept + "\n" if width > len(kept) else kept)
            origin.extend(range(offset, offset + len(kept) + 1)[:width])
            numbers.extend([number] * width)
            body = line.rstrip("\r\n")
            ending.append(offset + len(body))
            stop.append(offset + len(line))
            offset += len(line)
        return cls("".join(chars), tuple(origin), tuple(numbers), tuple(ending), tuple(stop))

    def span(self, start: int, stop: int) -> tuple[int, int]:
        """The original text of view[start:stop], whole lines' trailing whitespace included."""
        last = stop - 1
        if self.text[last] == "\n":  # the match takes the line ending too
            return self.origin[start], self.stop[self.line[last]]
        if stop == len(self.text) or self.text[stop] == "\n":  # it ends where the line does
            return self.origin[start], self.ending[self.line[last]]
        return self.origin[start], self.origin[last] + 1


def _occurrences(text: str, wanted: str) -> list[int]:
    """Every start of `wanted` in `text`, overlapping ones included."""
    found: list[int] = []
    start = text.find(wanted)
    while start != -1:
        found.append(start)
        start = text.find(wanted, start + 1)
    return found


def _with_line_ending(text: str, eol: str) -> str:
    if eol == "\n" or "\r\n" in text:
        return text
    return text.replace("\n", eol)


def _shown(text: str) -> str:
    shown = text.strip()
    return repr(shown if len(shown) <= _QUOTED else shown[: _QUOTED - 1] + "…")
