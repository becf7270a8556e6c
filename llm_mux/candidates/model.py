"""One candidate of a best-of-N apply step, as it is tried and as results show it.

Input: a backend's answer to the source query. Output: a `Candidate` that the
contest fills in as it goes (status, attempts, metric) and `candidate_json`,
its entry in `details.candidates` (`--output json`, the ledger, `runs show`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..edits import Change, render_diff
from ..steps.apply import attempt_json, files_json
from ..steps.attempts import Attempts, Tried

__all__ = ["Candidate", "CandidateStatus", "candidate_json"]

# waiting → running → passed | failed | cancelled; the chosen one ends `won`.
# `skipped`: never started (another passed first); `preview`: only shown (--preview).
CandidateStatus = Literal[
    "waiting", "running", "passed", "failed", "cancelled", "skipped", "won", "preview"
]


@dataclass(slots=True)
class Candidate:
    number: int  # 1-based place in role order: ties go to the smaller
    backend: str
    answer: str | None  # None: the backend did not answer the source query
    status: CandidateStatus = "waiting"
    error: str | None = None
    attempts: Attempts | None = None
    metric: float | None = None
    metric_output: str | None = None
    duration_ms: int = 0
    previewed: tuple[Change, ...] | None = None  # --preview: checked, never written

    @property
    def changes(self) -> tuple[Change, ...]:
        if self.previewed is not None:
            return self.previewed
        last = self.last
        return last.changes if last is not None else ()

    @property
    def tried(self) -> list[Tried]:
        return self.attempts.tried if self.attempts is not None else []

    @property
    def last(self) -> Tried | None:
        return self.tried[-1] if self.tried else None


def candidate_json(candidate: Candidate) -> dict[str, object]:
    last = candidate.last
    changes = candidate.changes
    return {
        "candidate": candidate.number,
        "backend": candidate.backend,
        "status": candidate.status,
        "error": candidate.error,
        **files_json(changes),
        "diff": render_diff(changes),
        "verify_output": last.verify_output if last is not None else None,
        "exit_code": last.exit_code if last is not None else None,
        "metric": candidate.metric,
        "metric_output": candidate.metric_output,
        "attempts": [attempt_json(t) for t in candidate.tried],
        "duration_ms": candidate.duration_ms,
    }
