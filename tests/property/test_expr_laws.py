"""Laws of the expression language.

- parse(unparse(e)) == e (ignoring spans) for any tree the language can write;
- evaluation agrees with Jinja itself: for generated expressions and contexts, `evaluate`
  and `env.compile_expression(text)` give the same value or both raise, and
  `evaluate_condition` and `{% if text %}` agree on truth.
"""

from __future__ import annotations

import math
from typing import Any

import msgspec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jinja2 import Undefined

from llm_mux.compiler.expr import (
    And,
    Compare,
    CompareOp,
    Const,
    Expr,
    ExprEvalError,
    Filter,
    GetAttr,
    GetItem,
    ListLit,
    Name,
    Neg,
    Not,
    Or,
    evaluate,
    evaluate_condition,
    parse_expression,
    unparse,
    without_spans,
)
from llm_mux.compiler.expr import Test as IsTest
from llm_mux.compiler.templates import make_environment

ENV = make_environment()
OPS: list[CompareOp] = ["==", "!=", "<", "<=", ">", ">=", "in", "notin"]


def encoded(expr: Expr) -> bytes:
    return msgspec.json.encode(without_spans(expr))


# --- round trip over the whole language ----------------------------------------------

identifiers = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,6}", fullmatch=True).filter(
    lambda s: (
        s not in {"and", "or", "not", "in", "is", "true", "false", "none"}
        and s not in {"True", "False", "None", "if", "else"}
    )
)
attribute_names = identifiers | st.sampled_from(["and", "in", "is", "none", "True", "not"])
test_names = identifiers | st.sampled_from(["none", "in", "true", "is"])

constants = st.builds(
    Const,
    st.none()
    | st.booleans()
    | st.integers(min_value=0, max_value=10**20)
    | st.floats(min_value=0.0, allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
)


def extend_any(children: st.SearchStrategy[Expr]) -> st.SearchStrategy[Expr]:
    small = st.lists(children, max_size=3).map(tuple)
    kwargs = st.dictionaries(identifiers, children, max_size=2).map(lambda d: tuple(d.items()))
    ops = st.lists(st.tuples(st.sampled_from(OPS), children), min_size=1, max_size=3)
    return st.one_of(
        st.builds(ListLit, small),
        st.builds(GetAttr, children, attribute_names),
        st.builds(GetItem, children, children),
        st.builds(Neg, children),
        st.builds(Compare, children, ops.map(tuple)),
        st.builds(Not, children),
        st.builds(And, children, children),
        st.builds(Or, children, children),
        st.builds(Filter, children, identifiers, small, kwargs),
        st.builds(IsTest, children, test_names, st.booleans(), small),
    )


any_expr = st.recursive(constants | st.builds(Name, identifiers), extend_any, max_leaves=12)


@settings(max_examples=300, deadline=None)
@given(any_expr)
def test_parse_unparse_round_trip(expr: Expr) -> None:
    text = unparse(expr)
    assert encoded(parse_expression(text)) == encoded(expr), text


@settings(max_examples=100, deadline=None)
@given(any_expr)
def test_unparse_is_canonical(expr: Expr) -> None:
    text = unparse(expr)
    assert unparse(parse_expression(text)) == text


# --- agreement with Jinja ------------------------------------------------------------

NAMES = ["a", "b", "c", "d"]  # d is never in the context
KEYS = ["a", "b", "x", "keys"]  # `keys` is also a dict method

leaf_values = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-3, max_value=3)
    | st.text(alphabet="ab \n1{}[]", max_size=4)
)
values = st.recursive(
    leaf_values,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(KEYS), inner),
    max_leaves=8,
)
contexts = st.dictionaries(st.sampled_from(NAMES[:3]), values)

