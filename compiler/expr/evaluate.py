"""Evaluate an expression against a context, with exactly Jinja's semantics.

Stage: run time (the interpreter evaluates `if` / `when` / `for_each` per step or item).
Input: an `Expr`, the context mapping and the Jinja environment of `templates.py`.
Output: the value, or `ExprEvalError` locating the part that failed.

Each node does what Jinja's code generator emits for it inside `{% if %}`: names come from
the context, then the environment's globals, else `env.undefined(name=...)`; `a.b` is
`env.getattr`, `a[b]` is `env.getitem` (so the sandbox and Jinja's attribute/item order
apply); filters and tests go through `env.call_filter` / `env.call_test`; `and`, `or`,
`not`, unary minus and chained comparisons are Python's operators, which is what Jinja
compiles them to.  The property tests in tests/property/ check this against Jinja itself.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from typing import assert_never

from jinja2 import Environment, Undefined
from jinja2.exceptions import UndefinedError
from jinja2.runtime import Context, new_context

from .ast import (
    And,
    Compare,
    CompareOp,
    Const,
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
)
from .errors import ExprEvalError
from .unparse import unparse

__all__ = ["evaluate", "evaluate_condition"]


def _not_in(left: object, right: object) -> bool:
    return not operator.contains(right, left)  # type: ignore[arg-type]


def _in(left: object, right: object) -> bool:
    return operator.contains(right, left)  # type: ignore[arg-type]


_COMPARE: dict[CompareOp, Callable[[object, object], object]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,  # type: ignore[dict-item]
    "<=": operator.le,  # type: ignore[dict-item]
    ">": operator.gt,  # type: ignore[dict-item]
    ">=": operator.ge,  # type: ignore[dict-item]
    "in": _in,
    "notin": _not_in,
}


def evaluate(expr: Expr, context: Mapping[str, object], env: Environment) -> object:
    """The value of `expr`; may be an `Undefined` (e.g. a missing name nothing used)."""
    return _Evaluator(context, env).eval(expr)


def evaluate_condition(expr: Expr, context: Mapping[str, object], env: Environment) -> bool:
    """The truth of `expr`, as `{% if %}` decides it (an undefined value is an error)."""
    evaluator = _Evaluator(context, env)
    value = evaluator.eval(expr)
    try:
        return bool(value)
    except Exception as exc:
        raise evaluator.error(expr, exc, (expr,)) from exc


class _Evaluator:
    def __init__(self, context: Mapping[str, object], env: Environment) -> None:
        self.vars = context
        self.env = env
        self.undefined: dict[int, Expr] = {}  # id(node) -> node, for nodes that gave Undefined
        self._context: Context | None = None

    def eval(self, expr: Expr) -> object:
        try:
            value = self._eval(expr)
        except ExprEvalError:
            raise
        except Exception as exc:
            raise self.error(expr, exc, children(expr)) from exc
        if isinstance(value, Undefined):
            self.undefined[id(expr)] = expr
        return value

    def _eval(self, expr: Expr) -> object:
        match expr:
            case Name(name=name):
                return self._lookup(name)
            case Const(value=value):
                return value
            case ListLit(items=items):
                return [self.eval(item) for item in items]
            case GetAttr(obj=obj, name=name):
                return self.env.getattr(self.eval(obj), name)
            case GetItem(obj=obj, index=index):
                return self.env.getitem(self.eval(obj), self.eval(index))
            case Neg(operand=operand):
                return -self.eval(operand)  # type: ignore[operator]
            case Compare(left=left, ops=ops):
                return self._compare(left, ops)
            case Not(operand=operand):
                return not self.eval(operand)
            case And(left=left, right=right):
                first = self.eval(left)
                return self.eval(right) if first else first
            case Or(left=left, right=right):
                first = self.eval(left)
                return first if first else self.eval(right)
            case Filter():
                return self._filter(expr)
            case Test():
                return self._test(expr)
            case _:
                assert_never(expr)

    def _lookup(self, name: str) -> object:
        if name in self.vars:
            return self.vars[name]
        if name in self.env.globals:
            return self.env.globals[name]
        return self.env.undefined(name=name)

    def _compare(self, left: Expr, ops: tuple[tuple[CompareOp, Expr], ...]) -> object:
        # Python's chained comparison: each operand evaluated once, stop at the first false.
        value = self.eval(left)
        result: object = True
        for i, (op, right) in enumerate(ops):
            right_value = self.eval(right)
            result = _COMPARE[op](value, right_value)
            if i < len(ops) - 1 and not result:
                return result
            value = right_value
        return result

    def _filter(self, node: Filter) -> object:
        value = self.eval(node.node)
        args = [self.eval(arg) for arg in node.args]
        kwargs = {key: self.eval(arg) for key, arg in node.kwargs}
        if node.name not in self.env.filters:
            raise ExprEvalError(f"unknown filter '{node.name}'", node.start, node.end)
        return self.env.call_filter(node.name, value, args, kwargs, context=self.context())

    def _test(self, node: Test) -> object:
        value = self.eval(node.node)
        args = [self.eval(arg) for arg in node.args]
        if node.name not in self.env.tests:
            raise ExprEvalError(f"unknown test '{node.name}'", node.start, node.end)
        result = self.env.call_test(node.name, value, args, context=self.context())
        return not result if node.negated else result

    def context(self) -> Context:
        """A Jinja context for filters that take one (`map`, `select`, ...), made once."""
        if self._context is None:
            variables = dict(self.vars)
            self._context = new_context(self.env, None, {}, variables, False, self.env.globals)
        return self._context

    def error(self, expr: Expr, exc: Exception, operands: tuple[Expr, ...]) -> ExprEvalError:
        """`exc`, raised while evaluating `expr`, as a message about the expression."""
        if isinstance(exc, UndefinedError):
            culprit = next((o for o in operands if id(o) in self.undefined), None)
            if culprit is not None:
                return ExprEvalError(_undefined_message(culprit, exc), culprit.start, culprit.end)
        return ExprEvalError(_message(expr, exc), expr.start, expr.end)


def _undefined_message(culprit: Expr, exc: UndefinedError) -> str:
    detail = str(exc)
    if isinstance(culprit, Name) and detail == f"{culprit.name!r} is undefined":
        return f"{culprit.name} is undefined"
    return f"{unparse(culprit)} is undefined ({detail})"


def _message(expr: Expr, exc: Exception) -> str:
    detail = str(exc) or type(exc).__name__
    match expr:
        case Filter(name=name):
            return f"filter '{name}' failed: {detail}"
        case Test(name=name):
            return f"test '{name}' failed: {detail}"
        case Compare():
            return f"comparison failed: {detail}"
        case Neg():
            return f"cannot negate the value: {detail}"
        case _:
            return detail
