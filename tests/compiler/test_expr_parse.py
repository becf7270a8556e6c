"""parse_expression: precedence, literals, access, spans, and the designed syntax errors."""

from __future__ import annotations

import msgspec
import pytest

from llm_mux.compiler.expr import (
    And,
    Compare,
    Const,
    Expr,
    ExprSyntaxError,
    Filter,
    GetAttr,
    GetItem,
    ListLit,
    Name,
    Neg,
    Not,
    Or,
    parse_expression,
    without_spans,
)
from llm_mux.compiler.expr import (
    Test as IsTest,  # pytest would collect a class named Test
)


def shape(text: str) -> Expr:
    return without_spans(parse_expression(text))


def same(left: Expr, right: Expr) -> bool:
    # msgspec's JSON tells true from 1, which == does not.
    return msgspec.json.encode(without_spans(left)) == msgspec.json.encode(without_spans(right))


a, b, c, x, y = Name("a"), Name("b"), Name("c"), Name("x"), Name("y")


@pytest.mark.parametrize(
    ("text", "tree"),
    [
        ("not a == b", Not(Compare(a, (("==", b),)))),
        ("a | f > 0", Compare(Filter(a, "f"), ((">", Const(0)),))),
        ("x is defined and y", And(IsTest(x, "defined"), y)),
        ("-1 | abs", Filter(Neg(Const(1)), "abs")),
        ("-x.y", Neg(GetAttr(x, "y"))),
        ("-x | f | g", Filter(Filter(Neg(x), "f"), "g")),
        ("a or b and c", Or(a, And(b, c))),
        ("a and b or c", Or(And(a, b), c)),
        ("(a or b) and c", And(Or(a, b), c)),
        ("a and b and c", And(And(a, b), c)),
        ("not not a", Not(Not(a))),
        ("not a and b", And(Not(a), b)),
        ("a < b < c", Compare(a, (("<", b), ("<", c)))),
        ("a in b", Compare(a, (("in", b),))),
        ("a not in b", Compare(a, (("notin", b),))),
        ("a not in b == c", Compare(a, (("notin", b), ("==", c)))),
        ("x | f is defined", IsTest(Filter(x, "f"), "defined")),
        ("x is defined | f", Filter(IsTest(x, "defined"), "f")),
        ("x is not none", IsTest(x, "none", negated=True)),
        ("x is divisibleby 3", IsTest(x, "divisibleby", args=(Const(3),))),
        ("x is divisibleby(3)", IsTest(x, "divisibleby", args=(Const(3),))),
        ("x is sameas y.z | f", Filter(IsTest(x, "sameas", args=(GetAttr(y, "z"),)), "f")),
        ("x is in [1]", IsTest(x, "in", args=(ListLit((Const(1),)),))),
        (
            "x | join(', ', attribute='n')",
            Filter(x, "join", (Const(", "),), (("attribute", Const("n")),)),
        ),
        ("x | f(1, 2,)", Filter(x, "f", (Const(1), Const(2)))),
    ],
)
def test_precedence_and_shapes(text: str, tree: Expr) -> None:
    assert same(shape(text), tree)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("'a\\'b'", "a'b"),
        ('"\\n"', "\n"),
        ("'\\t\\\\'", "\t\\"),
        ("'\\x41\\u00e9'", "Aé"),
        ("'\\d'", "\\d"),  # unknown escapes stay as written, like Jinja
        ("'é'", "é"),
        ("'a' \"b\"", "ab"),  # adjacent strings concatenate
        ("'line\r\nbreak'", "line\nbreak"),
        ("42", 42),
        ("1_000", 1000),
        ("0x1F", 31),
        ("0b101", 5),
        ("0o17", 15),
        ("1.5", 1.5),
        ("1e3", 1000.0),
        ("2.5E-1", 0.25),
        ("true", True),
        ("True", True),
        ("false", False),
        ("none", None),
        ("None", None),
    ],
)
def test_literals(text: str, value: object) -> None:
    tree = shape(text)
    assert isinstance(tree, Const)
    assert type(tree.value) is type(value)
    assert tree.value == value


def test_lists_with_trailing_comma() -> None:
    assert same(shape("[1, 'a', x,]"), ListLit((Const(1), Const("a"), x)))
    assert same(shape("[]"), ListLit(()))


def test_hyphenated_step_in_brackets() -> None:
    tree = shape("steps['rust-only'].output")
    assert same(tree, GetAttr(GetItem(Name("steps"), Const("rust-only")), "output"))


def test_step_named_like_a_dict_method() -> None:
    tree = shape("steps.items.output")
    assert same(tree, GetAttr(GetAttr(Name("steps"), "items"), "output"))


def test_keywords_are_attribute_names_after_a_dot() -> None:
    assert same(shape("steps.in.none"), GetAttr(GetAttr(Name("steps"), "in"), "none"))


def test_dot_number_is_an_index_like_jinja() -> None:
    assert same(shape("x.0.1"), GetItem(GetItem(x, Const(0)), Const(1)))


