"""The review's filters, for workflows (`llm_mux/workflows/review.toml`):

- `answers | review_merge(reviewers)`: the reviewers' JSON answers (a parallel query
  step's `json`, in role order) merged into one list of findings, with ids and who
  raised each (`findings.merge_findings`);
- `merged | review_reconcile(answer)`: the reconciler's answer applied, never losing a
  quorum's finding silently (`reconcile.reconcile`);
- `review | review_format(fmt)`: the result as markdown, json, sarif or github;
- `review | review_count(severity)`: how many findings are that severe or worse.

Input and output are plain JSON values, so a step can print one as JSON and the next
hand its output (the JSON text) to the next filter.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

import msgspec

from .findings import Merged, merge_findings
from .reconcile import Review, reconcile
from .review_formats import FORMATS, at_least, render_review

__all__ = ["review_count", "review_format", "review_merge", "review_reconcile"]

T = TypeVar("T")


def review_merge(answers: object, reviewers: object) -> dict[str, object]:
    if answers is None:
        answers = []
    if not isinstance(answers, Sequence) or isinstance(answers, str):
        raise ValueError("review_merge expects the list of the reviewers' JSON answers")
    names = [str(name) for name in reviewers] if isinstance(reviewers, Sequence) else []
    return _plain(merge_findings(list(answers), names))


def review_reconcile(merged: object, answer: object) -> dict[str, object]:
    value = _read(merged, Merged, "review_merge")
    return _plain(reconcile(value, answer))


def review_format(review: object, fmt: str = "markdown") -> str:
    if fmt not in FORMATS:
        raise ValueError(f"review_format: {fmt!r} is not one of {', '.join(FORMATS)}")
    return render_review(_read(review, Review, "review_reconcile"), fmt)


def review_count(review: object, severity: str) -> int:
    return at_least(_read(review, Review, "review_reconcile"), severity)


def _read(value: object, cls: type[T], made_by: str) -> T:
    """What `made_by` returned, as a value or as the JSON text a step printed it as."""
    try:
        if isinstance(value, str):
            return msgspec.json.decode(value, type=cls)
        return msgspec.convert(value, cls)
    except (msgspec.ValidationError, msgspec.DecodeError) as error:
        raise ValueError(f"expected what {made_by} returns: {error}") from None


def _plain(value: msgspec.Struct) -> dict[str, object]:
    plain: dict[str, object] = msgspec.to_builtins(value)
    return plain
