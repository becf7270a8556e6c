"""JSON edits as models write them, read into `Replace`/`WriteFile`/`DeleteFile`.

Input: model output holding JSON — bare, in a ``` fence, or inside prose —
that is one edit object, an array of them, or `{"edits": [...]}`. Each edit
names its file as `path` (or `file`) and is `{old, new}`, `{content}` or
`{delete: true}`; other keys (a model's "explanation") are ignored.
Output: the edits in order, None when the text holds no edit-shaped JSON at
all, or an `EditError` naming the edit (1-based, with its path) and what is
wrong with it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence

from llm_mux.compiler import json_limits

from ..jsontext import describe_json
from .fences import fenced_blocks
from .model import DeleteFile, Edit, EditError, Replace, WriteFile

__all__ = ["parse_json_edits"]

_PATH_KEYS = ("path", "file")
_EDIT_KEYS = frozenset({"edits", "path", "file", "old", "new", "content", "delete"})
_OPENING = re.compile(r"[\[{]")


def parse_json_edits(text: str) -> list[Edit] | None:
    """The edits in `text`, or None when it holds no JSON that looks like edits."""
    value = _edits_value(text)
    if value is None:
        return None
    return [_edit(index, item) for index, item in enumerate(_items(value), 1)]


def _edits_value(text: str) -> object | None:
    """The first edit-shaped JSON value: the whole text, a fenced block, else embedded."""
    broken: str | None = None
    for language, body in [("", text), *fenced_blocks(text)]:
        try:
            value: object = json_limits.loads(body)
        except ValueError as error:
            if language == "json":
                broken = f"the ```json block is not valid JSON: {error}"
            continue
        if _looks_like_edits(value, embedded=False):
            return value
    try:
        json_limits.check_depth(text)  # every [ and { is a start to try below
    except json_limits.JsonTooDeep as error:
        raise EditError(f"the answer's JSON cannot be read: {error}") from None
    value = _embedded(text)
    if value is None and broken is not None:
        raise EditError(broken)
    return value


def _embedded(text: str) -> object | None:
    """The first edit-shaped {…} or […] inside prose (an empty [] there is just prose).

    Only whole values count: the objects inside a list that is not edits are skipped,
    so one stray edit-like object is never picked out of some other structure.
    """
    decoder = json.JSONDecoder()
    position = 0
    while (match := _OPENING.search(text, position)) is not None:
        try:
            value: object
            value, end = decoder.raw_decode(text, match.start())
        except ValueError:
            position = match.start() + 1
            continue
        if _looks_like_edits(value, embedded=True):
            return value
        position = end
    return None


def _looks_like_edits(value: object, *, embedded: bool) -> bool:
    """An object with edit keys, or a list holding one (every item is checked later)."""
    if isinstance(value, dict):
        return any(key in value for key in _EDIT_KEYS)
    if isinstance(value, list):
        if not value:
            return not embedded
        return any(
            isinstance(item, dict) and _looks_like_edits(item, embedded=True) for item in value
        )
    return False


def _items(value: object) -> Sequence[object]:
    if isinstance(value, dict) and "edits" in value:
        edits = value["edits"]
        if not isinstance(edits, list):
            raise EditError(f'"edits" must be a list of edits, not {describe_json(edits)}')
        return edits
    return value if isinstance(value, list) else [value]


def _edit(index: int, item: object) -> Edit:
    if not isinstance(item, dict):
        raise EditError(f"edit {index} is {describe_json(item)}, not an object with a path")
    path = _path(index, item)
    where = f"edit {index} ({path})"
    if item.get("delete") is True:
        return DeleteFile(path)
    if "content" in item:
        return WriteFile(path, _text(where, item, "content"))
    if "old" in item or "new" in item:
        if "new" not in item:
            raise EditError(f'{where}: has "old" but no "new" (use "new": "" to remove text)')
        old = _text(where, item, "old") if "old" in item else ""
        return Replace(path, old, _text(where, item, "new"))
    raise EditError(
        f'{where}: says neither what to change ("old" and "new"), the whole file ("content") '
        'nor "delete": true'
    )


def _path(index: int, item: Mapping[str, object]) -> str:
    named = [item[key] for key in _PATH_KEYS if key in item]
    if not named:
        raise EditError(f'edit {index} names no file: give it a "path"')
    if not all(isinstance(path, str) and path.strip() for path in named):
        raise EditError(f'edit {index}: "path" must be a non-empty string')
    if len(set(named)) > 1:
        raise EditError(f'edit {index} names two files: "path" {named[0]!r}, "file" {named[1]!r}')
    return str(named[0]).strip()


def _text(where: str, item: Mapping[str, object], key: str) -> str:
    value = item[key]
    if not isinstance(value, str):
        raise EditError(f'{where}: "{key}" must be a string, not {describe_json(value)}')
    return value
