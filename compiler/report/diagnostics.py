"""`validate --format github|sarif`: diagnostics as annotations and as SARIF.

Input: sorted diagnostics. Output: GitHub annotations (title = the code) or one SARIF
log whose rules are every diagnostic code, with its meaning, a failing example and the
fix from the diagnostics table (`compiler/explanations.py`).
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib.metadata import version

from ..diagnostics import CODES, Diagnostic
from ..explanations import EXPLANATIONS
from .annotations import Annotation, render_annotations
from .sarif import SarifResult, SarifRule, sarif_log

__all__ = ["diagnostics_annotations", "diagnostics_sarif", "rules"]


def diagnostics_annotations(diagnostics: Sequence[Diagnostic]) -> str:
    return render_annotations(_annotation(d) for d in diagnostics)


def _annotation(diagnostic: Diagnostic) -> Annotation:
    where = diagnostic.location
    return Annotation(
        level="error" if diagnostic.severity == "error" else "warning",
        file=where.path,
        line=where.line,
        column=where.column,
        title=diagnostic.code,
        message=_message(diagnostic),
    )


def _message(diagnostic: Diagnostic) -> str:
    hint = f"\nhint: {diagnostic.hint}" if diagnostic.hint else ""
    return diagnostic.message + hint


def diagnostics_sarif(diagnostics: Sequence[Diagnostic]) -> dict[str, object]:
    results = [_result(d) for d in diagnostics]
    return sarif_log("llm-mux", version("llm-mux"), rules(), results)


def _result(diagnostic: Diagnostic) -> SarifResult:
    where = diagnostic.location
    return SarifResult(
        rule_id=diagnostic.code,
        level="error" if diagnostic.severity == "error" else "warning",
        message=_message(diagnostic),
        path=where.path,
        line=where.line,
        column=where.column,
    )


def rules() -> list[SarifRule]:
    """Every diagnostic code, in code order, with its help from the diagnostics table."""
    return [_rule(code) for code in sorted(CODES, key=lambda c: (int(c[1:]), c))]


def _rule(code: str) -> SarifRule:
    explanation = EXPLANATIONS[code]
    meaning = CODES[code][0].upper() + CODES[code][1:]
    example = explanation.example if explanation.encoding == "utf-8" else ""
    shown = f"\n\nExample:\n\n```toml\n{example}```" if example else ""
    return SarifRule(
        id=code,
        short=meaning,
        help_text=f"{meaning}. Fix: {explanation.fix}",
        help_markdown=f"{meaning}.{shown}\n\n**Fix:** {explanation.fix}\n\n"
        f"`llm-mux validate --explain {code}` says more.",
        level="error" if code.startswith("E") else "warning",
    )
