"""docs/diagnostics.md: every code of the diagnostics table, with an example that really
fails with it, the message the compiler prints for it and the fix.

The page is generated from compiler/explanations.py. After adding a code or changing a
message, regenerate it with

    UPDATE_DOCS=1 python -m pytest tests/docs

and read `git diff docs/diagnostics.md` before committing.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from llm_mux.compiler.diagnostics import CODES
from llm_mux.compiler.explanations import EXPLANATIONS, diagnose, page

REPO = Path(__file__).resolve().parents[2]
PAGE = REPO / "docs" / "diagnostics.md"
UPDATE = os.environ.get("UPDATE_DOCS") == "1"

HOW_TO_ADD = """\
Every code in CODES (compiler/diagnostics.py) needs an entry in EXPLANATIONS
(compiler/explanations.py), so that docs/diagnostics.md and `llm-mux validate --explain`
document it. Add, for each code missing:

    "{code}": Explanation(
        example=<a small workflow (TOML text) that makes the compiler report {code} and
                 nothing else, checked against EXAMPLE_CONFIG>,
        fix=<what the user should change, in a sentence or two>,
    ),

then regenerate the page: UPDATE_DOCS=1 python -m pytest tests/docs"""


def test_every_code_is_explained() -> None:
    missing = sorted(set(CODES) - set(EXPLANATIONS))
    assert not missing, f"codes without an explanation: {missing}\n" + HOW_TO_ADD.format(
        code=missing[0] if missing else "CODE"
    )
    stale = sorted(set(EXPLANATIONS) - set(CODES))
    assert not stale, f"explanations of codes that CODES no longer has: {stale}"


@pytest.mark.parametrize("code", sorted(EXPLANATIONS))
def test_the_example_fails_with_its_code_and_nothing_else(code: str) -> None:
    reported = [d.code for d in diagnose(code)]
    assert reported and set(reported) == {code}, (
        f"the example of {code} in compiler/explanations.py makes the compiler report "
        f"{reported or 'nothing'}: change it so that it reports {code} alone"
    )


def test_every_fix_is_a_sentence() -> None:
    for code, explanation in EXPLANATIONS.items():
        assert explanation.fix[:1].isupper() and explanation.fix.endswith("."), code


def test_the_page_is_up_to_date() -> None:
    if UPDATE:
        PAGE.write_text(page(), encoding="utf-8")
    assert PAGE.read_text(encoding="utf-8") == page(), (
        "docs/diagnostics.md is out of date: UPDATE_DOCS=1 python -m pytest tests/docs, "
        "then read git diff docs/diagnostics.md"
    )


def test_explain_prints_the_entry_of_one_code(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("validate", "--explain", "e303")
    assert result.code == 0 and result.err == ""
    assert result.out.startswith("E303: reference to a step that does not exist (error)\n")
    assert "steps.dif, but no step is named 'dif' [E303]" in result.out
    assert "Fix: Refer to a step that exists" in result.out
    assert result.out == cli("validate", "--explain", "E303").out


def test_explain_an_unknown_code_is_a_usage_error(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("validate", "--explain", "E3O3")
    assert result.code == 2 and result.out == ""
    assert "no diagnostic code 'E3O3'" in result.err and "E303" in result.err
