"""The reconciler's answer applied to the merged findings, under one rule: it ranks
and words findings, and drops some, but a finding raised by a quorum (more than half
of the reviewers) is never dropped without a reason given.

Input: `Merged` findings and the reconciling backend's answer in `RECONCILED_SCHEMA`
(the ids it keeps, in rank order, each optionally re-worded or re-graded; the ids it
drops, each with a reason; a verdict). Output: `Review` — the findings in the final
order, the dropped ones with their reasons, and the verdict. A quorum finding the
reconciler left out without a word is put back, last, with a note saying so (any other
is listed as dropped, "without a reason"); with no
usable answer (the step failed or was skipped) every merged finding stays, in the
merge's order.
"""

from __future__ import annotations

from collections.abc import Mapping

import msgspec

from .findings import SEVERITIES, Finding, Merged

__all__ = ["RECONCILED_SCHEMA", "Dropped", "Review", "reconcile"]

RECONCILED_SCHEMA: dict[str, object] = {
    "type": "object",
    "required": ["findings", "dropped", "verdict"],
    "properties": {
        "findings": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["id"],
                "properties": {
                    "id": {"type": "string"},
                    "severity": {"enum": list(SEVERITIES)},
                    "title": {"type": "string"},
                    "explanation": {"type": "string"},
                    "suggested_fix": {"type": "string"},
                },
            },
        },
        "dropped": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["id", "reason"],
                "properties": {"id": {"type": "string"}, "reason": {"type": "string"}},
            },
        },
        "verdict": {"type": "string"},
    },
}

_WORDING = ("severity", "title", "explanation", "suggested_fix")
RESTORED = "kept: raised by {agreement} reviewers, and the reconciler dropped it without a reason"
LEFT_OUT = "left out by the reconciler, without a reason"


class Dropped(msgspec.Struct, frozen=True, kw_only=True):
    finding: Finding
    reason: str


class Review(msgspec.Struct, frozen=True, kw_only=True):
    reviewers: tuple[str, ...]
    findings: tuple[Finding, ...]
    dropped: tuple[Dropped, ...] = ()
    verdict: str = ""

    def agreement(self, finding: Finding) -> str:
        return f"{len(finding.raised_by)} of {len(self.reviewers)}"


def reconcile(merged: Merged, answer: object) -> Review:
    if not isinstance(answer, Mapping) or not isinstance(answer.get("findings"), list):
        return Review(reviewers=merged.reviewers, findings=merged.findings)
    by_id = {f.id: f for f in merged.findings}
    kept = _kept(answer, by_id)
    dropped = _dropped(answer, by_id, kept)
    said = {f.id for f in kept} | {d.finding.id for d in dropped}
    unsaid = [f for f in merged.findings if f.id not in said]
    restored = [_restored(merged, f) for f in unsaid if merged.is_quorum(f)]
    dropped += [Dropped(finding=f, reason=LEFT_OUT) for f in unsaid if not merged.is_quorum(f)]
    verdict = answer.get("verdict")
    return Review(
        reviewers=merged.reviewers,
        findings=tuple(kept + restored),
        dropped=tuple(dropped),
        verdict=verdict.strip() if isinstance(verdict, str) else "",
    )


def _kept(answer: Mapping[str, object], by_id: Mapping[str, Finding]) -> list[Finding]:
    kept: list[Finding] = []
    items = answer.get("findings")
    for item in items if isinstance(items, list) else []:
        finding = by_id.get(str(item.get("id"))) if isinstance(item, Mapping) else None
        if finding is not None and all(finding.id != k.id for k in kept):
            kept.append(_reworded(finding, item))
    return kept


def _reworded(finding: Finding, item: Mapping[str, object]) -> Finding:
    """The reconciler's words where it gave some; where, who and the id stay."""
    words = {k: item.get(k) for k in _WORDING}
    changes = {k: v.strip() for k, v in words.items() if isinstance(v, str) and v.strip()}
    if changes.get("severity") not in SEVERITIES:
        changes.pop("severity", None)
    return msgspec.structs.replace(finding, **changes)


def _dropped(
    answer: Mapping[str, object], by_id: Mapping[str, Finding], kept: list[Finding]
) -> list[Dropped]:
    kept_ids = {f.id for f in kept}
    found: dict[str, Dropped] = {}
    items = answer.get("dropped")
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, Mapping):
            continue
        finding, reason = by_id.get(str(item.get("id"))), item.get("reason")
        if finding is None or finding.id in kept_ids or finding.id in found:
            continue
        if isinstance(reason, str) and reason.strip():
            found[finding.id] = Dropped(finding=finding, reason=reason.strip())
    return list(found.values())


def _restored(merged: Merged, finding: Finding) -> Finding:
    """A quorum's finding the reconciler said nothing about: back, with a note."""
    note = RESTORED.format(agreement=merged.agreement(finding))
    return msgspec.structs.replace(finding, note=note)
