"""Laws of the filters and of shell templates."""

from __future__ import annotations

import shlex

from hypothesis import given, settings
from hypothesis import strategies as st
from jinja2 import StrictUndefined

from llm_mux.compiler.filters import (
    default,
    fromjson,
    join,
    json,
    lines,
    shell_escape,
    trim,
    truncate_chars,
)
from llm_mux.compiler.templates import make_environment

# Text a shell word can hold: anything but NUL.
shell_text = st.text(st.characters(exclude_characters="\x00", exclude_categories=["Cs"]))
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4)
    ),
    max_leaves=12,
)
# Non-empty, single-line, no surrounding whitespace.
line_text = st.text(
    st.characters(exclude_characters="\r\n", exclude_categories=["Cs"]), min_size=1
).filter(lambda s: s == s.strip())

LAWS = settings(max_examples=200, deadline=None)


@LAWS
@given(shell_text)
def test_shell_escape_is_one_shell_word(s: str) -> None:
    assert shlex.split(shell_escape(s)) == [s]


@LAWS
@given(shell_text)
def test_shell_escape_is_idempotent(s: str) -> None:
    once = shell_escape(s)
    assert shell_escape(once) == once


@LAWS
@given(json_values)
def test_fromjson_inverts_json(value: object) -> None:
    assert fromjson(json(value)) == value
    assert fromjson(f"```json\n{json(value, indent=2)}\n```") == value


@LAWS
@given(st.lists(line_text, max_size=6))
def test_lines_inverts_join(items: list[str]) -> None:
    assert lines(join(items, "\n")) == items


@LAWS
@given(st.text())
def test_trim_is_idempotent(s: str) -> None:
    assert trim(trim(s)) == trim(s)


@LAWS
@given(
    st.none() | st.just("") | st.builds(StrictUndefined, name=st.just("x")) | json_values,
    st.text(max_size=3),
)
def test_default_replaces_only_undefined_none_and_empty(value: object, fallback: str) -> None:
    replaced = isinstance(value, StrictUndefined) or value is None or value == ""
    assert default(value, fallback) is (fallback if replaced else value)


@LAWS
@given(st.text(), st.integers(min_value=0, max_value=50))
def test_truncate_chars_bounds_the_length(s: str, n: int) -> None:
    cut = truncate_chars(s, n)
    assert len(cut) <= n
    if cut != s and n > 0:
        assert cut.endswith("…") and s.startswith(cut[:-1])


SHELL = make_environment(shell=True)


@LAWS
@given(shell_text)
def test_shell_templates_pass_any_value_as_one_word(x: str) -> None:
    for source in ["echo {{ x }}", "echo {{ x | shell_escape }}"]:
        rendered = SHELL.from_string(source).render(x=x)
        assert shlex.split(rendered) == ["echo", x]
