"""JSON inside model output: bare, in a ``` fence, or wrapped in prose.

Input: text a model or a command produced. Output: the first JSON value in it,
or a ValueError saying what was looked for. Shared by `output_schema`, store
and apply steps, and `for_each` over text.
"""

from __future__ import annotations

import json
import re

from llm_mux.compiler import json_limits

__all__ = ["describe_json", "extract_json", "json_array", "json_value"]

_FENCE = re.compile(r"```[A-Za-z0-9_-]*[ \t]*\r?\n(.*?)\r?\n?```", re.DOTALL)


# What JSON text can start with: an object, an array, a string, a number, a literal.
_JSON_STARTS = frozenset('{["-0123456789tfn')


def json_value(text: str) -> object:
    """The value `text` holds when the whole of it is JSON, else None.

    Only text that can start JSON is parsed, so a large non-JSON output costs
    one character's look."""
    stripped = text.strip()
    if not stripped or stripped[0] not in _JSON_STARTS:
        return None
    try:
        value: object = json_limits.loads(stripped)
    except ValueError:  # not JSON, or nested too deep to be data
        return None
    return value


def extract_json(text: str) -> object:
    """The JSON value in `text`: the whole text, a fenced block, or the first {…}/[…]."""
    stripped = text.strip()
    for candidate in [stripped, *_FENCE.findall(text)]:
        try:
            parsed: object = json_limits.loads(candidate)
        except ValueError:
            continue
        return parsed
    value = _first_embedded(text)
    if value is not None:
        return value
    raise ValueError("no JSON found: expected a JSON value, bare or in a ``` fence")


def _first_embedded(text: str) -> object | None:
    json_limits.check_depth(text)  # every [ and { below is a start to try
    decoder = json.JSONDecoder()
    for match in re.finditer(r"[\[{]", text):
        try:
            value: object = decoder.raw_decode(text, match.start())[0]
        except ValueError:
            continue
        return value
    return None


def json_array(text: str) -> list[object] | None:
    """`text` as a JSON array (bare or fenced), or None when it is not one."""
    stripped = text.strip()
    candidates = [stripped] + _FENCE.findall(text)
    for candidate in candidates:
        try:
            value = json_limits.loads(candidate)
        except ValueError:
            continue
        if isinstance(value, list):
            return value
    return None


def describe_json(value: object) -> str:
    """A JSON value named in an error message: "the number 3", "a list", "null"."""
    match value:
        case None:
            return "null"
        case bool():
            return "true or false"
        case int() | float():
            return f"the number {value:g}"
        case str():
            shown = value if len(value) <= 40 else value[:39] + "…"
            return f"the text {json.dumps(shown, ensure_ascii=False)}"
        case list():
            return "a list"
        case dict():
            return "an object"
    return type(value).__name__
