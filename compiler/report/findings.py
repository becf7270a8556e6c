"""Review findings as data, and their deterministic merge across reviewers.

Input: each reviewer's answer in the fixed JSON shape (`FINDINGS_SCHEMA`: a list of
findings with file, line, severity, title, explanation and suggested fix), in role order.
Output: `Merged` — one finding per problem, each carrying the reviewers that raised it
("2 of 3"). Two findings are the same problem when they name the same file, their line
ranges overlap (within `LINE_SLACK` lines: reviewers cite neighbouring lines of one
hunk), and their titles are similar (`similar_titles`). The merge depends only on its
input: the same answers always give the same findings, ids and order.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping, Sequence
from typing import Literal

import msgspec

__all__ = [
    "FINDINGS_SCHEMA",
    "LINE_SLACK",
    "SEVERITIES",
    "Finding",
    "Merged",
    "merge_findings",
    "read_findings",
    "similar_titles",
]

Severity = Literal["critical", "high", "medium", "low"]
SEVERITIES: tuple[Severity, ...] = ("critical", "high", "medium", "low")
LINE_SLACK = 3

FINDINGS_SCHEMA: dict[str, object] = {
    "type": "object",
    "required": ["findings"],
    "properties": {
        "findings": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["file", "line", "severity", "title", "explanation"],
                "properties": {
                    "file": {"type": "string", "minLength": 1},
                    "line": {"type": "integer", "minimum": 1},
                    "end_line": {"type": "integer", "minimum": 1},
                    "severity": {"enum": list(SEVERITIES)},
                    "title": {"type": "string", "minLength": 1},
                    "explanation": {"type": "string"},
                    "suggested_fix": {"type": "string"},
                },
            },
        }
    },
}


class Finding(msgspec.Struct, frozen=True, kw_only=True):
    """One problem: where, how bad, what, why, the fix, and who raised it."""

    id: str
    file: str
    line: int
    end_line: int
    severity: Severity
    title: str
    explanation: str
    suggested_fix: str = ""
    raised_by: tuple[str, ...] = ()
    note: str = ""  # what llm-mux itself says about it (restored, re-worded…)


class Merged(msgspec.Struct, frozen=True, kw_only=True):
    reviewers: tuple[str, ...]  # every reviewer that answered, in role order
    findings: tuple[Finding, ...]

    def agreement(self, finding: Finding) -> str:
        return f"{len(finding.raised_by)} of {len(self.reviewers)}"

    def is_quorum(self, finding: Finding) -> bool:
        """Raised by more than half of the reviewers."""
        return 2 * len(finding.raised_by) > len(self.reviewers)


def read_findings(answer: object, reviewer: str) -> list[Finding]:
    """A reviewer's answer (already checked against FINDINGS_SCHEMA by its query step)
    as findings; anything that is not a well-formed finding is left out."""
    items = answer.get("findings") if isinstance(answer, Mapping) else None
    if not isinstance(items, list):
        return []
    found = [_finding(item, reviewer) for item in items if isinstance(item, Mapping)]
    return [f for f in found if f is not None]


def _finding(item: Mapping[str, object], reviewer: str) -> Finding | None:
    file, line, severity = item.get("file"), item.get("line"), item.get("severity")
    title = item.get("title")
    if not (isinstance(file, str) and file and isinstance(title, str) and title.strip()):
        return None
    if not isinstance(line, int) or isinstance(line, bool) or severity not in SEVERITIES:
        return None
    end = item.get("end_line")
    end_line = end if isinstance(end, int) and not isinstance(end, bool) else line
    return Finding(
        id="",
        file=_clean_path(file),
        line=max(line, 1),
        end_line=max(end_line, line, 1),
        severity=severity,
        title=title.strip(),
        explanation=_text(item.get("explanation")),
        suggested_fix=_text(item.get("suggested_fix")),
        raised_by=(reviewer,),
    )


def _text(value: object) -> str:
    return value.strip() if isinstance(value, str) else ""


def _clean_path(path: str) -> str:
    """`b/src/x.py` (from a diff's +++ line) and `./src/x.py` name `src/x.py`."""
    path = path.strip()
    for prefix in ("a/", "b/", "./"):
        if path.startswith(prefix):
            return path[len(prefix) :]
    return path


def merge_findings(answers: Sequence[object], reviewers: Sequence[str]) -> Merged:
    """Every reviewer's findings (answers in role order), one per problem."""
    clusters: list[list[Finding]] = []
    for answer, reviewer in zip(answers, reviewers, strict=False):
        for finding in read_findings(answer, reviewer):
            home = next((c for c in clusters if _joins(finding, c)), None)
            if home is None:
                clusters.append([finding])
            else:
                home.append(finding)
    merged = sorted((_combine(c) for c in clusters), key=_order)
    numbered = tuple(msgspec.structs.replace(f, id=f"F{i}") for i, f in enumerate(merged, 1))
    return Merged(reviewers=tuple(reviewers), findings=numbered)


def _joins(finding: Finding, cluster: list[Finding]) -> bool:
    """Same problem as the cluster's, and from a reviewer not already in it."""
    first = cluster[0]
    return (
        all(finding.raised_by[0] not in member.raised_by for member in cluster)
        and finding.file == first.file
        and finding.line <= max(m.end_line for m in cluster) + LINE_SLACK
        and min(m.line for m in cluster) <= finding.end_line + LINE_SLACK
        and similar_titles(finding.title, first.title)
    )


def _combine(cluster: list[Finding]) -> Finding:
    """The first reviewer's words, the gravest severity, the lines all of them cite."""
    first = cluster[0]
    severity = min((m.severity for m in cluster), key=SEVERITIES.index)
    fix = next((m.suggested_fix for m in cluster if m.suggested_fix), "")
    return msgspec.structs.replace(
        first,
        line=min(m.line for m in cluster),
        end_line=max(m.end_line for m in cluster),
        severity=severity,
        suggested_fix=fix,
        raised_by=tuple(m.raised_by[0] for m in cluster),
    )


def _order(finding: Finding) -> tuple[int, int, str, int, str]:
    """Gravest first, then most agreed, then by place: a stable, total order."""
    severity = SEVERITIES.index(finding.severity)
    return (severity, -len(finding.raised_by), finding.file, finding.line, finding.title)


_WORD = re.compile(r"[a-z0-9_]+")
_STOP = frozenset(
    {"a", "an", "the", "of", "in", "on", "at", "to", "is", "are", "be", "for", "and", "or"}
    | {"with", "without", "when", "not"}
)


def similar_titles(a: str, b: str) -> bool:
    """Titles of one problem: half their words shared, or nearly the same text."""
    words_a, words_b = _words(a), _words(b)
    if words_a and words_b:
        shared = len(words_a & words_b) / min(len(words_a), len(words_b))
        if shared >= 0.5:
            return True
    return difflib.SequenceMatcher(None, a.lower(), b.lower()).ratio() >= 0.6


def _words(title: str) -> set[str]:
    return {w for w in _WORD.findall(title.lower()) if w not in _STOP}
