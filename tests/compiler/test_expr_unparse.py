"""unparse: canonical text, parentheses only where precedence needs them."""

from __future__ import annotations

import pytest

from llm_mux.compiler.expr import (
    And,
    Compare,
    Const,
    GetAttr,
    ListLit,
    Name,
    Neg,
    Or,
    parse_expression,
    unparse,
)
from llm_mux.compiler.expr import Test as IsTest


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("a  and b", "a and b"),
        ("(a and b) and c", "a and b and c"),
        ("a and (b and c)", "a and (b and c)"),
        ("(a or b) and not c", "(a or b) and not c"),
        ("not (a == b)", "not a == b"),
        ("(not a) == b", "(not a) == b"),
        ("(a < b) < c", "(a < b) < c"),
        ("a < b < c", "a < b < c"),
        ("a not  in b", "a not in b"),
        ("-(x | f)", "-(x | f)"),
        ("(-x) | f", "-x | f"),
        ("(-x).y", "(-x).y"),
        ("-(x.y)", "-x.y"),
        ("(x | f).y", "(x | f).y"),
        ("x|f(1,k=2)", "x | f(1, k=2)"),
        ("x is divisibleby 3", "x is divisibleby(3)"),
        ("x is not none", "x is not none"),
        ("(x is defined) in y", "(x is defined) in y"),
        ("(x is defined) is true", "(x is defined) is true"),
        ("x.0", "x[0]"),
        ('"it\'s"', "'it\\'s'"),
        ("'a\\nb\\x01\\\\'", "'a\\nb\\x01\\\\'"),
        ("'é'", "'é'"),
        ("True", "true"),
        ("None", "none"),
        ("[1, 2,]", "[1, 2]"),
        ("1e3", "1000.0"),
        ("steps.in.none", "steps.in.none"),
    ],
)
def test_canonical_text(text: str, canonical: str) -> None:
    assert unparse(parse_expression(text)) == canonical


def test_trees_the_parser_cannot_make_have_no_text() -> None:
    for tree in [Name("and"), Name("true"), Name("a-b"), GetAttr(Name("x"), "a-b")]:
        with pytest.raises(ValueError, match="cannot be written"):
            unparse(tree)
    with pytest.raises(ValueError, match="cannot be written"):
        unparse(Const(float("inf")))


def test_negative_constants_read_back_as_negation() -> None:
    assert unparse(Const(-1)) == "-1"
    assert unparse(GetAttr(Const(-1), "real")) == "(-1).real"
    assert unparse(Neg(Const(1))) == "-1"


def test_nested_trees() -> None:
    tree = Or(And(Name("a"), Or(Name("b"), Name("c"))), Compare(ListLit(()), (("in", Name("d")),)))
    assert unparse(tree) == "a and (b or c) or [] in d"
    test_tree = IsTest(IsTest(Name("x"), "defined"), "sameas", args=(Const(True),))
    assert unparse(test_tree) == "(x is defined) is sameas(true)"
