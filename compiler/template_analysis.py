"""Template analysis: the free references, filters and tests of a parsed Jinja template.

Stage: analysis (called by `templates.analyze_template`).  Input: the source and Jinja's
AST of it.  Output: a `TemplateInfo`.

Jinja's nodes only know their line, so positions come from Jinja's own lexer: every token
is located in the source, and each reference is matched with the name token it came from
(same line, same name, in order).  Scopes follow Jinja: `{% for %}` binds its targets and
`loop` in its body, `{% set %}` binds from that point on in its scope, macros, call blocks
and `{% with %}` bind their parameters in their bodies.
"""

from __future__ import annotations

import bisect
import re
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Iterator

import msgspec
from jinja2 import Environment, nodes
from jinja2.lexer import TokenStream
from jinja2.parser import Parser

from .references import (
    DEFAULT_FILTERS,
    DEFINED_TESTS,
    JINJA_GLOBALS,
    Guard,
    NameUse,
    PathPart,
    Ref,
    TemplateInfo,
    is_guarded,
)
from .shell_context import refused_positions

__all__ = ["analyze"]

_NEWLINE = re.compile(r"\r\n|\r|\n")
# Name tokens after these are not variables: attributes, filters, tests, loop targets...
_NOT_A_VARIABLE_AFTER = frozenset({".", "|", "is", "for", "macro", "set", "as", "block", "import"})
_BINDS_IN_BODY = ("varargs", "kwargs", "caller")


class _Token(msgspec.Struct, frozen=True):
    kind: str
    value: str
    offset: int  # into the newline-normalised source
    line: int


Lexed = list[tuple[int, str, str]]  # Jinja's raw tokens: (line, kind, value)


def lex(env: Environment, source: str) -> Lexed:
    """Jinja's raw tokens of `source` (raises `TemplateSyntaxError` where it does not lex)."""
    return list(env.lexer.tokeniter(source, None))


def parse_lexed(env: Environment, raw: Lexed) -> nodes.Template:
    """Jinja's parse of already lexed tokens: what `env.parse` does, without lexing again.

    The environment has no extensions, so `env.parse` would only lex and parse.
    """
    assert not env.extensions
    parser = Parser(env, "")
    parser.stream = TokenStream(env.lexer.wrap(raw), None, None)
    return parser.parse()


def analyze(source: str, tree: nodes.Template, lexed: Lexed) -> TemplateInfo:
    """The `TemplateInfo` of `tree`, the parse of `source`, lexed as `lexed`."""
    text = _NEWLINE.sub("\n", source)  # what Jinja's lexer sees
    tokens = list(_tokens(text, lexed))
    significant = [t for t in tokens if t.kind != "whitespace"]
    positions = _Positions(text, source, significant)
    collector = _Collector(positions)
    collector.visit(tree, set(JINJA_GLOBALS), frozenset())
    raw = [(positions.original(a), positions.original(b)) for a, b in _raw_spans(tokens)]
    return TemplateInfo(
        refs=tuple(collector.refs),
        filters=positions.uses(_is_filter_name),
        tests=positions.uses(_is_test_name),
        shell_refusals=tuple((positions.original(o), c) for o, c in _refused(tokens)),
        raw_refs=tuple(r for r in collector.refs if any(a <= r.offset < b for a, b in raw)),
    )


def _tokens(text: str, lexed: Lexed) -> Iterator[_Token]:
    # Jinja's raw tokens are slices of the text, in order, but whitespace control
    # (`{%-`) drops some whitespace: find each token from where the last one ended.
    position = 0
    for line, kind, value in lexed:
        found = text.find(value, position)
        offset = found if found >= 0 else position
        position = offset + len(value)
        yield _Token(kind, value, offset, line)


def _refused(tokens: list[_Token]) -> tuple[tuple[int, str], ...]:
    pieces: list[str | int] = []
    for token in tokens:
        if token.kind == "data":
            pieces.append(token.value)
        elif token.kind == "variable_begin":
            pieces.append(token.offset)
    return refused_positions(pieces, _raw_interpolations(tokens))


