"""evaluate: Jinja's semantics on examples, and error messages that locate the failure."""

from __future__ import annotations

import pytest
from jinja2 import Undefined

from llm_mux.compiler.expr import (
    ExprEvalError,
    evaluate,
    evaluate_condition,
    parse_expression,
)
from llm_mux.compiler.templates import make_environment

ENV = make_environment()
CONTEXT: dict[str, object] = {
    "steps": {
        "build": {"output": "a\n\nb\n", "failed": False, "json": {"n": [1, 2]}},
        "rust-only": {"output": "ok", "skipped": True},
    },
    "args": {"n": 3, "name": "x", "empty": ""},
    "team": None,
    "xs": [3, 1, 2],
}


def value(text: str) -> object:
    return evaluate(parse_expression(text), CONTEXT, ENV)


def jinja_value(text: str) -> object:
    return ENV.compile_expression(text, undefined_to_none=False)(**CONTEXT)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("steps.build.output | lines", ["a", "b"]),
        ("steps.build.output | lines | length > 1", True),
        ("steps['rust-only'].skipped", True),
        ("steps.build.json.n[1]", 2),
        ("steps.build.json.n.0", 1),
        ("args.n > 2 and args.name == 'x'", True),
        ("args.missing | default('d')", "d"),
        ("args.empty | default('d')", "d"),
        ("args.n is defined and args.m is not defined", True),
        ("team == 'rust'", False),
        ("team is none", True),
        ("not steps.build.failed", True),
        ("1 < args.n < 5", True),
        ("5 < args.n < 1", False),
        ("'x' in ['x', 'y']", True),
        ("'z' not in xs", True),
        ("xs | sort | first", 1),
        ("xs | join('-')", "3-1-2"),
        ("-1 | abs", 1),
        ("args.n and args.name", "x"),
        ("args.empty or 'fallback'", "fallback"),
        ("[1, 2] | map('string') | list", ["1", "2"]),  # a filter that needs a context
        ("range is defined", True),  # environment globals are visible
    ],
)
def test_values_match_jinja(text: str, expected: object) -> None:
    assert value(text) == expected
    assert jinja_value(text) == expected


def test_missing_name_is_an_undefined_value_until_used() -> None:
    assert isinstance(value("nothing"), Undefined)
    with pytest.raises(ExprEvalError) as caught:
        evaluate_condition(parse_expression("nothing"), CONTEXT, ENV)
    assert caught.value.message == "nothing is undefined"


def test_chained_comparison_evaluates_each_operand_once_and_stops_early() -> None:
    # `x < 0 < missing`: the second comparison never runs, so `missing` is never used.
    assert value("args.n < 0 < missing") is False


@pytest.mark.parametrize(
    ("text", "message", "span"),
    [
        (
            "steps.x.outputs | length",
            "steps.x is undefined ('dict object' has no attribute 'x')",
            "steps.x",
        ),
        (
            "steps.build.outputs[0]",
            "steps.build.outputs is undefined ('dict object' has no attribute 'outputs')",
            "steps.build.outputs",
        ),
        ("nothing == 1", "nothing is undefined", "nothing"),
        ("not nothing", "nothing is undefined", "nothing"),
        ("args.name | fromjson", "filter 'fromjson' failed: fromjson: the text is not JSON", None),
        ("args.name < 1", "comparison failed: '<' not supported", "args.name < 1"),
        ("-args.name", "cannot negate the value: bad operand type", "-args.name"),
        ("args.n | nosuchfilter", "unknown filter 'nosuchfilter'", "args.n | nosuchfilter"),
        ("args.n is nosuchtest", "unknown test 'nosuchtest'", "args.n is nosuchtest"),
        ("args.n.__class__", "access to attribute '__class__' of 'int' object is unsafe", None),
    ],
)
def test_errors_name_the_failing_part(text: str, message: str, span: str | None) -> None:
    expr = parse_expression(text)
    with pytest.raises(ExprEvalError) as caught:
        evaluate_condition(expr, CONTEXT, ENV)
    error = caught.value
    assert message in error.message
    if span is not None:
        assert text[error.start : error.end] == span


def test_sandbox_rules_apply() -> None:
    # The sandbox hides unsafe attributes: using one fails, as in a template.
    with pytest.raises(ExprEvalError, match="unsafe"):
        evaluate_condition(parse_expression("args.n.__class__ | string"), CONTEXT, ENV)


def test_immutable_sandbox_still_reads_dict_methods() -> None:
    # Attribute first, like Jinja: on a plain dict `steps.items` is the method; the run
    # time gives `steps` a mapping type whose attributes are the steps.
    assert callable(value("steps.items"))
    assert callable(value("steps['items']"))  # item first, then the attribute
    assert value("steps['nothing'] is undefined") is True