def test_spans_cover_the_text_of_each_node() -> None:
    text = "steps.a.output | trim == 'x' and not (b or c)"
    tree = parse_expression(text)
    assert isinstance(tree, And)
    assert (tree.start, tree.end) == (0, len(text))
    left = tree.left
    assert isinstance(left, Compare)
    assert text[left.start : left.end] == "steps.a.output | trim == 'x'"
    assert text[left.left.start : left.left.end] == "steps.a.output | trim"
    right = tree.right
    assert isinstance(right, Not)
    assert text[right.operand.start : right.operand.end] == "(b or c)"


def test_ast_encodes_to_json_and_back() -> None:
    tree = parse_expression("x | f(1, k=[none, true, 2.5]) is not in(y['z']) or -a")
    data = msgspec.json.encode(tree)
    assert msgspec.json.decode(data, type=Expr) == tree
    assert b'"kind":"Filter"' in data


@pytest.mark.parametrize(
    ("text", "message", "offset", "hint"),
    [
        (
            "steps.rust-only.output",
            "unexpected '-' after steps.rust",
            10,
            "step names with '-' are written steps['rust-only']",
        ),
        (
            "steps.rust - only",
            "unexpected '-' after steps.rust",
            11,
            "step names with '-' are written steps['rust-only']",
        ),
        ("a - 1", "unexpected '-' after a", 2, "arithmetic is not supported in expressions"),
        ("a and", "expected an expression after 'and'", 5, None),
        ("a or", "expected an expression after 'or'", 4, None),
        ("not", "expected an expression after 'not'", 3, None),
        ("a not in", "expected an expression after 'not in'", 8, None),
        ("a == or b", "expected an expression after '==', found 'or'", 5, None),
        ("'abc", "unterminated string", 0, "end the string with '"),
        ('x == "abc', "unterminated string", 5, 'end the string with "'),
        ("x()", "calls like x() are not supported", 1, "use a filter: value | x"),
        ("x.upper()", "calls like x.upper() are not supported", 7, "use a filter: x | upper"),
        ("{{ x }}", "unexpected '{{'", 0, "expressions are written without {{ }}"),
        ("steps.a.output }}", "unexpected '}}'", 15, "expressions are written without {{ }}"),
        ("x |", "expected a filter name after '|'", 3, "for example: x | trim"),
        ("x is", "expected a test name after 'is'", 4, "for example: x is defined"),
        ("x.", "expected a name after '.'", 2, "for example: steps.build.output"),
        ("[1, 2", "'[' is never closed", 0, "add ']'"),
        ("(a and b", "'(' is never closed", 0, "add ')'"),
        ("a)", "unexpected ')'", 1, "no '(' opens it"),
        ("a b", "unexpected 'b' after 'a'", 2, "an operator such as 'and', 'or' or '=='"),
        ("a = b", "unexpected '='", 2, "use '==' to compare"),
        ("a || b", "unexpected '||'", 2, "use 'or'"),
        ("a && b", "unexpected character '&'", 2, "use 'and'"),
        ("!a", "unexpected character '!'", 0, "use 'not'"),
        ("a not b", "unexpected 'not' after 'a'", 2, "write 'not in' for membership"),
        ("a if b else c", "conditional expressions (a if b else c) are not supported", 2, None),
        ("(a, b)", "tuples are not supported", 2, "write a list: [a, b]"),
        ("x[1:2]", "slices like x[1:2] are not supported", 3, None),
        ("x[1, 2]", "an index holds one value: x[a, b] is not supported", 3, None),
        ("a ~ b", "unexpected character '~'", 2, None),
        ("{'a': 1}", "unexpected character '{'", 0, "dict literals are not supported"),
        ("", "the expression is empty", 0, None),
        ("x is defined in y", "'in' cannot follow 'x is defined' directly", 13, None),
        ("x is defined is string", "'is' cannot follow 'x is defined' directly", 13, None),
        ("f(k=1, 2)", "a positional argument cannot follow a keyword argument", 7, None),
        ("x | f(k=1, k=2)", "keyword argument 'k' is given twice", 11, None),
        ("x is sameas(k=1)", "the test 'sameas' takes positional arguments only", 11, None),
        ("'\\x4'", "invalid escape in string: truncated \\xXX escape", 0, None),
        ("café", "unexpected character 'é'", 3, "names are written with ASCII letters"),
    ],
)
def test_syntax_errors(text: str, message: str, offset: int, hint: str | None) -> None:
    with pytest.raises(ExprSyntaxError) as caught:
        parse_expression(text)
    error = caught.value
    assert (error.message, error.offset) == (message, offset)
    if hint is not None:
        assert error.hint is not None and error.hint.startswith(hint)


def test_parenthesised_test_may_be_followed_by_in() -> None:
    assert same(shape("(x is defined) in y"), Compare(IsTest(x, "defined"), (("in", y),)))


def test_nesting_is_bounded() -> None:
    deep = "(" * 150 + "x" + ")" * 150
    assert same(shape(deep), x)  # parentheses add no depth
    with pytest.raises(ExprSyntaxError, match="nests more than"):
        parse_expression("not " * 150 + "x")


def test_errors_are_exceptions_with_position() -> None:
    error = ExprSyntaxError("m", 3, "h")
    assert str(error) == "m"
    assert (error.offset, error.hint) == (3, "h")
