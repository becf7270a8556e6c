"""What a template or an expression refers to: the facts the compiler's checks need.

Stage: analysis, between parsing and checking.  Input: an expression AST (`expr_info`;
templates are analysed by `templates.analyze_template`, which builds the same types).
Output: a `TemplateInfo` listing free references (`steps.build.output`), filters and tests
used, each with its position, so the checks can report unknown names at the right column
and infer step dependencies.  Pure data, no Jinja objects.
"""

from __future__ import annotations

import re

import msgspec
from jinja2.defaults import DEFAULT_NAMESPACE

from .expr.ast import (
    And,
    Const,
    Expr,
    Filter,
    GetAttr,
    GetItem,
    Name,
    Not,
    Or,
    Test,
    children,
    walk,
)

__all__ = [
    "DEFAULT_FILTERS",
    "DEFINED_TESTS",
    "JINJA_GLOBALS",
    "Guard",
    "NameUse",
    "PathPart",
    "Ref",
    "TemplateInfo",
    "expr_info",
    "is_guarded",
    "line_and_column",
]

PathPart = str | int
Guard = tuple[str, tuple[PathPart, ...]]

# Jinja's globals (range, dict, namespace, ...): provided names, never references, as in
# jinja2.meta.find_undeclared_variables.
JINJA_GLOBALS = frozenset(DEFAULT_NAMESPACE)
# A reference directly under one of these is allowed to be undefined.
DEFAULT_FILTERS = frozenset({"default", "d"})
DEFINED_TESTS = frozenset({"defined", "undefined"})


class Ref(msgspec.Struct, frozen=True):
    """A free reference: `root` then the constant accesses after it.

    `steps.diff.output` and `steps['diff'].output` are both root "steps", path ("diff",
    "output").  `offset` (0-based), `line` and `column` (1-based) locate the root name in the
    source.  `guarded` means the text copes with it being undefined (`| default`, `is
    defined`, or an `if`/`and` that tested it or a prefix of it).  Under `| default` and
    `is defined` only the *last* access may be undefined: Jinja's StrictUndefined fails on
    an access through an undefined value, so `args.a.b | default(1)` still needs `args.a`.
    `hyphenated` is "rust-only" when Jinja read `steps.rust-only` as `steps.rust - only`;
    `path` then holds what the author meant (("rust-only", ...)) and the checks must report
    the spelling.
    """

    root: str
    path: tuple[PathPart, ...]
    offset: int
    line: int
    column: int
    guarded: bool = False
    hyphenated: str | None = None


class NameUse(msgspec.Struct, frozen=True):
    """A filter or test used by name, and where."""

    name: str
    offset: int
    line: int
    column: int


class TemplateInfo(msgspec.Struct, frozen=True):
    """Everything the checks need to know about one template or expression.

    `shell_refusals` holds (offset of `{{`, `shell_context.Context` value) for values in
    shell positions no value can be made safe in — backticks, `${…}`, … (read only for
    shell commands; always empty for expressions).
    """

    refs: tuple[Ref, ...] = ()
    filters: tuple[NameUse, ...] = ()
    tests: tuple[NameUse, ...] = ()
    shell_refusals: tuple[tuple[int, str], ...] = ()
    raw_refs: tuple[Ref, ...] = ()  # references inside `{{ … | raw }}` (not shell-quoted)


def line_and_column(source: str, offset: int) -> tuple[int, int]:
    """1-based line and column of a 0-based offset; \\n, \\r\\n and \\r end lines."""
    before = source[:offset]
    breaks = list(re.finditer(r"\r\n|\r|\n", before))
    if not breaks:
        return 1, offset + 1
    return len(breaks) + 1, offset - breaks[-1].end() + 1


def is_guarded(root: str, path: tuple[PathPart, ...], guards: frozenset[Guard]) -> bool:
    """Whether a guard covers the reference: `steps.x is defined` covers `steps.x.output`."""
    return any(g_root == root and path[: len(g_path)] == g_path for g_root, g_path in guards)


# --- expressions -------------------------------------------------------------------------


