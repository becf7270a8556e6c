"""The run ledger: every run, its steps and backend calls, in SQLite.

Input: runs as they happen (`recorder`: an observer plus start/finish hooks).
Output: `$XDG_STATE_HOME/llm-mux/runs.db` (mode 0600, WAL; tables in
`schema`), one output file per step under `runs/<run_id>/`, and what
`llm-mux runs list | show` print (`reads`, `commands`). Secrets are redacted
before anything is written (`llm_mux.redact`).
"""

from __future__ import annotations

from .recorder import RunMeta, RunRecorder, abort_run, finish_run, recording
from .schema import ledger_path, run_directory

__all__ = [
    "RunMeta",
    "RunRecorder",
    "abort_run",
    "finish_run",
    "ledger_path",
    "recording",
    "run_directory",
]
