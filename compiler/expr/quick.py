"""A quick parser for common expressions, giving exactly the tree the Lark grammar gives.

Stage: front end, per expression (tried first by `parse.parse_expression`).  Input: the
expression text.  Output: the `ast.Expr` the LALR parser of grammar/expr.lark builds for
it, or None when the text is outside what this parser handles — anything it does not
recognise, and every syntax error — so the grammar stays the one definition of the
language and the one source of error messages.

Lark's LALR loop costs ~150 µs for a short condition (some thirty reductions through the
precedence levels), most of the compile time of a workflow with many conditions; this
recursive descent over the same levels takes a tenth of that. It handles names and
constants, strings, decimal integers, lists, `.name`, `.0`, `[...]`, unary minus,
filters with arguments, tests with parenthesised arguments, comparisons, `not`, `and`,
`or` and parentheses, in texts of at most `_MAX_TEXT` characters.
`tests/property/test_quick_expressions.py` checks that whatever it returns is what the
grammar's parser returns.
"""

from __future__ import annotations

import re
from typing import NamedTuple

import msgspec

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
)
from .errors import ExprSyntaxError
from .strings import decode_string

__all__ = ["quick_parse"]

_MAX_TEXT = 400  # longer texts (and deeper nesting) are left to the grammar's parser
_TOKEN = re.compile(
    r"""(?P<ws>\s+)
    |(?P<name>[A-Za-z_][A-Za-z0-9_]*)
    |(?P<string>'[^'\\]*(?:\\.[^'\\]*)*'|"[^"\\]*(?:\\.[^"\\]*)*")
    |(?P<number>[0-9][0-9A-Za-z_.]*)
    |(?P<op>==|!=|<=|>=|[<>|.()\[\],=-])""",
    re.VERBOSE | re.DOTALL,
)
_INT = re.compile(r"0|[1-9][0-9]*")
_KEYWORDS = frozenset({"and", "or", "not", "in", "is"})
_CONSTANTS: dict[str, bool | None] = {
    "true": True,
    "True": True,
    "false": False,
    "False": False,
    "none": None,
    "None": None,
}
_COMPARISONS: dict[str, CompareOp] = {
    "==": "==",
    "!=": "!=",
    "<": "<",
    "<=": "<=",
    ">": ">",
    ">=": ">=",
    "in": "in",
}
# Tokens that would start a test's unparenthesised argument (`x is divisibleby 3`).
_ATOM_KINDS = frozenset({"name", "string", "int", "["})


class _Token(NamedTuple):
    kind: str  # "name", "string", "int", a keyword, an operator, or "end"
    text: str
    start: int
    end: int


class _Decline(Exception):
    """Not handled here: the grammar's parser takes the text."""


def quick_parse(text: str) -> Expr | None:
    """The tree of `text`, or None to leave it to the grammar's parser."""
    if len(text) > _MAX_TEXT:
        return None
    try:
        parser = _Parser(_tokens(text))
        expr = parser.expr()
        if parser.peek.kind != "end":
            return None
        return expr
    except (_Decline, ExprSyntaxError, RecursionError):
        return None


