"""Load pass: TOML text → raw tables.

Input: a `SourceFile`. Output: the dict `tomllib` parses, or None with an E001
diagnostic at the line and column `tomllib` reports.
"""

from __future__ import annotations

import re
import tomllib

from ..diagnostics import Location, Sink
from ..source import SourceFile

__all__ = ["load_toml"]

_DECLARED = re.compile(r"cannot declare \((.*)\) twice")
_AT = re.compile(r"\s*\(at line (\d+), column (\d+)\)|\s*\(at end of document\)")


def load_toml(source: SourceFile, sink: Sink) -> dict[str, object] | None:
    try:
        return tomllib.loads(source.text)
    except tomllib.TOMLDecodeError as error:
        message, line, column = _split(str(error), source)
        sink.error(
            "E001",
            f"invalid TOML: {message}",
            Location(source.path, line, column),
            hint=_hint(message),
        )
        return None


def _split(text: str, source: SourceFile) -> tuple[str, int, int]:
    match = _AT.search(text)
    message = _AT.sub("", text).strip().rstrip(".")
    message = message[:1].lower() + message[1:]
    declared = _DECLARED.match(message)
    if declared:
        names = re.findall(r"'([^']*)'", declared.group(1))
        message = f"table [{'.'.join(names)}] is declared twice"
    if match and match.group(1):
        return message, int(match.group(1)), int(match.group(2))
    return message, _last_good_line(source.text) + 1, 1


def _last_good_line(text: str) -> int:
    """tomllib places some errors "at end of document"; find the line they start on.

    Binary search for the longest run of leading lines that still parses: the
    duplicate key or the string that never closes is on the next line.
    """
    lines = text.splitlines(keepends=True)
    good, bad = 0, len(lines)
    while bad - good > 1:
        middle = (good + bad) // 2
        try:
            tomllib.loads("".join(lines[:middle]))
        except tomllib.TOMLDecodeError:
            bad = middle
        else:
            good = middle
    return good


def _hint(message: str) -> str | None:
    if "overwrite" in message.lower():
        return "a key or table is defined twice; for several steps use [[steps]] with two brackets"
    if "invalid value" in message.lower():
        return 'strings need quotes; multi-line text goes between triple quotes """ … """'
    return None
