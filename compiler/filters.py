"""The llm-mux filters: one implementation each, for templates and expressions alike.

Stage: shared by the compiler (names known to the checks) and the run time (rendering and
evaluation go through the Jinja environment of `templates.py`, which installs these).
Input: a value (and arguments).  Output: the filtered value, or an exception with a
message that says what was expected.

Undefined values (Jinja's `StrictUndefined`) are errors in every filter but `default`,
which exists to replace them.
"""

from __future__ import annotations

import json as _json
import re
import shlex
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime
from typing import NoReturn

import msgspec
from jinja2 import Undefined

from . import json_limits

__all__ = [
    "FILTERS",
    "ShellRaw",
    "ShellSafe",
    "default",
    "fromjson",
    "join",
    "json",
    "lines",
    "raw",
    "shell_escape",
    "strftime",
    "text_of",
    "trim",
    "truncate_chars",
]


class ShellSafe(str):
    """Text that is one shell word as it is: made by `shell_escape` (quoted).

    Safe as a word and nowhere else: inside quotes, a here-document or a comment it is
    written as text like any other value (`shell_values`).  Note that str methods and most
    filters return a plain `str`: `{{ x | shell_escape | upper }}` is quoted again.
    """

    __slots__ = ()


class ShellRaw(ShellSafe):
    """Shell code the author vouches for (`| raw`): put into the command as it is."""

    __slots__ = ()


def _fail_undefined(value: Undefined) -> NoReturn:
    value._fail_with_undefined_error()


def text_of(value: object) -> str:
    """`value` as text (`str(value)`); undefined values are an error."""
    if isinstance(value, Undefined):
        _fail_undefined(value)
    if isinstance(value, str):
        return value
    return str(value)


def _describe(value: object) -> str:
    match value:
        case None:
            return "none"
        case bool():
            return "a boolean"
        case int() | float():
            return "a number"
        case str():
            return "text"
        case list() | tuple():
            return "a list"
        case Mapping():
            return "a mapping"
        case _:
            return type(value).__name__


def shell_escape(value: object) -> ShellSafe:
    """`value` as one shell word: `shlex.quote(str(value))`.

    A value that is already `ShellSafe` is returned unchanged, so quoting never doubles.
    """
    if isinstance(value, ShellSafe):
        return value
    return ShellSafe(shlex.quote(text_of(value)))


def raw(value: object) -> ShellRaw:
    """`str(value)` as shell code, *without* quoting: opts out of automatic quoting."""
    if isinstance(value, ShellRaw):
        return value
    return ShellRaw(text_of(value))


def json(value: object, indent: int | None = None) -> str:
    """`value` as JSON text; non-ASCII characters are kept as they are.

    Mappings, lists, tuples, sets and msgspec Structs are converted; other objects are an
    error naming their type.
    """
    if isinstance(value, Undefined):
        _fail_undefined(value)
    return _json.dumps(value, ensure_ascii=False, indent=indent, default=_json_default)


def _json_default(value: object) -> object:
    if isinstance(value, Undefined):
        _fail_undefined(value)
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, tuple | set | frozenset):
        return list(value)
    if isinstance(value, msgspec.Struct):
        return msgspec.to_builtins(value)
    raise TypeError(f"json: {_describe(value)} cannot be written as JSON")


_FENCE = re.compile(r"```[A-Za-z0-9_+-]*[ \t]*\r?\n(?P<body>.*?)\r?\n?[ \t]*```", re.DOTALL)


def fromjson(value: object) -> object:
    """Parse JSON text; the text may be wrapped in a ``` or ```json fence.

    Whitespace around the text (and around the fence) is ignored.  Anything but text
    (bytes are decoded as UTF-8) is an error, as is text that is not JSON; the message says
    where the JSON stops making sense.
    """
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    if isinstance(value, Undefined):
        _fail_undefined(value)
    if not isinstance(value, str):
        raise TypeError(f"fromjson expects JSON text, got {_describe(value)}")
    text = value.strip()
    fenced = _FENCE.fullmatch(text)
    if fenced is not None:
        text = fenced.group("body")
    try:
        return json_limits.loads(text)
    except json_limits.JsonTooDeep as exc:
        raise ValueError(f"fromjson: {exc}") from None
    except _json.JSONDecodeError as exc:
        where = f"line {exc.lineno} column {exc.colno}"
        raise ValueError(f"fromjson: the text is not JSON ({exc.msg} at {where})") from None


