"""The llm-mux filters on ordinary and odd input."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from jinja2 import StrictUndefined
from jinja2.exceptions import UndefinedError

from llm_mux.compiler.filters import (
    FILTERS,
    ShellSafe,
    default,
    fromjson,
    join,
    json,
    lines,
    raw,
    shell_escape,
    strftime,
    trim,
    truncate_chars,
)

MISSING = StrictUndefined(name="missing")


def test_shell_escape_quotes_once() -> None:
    quoted = shell_escape("$(touch pwned)")
    assert quoted == "'$(touch pwned)'"
    assert isinstance(quoted, ShellSafe)
    assert shell_escape(quoted) is quoted
    assert shell_escape("plain") == "plain"
    assert shell_escape(3) == "3"
    assert shell_escape("") == "''"


def test_raw_marks_without_quoting() -> None:
    marked = raw("a b; c")
    assert marked == "a b; c"
    assert isinstance(marked, ShellSafe)
    assert raw(marked) is marked


def test_json_keeps_non_ascii_and_converts_containers() -> None:
    assert json({"é": ("a", 1)}) == '{"é": ["a", 1]}'
    assert json([1, None, True]) == "[1, null, true]"
    assert json({"a": 1}, indent=2) == '{\n  "a": 1\n}'
    with pytest.raises(TypeError, match="cannot be written as JSON"):
        json(object())


@pytest.mark.parametrize(
    "text",
    [
        '{"a": [1, 2]}',
        '  {"a": [1, 2]}\n',
        '```json\n{"a": [1, 2]}\n```',
        '\n\n```\n{"a": [1, 2]}\n```  \n',
        '```JSON\r\n{"a": [1, 2]}\r\n```',
    ],
)
def test_fromjson_accepts_bare_or_fenced(text: str) -> None:
    assert fromjson(text) == {"a": [1, 2]}


def test_fromjson_errors_say_what_is_wrong() -> None:
    with pytest.raises(ValueError, match=r"not JSON \(Expecting value at line 1 column 1\)"):
        fromjson("nope")
    with pytest.raises(TypeError, match="fromjson expects JSON text, got a list"):
        fromjson([1])
    with pytest.raises(TypeError, match="got none"):
        fromjson(None)
    assert fromjson(b"[1]") == [1]


def test_join() -> None:
    assert join(["a", 1, None]) == "a, 1, None"
    assert join(("a", "b"), "\n") == "a\nb"
    assert join([]) == ""
    with pytest.raises(TypeError, match="join expects a list, got text"):
        join("abc")
    with pytest.raises(TypeError, match="got a number"):
        join(3)


def test_join_of_shell_words_stays_shell_safe() -> None:
    words = [shell_escape("a b"), shell_escape("c")]
    assert isinstance(join(words, " "), ShellSafe)
    assert join(words, " ") == "'a b' c"
    assert not isinstance(join(words, ";"), ShellSafe)
    assert not isinstance(join(["a b", "c"], " "), ShellSafe)


def test_lines() -> None:
    assert lines("a\n\n  \nb\r\nc\rd\n") == ["a", "b", "c", "d"]
    assert lines("  indented  \n") == ["  indented  "]
    assert lines("") == []
    assert lines(["x", ""]) == ["x", ""]
    with pytest.raises(TypeError, match="lines expects text or a list, got none"):
        lines(None)


def test_trim() -> None:
    assert trim("  a b \n") == "a b"
    assert trim("xxaxx", "x") == "a"
    assert trim(5) == "5"
    assert isinstance(trim(raw(" ls ")), ShellSafe)


def test_default() -> None:
    assert default(MISSING, "d") == "d"
    assert default(None, "d") == "d"
    assert default("", "d") == "d"
    assert default(0, "d") == 0
    assert default([], "d") == []
    assert default(False, "d") is False
    assert default(0, "d", boolean=True) == "d"
    assert default(None) == ""


def test_truncate_chars() -> None:
    assert truncate_chars("abcdef", 4) == "abc…"
    assert truncate_chars("abcd", 4) == "abcd"
    assert truncate_chars("abc", 1) == "…"
    assert truncate_chars("abc", 0) == ""
    assert truncate_chars(12345, 3) == "12…"
    with pytest.raises(ValueError, match="count of characters"):
        truncate_chars("abc", -1)


def test_strftime() -> None:
    assert strftime("2024-05-01T12:30:00Z", "%Y/%m/%d %H:%M %Z") == "2024/05/01 12:30 UTC"
    assert strftime("2024-05-01", "%d.%m.%Y") == "01.05.2024"
    assert strftime(date(2024, 1, 2), "%Y-%m-%d") == "2024-01-02"
    now = strftime("now", "%Y")
    assert abs(int(now) - datetime.now(UTC).year) <= 1
    with pytest.raises(ValueError, match="expects 'now' or an ISO-8601"):
        strftime("yesterday", "%Y")


@pytest.mark.parametrize("name", sorted(set(FILTERS) - {"default", "d"}))
def test_undefined_input_is_an_error(name: str) -> None:
    args: tuple[object, ...] = {"truncate_chars": (3,), "strftime": ("%Y",)}.get(name, ())
    with pytest.raises(UndefinedError, match="'missing' is undefined"):
        FILTERS[name](MISSING, *args)