def _raw_interpolations(tokens: list[_Token]) -> frozenset[int]:
    """Offsets of `{{ … | raw }}`: the author opted out of quoting, so quotes are theirs."""
    return frozenset(start for start, _ in _raw_spans(tokens))


def _raw_spans(tokens: list[_Token]) -> list[tuple[int, int]]:
    """(start, end) of every `{{ … | raw }}`, in normalised offsets."""
    found: list[tuple[int, int]] = []
    start = 0
    last: list[str] = []
    for token in tokens:
        if token.kind == "variable_begin":
            start, last = token.offset, []
        elif token.kind == "variable_end" and last[-2:] == ["|", "raw"]:
            found.append((start, token.offset + len(token.value)))
        elif token.kind != "whitespace":
            last.append(token.value)
    return found


def _is_filter_name(before: list[_Token], token: _Token) -> bool:
    if before and before[-1].value == "|":
        return True
    # {% filter upper %}
    return len(before) >= 2 and before[-1].value == "filter" and before[-2].kind == "block_begin"


def _is_test_name(before: list[_Token], token: _Token) -> bool:
    if before and before[-1].value == "is":
        return token.value != "not"  # `is not defined`: the test comes next
    return len(before) >= 2 and before[-1].value == "not" and before[-2].value == "is"


class _Positions:
    """Where names are in the source, and offset conversions for it."""

    def __init__(self, text: str, source: str, significant: list[_Token]) -> None:
        self.text = text
        self.source = source
        self.significant = significant
        self.line_starts = [0] + [m.end() for m in re.finditer("\n", text)]
        # Where each \r\n of the source, collapsed to \n, sits in the normalised text.
        self._crlf = [m.start() - i for i, m in enumerate(re.finditer("\r\n", source))]
        self._variables: dict[tuple[int, str], deque[int]] = defaultdict(deque)
        for i, token in enumerate(significant):
            if token.kind == "name" and self._may_be_variable(i):
                self._variables[token.line, token.value].append(token.offset)

    def _may_be_variable(self, i: int) -> bool:
        before = self.significant[i - 1].value if i > 0 else ""
        after = self.significant[i + 1].value if i + 1 < len(self.significant) else ""
        return before not in _NOT_A_VARIABLE_AFTER and after != "="

    def take(self, line: int, name: str) -> int:
        """The offset (normalised) of the next unclaimed variable `name` on `line`."""
        found = self._variables.get((line, name))
        if found:
            return found.popleft()
        return self.line_starts[min(line, len(self.line_starts)) - 1]

    def column(self, offset: int, line: int) -> int:
        return offset - self.line_starts[line - 1] + 1

    def original(self, offset: int) -> int:
        """An offset into the normalised text as an offset into the source (\\r\\n is 2)."""
        return offset + bisect.bisect_left(self._crlf, offset)

    def line_text(self, line: int) -> str:
        start = self.line_starts[line - 1]
        end = self.text.find("\n", start)
        return self.text[start:] if end < 0 else self.text[start:end]

    def uses(self, is_use: Callable[[list[_Token], _Token], bool]) -> tuple[NameUse, ...]:
        found = []
        for i, token in enumerate(self.significant):
            if token.kind == "name" and is_use(self.significant[max(0, i - 2) : i], token):
                column = self.column(token.offset, token.line)
                found.append(NameUse(token.value, self.original(token.offset), token.line, column))
        return tuple(found)


_Handler = Callable[[nodes.Node, set[str], frozenset[Guard]], None]