def join(value: object, sep: str = ", ") -> str:
    """The items of a list as text, separated by `sep` (", " by default).

    Items are converted with `str()`.  Text is not a list of characters here: joining a
    string is an error.  When every item is `ShellSafe` and `sep` is spaces or tabs (or
    itself `ShellSafe`), the result is `ShellSafe` (`ShellRaw` when all are):
    `{{ files | map('shell_escape') | join(' ') }}` gives one shell word per file.  Any
    other separator — a line break, `;`, `&`, `|` — would end a command, so the result is
    plain text, quoted as one value.
    """
    if isinstance(value, Undefined):
        _fail_undefined(value)
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise TypeError(f"join expects a list, got {_describe(value)}")
    items = list(value)
    text = sep.join(text_of(item) for item in items)
    blank = not sep.strip(" \t")
    if (blank or isinstance(sep, ShellRaw)) and all(isinstance(i, ShellRaw) for i in items):
        return ShellRaw(text)
    if (blank or isinstance(sep, ShellSafe)) and all(isinstance(i, ShellSafe) for i in items):
        return ShellSafe(text)
    return text


_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def lines(value: object) -> list[str]:
    """The non-blank lines of a text, each as written (a line break is \\n, \\r\\n or \\r).

    A list (or tuple) is returned as a list, unchanged.  Anything else, none included, is
    an error.
    """
    if isinstance(value, Undefined):
        _fail_undefined(value)
    if isinstance(value, list | tuple):
        return list(value)
    if not isinstance(value, str):
        raise TypeError(f"lines expects text or a list, got {_describe(value)}")
    return [line for line in _LINE_BREAK.split(value) if line.strip()]


def trim(value: object, chars: str | None = None) -> str:
    """`str(value)` without leading and trailing whitespace (or `chars`).

    A `ShellSafe` (or `ShellRaw`) value stays one.
    """
    text = text_of(value).strip(chars)
    return type(value)(text) if isinstance(value, ShellSafe) else text


def default(value: object, fallback: object = "", boolean: bool = False) -> object:
    """`fallback` when `value` is undefined, none or "" (or, with `boolean`, any false value).

    Every other value, `0`, `false` and `[]` included, is returned unchanged.
    """
    if isinstance(value, Undefined) or value is None:
        return fallback
    if isinstance(value, str) and value == "":
        return fallback
    if boolean and not value:
        return fallback
    return value


def truncate_chars(value: object, n: int) -> str:
    """At most `n` characters of `str(value)`; when cut, the last one is "…".

    `n` must be a non-negative integer; `truncate_chars(0)` is always "".
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"truncate_chars expects a count of characters >= 0, got {n!r}")
    text = text_of(value)
    if len(text) <= n:
        return text
    return text[: n - 1] + "…" if n else ""


def strftime(value: object, fmt: str) -> str:
    """Format a date/time with `fmt` (Python's strftime codes).

    `value` is "now" (the local time, with its offset), an ISO-8601 text such as
    "2024-05-01" or "2024-05-01T12:30:00Z", or a `datetime`/`date`.
    """
    return _datetime(value).strftime(fmt)


def _datetime(value: object) -> datetime | date:
    if isinstance(value, Undefined):
        _fail_undefined(value)
    if isinstance(value, datetime | date):
        return value
    if value == "now":
        return datetime.now().astimezone()
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.strip())
        except ValueError:
            pass
    message = f"strftime expects 'now' or an ISO-8601 date/time, got {value!r}"
    raise ValueError(message)


# The review's filters (report/review_filters.py), imported on first use: most
# workflows never call them, and validate's start-up should not pay for them.
_REVIEW_FILTERS = ("review_merge", "review_reconcile", "review_format", "review_count")


def _review_filter(name: str) -> Callable[..., object]:
    def call(*args: object) -> object:
        from .report import review_filters

        for arg in args:
            if isinstance(arg, Undefined):
                _fail_undefined(arg)
        function: Callable[..., object] = getattr(review_filters, name)
        return function(*args)

    call.__name__ = name
    return call


FILTERS: Mapping[str, Callable[..., object]] = {
    "shell_escape": shell_escape,
    "raw": raw,
    "json": json,
    "fromjson": fromjson,
    "join": join,
    "lines": lines,
    "trim": trim,
    "default": default,
    "d": default,  # Jinja's short alias, kept pointing at the same implementation
    "truncate_chars": truncate_chars,
    "strftime": strftime,
    **{name: _review_filter(name) for name in _REVIEW_FILTERS},
}
