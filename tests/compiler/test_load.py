"""Load pass and reading: TOML syntax errors (E001) and undecodable bytes (E002)."""

from __future__ import annotations

import pytest

from llm_mux.compiler.diagnostics import Diagnostic, Sink
from llm_mux.compiler.passes.load import load_toml
from llm_mux.compiler.pipeline import decode_text
from llm_mux.compiler.source import SourceFile


def syntax_error(text: str) -> Diagnostic:
    sink = Sink()
    assert load_toml(SourceFile("w.toml", text), sink) is None
    (found,) = sink.items
    assert found.code == "E001"
    return found


@pytest.mark.parametrize(
    ("text", "message", "at"),
    [
        (
            'name = "a"\nname = "b"\n',
            "invalid TOML: the key 'name' is set twice",
            (2, 1),
        ),
        (
            '[[steps]]\n  name = "a"\n  name = "b"',
            "invalid TOML: the key 'name' is set twice",
            (3, 3),
        ),
        (
            '[[steps]]\nrun = "x"\n[steps.run]\nx = 1\n',
            "invalid TOML: table [steps.run] redefines a key that already has a value",
            (3, 1),
        ),
        (
            'prompt = "one\ntwo"\n',
            "invalid TOML: the string is not closed before the end of the line",
            (1, 14),
        ),
        (
            "run = 'one\ntwo'\n",
            "invalid TOML: the string is not closed before the end of the line",
            (1, 11),
        ),
        ("[args.a]\n[args.a]\n", "invalid TOML: table [args.a] is declared twice", (2, 8)),
        (
            "steps = []\n[[steps]]\n",
            "invalid TOML: 'steps' already has a value, so it cannot be extended here",
            (2, 8),
        ),
        ('x = """\nnever closed\n', "invalid TOML: unterminated string", (1, 1)),
        (
            "timeout = 10 min\n",
            "invalid TOML: expected newline or end of document after a statement",
            (1, 14),
        ),
    ],
)
def test_syntax_errors_are_designed_sentences_at_the_place_to_fix(
    text: str, message: str, at: tuple[int, int]
) -> None:
    found = syntax_error(text)
    assert found.message == message
    assert (found.location.line, found.location.column) == at
    assert found.hint is not None or "unterminated" in message


def test_a_string_cut_by_a_newline_suggests_triple_quotes() -> None:
    found = syntax_error('prompt = "one\ntwo"\n')
    assert found.hint is not None and '"""' in found.hint


def test_bytes_that_are_not_utf8_point_at_the_bad_byte() -> None:
    sink = Sink()
    assert decode_text("w.toml", b'# caf\xc3\xa9\nname = "caf\xe9"\n', sink) is None
    (found,) = sink.items
    assert (found.code, found.location.line, found.location.column) == ("E002", 2, 12)
    assert found.message == "the file is not UTF-8 text: byte 0xE9 cannot be decoded"
    assert found.hint == "save it as UTF-8"


def test_a_utf8_bom_is_not_an_error() -> None:
    sink = Sink()
    source = decode_text("w.toml", b'\xef\xbb\xbfname = "x"\n', sink)
    assert source is not None and source.text == 'name = "x"\n' and not sink.items
