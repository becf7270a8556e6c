"""expr_info: the references, filters and tests of an expression."""

from __future__ import annotations

from llm_mux.compiler.expr import parse_expression
from llm_mux.compiler.references import NameUse, Ref, expr_info, line_and_column


def test_references_with_constant_paths() -> None:
    text = "steps['rust-only'].output | trim == args.x and steps.a.outputs[0] in xs[i].y"
    info = expr_info(parse_expression(text), text)
    assert [(r.root, r.path) for r in info.refs] == [
        ("steps", ("rust-only", "output")),
        ("args", ("x",)),
        ("steps", ("a", "outputs", 0)),
        ("xs", ()),
        ("i", ()),
    ]
    for ref in info.refs:
        assert text[ref.offset : ref.offset + len(ref.root)] == ref.root
        assert (ref.line, ref.column) == (1, ref.offset + 1)


def test_guards() -> None:
    text = (
        "a | default(b) or c is defined or (d is defined and d.e)"
        " or (f is not defined or f.g) or not (h is defined) or h.i"
    )
    info = expr_info(parse_expression(text), text)
    assert [(r.root, r.path, r.guarded) for r in info.refs] == [
        ("a", (), True),
        ("b", (), False),
        ("c", (), True),
        ("d", (), True),
        ("d", ("e",), True),
        ("f", (), True),
        ("f", ("g",), True),
        ("h", (), True),
        ("h", ("i",), True),
    ]


def test_filters_and_tests_with_positions() -> None:
    text = "x | trim | lines is not none"
    info = expr_info(parse_expression(text), text)
    assert info.filters == (NameUse("trim", 4, 1, 5), NameUse("lines", 11, 1, 12))
    assert info.tests == (NameUse("none", 24, 1, 25),)


def test_without_text_positions_fall_back_to_the_subject() -> None:
    info = expr_info(parse_expression("x | f"))
    assert info.filters == (NameUse("f", 0, 1, 1),)
    assert info.refs == (Ref("x", (), 0, 1, 1),)


def test_line_and_column() -> None:
    source = "ab\ncd\r\nef"
    assert line_and_column(source, 0) == (1, 1)
    assert line_and_column(source, 4) == (2, 2)
    assert line_and_column(source, 7) == (3, 1)


def test_jinja_globals_are_not_references() -> None:
    text = "range is defined and x"
    assert [r.root for r in expr_info(parse_expression(text), text).refs] == ["x"]
