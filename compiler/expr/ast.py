"""Expression AST: the frozen nodes of `if` / `when` / `for_each` expressions.

Stage: produced by `parse.parse_expression`, consumed by the checks, `evaluate` and the plan.
Input: nothing (plain data).  Output: `Expr`, a tagged union of frozen msgspec Structs that
encodes to JSON with `msgspec.json.encode` and decodes back with `msgspec.json.decode(...,
type=Expr)`.  Every node carries `start` and `end`: 0-based character offsets of its text in
the expression source (`end` exclusive), so diagnostics can point at the exact column.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal, TypeAlias, assert_never

import msgspec

__all__ = [
    "And",
    "Compare",
    "CompareOp",
    "Const",
    "ConstValue",
    "Expr",
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
    "depth",
    "walk",
    "without_spans",
]

ConstValue: TypeAlias = str | bool | int | float | None
CompareOp: TypeAlias = Literal["==", "!=", "<", "<=", ">", ">=", "in", "notin"]


class _Node(msgspec.Struct, frozen=True, kw_only=True, tag_field="kind", tag=True):
    # Spans are keyword-only with a default so that tests and tools can write
    # `Name("x")`; the parser always fills them in.
    start: int = 0
    end: int = 0


class Name(_Node, frozen=True):
    """A free name, looked up in the context and then in the environment's globals."""

    name: str


class Const(_Node, frozen=True):
    """A literal: string, integer, float, `true`/`false` or `none`."""

    value: ConstValue


class ListLit(_Node, frozen=True):
    """A list literal `[a, b]`."""

    items: tuple[Expr, ...]


class GetAttr(_Node, frozen=True):
    """`obj.name`: attribute first, then item, like Jinja's `environment.getattr`."""

    obj: Expr
    name: str


class GetItem(_Node, frozen=True):
    """`obj[index]` (also `obj.0`): item first, then attribute, like `environment.getitem`."""

    obj: Expr
    index: Expr


class Neg(_Node, frozen=True):
    """Unary minus `-operand`."""

    operand: Expr


class Compare(_Node, frozen=True):
    """`left op1 right1 op2 right2 ...`, chained like Python: `a < b < c` is `a < b and b < c`."""

    left: Expr
    ops: tuple[tuple[CompareOp, Expr], ...]


class Not(_Node, frozen=True):
    """`not operand`."""

    operand: Expr


class And(_Node, frozen=True):
    """`left and right`: Python's `and`, the value of one operand."""

    left: Expr
    right: Expr


class Or(_Node, frozen=True):
    """`left or right`: Python's `or`, the value of one operand."""

    left: Expr
    right: Expr


class Filter(_Node, frozen=True):
    """`node | name(args, key=value)`."""

    node: Expr
    name: str
    args: tuple[Expr, ...] = ()
    kwargs: tuple[tuple[str, Expr], ...] = ()


class Test(_Node, frozen=True):
    """`node is name(args)`, or `node is not name(args)` when `negated`."""

    node: Expr
    name: str
    negated: bool = False
    args: tuple[Expr, ...] = ()


Expr: TypeAlias = (
    Name | Const | ListLit | GetAttr | GetItem | Neg | Compare | Not | And | Or | Filter | Test
)


def without_spans(expr: Expr) -> Expr:
    """The same tree with every `start`/`end` set to 0, to compare trees by shape only."""
    stripped: Expr = msgspec.convert(_strip(msgspec.to_builtins(expr)), type=Expr)
    return stripped


def _strip(data: object) -> object:
    if isinstance(data, dict):
        return {k: _strip(v) for k, v in data.items() if k not in ("start", "end")}
    if isinstance(data, list | tuple):
        return [_strip(v) for v in data]
    return data


def children(expr: Expr) -> tuple[Expr, ...]:
    """The direct sub-expressions of `expr`, in source order."""
    match expr:
        case Name() | Const():
            return ()
        case ListLit(items=items):
            return items
        case GetAttr(obj=obj):
            return (obj,)
        case GetItem(obj=obj, index=index):
            return (obj, index)
        case Neg(operand=operand) | Not(operand=operand):
            return (operand,)
        case Compare(left=left, ops=ops):
            return (left, *(right for _, right in ops))
        case And(left=left, right=right) | Or(left=left, right=right):
            return (left, right)
        case Filter(node=node, args=args, kwargs=kwargs):
            return (node, *args, *(value for _, value in kwargs))
        case Test(node=node, args=args):
            return (node, *args)
        case _:
            assert_never(expr)


def walk(expr: Expr) -> Iterator[Expr]:
    """Every node of the tree, parents before children, in source order (no recursion)."""
    stack = [expr]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(reversed(children(node)))


def depth(expr: Expr) -> int:
    """The number of nodes on the longest path from `expr` down to a leaf."""
    deepest = 0
    stack = [(expr, 1)]
    while stack:
        node, level = stack.pop()
        deepest = max(deepest, level)
        stack.extend((child, level + 1) for child in children(node))
    return deepest
