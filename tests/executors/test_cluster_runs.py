"""`llm-mux run --executor dask://…` against a real LocalCluster on 127.0.0.1.

The same workflow, mixing every step type, runs locally and on the cluster:
shell steps and CLI backend calls go to the workers (in snapshot and in
shared-path mode, with workers whose working directory is elsewhere), input,
apply and store steps stay here, and the results and the ledger agree.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
from pathlib import Path

import pytest
from support.cluster import Cluster
from support.cluster_projects import environment, git, placements
from support.subprocesses import mux

pytestmark = pytest.mark.cluster

CONFIG = """
[backends.a]
command = "agent-a"
[backends.b]
command = "agent-b"
[backends.coder]
command = "coder"
[roles.default]
backends = ["a", "b"]
execution = "parallel"
[roles.coder]
backends = ["coder"]
"""

MIXED = """
name = "mixed"

[[steps]]
name = "status"
type = "shell"
run = "git status --short; cat greeting.txt"

[[steps]]
name = "ask"
type = "query"
role = "default"
prompt = "about {{ item }}"
for_each = ["x", "y", "z"]
concurrency = 3

[[steps]]
name = "who"
type = "input"
prompt = "Who?"

[[steps]]
name = "fix"
type = "query"
role = "coder"
prompt = "fix greeting.txt for {{ steps.who.output }}"

[[steps]]
name = "apply"
type = "apply"
source = "fix"
verify = "grep -q world greeting.txt"

[[steps]]
name = "after"
type = "shell"
run = "cat greeting.txt"
depends_on = ["apply"]

[[steps]]
name = "emit"
type = "shell"
run = "cat facts.json"

[[steps]]
name = "remember"
type = "store"
input = "{{ steps.emit.output }}"
"""

FACTS = {"facts": [{"project": "api", "fact": "greets", "source": "greeting.txt", "confidence": 1}]}


def make_project(root: Path, home: Path) -> Path:
    """A git repository with one commit, an uncommitted change and an untracked file."""
    root.mkdir(parents=True)
    (root / ".llm-mux").mkdir()
    (root / ".llm-mux" / "config.toml").write_text(CONFIG)
    (root / "mixed.toml").write_text(MIXED)
    (root / "greeting.txt").write_text("hi\n")
    (root / "facts.json").write_text(json.dumps(FACTS))
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init")
    (root / "greeting.txt").write_text("hello\n")  # uncommitted: the fix applies to this
    (root / "notes.txt").write_text("untracked\n")
    ecosystem = home / ".config" / "llm-mux"
    ecosystem.mkdir(parents=True, exist_ok=True)
    (ecosystem / "config.toml").write_text(f'[ecosystems.shop.projects.api]\npath = "{root}"\n')
    return root


def run_mixed(
    tmp_path: Path, agents_bin: Path, *extra: str, name: str = "p"
) -> tuple[subprocess.CompletedProcess[str], Path, Path]:
    home = tmp_path / f"home-{name}"
    root = make_project(tmp_path / name, home)
    done = mux(
        "--trust", "--output", "json", "run", "mixed.toml", "--input", "who=Ada", *extra,
        cwd=root, env=environment(home, agents_bin),
    )  # fmt: skip
    return done, root, home


def outputs(done: subprocess.CompletedProcess[str]) -> dict[str, tuple[str, str]]:
    document = json.loads(done.stdout)
    return {name: (s["status"], s["output"]) for name, s in document["steps"].items()}


def ledger_steps(home: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(home / ".local" / "state" / "llm-mux" / "runs.db") as db:
        return db.execute("SELECT name, status FROM steps ORDER BY position").fetchall()


@pytest.mark.parametrize("project_mode", ["snapshot", "shared"])
def test_a_cluster_run_gives_the_results_and_ledger_of_a_local_run(
    tmp_path: Path, agents_bin: Path, cluster: Cluster, project_mode: str
) -> None:
    local, _, local_home = run_mixed(tmp_path, agents_bin, name="local")
    assert local.returncode == 0, local.stderr
    if project_mode == "shared":
        remote_root = tmp_path / "remote"
        extra = ["--config", str(shared_config(tmp_path, cluster))]
    else:
        extra = ["--executor", cluster.executor]
    remote, remote_root, remote_home = run_mixed(tmp_path, agents_bin, *extra, name="remote")
    assert remote.returncode == 0, remote.stderr
    assert outputs(remote) == outputs(local)
    assert ledger_steps(remote_home) == ledger_steps(local_home)
    assert outputs(remote)["status"][1].splitlines() == [
        " M greeting.txt",
        "?? notes.txt",
        "hello",
    ]
    assert outputs(remote)["after"][1] == "hello world"  # the applied fix reached the workers
    assert (remote_root / "greeting.txt").read_text() == "hello world\n"
    where = placements(remote_home)
    assert {(step, backend) for step, _, backend, _ in where} == {
        ("status", None), ("ask", "a"), ("ask", "b"), ("fix", "coder"),
        ("after", None), ("emit", None),
    }  # fmt: skip
    assert sorted(item for step, item, backend, _ in where if backend == "a") == [0, 1, 2]
    assert {worker for *_, worker in where} <= {"0", "1"}
    assert placements(local_home) == []


def shared_config(tmp_path: Path, cluster: Cluster) -> Path:
    path = tmp_path / "shared.toml"
    path.write_text(f'[executor]\naddress = "{cluster.executor}"\nproject = "shared"\n')
    return path


def test_an_unreachable_scheduler_is_refused_before_anything_runs(
    tmp_path: Path, agents_bin: Path
) -> None:
    done, root, home = run_mixed(
        tmp_path, agents_bin, "--executor", "dask://127.0.0.1:9", "--config",
        str(write(tmp_path / "fast.toml", '[executor]\nconnect_timeout = "2s"\n')),
    )  # fmt: skip
    assert done.returncode == 1
    assert "cannot reach the Dask scheduler at tcp://127.0.0.1:9" in done.stderr
    assert "Traceback" not in done.stderr
    assert (root / "greeting.txt").read_text() == "hello\n"
    assert ledger_steps(home) == [] or all(s != "succeeded" for _, s in ledger_steps(home))


def test_a_bad_executor_address_is_a_usage_error(tmp_path: Path, agents_bin: Path) -> None:
    done, _, _ = run_mixed(tmp_path, agents_bin, "--executor", "ftp://x")
    assert done.returncode == 2
    assert "neither 'local' nor a Dask scheduler address" in done.stderr


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path
