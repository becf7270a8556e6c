"""Unparse: the canonical text of an expression.

Stage: back end of the expression language (plan output, messages, the round-trip law).
Input: an `Expr`.  Output: text that `parse_expression` reads back to the same tree (modulo
spans), with parentheses only where precedence needs them.  Strings use single quotes,
constants are lower case (`true`, `none`) and test arguments are written in parentheses.
Trees the parser cannot produce have no text: names that are keywords or not identifiers,
`inf`/`nan`.  They raise `ValueError`.  A negative number constant is written `-1`, which
reads back as `Neg(Const(1))`.
"""

from __future__ import annotations

import math
import re
from typing import assert_never

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
)

__all__ = ["quote_string", "unparse"]

# Precedence levels, loosest first, as in grammar/expr.lark.
_TOP, _OR, _AND, _NOT, _COMPARE, _FILTER, _NEG, _POSTFIX, _ATOM = range(9)

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_OPERATOR_WORDS = frozenset({"and", "or", "not", "in", "is"})
_CONSTANT_WORDS = frozenset({"true", "false", "none", "True", "False", "None"})
_OP_TEXT: dict[CompareOp, str] = {
    "==": "==",
    "!=": "!=",
    "<": "<",
    "<=": "<=",
    ">": ">",
    ">=": ">=",
    "in": "in",
    "notin": "not in",
}
_ESCAPES = {"\\": "\\\\", "'": "\\'", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def unparse(expr: Expr) -> str:
    """The canonical text of `expr`."""
    return _unparse(expr, _TOP)


def _unparse(expr: Expr, min_level: int) -> str:
    text, level = _render(expr)
    return f"({text})" if level < min_level else text


def _render(expr: Expr) -> tuple[str, int]:
    match expr:
        case Name(name=name):
            return _word(name, "name", allow=frozenset()), _ATOM
        case Const(value=value):
            return _const(value)
        case ListLit(items=items):
            return "[" + ", ".join(_unparse(item, _TOP) for item in items) + "]", _ATOM
        case GetAttr(obj=obj, name=name):
            attr = _word(name, "attribute", allow=_OPERATOR_WORDS | _CONSTANT_WORDS)
            return f"{_unparse(obj, _POSTFIX)}.{attr}", _POSTFIX
        case GetItem(obj=obj, index=index):
            return f"{_unparse(obj, _POSTFIX)}[{_unparse(index, _TOP)}]", _POSTFIX
        case Neg(operand=operand):
            return "-" + _unparse(operand, _NEG), _NEG
        case Compare(left=left, ops=ops):
            return _compare(left, ops), _COMPARE
        case Not(operand=operand):
            return "not " + _unparse(operand, _NOT), _NOT
        case And(left=left, right=right):
            return f"{_unparse(left, _AND)} and {_unparse(right, _NOT)}", _AND
        case Or(left=left, right=right):
            return f"{_unparse(left, _OR)} or {_unparse(right, _AND)}", _OR
        case Filter(node=node, name=name, args=args, kwargs=kwargs):
            name = _word(name, "filter", allow=_CONSTANT_WORDS)
            return f"{_unparse(node, _FILTER)} | {name}{_call(args, kwargs)}", _FILTER
        case Test():
            return _test(expr), _FILTER
        case _:
            assert_never(expr)


def _compare(left: Expr, ops: tuple[tuple[CompareOp, Expr], ...]) -> str:
    parts = [_operand(left, ops[0][0])]
    for i, (op, right) in enumerate(ops):
        following = ops[i + 1][0] if i + 1 < len(ops) else None
        parts += [_OP_TEXT[op], _operand(right, following)]
    return " ".join(parts)


def _operand(expr: Expr, following: CompareOp | None) -> str:
    # `x is defined in y` would read `in` as the test's argument (Jinja does): parenthesise.
    if following in ("in", "notin") and _is_bare_test(expr):
        return f"({unparse(expr)})"
    return _unparse(expr, _FILTER)


def _is_bare_test(expr: Expr) -> bool:
    return isinstance(expr, Test) and not expr.args


def _test(test: Test) -> str:
    subject = _unparse(test.node, _FILTER)
    if _is_bare_test(test.node):
        subject = f"({subject})"  # `x is a is b` does not parse: tests do not chain
    name = _word(test.name, "test", allow=_OPERATOR_WORDS - {"not"} | _CONSTANT_WORDS)
    negation = "not " if test.negated else ""
    args = _call(test.args, ()) if test.args else ""
    return f"{subject} is {negation}{name}{args}"


def _call(args: tuple[Expr, ...], kwargs: tuple[tuple[str, Expr], ...]) -> str:
    if not args and not kwargs:
        return ""
    parts = [_unparse(arg, _TOP) for arg in args]
    for key, value in kwargs:
        parts.append(f"{_word(key, 'keyword', allow=_CONSTANT_WORDS)}={_unparse(value, _TOP)}")
    return "(" + ", ".join(parts) + ")"


def _word(word: str, what: str, *, allow: frozenset[str]) -> str:
    reserved = (_OPERATOR_WORDS | _CONSTANT_WORDS) - allow
    if not _IDENTIFIER.match(word) or word in reserved:
        raise ValueError(f"{word!r} cannot be written as a {what} in an expression")
    return word


def _const(value: ConstValue) -> tuple[str, int]:
    if value is None:
        return "none", _ATOM
    if isinstance(value, bool):
        return ("true" if value else "false"), _ATOM
    if isinstance(value, str):
        return quote_string(value), _ATOM
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{value!r} cannot be written in an expression")
    text = repr(value)
    return text, (_NEG if text.startswith("-") else _ATOM)


def quote_string(value: str) -> str:
    """A single-quoted literal that Jinja's lexer (and ours) decodes back to `value`."""
    return "'" + "".join(_escape(char) for char in value) + "'"


def _escape(char: str) -> str:
    if char in _ESCAPES:
        return _ESCAPES[char]
    if char < " " or char == "\x7f":
        return f"\\x{ord(char):02x}"
    # Everything else, non-ASCII included, is written as itself: Jinja turns it into a
    # backslash escape and back, which is the identity.
    return char