class _Collector:
    """Walks Jinja's AST with the names bound at each point, collecting free references."""

    def __init__(self, positions: _Positions) -> None:
        self.positions = positions
        self.refs: list[Ref] = []
        self._handlers: dict[type[nodes.Node], _Handler] = {
            nodes.Name: self._name,
            nodes.Getattr: self._access,
            nodes.Getitem: self._access,
            nodes.Filter: self._filter,
            nodes.Test: self._test,
            nodes.And: self._and,
            nodes.Or: self._or,
            nodes.CondExpr: self._cond_expr,
            nodes.If: self._if,
            nodes.For: self._for,
            nodes.Assign: self._assign,
            nodes.AssignBlock: self._assign_block,
            nodes.Macro: self._macro,
            nodes.CallBlock: self._call_block,
            nodes.With: self._with,
            nodes.Import: self._import,
            nodes.FromImport: self._from_import,
            nodes.Block: self._new_scope,
            nodes.Scope: self._new_scope,
            nodes.NSRef: self._nsref,
            nodes.Sub: self._sub,
        }

    def visit(self, node: nodes.Node, scope: set[str], guards: frozenset[Guard]) -> None:
        handler = self._handlers.get(type(node))
        if handler is not None:
            handler(node, scope, guards)
        else:
            self.visit_all(node.iter_child_nodes(), scope, guards)

    def visit_all(
        self,
        children: Iterable[nodes.Node],
        scope: set[str],
        guards: frozenset[Guard],
    ) -> None:
        for child in children:
            self.visit(child, scope, guards)

    # --- references -----------------------------------------------------------------

    def _name(self, node: nodes.Node, scope: set[str], guards: frozenset[Guard]) -> None:
        assert isinstance(node, nodes.Name)
        self._reference(node, (), scope, guards, guarded=False)

    def _access(self, node: nodes.Node, scope: set[str], guards: frozenset[Guard]) -> None:
        self._chain(node, scope, guards, guarded=False)

    def _chain(
        self, node: nodes.Node, scope: set[str], guards: frozenset[Guard], *, guarded: bool
    ) -> None:
        """A reference such as `steps.x['y']`; indexes that are not constants are visited."""
        path: list[PathPart] = []
        while isinstance(node, nodes.Getattr | nodes.Getitem):
            if isinstance(node, nodes.Getattr):
                path.append(node.attr)
            elif (index := _constant_index(node.arg)) is not None:
                path.append(index)
            else:
                self.visit(node.arg, scope, guards)
                path.clear()  # what follows a computed index is not a known path
            node = node.node
        if isinstance(node, nodes.Name):
            self._reference(node, tuple(reversed(path)), scope, guards, guarded=guarded)
        else:
            self.visit(node, scope, guards)

    def _reference(
        self,
        name: nodes.Name,
        path: tuple[PathPart, ...],
        scope: set[str],
        guards: frozenset[Guard],
        *,
        guarded: bool,
        hyphenated: str | None = None,
    ) -> None:
        if name.ctx != "load" or name.name in scope:
            return
        offset = self.positions.take(name.lineno, name.name)
        self.refs.append(
            Ref(
                root=name.name,
                path=path,
                offset=self.positions.original(offset),
                line=name.lineno,
                column=self.positions.column(offset, name.lineno),
                guarded=guarded or is_guarded(name.name, path, guards),
                hyphenated=hyphenated,
            )
        )

    def _sub(self, node: nodes.Node, scope: set[str], guards: frozenset[Guard]) -> None:
        assert isinstance(node, nodes.Sub)
        found = _hyphenation(node, scope, self.positions.line_text(node.lineno))
        if found is None:
            self.visit_all(node.iter_child_nodes(), scope, guards)
            return
        name, path, hyphenated = found
        self._reference(name, path, scope, guards, guarded=False, hyphenated=hyphenated)

    def _nsref(self, node: nodes.Node, scope: set[str], guards: frozenset[Guard]) -> None:
        # `{% set ns.x = ... %}` needs `ns` to exist.
        assert isinstance(node, nodes.NSRef)
        name = nodes.Name(node.name, "load", lineno=node.lineno)
        self._reference(name, (), scope, guards, guarded=False)

    # --- guards ---------------------------------------------------------------------

    def _filter(self, node: nodes.Node, scope: set[str], guards: frozenset[Guard]) -> None:
        assert isinstance(node, nodes.Filter)
        self._guarding(node, node.name in DEFAULT_FILTERS, scope, guards)

    def _test(self, node: nodes.Node, scope: set[str], guards: frozenset[Guard]) -> None:
        assert isinstance(node, nodes.Test)
        self._guarding(node, node.name in DEFINED_TESTS, scope, guards)

    def _guarding(
        self,
        node: nodes.Filter | nodes.Test,
        guarding: bool,
        scope: set[str],
        guards: frozenset[Guard],
    ) -> None:
        if node.node is not None:  # None in {% filter %} blocks
            self._chain(node.node, scope, guards, guarded=guarding)
        arguments = [*node.args, *node.kwargs, node.dyn_args, node.dyn_kwargs]
        self.visit_all([a for a in arguments if a is not None], scope, guards)

    def _and(self, node: nodes.Node, scope: set[str], guards: frozenset[Guard]) -> None:
        assert isinstance(node, nodes.And)
        self.visit(node.left, scope, guards)
        self.visit(node.right, scope, guards | _guards(node.left, True))

    def _or(self, node: nodes.Node, scope: set[str], guards: frozenset[Guard]) -> None:
        assert isinstance(node, nodes.Or)
        self.visit(node.left, scope, guards)
        self.visit(node.right, scope, guards | _guards(node.left, False))

    def _cond_expr(self, node: nodes.Node, scope: set[str], guards: frozenset[Guard]) -> None:
        assert isinstance(node, nodes.CondExpr)
        self.visit(node.test, scope, guards)
        self.visit(node.expr1, scope, guards | _guards(node.test, True))
        if node.expr2 is not None:
            self.visit(node.expr2, scope, guards | _guards(node.test, False))

    def _if(self, node: nodes.Node, scope: set[str], guards: frozenset[Guard]) -> None:
        # `if` bodies are not scopes in Jinja: a {% set %} inside is seen after the block.
        assert isinstance(node, nodes.If)
        otherwise = guards
        for branch in [node, *node.elif_]:
            self.visit(branch.test, scope, otherwise)
            self.visit_all(branch.body, scope, otherwise | _guards(branch.test, True))
            otherwise = otherwise | _guards(branch.test, False)
        self.visit_all(node.else_, scope, otherwise)

    # --- scopes ---------------------------------------------------------------------

    def _for(self, node: nodes.Node, scope: set[str], guards: frozenset[Guard]) -> None:
        assert isinstance(node, nodes.For)
        self.visit(node.iter, scope, guards)
        inner = scope | _targets(node.target) | {"loop"}
        if node.test is not None:
            self.visit(node.test, inner, guards)
        self.visit_all(node.body, inner, guards)
        self.visit_all(node.else_, scope, guards)

    def _assign(self, node: nodes.Node, scope: set[str], guards: frozenset[Guard]) -> None:
        assert isinstance(node, nodes.Assign)
        self.visit(node.node, scope, guards)
        self.visit(node.target, scope, guards)  # only an NSRef target refers to anything
        scope |= _targets(node.target)

    def _assign_block(self, node: nodes.Node, scope: set[str], guards: frozenset[Guard]) -> None:
        assert isinstance(node, nodes.AssignBlock)
        self.visit_all(node.body, scope, guards)
        if node.filter is not None:
            self.visit(node.filter, scope, guards)
        scope |= _targets(node.target)

    def _macro(self, node: nodes.Node, scope: set[str], guards: frozenset[Guard]) -> None:
        assert isinstance(node, nodes.Macro)
        self.visit_all(node.defaults, scope, guards)
        params = {arg.name for arg in node.args}
        self.visit_all(node.body, scope | params | set(_BINDS_IN_BODY) | {node.name}, guards)
        scope.add(node.name)

    def _call_block(self, node: nodes.Node, scope: set[str], guards: frozenset[Guard]) -> None:
        assert isinstance(node, nodes.CallBlock)
        self.visit(node.call, scope, guards)
        self.visit_all(node.defaults, scope, guards)
        params = {arg.name for arg in node.args}
        self.visit_all(node.body, scope | params | set(_BINDS_IN_BODY), guards)

    def _with(self, node: nodes.Node, scope: set[str], guards: frozenset[Guard]) -> None:
        assert isinstance(node, nodes.With)
        self.visit_all(node.values, scope, guards)
        inner = scope.union(*(_targets(t) for t in node.targets))
        self.visit_all(node.body, inner, guards)

    def _import(self, node: nodes.Node, scope: set[str], guards: frozenset[Guard]) -> None:
        assert isinstance(node, nodes.Import)
        self.visit(node.template, scope, guards)
        scope.add(node.target)

    def _from_import(self, node: nodes.Node, scope: set[str], guards: frozenset[Guard]) -> None:
        assert isinstance(node, nodes.FromImport)
        self.visit(node.template, scope, guards)
        scope.update(n if isinstance(n, str) else n[1] for n in node.names)

    def _new_scope(self, node: nodes.Node, scope: set[str], guards: frozenset[Guard]) -> None:
        self.visit_all(node.iter_child_nodes(), set(scope), guards)