def _tokens(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            raise _Decline
        kind = match.lastgroup
        value = match.group()
        start, position = match.span()
        if kind == "ws":
            continue
        if kind == "name" and value in _KEYWORDS:
            kind = value
        elif kind == "number":
            if not _INT.fullmatch(value):
                raise _Decline  # floats, 0x1f, 1_000, 007, x.0.1: the grammar's lexer
            kind = "int"
        elif kind == "op":
            kind = value
        tokens.append(_Token(kind or "", value, start, position))
    tokens.append(_Token("end", "", len(text), len(text)))
    return tokens


class _Parser:
    """Recursive descent over the precedence levels of grammar/expr.lark, loosest first."""

    def __init__(self, tokens: list[_Token]) -> None:
        self.tokens = tokens
        self.index = 0

    @property
    def peek(self) -> _Token:
        return self.tokens[self.index]

    def take(self, *kinds: str) -> _Token:
        token = self.tokens[self.index]
        if token.kind not in kinds:
            raise _Decline
        self.index += 1
        return token

    def accept(self, kind: str) -> _Token | None:
        token = self.tokens[self.index]
        if token.kind != kind:
            return None
        self.index += 1
        return token

    # -- levels ----------------------------------------------------------------------
    def expr(self) -> Expr:
        left = self.and_test()
        while self.accept("or"):
            right = self.and_test()
            left = Or(left, right, start=left.start, end=right.end)
        return left

    def and_test(self) -> Expr:
        left = self.not_test()
        while self.accept("and"):
            right = self.not_test()
            left = And(left, right, start=left.start, end=right.end)
        return left

    def not_test(self) -> Expr:
        keyword = self.accept("not")
        if keyword is None:
            return self.compare()
        operand = self.not_test()
        return Not(operand, start=keyword.start, end=operand.end)

    def compare(self) -> Expr:
        left = self.filtered()
        ops: list[tuple[CompareOp, Expr]] = []
        while True:
            kind = self.peek.kind
            if kind in _COMPARISONS:
                self.index += 1
                ops.append((_COMPARISONS[kind], self.filtered()))
            elif kind == "not" and self.tokens[self.index + 1].kind == "in":
                self.index += 2
                ops.append(("notin", self.filtered()))
            else:
                break
        if not ops:
            return left
        return Compare(left, tuple(ops), start=left.start, end=ops[-1][1].end)

    def filtered(self) -> Expr:
        node = self.unary()
        while True:
            if self.accept("|"):
                node = self.filter(node)
            elif self.accept("is"):
                node = self.test(node)
            else:
                return node

    def filter(self, node: Expr) -> Expr:
        name = self.take("name")
        if self.peek.kind != "(":
            return Filter(node, name.text, start=node.start, end=name.end)
        args, kwargs, end = self.call_args()
        return Filter(node, name.text, args, kwargs, start=node.start, end=end)

    def test(self, node: Expr) -> Expr:
        negated = self.accept("not") is not None
        name = self.take("name", "and", "or", "in", "is")
        if self.peek.kind in _ATOM_KINDS:
            raise _Decline  # an argument without parentheses
        if self.peek.kind != "(":
            return Test(node, name.text, negated, start=node.start, end=name.end)
        args, kwargs, end = self.call_args()
        if kwargs:
            raise _Decline  # an error the grammar's builder words
        return Test(node, name.text, negated, args, start=node.start, end=end)

    def call_args(self) -> tuple[tuple[Expr, ...], tuple[tuple[str, Expr], ...], int]:
        self.take("(")
        args: list[Expr] = []
        kwargs: dict[str, Expr] = {}
        while self.peek.kind != ")":
            if self.peek.kind == "name" and self.tokens[self.index + 1].kind == "=":
                name = self.take("name").text
                self.index += 1
                if name in kwargs:
                    raise _Decline
                kwargs[name] = self.expr()
            elif kwargs:
                raise _Decline  # a positional argument after a keyword argument
            else:
                args.append(self.expr())
            if not self.accept(","):
                break
        end = self.take(")").end
        return tuple(args), tuple(kwargs.items()), end

    def unary(self) -> Expr:
        minus = self.accept("-")
        if minus is None:
            return self.postfix()
        operand = self.unary()
        return Neg(operand, start=minus.start, end=operand.end)

    def postfix(self) -> Expr:
        node = self.primary()
        while True:
            if self.accept("."):
                attr = self.take("name", "and", "or", "not", "in", "is", "int")
                if attr.kind == "int":
                    number = Const(int(attr.text), start=attr.start, end=attr.end)
                    node = GetItem(node, number, start=node.start, end=number.end)
                else:
                    node = GetAttr(node, attr.text, start=node.start, end=attr.end)
            elif self.accept("["):
                index = self.expr()
                end = self.take("]").end
                node = GetItem(node, index, start=node.start, end=end)
            elif self.peek.kind == "(":
                raise _Decline  # a call: the grammar's builder reports it
            else:
                return node

    def primary(self) -> Expr:
        token = self.peek
        self.index += 1
        match token.kind:
            case "(":
                inner = self.expr()
                end = self.take(")").end
                return msgspec.structs.replace(inner, start=token.start, end=end)
            case "name" if token.text in _CONSTANTS:
                return Const(_CONSTANTS[token.text], start=token.start, end=token.end)
            case "name":
                return Name(token.text, start=token.start, end=token.end)
            case "int":
                return Const(int(token.text), start=token.start, end=token.end)
            case "string":
                return self.strings(token)
            case "[":
                return self.list_lit(token)
            case _:
                raise _Decline

    def strings(self, first: _Token) -> Expr:
        # Adjacent strings concatenate, as in Jinja: 'a' "b" is "ab".
        parts = [first]
        while self.peek.kind == "string":
            parts.append(self.take("string"))
        value = "".join(decode_string(t.text, t.start) for t in parts)
        return Const(value, start=first.start, end=parts[-1].end)

    def list_lit(self, lsqb: _Token) -> Expr:
        items: list[Expr] = []
        while self.peek.kind != "]":
            items.append(self.expr())
            if not self.accept(","):
                break
        end = self.take("]").end
        return ListLit(tuple(items), start=lsqb.start, end=end)