def expr_info(expr: Expr, text: str | None = None) -> TemplateInfo:
    """References, filters and tests of an expression (line 1; offsets into its text).

    With `text`, the expression's source, filter and test names are located exactly;
    without it, at the start of the filtered or tested expression.
    """
    refs: list[Ref] = []
    _expr_refs(expr, frozenset(), False, refs)
    filters: list[NameUse] = []
    tests: list[NameUse] = []
    for node in walk(expr):  # one walk for both
        if isinstance(node, Filter):
            filters.append(_name_use(node, text))
        elif isinstance(node, Test):
            tests.append(_name_use(node, text))
    return TemplateInfo(refs=tuple(refs), filters=_in_order(filters), tests=_in_order(tests))


def _in_order(uses: list[NameUse]) -> tuple[NameUse, ...]:
    # The walk meets `x | a | b` as b first (outermost); report in source order.
    return tuple(sorted(uses, key=lambda use: use.offset))


def _name_use(node: Filter | Test, text: str | None) -> NameUse:
    offset = node.start
    if text is not None:
        found = re.compile(rf"\b{re.escape(node.name)}\b").search(text, node.node.end)
        offset = found.start() if found is not None else offset
    return NameUse(node.name, offset, 1, offset + 1)


def expr_chain(expr: Expr) -> tuple[Name, tuple[PathPart, ...]] | None:
    """`steps.x['y']` as (Name steps, ("x", "y")); None unless a constant access chain."""
    path: list[PathPart] = []
    while True:
        match expr:
            case Name():
                return expr, tuple(reversed(path))
            case GetAttr(obj=obj, name=name):
                path.append(name)
            case GetItem(obj=obj, index=Const(value=str() | int() as value)) if not isinstance(
                value, bool
            ):
                path.append(value)
            case _:
                return None
        expr = obj


def _expr_refs(expr: Expr, guards: frozenset[Guard], guarded: bool, out: list[Ref]) -> None:
    """Append the references of `expr` to `out`, in source order (a plain recursion:
    generators nested this deep cost a third of the whole analysis)."""
    chain = expr_chain(expr)
    if chain is not None:
        name, path = chain
        if name.name not in JINJA_GLOBALS:
            safe = guarded or is_guarded(name.name, path, guards)
            out.append(Ref(name.name, path, name.start, 1, name.start + 1, safe))
        return
    match expr:
        case Filter(node=node, name=filter_name) if filter_name in DEFAULT_FILTERS:
            _expr_refs(node, guards, True, out)
            _children_refs(children(expr)[1:], guards, out)
        case Test(node=node, name=test_name) if test_name in DEFINED_TESTS:
            _expr_refs(node, guards, True, out)
            _children_refs(children(expr)[1:], guards, out)
        case And(left=left, right=right):
            _expr_refs(left, guards, False, out)
            _expr_refs(right, guards | expr_guards(left, True), False, out)
        case Or(left=left, right=right):
            _expr_refs(left, guards, False, out)
            _expr_refs(right, guards | expr_guards(left, False), False, out)
        case _:
            _children_refs(children(expr), guards, out)


def _children_refs(nodes: tuple[Expr, ...], guards: frozenset[Guard], out: list[Ref]) -> None:
    for node in nodes:
        _expr_refs(node, guards, False, out)


def expr_guards(expr: Expr, truth: bool) -> frozenset[Guard]:
    """References known to be defined when `expr` evaluates to `truth`."""
    match expr:
        case Test(node=node, name=name, negated=negated) if name in DEFINED_TESTS:
            chain = expr_chain(node)
            says_defined = (name == "defined") != negated
            if chain is None or says_defined != truth:
                return frozenset()
            return frozenset({(chain[0].name, chain[1])})
        case Not(operand=operand):
            return expr_guards(operand, not truth)
        case And(left=left, right=right) if truth:
            return expr_guards(left, True) | expr_guards(right, True)
        case Or(left=left, right=right) if not truth:
            return expr_guards(left, False) | expr_guards(right, False)
        case _:
            return frozenset()
