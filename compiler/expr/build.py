"""Parse-time callbacks: each rule of grammar/expr.lark becomes an AST node as it is reduced.

Stage: inside the LALR parse (Lark's inline transformer), so no parse tree is built and deep
nesting never recurses.  Input: the children of one rule (tokens and already-built nodes).
Output: `ast` nodes with spans.  Constructs the grammar accepts only to report them well
(calls, keyword arguments of tests) raise `ExprSyntaxError` here.
"""

from __future__ import annotations

from typing import TypeAlias

import msgspec
from lark import Token, Transformer

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

__all__ = ["AstBuilder"]

_CONSTANTS: dict[str, bool | None] = {
    "true": True,
    "True": True,
    "false": False,
    "False": False,
    "none": None,
    "None": None,
}


class _Kwarg(msgspec.Struct, frozen=True):
    name: str
    value: Expr
    start: int


class _CallArgs(msgspec.Struct, frozen=True):
    args: tuple[Expr, ...]
    kwargs: tuple[tuple[str, Expr], ...]
    start: int
    end: int


_Child: TypeAlias = Expr | Token | _CallArgs | _Kwarg | tuple[CompareOp, Token] | None


def _end(node: Expr | Token | _CallArgs) -> int:
    if isinstance(node, Token):
        assert node.end_pos is not None
        return node.end_pos
    return node.end


def _start(token: Token) -> int:
    assert token.start_pos is not None
    return token.start_pos


