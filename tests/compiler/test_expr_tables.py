"""The precomputed parser tables match grammar/expr.lark.

Run with LLM_MUX_REGENERATE=1 to rewrite compiler/expr/_tables.py after editing the grammar.
"""

from __future__ import annotations

import os
from pathlib import Path

import lark

from llm_mux.compiler.expr import _tables, parse
from llm_mux.compiler.expr.build import AstBuilder

TABLES = Path(parse.__file__).with_name("_tables.py")


def test_tables_are_for_this_grammar_and_lark() -> None:
    # Lark's serialisation is not byte-for-byte reproducible (set order), so the tables
    # are checked by the grammar digest and Lark version they were made from.
    if os.environ.get("LLM_MUX_REGENERATE") == "1":
        TABLES.write_text(parse.tables_source(), encoding="utf-8")
        return
    digest = parse.grammar_digest(parse.grammar_text())
    assert (digest, lark.__version__) == (_tables.GRAMMAR_SHA256, _tables.LARK_VERSION), (
        "grammar/expr.lark or Lark changed: regenerate compiler/expr/_tables.py with "
        "LLM_MUX_REGENERATE=1 pytest tests/compiler/test_expr_tables.py"
    )


def test_loaded_parser_parses_like_a_freshly_built_one() -> None:
    fresh = parse.build_parser(parse.grammar_text(), AstBuilder())
    text = "not steps.a.output | lines | length > 2 and x is not in([1, 'b'], c.d[0])"
    assert fresh.parse(text) == parse.parse_expression(text)
