"""The run ledger's tables, as migrations (`llm_mux.database.Schema`).

Input: nothing. Output: `LEDGER_SCHEMA`, `ledger_path` and `run_directory`.

- `runs`: one row per run, written when it starts (`status` = `running`) and
  completed when it ends: `succeeded`, `failed` or `cancelled`. `args` is JSON.
- `steps`: one row per step of the plan, in declaration order (`position`):
  status, rendered `inputs` (JSON: `prompt`, `run`, `input`, …), `output`
  (the first `OUTPUT_LIMIT` characters; the whole output is the step's file,
  `output_file`, under the run's directory), error, times, attempts, tokens.
- `calls`: one row per backend called by a query step (per for_each item, with
  `item` its index): backend, model, ok, attempts, tokens, cost, duration, error.
- `placements` (version 6): on a cluster, the worker that ran each shell
  command and CLI backend call of a step (per for_each item).
- resuming (version 2): `runs.resumed_from` links a resumed run to the one it
  resumed, `runs.invocation` says how to start the run again, `steps.result`
  holds what a later resume needs to reuse the step, `steps.reused_from` marks
  a step that was reused rather than run.
- `candidates` (version 3): one row per candidate of a best-of-N apply step —
  backend, status, metric, exit code, attempts, error, verify output and
  `diff_file`, its diff under the run's directory.

Nothing here holds a header or an API key, and the recorder redacts secret
environment values from every text before it is written.
"""

from __future__ import annotations

from pathlib import Path

from ..database import Schema

__all__ = ["LEDGER_SCHEMA", "OUTPUT_LIMIT", "ledger_path", "run_directory"]

OUTPUT_LIMIT = 1 << 20  # characters of a step's output kept in the database itself

_V1 = (
    """
    CREATE TABLE runs (
        id TEXT PRIMARY KEY,
        workflow TEXT NOT NULL,
        path TEXT,
        project_root TEXT,
        args TEXT NOT NULL DEFAULT '{}',
        team TEXT,
        ecosystem TEXT,
        status TEXT NOT NULL,
        started_at TEXT NOT NULL,
        finished_at TEXT,
        duration_ms INTEGER,
        error TEXT,
        output_step TEXT,
        prompt_tokens INTEGER,
        completion_tokens INTEGER,
        total_tokens INTEGER,
        cost REAL
    )
    """,
    "CREATE INDEX runs_started ON runs (started_at)",
    """
    CREATE TABLE steps (
        run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        position INTEGER NOT NULL,
        type TEXT NOT NULL,
        status TEXT NOT NULL,
        inputs TEXT,
        output TEXT,
        output_file TEXT,
        error TEXT,
        started_at TEXT,
        finished_at TEXT,
        duration_ms INTEGER,
        attempts INTEGER,
        backend TEXT,
        backends TEXT,
        exit_code INTEGER,
        prompt_tokens INTEGER,
        completion_tokens INTEGER,
        total_tokens INTEGER,
        cost REAL,
        PRIMARY KEY (run_id, name)
    )
    """,
    """
    CREATE TABLE calls (
        id INTEGER PRIMARY KEY,
        run_id TEXT NOT NULL,
        step TEXT NOT NULL,
        item INTEGER,
        backend TEXT NOT NULL,
        model TEXT,
        ok INTEGER NOT NULL,
        attempts INTEGER,
        duration_ms INTEGER,
        prompt_tokens INTEGER,
        completion_tokens INTEGER,
        total_tokens INTEGER,
        error TEXT,
        FOREIGN KEY (run_id, step) REFERENCES steps (run_id, name) ON DELETE CASCADE
    )
    """,
    "CREATE INDEX calls_step ON calls (run_id, step)",
)

# Version 2: what `runs resume` needs, and the price of each backend call.
# - runs.resumed_from: the run this one resumed (NULL for a fresh run);
#   runs.invocation: JSON of how the run was started that `run` cannot
#   recompute (`cwd`, extra `configs`, `context` files, the `--team` option).
# - steps.result: JSON of the step's result (`results.result_record`) minus
#   its output, which is `output`/`output_file`; steps.reused_from: the run
#   whose recorded result this step reused instead of running.
# - calls.cost: the call's price, NULL when unknown.
# Rows written by version 1 keep NULL there: such runs resume by running every step.
_V2 = (
    "ALTER TABLE runs ADD COLUMN resumed_from TEXT",
    "ALTER TABLE runs ADD COLUMN invocation TEXT",
    "ALTER TABLE steps ADD COLUMN result TEXT",
    "ALTER TABLE steps ADD COLUMN reused_from TEXT",
    "ALTER TABLE calls ADD COLUMN cost REAL",
)

# Version 3: best-of-N apply steps (docs/best-of-n.md) — one row per candidate:
# its backend, status (won, passed, failed, cancelled, skipped), metric, last
# verify's exit code and output, attempts, error, and the file holding its diff.
_V3 = (
    """
    CREATE TABLE candidates (
        run_id TEXT NOT NULL,
        step TEXT NOT NULL,
        candidate INTEGER NOT NULL,
        backend TEXT NOT NULL,
        status TEXT NOT NULL,
        metric REAL,
        exit_code INTEGER,
        attempts INTEGER,
        duration_ms INTEGER,
        error TEXT,
        verify_output TEXT,
        diff_file TEXT,
        PRIMARY KEY (run_id, step, candidate),
        FOREIGN KEY (run_id, step) REFERENCES steps (run_id, name) ON DELETE CASCADE
    )
    """,
)

# Version 4: steps.cached_from — the run whose cached result this step (or every item of
# it) took from the step cache instead of running; calls are recorded only when made.
_V4 = ("ALTER TABLE steps ADD COLUMN cached_from TEXT",)

# Version 5: which process runs a run — its pid, host and process start time — so a
# later llm-mux can tell a run whose process is gone (SIGKILL, a reboot) and mark it
# `interrupted` (ledger/orphans.py).
_V5 = (
    "ALTER TABLE runs ADD COLUMN pid INTEGER",
    "ALTER TABLE runs ADD COLUMN host TEXT",
    "ALTER TABLE runs ADD COLUMN process_started INTEGER",
)

# Version 6: where work ran on a cluster (`run --executor`): one row per shell
# command or CLI backend call, with the worker that ran it.
_V6 = (
    """
    CREATE TABLE placements (
        id INTEGER PRIMARY KEY,
        run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        step TEXT NOT NULL,
        item INTEGER,
        backend TEXT,
        worker TEXT NOT NULL,
        duration_ms INTEGER,
        exit_code INTEGER
    )
    """,
    "CREATE INDEX placements_run ON placements (run_id, step)",
)

LEDGER_SCHEMA = Schema("run ledger", (_V1, _V2, _V3, _V4, _V5, _V6))


def ledger_path(state_dir: Path) -> Path:
    return state_dir / "runs.db"


def run_directory(state_dir: Path, run_id: str) -> Path:
    return state_dir / "runs" / run_id
