"""JSON from outside, parsed with a bound on its nesting.

Stage: shared (the `fromjson` filter, and at run time model answers, server bodies, store
payloads and edits).  Input: JSON text.  Output: the value — or a ValueError saying how
deep the text nests and where, when it nests deeper than `MAX_DEPTH` (Python's parser
and everything that walks the value afterwards would otherwise end in a RecursionError).
"""

from __future__ import annotations

import json
import re

__all__ = ["MAX_DEPTH", "JsonTooDeep", "check_depth", "loads"]

MAX_DEPTH = 200

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKET = re.compile(r"[\[\]{}]")


class JsonTooDeep(ValueError):
    """The text nests arrays and objects deeper than `MAX_DEPTH`."""


def check_depth(text: str | bytes, limit: int = MAX_DEPTH) -> None:
    """Raise `JsonTooDeep` when `text` opens more than `limit` arrays/objects at once."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    if text.count("[") + text.count("{") <= limit:
        return  # cannot nest deeper than it has brackets
    depth = 0
    for match in _BRACKET.finditer(_STRING.sub('""', text)):
        depth = depth + 1 if match.group() in "[{" else max(depth - 1, 0)
        if depth > limit:
            raise JsonTooDeep(
                f"the JSON nests more than {limit} arrays or objects deep; "
                "flatten it (llm-mux reads at most that many levels)"
            )


def loads(text: str | bytes) -> object:
    """`json.loads`, after `check_depth`."""
    check_depth(text)
    return json.loads(text)