class AstBuilder(Transformer[Token, Expr]):
    """The callbacks, named after the rules and aliases of grammar/expr.lark."""

    def name(self, children: list[Token]) -> Expr:
        (token,) = children
        start, end = _start(token), _end(token)
        if token.value in _CONSTANTS:
            return Const(_CONSTANTS[token.value], start=start, end=end)
        return Name(token.value, start=start, end=end)

    def string(self, children: list[Token]) -> Expr:
        # Adjacent strings concatenate, as in Jinja: 'a' "b" is "ab".
        value = "".join(decode_string(t.value, _start(t)) for t in children)
        return Const(value, start=_start(children[0]), end=_end(children[-1]))

    def int_(self, children: list[Token]) -> Expr:
        (token,) = children
        value = int(token.value.replace("_", ""), 0)
        return Const(value, start=_start(token), end=_end(token))

    def float_(self, children: list[Token]) -> Expr:
        (token,) = children
        value = float(token.value.replace("_", ""))
        return Const(value, start=_start(token), end=_end(token))

    def list_lit(self, children: list[_Child]) -> Expr:
        items = tuple(c for c in children[1:-1] if c is not None)
        assert all(not isinstance(c, Token) for c in items)
        lsqb, rsqb = children[0], children[-1]
        assert isinstance(lsqb, Token) and isinstance(rsqb, Token)
        return ListLit(items, start=_start(lsqb), end=_end(rsqb))  # type: ignore[arg-type]

    def paren(self, children: list[_Child]) -> Expr:
        # A node's span includes the parentheses written around it.
        lpar, inner, rpar = children
        assert isinstance(lpar, Token) and isinstance(rpar, Token)
        assert isinstance(inner, Expr)
        return msgspec.structs.replace(inner, start=_start(lpar), end=_end(rpar))

    def attr_name(self, children: list[Token]) -> Token:
        return children[0]

    def test_name(self, children: list[Token]) -> Token:
        return children[0]

    def getattr(self, children: list[_Child]) -> Expr:
        obj, attr = children
        assert isinstance(attr, Token)
        obj = _expr(obj)
        return GetAttr(obj, attr.value, start=obj.start, end=_end(attr))

    def getitem_int(self, children: list[_Child]) -> Expr:
        # Jinja reads `x.0` as `x[0]`.
        obj, token = children
        assert isinstance(token, Token)
        obj = _expr(obj)
        index = self.int_([token])
        return GetItem(obj, index, start=obj.start, end=index.end)

    def getitem(self, children: list[_Child]) -> Expr:
        obj, _lsqb, index, rsqb = children
        assert isinstance(rsqb, Token)
        obj = _expr(obj)
        return GetItem(obj, _expr(index), start=obj.start, end=_end(rsqb))

    def call(self, children: list[_Child]) -> Expr:
        callee, args = children
        assert isinstance(args, _CallArgs)
        raise _call_error(_expr(callee), args)

    def neg(self, children: list[_Child]) -> Expr:
        minus, operand = children
        assert isinstance(minus, Token)
        operand = _expr(operand)
        return Neg(operand, start=_start(minus), end=operand.end)

    def comp_op(self, children: list[Token]) -> tuple[CompareOp, Token]:
        op = "notin" if len(children) == 2 else children[0].value
        return op, children[0]  # type: ignore[return-value]

    def compare(self, children: list[_Child]) -> Expr:
        left = _expr(children[0])
        ops: list[tuple[CompareOp, Expr]] = []
        for i in range(1, len(children), 2):
            op = children[i]
            assert isinstance(op, tuple)
            ops.append((op[0], _expr(children[i + 1])))
        return Compare(left, tuple(ops), start=left.start, end=ops[-1][1].end)

    def not_(self, children: list[_Child]) -> Expr:
        keyword, operand = children
        assert isinstance(keyword, Token)
        operand = _expr(operand)
        return Not(operand, start=_start(keyword), end=operand.end)

    def and_(self, children: list[_Child]) -> Expr:
        left, right = _expr(children[0]), _expr(children[2])
        return And(left, right, start=left.start, end=right.end)

    def or_(self, children: list[_Child]) -> Expr:
        left, right = _expr(children[0]), _expr(children[2])
        return Or(left, right, start=left.start, end=right.end)

    def filter(self, children: list[_Child]) -> Expr:
        node, name, args = children
        assert isinstance(name, Token)
        node = _expr(node)
        if args is None:
            return Filter(node, name.value, start=node.start, end=_end(name))
        assert isinstance(args, _CallArgs)
        end = args.end
        return Filter(node, name.value, args.args, args.kwargs, start=node.start, end=end)

    def test(self, children: list[_Child]) -> Expr:
        node, _is, negated, name, args = children
        assert isinstance(name, Token)
        node = _expr(node)
        if args is None:
            return Test(node, name.value, negated is not None, start=node.start, end=_end(name))
        if isinstance(args, _CallArgs):
            _no_test_kwargs(name.value, args)
            arg_tuple, end = args.args, args.end
        else:
            arg = _expr(args)
            arg_tuple, end = (arg,), arg.end
        return Test(node, name.value, negated is not None, arg_tuple, start=node.start, end=end)

    def kwarg(self, children: list[_Child]) -> _Kwarg:
        name, value = children
        assert isinstance(name, Token)
        return _Kwarg(name.value, _expr(value), _start(name))

    def call_args(self, children: list[_Child]) -> _CallArgs:
        lpar, rpar = children[0], children[-1]
        assert isinstance(lpar, Token) and isinstance(rpar, Token)
        args: list[Expr] = []
        kwargs: dict[str, Expr] = {}
        for child in children[1:-1]:
            if child is None:
                continue
            if isinstance(child, _Kwarg):
                _check_kwarg(child, kwargs)
                kwargs[child.name] = child.value
            elif kwargs:
                raise ExprSyntaxError(
                    "a positional argument cannot follow a keyword argument",
                    _expr(child).start,
                    "put the positional arguments first",
                )
            else:
                args.append(_expr(child))
        return _CallArgs(tuple(args), tuple(kwargs.items()), _start(lpar), _end(rpar))


def _expr(child: _Child) -> Expr:
    # The grammar guarantees an expression here; the assert documents it for mypy.
    assert child is not None and not isinstance(child, Token | _CallArgs | _Kwarg | tuple)
    return child


def _check_kwarg(kwarg: _Kwarg, seen: dict[str, Expr]) -> None:
    if kwarg.name in seen:
        message = f"keyword argument '{kwarg.name}' is given twice"
        raise ExprSyntaxError(message, kwarg.start)


def _no_test_kwargs(name: str, args: _CallArgs) -> None:
    if args.kwargs:
        message = f"the test '{name}' takes positional arguments only"
        raise ExprSyntaxError(message, args.start, f"write is {name}(value)")


def _call_error(callee: Expr, args: _CallArgs) -> ExprSyntaxError:
    if isinstance(callee, GetAttr):
        from .unparse import unparse

        subject = unparse(callee.obj)
        message = f"calls like {subject}.{callee.name}() are not supported"
        hint = f"use a filter: {subject} | {callee.name}"
    elif isinstance(callee, Name):
        message = f"calls like {callee.name}() are not supported"
        hint = f"use a filter: value | {callee.name}"
    else:
        message = "calls like x() are not supported"
        hint = "use a filter: x | name"
    return ExprSyntaxError(message, args.start, hint)
