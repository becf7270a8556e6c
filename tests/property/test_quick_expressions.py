"""The quick expression parser gives exactly the grammar's tree, or leaves the text to it.

`expr.quick.quick_parse` returns None or the tree (spans included) that the LALR parser
of grammar/expr.lark builds; it never accepts a text the grammar rejects. Texts come from
unparsing generated trees (the whole language), with random spacing and parentheses, and
from token soup near the language's edges (floats, calls, unparenthesised test
arguments, keyword arguments, escapes, stray operators).
"""

from __future__ import annotations

from hypothesis import example, given, settings
from hypothesis import strategies as st
from property.test_expr_laws import any_expr

from llm_mux.compiler.expr import ExprSyntaxError, unparse
from llm_mux.compiler.expr.parse import parse_with_grammar
from llm_mux.compiler.expr.quick import quick_parse

TOKENS = [
    "x", "steps", "out_1", "true", "None", "and", "or", "not", "in", "is", "defined",
    ".", ".", "0", "7", "1.5", "1e3", "0x1f", "007", "'a'", '"b c"', "'\\n'", "'\\x'",
    "(", ")", "[", "]", ",", "|", "==", "!=", "<", ">=", "-", "=", "+", "f", "k=",
    " ", " ", " ", "\n",
]  # fmt: skip
soup = st.lists(st.sampled_from(TOKENS), max_size=14).map("".join)
spacing = st.sampled_from(["", " ", "  ", "\n"])


@st.composite
def respaced(draw: st.DrawFn) -> str:
    """An unparsed tree with its spaces varied and, sometimes, parentheses around it."""
    text = unparse(draw(any_expr))
    text = text.replace(" ", draw(spacing) or " ")
    return f"({text})" if draw(st.booleans()) else text


def check(text: str) -> None:
    quick = quick_parse(text)
    if quick is None:
        return
    try:
        expected = parse_with_grammar(text)
    except ExprSyntaxError as error:
        raise AssertionError(f"accepted {text!r}, which the grammar rejects: {error}") from None
    assert quick == expected, text


@settings(max_examples=400, deadline=None)
@given(respaced())
@example("not steps.s1.failed and args.topic != 'skip'")
@example("x.0 is not defined or [1, 'a' \"b\",] in y | f(1, k=2)")
def test_quick_trees_are_the_grammars_trees(text: str) -> None:
    check(text)


@settings(max_examples=400, deadline=None)
@given(soup)
def test_quick_never_accepts_what_the_grammar_rejects(text: str) -> None:
    check(text)


def test_common_conditions_take_the_quick_path() -> None:
    for text in [
        "steps.test.failed and not args.force",
        "steps.scan.output | lines",
        "team == 'rust' or args.lang in ['rs', 'go']",
        "steps['rust-only'].skipped",
        "item.path is not none",
    ]:
        assert quick_parse(text) == parse_with_grammar(text), text
