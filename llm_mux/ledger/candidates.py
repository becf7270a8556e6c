"""Best-of-N candidates in the ledger: one row each, and each one's diff as a file.

Input: an apply step's result whose `details.candidates` lists its candidates
(`llm_mux.candidates`). Output: rows for the ledger's `candidates` table
(version 3) and, under the run's directory, `<step>.candidates/<n>-<backend>.diff`
— every candidate's diff, the losing ones included, kept for inspection (the
winner's is also in the step's own diff). Text passes through the run's
redactor before it is written.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path

from ..running.results import StepResult

__all__ = ["candidate_rows", "diff_path"]

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def diff_path(run_dir: Path, step: str, number: int, backend: str) -> Path:
    return run_dir / f"{step}.candidates" / f"{number}-{_UNSAFE.sub('_', backend)}.diff"


def candidates_of(result: StepResult) -> list[Mapping[str, object]]:
    found = result.details.get("candidates")
    if result.type != "apply" or not isinstance(found, list):
        return []
    return [c for c in found if isinstance(c, Mapping)]


def candidate_rows(
    result: StepResult,
    run_id: str,
    run_dir: Path | None,
    redact: Callable[[str], str],
    write: Callable[[Path, str], None],
) -> list[dict[str, object]]:
    """The rows of `result`'s candidates; their diffs written with `write` (under
    `run_dir`, unless it is None: outputs are not being saved)."""
    rows: list[dict[str, object]] = []
    for candidate in candidates_of(result):
        number = _int(candidate.get("candidate")) or len(rows) + 1
        backend = str(candidate.get("backend"))
        diff = str(candidate.get("diff") or "")
        path = diff_path(run_dir, result.name, number, backend) if run_dir and diff else None
        if path is not None:
            path.parent.mkdir(mode=0o700, exist_ok=True)
            write(path, redact(diff))
        rows.append(_row(candidate, run_id, result.name, number, backend, path, redact))
    return rows


def _row(
    candidate: Mapping[str, object],
    run_id: str,
    step: str,
    number: int,
    backend: str,
    path: Path | None,
    redact: Callable[[str], str],
) -> dict[str, object]:
    metric = candidate.get("metric")
    error = candidate.get("error")
    attempts = candidate.get("attempts")
    return {
        "run_id": run_id,
        "step": step,
        "candidate": number,
        "backend": backend,
        "status": str(candidate.get("status")),
        "metric": metric if isinstance(metric, int | float) else None,
        "exit_code": _int(candidate.get("exit_code")),
        "attempts": len(attempts) if isinstance(attempts, list) else None,
        "duration_ms": _int(candidate.get("duration_ms")),
        "error": redact(str(error)) if error else None,
        "verify_output": redact(str(verify))
        if (verify := candidate.get("verify_output"))
        else None,
        "diff_file": str(path) if path else None,
    }


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
