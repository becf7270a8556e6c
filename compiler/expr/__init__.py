"""The expression language of `if`, `when` and `for_each`.

Stage: front end (parse, analyse) and run time (evaluate).  Input: expression text.
Output: a frozen AST (`Expr`) with spans, its canonical text, its value in a context.

    expr = parse_expression("steps.test.failed and not args.force")
    evaluate(expr, context, make_environment())
"""

from __future__ import annotations

from .ast import (
    And,
    Compare,
    CompareOp,
    Const,
    ConstValue,
    Expr,
    Filter,
    GetAttr,
    GetItem,
    ListLit,
    Name,
    Neg,
    Not,
    Or,
    Test,
    children,
    walk,
    without_spans,
)
from .errors import ExprEvalError, ExprSyntaxError
from .evaluate import evaluate, evaluate_condition
from .parse import parse_expression
from .unparse import unparse

__all__ = [
    "And",
    "Compare",
    "CompareOp",
    "Const",
    "ConstValue",
    "Expr",
    "ExprEvalError",
    "ExprSyntaxError",
    "Filter",
    "GetAttr",
    "GetItem",
    "ListLit",
    "Name",
    "Neg",
    "Not",
    "Or",
    "Test",
    "children",
    "evaluate",
    "evaluate_condition",
    "parse_expression",
    "unparse",
    "walk",
    "without_spans",
]
