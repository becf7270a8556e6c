"""Load pass: TOML text → raw tables.

Input: a `SourceFile`. Output: the dict `tomllib` parses, or None with an E001
diagnostic at the line and column `tomllib` reports.
"""

from __future__ import annotations

import re
import tomllib

from ..diagnostics import Location, Sink
from ..source import SourceFile

__all__ = ["MAX_NESTING", "load_toml", "too_deep"]

_DECLARED = re.compile(r"cannot declare \((.*)\) twice")
_NEWLINE_IN_STRING = re.compile(r"(illegal|found invalid) character '\\n'")
_IMMUTABLE = re.compile(r"cannot mutate immutable namespace \((.*)\)")
_HEADER = re.compile(r"\[\[?[^\]]*\]\]?")
_KEY = re.compile(r"([A-Za-z0-9_.-]+)\s*=")
_AT = re.compile(r"\s*\(at line (\d+), column (\d+)\)|\s*\(at end of document\)")


MAX_NESTING = 100  # arrays and inline tables inside one another

_TOML_TOKEN = re.compile(
    r'"""(?:[^\\]|\\.)*?"""|\'\'\'.*?\'\'\'|"(?:[^"\\\n]|\\.)*"|\'[^\'\n]*\'|#[^\n]*|[\[\]{}]',
    re.DOTALL,
)


def load_toml(source: SourceFile, sink: Sink) -> dict[str, object] | None:
    deep = too_deep(source.text)
    if deep is not None:
        sink.error(
            "E001",
            f"invalid TOML: arrays or inline tables nest more than {MAX_NESTING} deep here",
            source.location(deep),
            hint="flatten the value: llm-mux reads at most that many levels",
        )
        return None
    try:
        return tomllib.loads(source.text)
    except tomllib.TOMLDecodeError as error:
        message, line, column = _split(str(error), source)
        message, column = _reword(message, source.line_text(line), column)
        sink.error(
            "E001",
            f"invalid TOML: {message}",
            Location(source.path, line, column),
            hint=_hint(message),
        )
        return None


def too_deep(text: str) -> int | None:
    """The offset of the bracket that opens level `MAX_NESTING + 1`, if any does."""
    if text.count("[") + text.count("{") <= MAX_NESTING:
        return None  # cannot nest deeper than it has brackets
    depth = 0
    for token in _TOML_TOKEN.finditer(text):
        char = token.group()
        if char in "[{":
            depth += 1
            if depth > MAX_NESTING:
                return token.start()
        elif char in "]}":
            depth = max(depth - 1, 0)
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


def _reword(message: str, line: str, column: int) -> tuple[str, int]:
    """Say tomllib's terser messages in the user's terms, at the start of the statement."""
    if _NEWLINE_IN_STRING.fullmatch(message):
        return "the string is not closed before the end of the line", column
    if message == "cannot overwrite a value":
        # tomllib points after the second value; the key is what to fix.
        start = len(line) - len(line.lstrip())
        header = _HEADER.match(line, start)
        if header:
            return f"table {header.group()} redefines a key that already has a value", start + 1
        key = _KEY.match(line, start)
        shown = f"the key '{key.group(1)}'" if key else "this key"
        return f"{shown} is set twice", start + 1
    immutable = _IMMUTABLE.fullmatch(message)
    if immutable:
        names = ".".join(re.findall(r"'([^']*)'", immutable.group(1)))
        return f"'{names}' already has a value, so it cannot be extended here", column
    return message, column


def _hint(message: str) -> str | None:
    if message.startswith("the string is not closed"):
        return 'close it on the same line; multi-line text goes between triple quotes """ … """'
    if message.endswith(("is set twice", "already has a value")):
        return "remove one of them; for several steps use [[steps]] with two brackets"
    if message.endswith("declared twice"):
        return "merge the two tables into one; for several steps use [[steps]] with two brackets"
    if "cannot be extended" in message:
        return "write it once: either as key = value, or as a [table] with its keys"
    if "invalid value" in message.lower() or "after a statement" in message:
        return 'strings need quotes; multi-line text goes between triple quotes """ … """'
    return None