# (filter, strategy of its arguments); every one is deterministic and returns plain data.
NO_ARGS: st.SearchStrategy[tuple[Expr, ...]] = st.just(())
FILTER_NAMES = [
    "length",
    "first",
    "last",
    "lines",
    "trim",
    "json",
    "fromjson",
    "upper",
    "string",
    "list",
    "abs",
    "int",
    "sort",
    "min",
    "max",
    "shell_escape",
    "raw",
    "join",
    "default",
    "d",
]
TEST_NAMES = ["defined", "undefined", "none", "string", "number", "mapping", "sequence"]
TEST_NAMES += ["odd", "even", "true", "false", "boolean", "integer", "iterable", "lower"]
TESTS_WITH_ARG = ["eq", "ne", "in", "sameas", "lt"]


def extend_small(children: st.SearchStrategy[Expr]) -> st.SearchStrategy[Expr]:
    one = children.map(lambda child: (child,))
    filters = st.one_of(
        st.builds(Filter, children, st.sampled_from(FILTER_NAMES)),
        st.builds(Filter, children, st.sampled_from(["default", "join"]), one),
        st.builds(
            Filter,
            children,
            st.just("truncate_chars"),
            st.integers(0, 4).map(lambda n: (Const(n),)),
        ),
    )
    tests = st.one_of(
        st.builds(IsTest, children, st.sampled_from(TEST_NAMES), st.booleans()),
        st.builds(IsTest, children, st.sampled_from(TESTS_WITH_ARG), st.booleans(), one),
    )
    ops = st.lists(st.tuples(st.sampled_from(OPS), children), min_size=1, max_size=2)
    return st.one_of(
        st.builds(ListLit, st.lists(children, max_size=3).map(tuple)),
        st.builds(GetAttr, children, st.sampled_from(KEYS)),
        st.builds(GetItem, children, children),
        st.builds(Neg, children),
        st.builds(Compare, children, ops.map(tuple)),
        st.builds(Not, children),
        st.builds(And, children, children),
        st.builds(Or, children, children),
        filters,
        tests,
    )


small_leaves = st.builds(Name, st.sampled_from(NAMES)) | st.builds(
    Const, st.none() | st.booleans() | st.integers(0, 3) | st.sampled_from(["", "a", "x", "1"])
)
small_expr = st.recursive(small_leaves, extend_small, max_leaves=8)


def same(ours: Any, theirs: Any) -> bool:
    """Equal values of the same types; undefined values match undefined values."""
    if isinstance(ours, Undefined) or isinstance(theirs, Undefined):
        return type(ours) is type(theirs)
    if type(ours) is not type(theirs):
        return False
    if isinstance(ours, list | tuple):
        return len(ours) == len(theirs) and all(map(same, ours, theirs))
    if isinstance(ours, dict):
        return ours.keys() == theirs.keys() and all(same(ours[k], theirs[k]) for k in ours)
    if isinstance(ours, float) and math.isnan(ours):
        return math.isnan(theirs)
    return bool(ours == theirs)


def outcome(run: Any) -> tuple[bool, object]:
    try:
        return True, run()
    except Exception as exc:  # any failure counts as "raises"
        return False, exc


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(small_expr, contexts)
def test_evaluation_agrees_with_jinja(expr: Expr, context: dict[str, object]) -> None:
    text = unparse(expr)
    parsed = parse_expression(text)
    ok, ours = outcome(lambda: evaluate(parsed, context, ENV))
    # Jinja may fail while compiling: its constant folding evaluates `none.a and x`.
    jinja_ok, theirs = outcome(
        lambda: ENV.compile_expression(text, undefined_to_none=False)(**context)
    )
    assert ok == jinja_ok, (text, context, ours, theirs)
    if ok:
        assert same(ours, theirs), (text, context, ours, theirs)
    else:
        assert isinstance(ours, ExprEvalError)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(small_expr, contexts)
def test_truth_agrees_with_jinja_if(expr: Expr, context: dict[str, object]) -> None:
    text = unparse(expr)
    ok, ours = outcome(lambda: evaluate_condition(parse_expression(text), context, ENV))
    template = "{% if " + text + " %}1{% else %}0{% endif %}"
    jinja_ok, theirs = outcome(lambda: ENV.from_string(template).render(**context))
    assert ok == jinja_ok, (text, context, ours, theirs)
    if ok:
        assert ("1" if ours else "0") == theirs, (text, context)
