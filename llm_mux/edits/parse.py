"""Which edit format a model answered in, and its edits.

Input: the text of the source step's output. Output: the edits it holds — a
unified diff when the text has diff headers or a ```diff fence, else JSON
edits — or an `EditError` saying what was expected. An explicit empty list
(`[]`, `{"edits": []}`) is a valid answer: nothing to change.
"""

from __future__ import annotations

from .model import Edit, EditError
from .parse_diff import find_diff, parse_diff
from .parse_json import parse_json_edits

__all__ = ["parse_edits"]

_EXPECTED = (
    "expected a unified diff (--- a/FILE, +++ b/FILE and @@ hunks, bare or in a ```diff "
    'fence) or JSON edits ({"path", "old", "new"}, {"path", "content"} or '
    '{"path", "delete": true}; one, a list, or {"edits": [...]})'
)


def parse_edits(text: str) -> list[Edit]:
    if not text.strip():
        raise EditError(f"there are no edits: the output is empty; {_EXPECTED}")
    diff = find_diff(text)
    if diff is not None:
        return list(parse_diff(diff))
    edits = parse_json_edits(text)
    if edits is None:
        raise EditError(f"no edits found in the output: {_EXPECTED}")
    return edits
