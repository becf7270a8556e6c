"""Best-of-N clean-up: nothing is left after Ctrl-C, a timeout, or a crashed earlier run.

Ctrl-C is a real SIGINT sent to a real `llm-mux` process while its candidates
are verifying; the crashed run is a worktree registered by git in a directory
owned by a process that no longer exists.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from support.best_of_n import (
    BETTER,
    FAILING,
    FIXED,
    PASSING,
    PREFIX,
    VERIFY,
    apply_of,
    leftovers,
    run,
    script,
    workflow,
    worktrees,
)
from support.openai_server import ModelServer
from support.subprocesses import alive
from support.trees import TreeState, git

from llm_mux.candidates.workspaces import remove_stale

pytest_plugins: list[str] = []


def llm_mux_command() -> list[str]:
    script_path = Path(sys.executable).with_name("llm-mux")
    if script_path.exists():
        return [str(script_path)]
    return [sys.executable, "-c", "from llm_mux.cli import main; main()"]


def wait_for_lines(path: Path, count: int, seconds: float = 30.0) -> list[str]:
    deadline = time.monotonic() + seconds
    while True:
        lines = path.read_text().splitlines() if path.exists() else []
        if len(lines) >= count:
            return lines
        assert time.monotonic() < deadline, f"only {lines} in {path}"
        time.sleep(0.05)


def test_ctrl_c_during_verification_leaves_no_worktree_and_an_untouched_tree(
    repo: Path, openai_server: ModelServer, tmp_path: Path
) -> None:
    script(openai_server, FAILING, PASSING, BETTER)
    started = tmp_path / "started"
    verify = f"pwd >> {started}; echo $$ >> {started}.pids; sleep 60"
    text = workflow(max_parallel=3).replace(json.dumps(VERIFY), json.dumps(verify))
    (tmp_path / "wf.toml").write_text(text)
    before = TreeState.of(repo)
    env = dict(os.environ, XDG_STATE_HOME=str(tmp_path / "state"))
    process = subprocess.Popen(
        [*llm_mux_command(), "--output", "json", "--trust", "run", str(tmp_path / "wf.toml")],
        cwd=repo,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        places = wait_for_lines(started, 3)
        pids = [int(p) for p in wait_for_lines(Path(f"{started}.pids"), 3)]
        assert all(Path(p).is_dir() for p in places)
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130, err
    assert json.loads(out)["steps"]["apply"]["status"] == "cancelled"
    assert "Traceback" not in err
    assert not any(Path(p).exists() for p in places)
    assert leftovers(process.pid) == []
    assert worktrees(repo) == 1
    assert TreeState.of(repo) == before
    deadline = time.monotonic() + 5
    while any(alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(alive(pid) for pid in pids), "a verify command survived"


def test_a_step_timeout_removes_every_worktree(cli, repo: Path, openai_server: ModelServer) -> None:
    script(openai_server, FAILING, PASSING, BETTER)
    before = TreeState.of(repo)
    text = workflow().replace(json.dumps(VERIFY), json.dumps("sleep 30"))
    code, document = run(cli, repo, text + 'timeout = "1s"\n')
    assert code == 1
    assert "timed out after 1s" in str(apply_of(document)["error"])
    assert worktrees(repo) == 1
    assert leftovers() == []
    assert TreeState.of(repo) == before


def dead_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def test_worktrees_of_a_crashed_run_are_pruned_before_the_next(
    cli, repo: Path, openai_server: ModelServer
) -> None:
    stale = Path(tempfile.mkdtemp(prefix=f"{PREFIX}{dead_pid()}-"))
    git(repo, "worktree", "add", "--detach", "-q", str(stale / "1-m0"), "HEAD")
    git(repo, "worktree", "add", "--detach", "-q", str(stale / "2-m1"), "HEAD")
    git(repo, "worktree", "lock", str(stale / "2-m1"))  # as git leaves one it was making
    assert worktrees(repo) == 3
    script(openai_server, FAILING, PASSING, BETTER)
    code, document = run(cli, repo, workflow())
    assert code == 0, apply_of(document)["error"]
    assert not stale.exists()
    assert worktrees(repo) == 1
    assert (repo / "calc.py").read_text() == FIXED


def test_the_workspaces_of_running_processes_are_kept(tmp_path: Path) -> None:
    live = tmp_path / f"{PREFIX}{os.getpid()}-abc"
    dead = tmp_path / f"{PREFIX}{dead_pid()}-abc"
    other = tmp_path / "llm-mux-something-else"
    for path in (live, dead, other):
        (path / "1-m0").mkdir(parents=True)
    assert remove_stale(tmp_path, None, os.environ) == [dead]
    assert live.exists() and other.exists() and not dead.exists()
    shutil.rmtree(live)
