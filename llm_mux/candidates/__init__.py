"""Best of N: each backend's edits tried in a workspace of its own, the winner applied.

Input: an apply step with `candidates = "each"` and its source query's answers.
Output: the step's result. The stages, one module each: `workspaces` (a git
worktree of a snapshot of the user's tree, or a copy, per candidate; stale ones
of crashed runs removed), `git` (the snapshot commit and worktree commands),
`model` (a candidate and its JSON), `ranking` (the winner by metric, pure) and
`contest` (trying candidates in parallel, re-asking each, applying the winner).
"""

from __future__ import annotations

from .contest import run_candidates
from .model import Candidate, candidate_json
from .ranking import best, read_metric
from .workspaces import Workspaces, remove_stale

__all__ = [
    "Candidate",
    "Workspaces",
    "best",
    "candidate_json",
    "read_metric",
    "remove_stale",
    "run_candidates",
]
