"""SourceFile: TOML key paths and string offsets → line:column."""

from __future__ import annotations

import tomllib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llm_mux.compiler.source import SourceFile, string_offset

TEXT = '''name = "x" # comment
[args.file]
required = true

[[steps]]
name = "a"
run = """
echo {{ steps.b.output }}
"""
depends_on = ["b",
  "c"]

[[steps]]
name = 'b'
env = { A = "1", b.c = 2 }
[steps.output_schema]
type = "object"
[steps.output_schema.properties.facts]
type = "array"
'''


def loc(source: SourceFile, path: tuple[str | int, ...], key: bool = True) -> tuple[int, int]:
    location = source.key(path) if key else source.value(path)
    return location.line, location.column


def test_keys_values_and_headers() -> None:
    source = SourceFile("f.toml", TEXT)
    assert loc(source, ("name",)) == (1, 1)
    assert loc(source, ("name",), key=False) == (1, 8)
    assert loc(source, ("args", "file", "required"), key=False) == (3, 12)
    assert loc(source, ("steps", 0)) == (5, 1)
    assert loc(source, ("steps", 1)) == (13, 1)
    assert loc(source, ("steps", 1, "name"), key=False) == (14, 8)


def test_array_items_inline_tables_and_nested_tables() -> None:
    source = SourceFile("f.toml", TEXT)
    assert loc(source, ("steps", 0, "depends_on", 1), key=False) == (11, 3)
    assert loc(source, ("steps", 1, "env", "b", "c")) == (15, 20)
    assert loc(source, ("steps", 1, "output_schema", "type")) == (17, 1)
    assert loc(source, ("steps", 1, "output_schema", "properties", "facts", "type")) == (19, 1)


def test_missing_key_points_at_its_table_header() -> None:
    source = SourceFile("f.toml", TEXT)
    assert loc(source, ("steps", 1, "prompt")) == (13, 1)
    assert loc(source, ("steps", 1, "output_schema", "items")) == (16, 1)


def test_offsets_inside_multiline_strings() -> None:
    source = SourceFile("f.toml", TEXT)
    location = source.in_string(("steps", 0, "run"), len("echo {{ "))
    assert (location.line, location.column) == (8, 9)


def test_escapes_are_counted_as_one_character() -> None:
    text = 'p = "a\\tb\\u00e9c {{ x }}"\n'
    content = tomllib.loads(text)["p"]
    offset = content.index("{{")
    assert text[string_offset(text, 4, offset)] == "{"


@pytest.mark.parametrize("quote", ['"""', "'''"])
def test_crlf_in_a_multiline_string_is_one_character(quote: str) -> None:
    # tomllib reads \r\n inside multi-line strings as \n: offsets must follow it.
    text = f"p = {quote}\r\none\r\n  two {{{{ x }}}}\r\n{quote}\r\n"
    content = tomllib.loads(text)["p"]
    assert text[string_offset(text, 4, content.index("{{"))] == "{"
    location = SourceFile("f.toml", text).in_string(("p",), content.index("{{"))
    assert (location.line, location.column) == (3, 7)


def test_ignore_comments() -> None:
    source = SourceFile("f.toml", "a = 1  # llm-mux: ignore[W701, e101]\nb = 2\n")
    assert source.ignored_codes(1) == {"W701", "E101"}
    assert source.ignored_codes(2) == frozenset()


_text = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x7f"), max_size=30
)


@settings(max_examples=200, deadline=None)
@given(prefix=_text, suffix=_text, style=st.sampled_from(["basic", "literal", "multi", "mlit"]))
def test_string_offset_finds_every_marker(prefix: str, suffix: str, style: str) -> None:
    """Law: for any string content, the mapped offset lands on the same character."""
    content = prefix + "§" + suffix
    raw = _toml_string(content, style)
    if raw is None:
        return
    text = f"k = {raw}\n"
    assert tomllib.loads(text)["k"] == content
    assert text[string_offset(text, 4, content.index("§"))] == "§"


def _toml_string(content: str, style: str) -> str | None:
    if style == "basic":
        escaped = "".join(_escape(ch) for ch in content)
        return f'"{escaped}"'
    if style == "multi":
        escaped = "".join(_escape(ch) if ch not in "\n" else ch for ch in content)
        return f'"""\n{escaped}"""'
    bad = "'" in content or any(ord(c) < 32 and c != "\t" for c in content)
    if style == "literal":
        return None if bad or "\n" in content else f"'{content}'"
    return None if bad else f"'''\n{content}'''"


def _escape(ch: str) -> str:
    if ch == '"':
        return '\\"'
    if ch == "\\":
        return "\\\\"
    if ord(ch) < 32 or ch == "\x7f":
        return f"\\u{ord(ch):04x}"
    return ch
