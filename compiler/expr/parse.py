"""Parse `if` / `when` / `for_each` expression text into the AST.

Stage: front end, per expression.  Input: the expression text (no `{{ }}`).
Output: an `ast.Expr` with spans, or `ExprSyntaxError` with a designed message, a 0-based
offset into the text and a hint.

The LALR parser for grammar/expr.lark is built once, lazily.  Building it from the grammar
costs ~60 ms of table construction, too much for `llm-mux validate`'s start-up, so the
tables are precomputed in `_tables.py` (Lark's own serialisation of plain data, marshalled:
executing the same data as Python literals costs ~40 ms, unmarshalling ~1 ms) together with
the SHA-256 of the grammar they came from.  When the grammar has changed since (or Lark's
version differs) the parser is rebuilt from the grammar, slower but never stale;
`tests/compiler/test_expr_tables.py` fails until `_tables.py` is regenerated.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import hashlib
import marshal
import re
import zlib
from typing import TYPE_CHECKING, cast

from .ast import Expr, Test, depth, walk
from .errors import ExprSyntaxError
from .quick import quick_parse

if TYPE_CHECKING:
    from lark import Lark, Token

__all__ = ["MAX_DEPTH", "ExprSyntaxError", "parse_expression", "parse_with_grammar"]

# Evaluation, unparsing and encoding recurse over the tree; real conditions are a few
# levels deep, so a generous bound keeps every later stage far from Python's limit.
MAX_DEPTH = 100
_AFTER_BARE_TEST = re.compile(r"\s*(in|not|is)\b")


@functools.lru_cache(maxsize=4096)
def parse_expression(text: str) -> Expr:
    """Parse one expression; raise `ExprSyntaxError` if `text` is not one.

    Results are cached by text (trees are immutable, so sharing them is safe): generated
    workflows repeat the same conditions on many steps.
    """
    expr = quick_parse(text)  # the same tree for common texts, ten times sooner
    if expr is None:
        expr = parse_with_grammar(text)
    if "is" in text:
        _check_bare_tests(expr, text)
    # Each node owns at least one character, so short texts cannot nest too deeply.
    if len(text) > MAX_DEPTH:
        _check_depth(expr)
    return expr


def parse_with_grammar(text: str) -> Expr:
    """The tree of `text` from the LALR parser of grammar/expr.lark, or its syntax error."""
    from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken

    try:
        # The inline transformer makes Lark return our AST, not the Tree it is typed with.
        return cast(Expr, _parser().parse(text))
    except UnexpectedCharacters as exc:
        raise _explain_character(text, exc.pos_in_stream or 0) from None
    except UnexpectedToken as exc:
        raise _explain_token(text, exc.token) from None
    except UnexpectedInput as exc:  # UnexpectedEOF: not raised by LALR, kept for safety
        raise ExprSyntaxError("unexpected end of expression", len(text)) from exc


def _explain_character(text: str, offset: int) -> ExprSyntaxError:
    from .explain import bad_character

    return bad_character(text, offset, _lex(text[:offset]))


def _explain_token(text: str, token: Token) -> ExprSyntaxError:
    from .explain import at_end, bad_token

    if token.type == "$END":
        return at_end(text, _lex(text))
    assert token.start_pos is not None
    return bad_token(text, token, _lex(text[: token.start_pos]), _lex)


def _lex(text: str) -> list[Token]:
    """The tokens of `text`, up to the first one that does not lex."""
    from lark.exceptions import LarkError

    tokens: list[Token] = []
    with contextlib.suppress(LarkError):
        tokens.extend(_parser().lex(text))
    return tokens


def _check_bare_tests(expr: Expr, text: str) -> None:
    """Reject `x is defined in y`: Jinja would read `in` as the test's argument."""
    for node in walk(expr):
        if not isinstance(node, Test) or node.args or text[node.end - 1] == ")":
            continue
        match = _AFTER_BARE_TEST.match(text, node.end)
        if match is None:
            continue
        word = match.group(1)
        subject = text[node.start : node.end]
        message = f"'{word}' cannot follow '{subject}' directly"
        hint = f"write ({subject}) {word} ..."
        raise ExprSyntaxError(message, match.start(1), hint)


def _check_depth(expr: Expr) -> None:
    if depth(expr) > MAX_DEPTH:
        message = f"the expression nests more than {MAX_DEPTH} levels deep"
        raise ExprSyntaxError(message, expr.start, "split it into simpler conditions")


def grammar_text() -> str:
    """The text of grammar/expr.lark, read as package data."""
    from importlib import resources  # imported here: it costs start-up time

    return resources.files("llm_mux.grammar").joinpath("expr.lark").read_text(encoding="utf-8")


def grammar_digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@functools.cache
def _parser() -> Lark:
    import lark

    from . import _tables
    from .build import AstBuilder

    grammar = grammar_text()
    fresh = grammar_digest(grammar) == _tables.GRAMMAR_SHA256
    if fresh and lark.__version__ == _tables.LARK_VERSION:
        try:
            packed = base64.b64decode(_tables.TABLES)  # b64: decoded in C, b85 is not
            data, memo = marshal.loads(zlib.decompress(packed))
            loaded: Lark = lark.Lark._load_from_dict(  # type: ignore[no-untyped-call]
                data, memo, transformer=AstBuilder()
            )
            return loaded
        except Exception:  # any failure to load means: rebuild from the grammar
            pass
    return build_parser(grammar, AstBuilder())


def build_parser(grammar: str, transformer: object | None = None) -> Lark:
    """Build the LALR parser from grammar text (the slow path, and the table generator)."""
    import lark

    return lark.Lark(grammar, parser="lalr", lexer="basic", transformer=transformer)


def tables_source() -> str:
    """The Python source of `_tables.py` for the current grammar and Lark version."""
    import lark
    from lark.grammar import Rule
    from lark.lexer import TerminalDef

    grammar = grammar_text()
    data, memo = build_parser(grammar).memo_serialize([TerminalDef, Rule])
    text = base64.b64encode(zlib.compress(marshal.dumps((data, memo)), 9)).decode("ascii")
    chunks = "".join(f'    "{text[i : i + 92]}"\n' for i in range(0, len(text), 92))
    return (
        '"""Precomputed LALR tables for grammar/expr.lark. Generated: do not edit.\n\n'
        "Regenerate: LLM_MUX_REGENERATE=1 pytest tests/compiler/test_expr_tables.py\n"
        '"""\n\n'
        f'GRAMMAR_SHA256 = "{grammar_digest(grammar)}"\n'
        f'LARK_VERSION = "{lark.__version__}"\n'
        f"TABLES = (\n{chunks})\n"
    )