def _constant_index(arg: nodes.Node) -> PathPart | None:
    if isinstance(arg, nodes.Const) and isinstance(arg.value, str | int):
        return None if isinstance(arg.value, bool) else arg.value
    return None


def _targets(target: nodes.Node) -> set[str]:
    """Names a for/set/with target binds: `x`, or `a, b`."""
    if isinstance(target, nodes.Name):
        return {target.name}
    if isinstance(target, nodes.Tuple):
        return set().union(*(_targets(item) for item in target.items))
    return set()


def chain_of(node: nodes.Node) -> tuple[nodes.Name, tuple[PathPart, ...]] | None:
    """`steps.x['y']` as (Name steps, ("x", "y")); None unless a constant access chain."""
    path: list[PathPart] = []
    while isinstance(node, nodes.Getattr | nodes.Getitem):
        if isinstance(node, nodes.Getattr):
            path.append(node.attr)
        else:
            index = _constant_index(node.arg)
            if index is None:
                return None
            path.append(index)
        node = node.node
    if not isinstance(node, nodes.Name):
        return None
    return node, tuple(reversed(path))


def _guards(node: nodes.Node, truth: bool) -> frozenset[Guard]:
    """References known to be defined when `node` evaluates to `truth`."""
    if isinstance(node, nodes.Test) and node.name in DEFINED_TESTS:
        chain = chain_of(node.node)
        if chain is None or (node.name == "defined") != truth:
            return frozenset()
        return frozenset({(chain[0].name, chain[1])})
    if isinstance(node, nodes.Not):
        return _guards(node.node, not truth)
    if (isinstance(node, nodes.And) and truth) or (isinstance(node, nodes.Or) and not truth):
        return _guards(node.left, truth) | _guards(node.right, truth)
    return frozenset()


def _hyphenation(
    node: nodes.Sub, scope: set[str], text: str
) -> tuple[nodes.Name, tuple[PathPart, ...], str] | None:
    """`steps.rust-only.output`, which Jinja reads as `steps.rust - only.output`.

    Returns the root, the path the author meant (("rust-only", "output")) and the
    hyphenated name, when the source spells the name without spaces around `-`.
    """
    rights: list[nodes.Node] = []
    left: nodes.Node = node
    while isinstance(left, nodes.Sub):
        rights.append(left.right)
        left = left.left
    rights.reverse()
    base = chain_of(left)
    tail = chain_of(rights[-1])
    if base is None or tail is None or not isinstance(left, nodes.Getattr):
        return None
    if not all(isinstance(r, nodes.Name) for r in rights[:-1]):
        return None
    words = [left.attr, *(r.name for r in rights[:-1] if isinstance(r, nodes.Name))]
    words.append(tail[0].name)
    if tail[0].name in scope or base[0].name in scope:
        return None
    hyphenated = "-".join(words)
    if re.search(rf"\.\s*{re.escape(hyphenated)}(?![A-Za-z0-9_])", text) is None:
        return None
    return base[0], (*base[1][:-1], hyphenated, *tail[1]), hyphenated
