"""Projects and users for the cluster tests (tests/executors): a project made of one
config and one `wf.toml`, a user's environment that finds the fake agents, a run of
`llm-mux --trust run wf.toml` as that user, and the placements its ledger recorded.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
from pathlib import Path

from support.subprocesses import mux

__all__ = ["environment", "git", "placements", "project", "run_workflow"]


def project(root: Path, config: str, workflow: str) -> Path:
    """A git repository at `root`: `config` as .llm-mux/config.toml, `workflow` as wf.toml."""
    root.mkdir(parents=True)
    (root / ".llm-mux").mkdir()
    (root / ".llm-mux" / "config.toml").write_text(config)
    (root / "wf.toml").write_text(workflow)
    git(root, "init", "-q")
    return root


def git(root: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True)


def environment(home: Path, agents_bin: Path) -> dict[str, str]:
    """A user living in `home` with the fake agents on the PATH and one secret in the env."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LLM_MUX")}
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_STATE_HOME=str(home / ".local" / "state"),
        PATH=f"{agents_bin}{os.pathsep}{os.environ['PATH']}",
        COORDINATOR_SECRET="s3cr3t-value",
    )
    return env


def run_workflow(
    root: Path, home: Path, agents_bin: Path, *options: str, as_json: bool = False
) -> subprocess.CompletedProcess[str]:
    """`llm-mux --trust run wf.toml OPTIONS` in `root`, as the user of `environment`."""
    output = ("--output", "json") if as_json else ()
    env = environment(home, agents_bin)
    return mux("--trust", *output, "run", "wf.toml", *options, cwd=root, env=env)


def placements(home: Path) -> list[tuple[str, int | None, str | None, str]]:
    """(step, item, backend, worker) of every placement the user's ledger recorded."""
    with sqlite3.connect(home / ".local" / "state" / "llm-mux" / "runs.db") as db:
        rows = db.execute("SELECT step, item, backend, worker FROM placements ORDER BY id")
        return rows.fetchall()
