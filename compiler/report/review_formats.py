"""The reconciled review in the formats CI reads: Markdown (the console default), JSON,
SARIF 2.1.0 and GitHub annotations; and the count of findings at or above a severity,
for `fail_on`.

Input: a `Review`. Output: text. Severities map to SARIF levels and annotation levels as
critical, high → error; medium → warning; low → note (a notice on GitHub).
"""

from __future__ import annotations

import hashlib
import json
from importlib.metadata import version
from typing import Literal

import msgspec

from .annotations import Annotation, render_annotations
from .findings import SEVERITIES, Finding
from .reconcile import Review
from .sarif import SarifResult, SarifRule, sarif_log

__all__ = ["FORMATS", "at_least", "render_review"]

Format = Literal["markdown", "json", "sarif", "github"]
FORMATS: tuple[Format, ...] = ("markdown", "json", "sarif", "github")
_LEVEL = {"critical": "error", "high": "error", "medium": "warning", "low": "note"}


def render_review(review: Review, fmt: Format) -> str:
    if fmt == "json":
        return json.dumps(review_json(review), indent=2, ensure_ascii=False)
    if fmt == "sarif":
        return json.dumps(review_sarif(review), indent=2, ensure_ascii=False)
    if fmt == "github":
        return render_annotations(_annotation(review, f) for f in review.findings).rstrip("\n")
    return review_markdown(review)


def at_least(review: Review, severity: str) -> int:
    """How many findings are `severity` or graver ("none": zero)."""
    if severity not in SEVERITIES:
        return 0
    bar = SEVERITIES.index(severity)
    return sum(SEVERITIES.index(f.severity) <= bar for f in review.findings)


# -- JSON ----------------------------------------------------------------------------
def review_json(review: Review) -> dict[str, object]:
    def one(finding: Finding) -> dict[str, object]:
        shown: dict[str, object] = msgspec.to_builtins(finding)
        shown["agreement"] = review.agreement(finding)
        return shown

    return {
        "reviewers": list(review.reviewers),
        "findings": [one(f) for f in review.findings],
        "dropped": [{"finding": one(d.finding), "reason": d.reason} for d in review.dropped],
        "verdict": review.verdict,
        "counts": {s: sum(f.severity == s for f in review.findings) for s in SEVERITIES},
    }


# -- Markdown ------------------------------------------------------------------------
def review_markdown(review: Review) -> str:
    lines = [f"## Review: {_summary(review)}", ""]
    for number, finding in enumerate(review.findings, 1):
        lines += _markdown_finding(review, number, finding)
    if review.dropped:
        lines += ["### Dropped by the reconciler", ""]
        for item in review.dropped:
            where = _where(item.finding)
            agreement = review.agreement(item.finding)
            lines.append(f"- {item.finding.title} (`{where}`, {agreement}): {item.reason}")
        lines.append("")
    if review.verdict:
        lines += [f"**Verdict:** {review.verdict}", ""]
    return "\n".join(lines).rstrip("\n")


def _summary(review: Review) -> str:
    count = len(review.findings)
    noun = "finding" if count == 1 else "findings"
    by = [f"{n} {s}" for s in SEVERITIES if (n := sum(f.severity == s for f in review.findings))]
    reviewers = f"{len(review.reviewers)} reviewer" + ("" if len(review.reviewers) == 1 else "s")
    detail = f" ({', '.join(by)})" if by else ""
    return f"{count} {noun}{detail} from {reviewers}"


def _markdown_finding(review: Review, number: int, finding: Finding) -> list[str]:
    who = ", ".join(finding.raised_by)
    head = f"{number}. **{finding.severity}** `{_where(finding)}` — {finding.title}"
    lines = [f"{head} ({review.agreement(finding)}: {who})"]
    if finding.explanation:
        lines.append(f"   {finding.explanation}")
    if finding.suggested_fix:
        lines.append(f"   Fix: {finding.suggested_fix}")
    if finding.note:
        lines.append(f"   _{finding.note}_")
    return [*lines, ""]


def _where(finding: Finding) -> str:
    lines = (
        f"{finding.line}"
        if finding.end_line == finding.line
        else (f"{finding.line}-{finding.end_line}")
    )
    return f"{finding.file}:{lines}"


# -- SARIF and annotations -----------------------------------------------------------
def review_sarif(review: Review) -> dict[str, object]:
    rules = [_rule(severity) for severity in SEVERITIES]
    results = [_result(review, f) for f in review.findings]
    return sarif_log("llm-mux review", version("llm-mux"), rules, results)


def _rule(severity: str) -> SarifRule:
    text = f"A {severity}-risk problem the model reviewers found in the change"
    return SarifRule(
        id=f"review/{severity}",
        short=text,
        help_text=f"{text}. Read the explanation and the suggested fix; the result says "
        "which reviewers raised it.",
        help_markdown=f"{text}.\n\nEach result names the reviewers that raised it "
        "(`k of n`) and carries their explanation and suggested fix.",
        level=_LEVEL[severity],  # type: ignore[arg-type]
    )


def _result(review: Review, finding: Finding) -> SarifResult:
    return SarifResult(
        rule_id=f"review/{finding.severity}",
        level=_LEVEL[finding.severity],  # type: ignore[arg-type]
        message=_message(review, finding),
        path=finding.file,
        line=finding.line,
        end_line=finding.end_line,
        properties={
            "severity": finding.severity,
            "raisedBy": list(finding.raised_by),
            "agreement": review.agreement(finding),
        },
        fingerprint=_fingerprint(finding),
    )


def _message(review: Review, finding: Finding) -> str:
    parts = [f"{finding.title} ({review.agreement(finding)}: {', '.join(finding.raised_by)})"]
    parts += [p for p in (finding.explanation, _fix(finding), finding.note) if p]
    return "\n".join(parts)


def _fix(finding: Finding) -> str:
    return f"Fix: {finding.suggested_fix}" if finding.suggested_fix else ""


def _fingerprint(finding: Finding) -> str:
    """Stable across runs while the file and the title stay (lines move)."""
    text = f"{finding.file}\0{finding.title.lower()}"
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _annotation(review: Review, finding: Finding) -> Annotation:
    level = {"error": "error", "warning": "warning", "note": "notice"}[_LEVEL[finding.severity]]
    return Annotation(
        level=level,  # type: ignore[arg-type]
        file=finding.file,
        line=finding.line,
        end_line=finding.end_line,
        title=f"{finding.severity}: {finding.title} ({review.agreement(finding)})",
        message="\n".join(p for p in (finding.explanation, _fix(finding), finding.note) if p),
    )
