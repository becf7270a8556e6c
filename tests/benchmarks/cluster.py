"""The cluster executor's scaling: 64 one-second fake agent calls on 1, 2, 4 and 8
workers with 2 threads each, against the ideal 64 / (2 × workers) seconds; and the
per-task overhead of a cluster against the same calls run here.

The figure is the for_each step's own duration (`duration_ms`), not the process's:
connecting to the scheduler and importing `distributed` are paid once per run and
reported apart. Workers are `distributed.LocalCluster` processes on 127.0.0.1.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from support.cluster import Cluster, start_local_cluster, wait_for_workers

from .harness import LLM_MUX, Figure, median, run, sandbox

CALLS = 64
THREADS = 2
SECONDS = 1.0
WORKERS = (1, 2, 4, 8)

CONFIG = f"""
[backends.agent]
command = "sh"
args = ["-c", "sleep {SECONDS:g}; echo ok", "agent"]
"""
QUICK_CONFIG = """
[backends.agent]
command = "sh"
args = ["-c", "echo ok", "agent"]
"""
WORKFLOW = f"""
[[steps]]
name = "ask"
type = "query"
backend = "agent"
prompt = "call {{{{ item }}}}"
for_each = {list(range(CALLS))}
concurrency = {CALLS}
"""


def _project(root: Path, config: str) -> Path:
    project = root / "project"
    (project / ".llm-mux").mkdir(parents=True, exist_ok=True)
    (project / ".llm-mux" / "config.toml").write_text(config)
    (project / "wf.toml").write_text(WORKFLOW)
    return project


def _run(project: Path, env: dict[str, str], *extra: str) -> tuple[float, float]:
    """(the step's seconds, the whole process's seconds)."""
    argv = [*LLM_MUX, "--trust", "--output", "json", "run", "wf.toml", *extra]
    done = run(argv, cwd=project, env=env)
    document = json.loads(done.stdout or "{}")
    if done.code != 0 or not document.get("success"):
        raise RuntimeError(f"the cluster benchmark run failed: {done.stderr}")
    return document["steps"]["ask"]["duration_ms"] / 1000, done.seconds


def _with_cluster(workers: int, root: Path) -> Cluster:
    cluster_env = {**os.environ, "LLM_MUX_WORKER_CACHE": str(root / f"cache-{workers}")}
    cluster = start_local_cluster(workers, THREADS, cwd=root, env=cluster_env)
    wait_for_workers(cluster, workers)
    return cluster


def _scaling(workers: int, runs: int, root: Path, env: dict[str, str]) -> Figure:
    project = _project(root, CONFIG)
    cluster = _with_cluster(workers, root)
    try:
        timings = [_run(project, env, "--executor", cluster.executor) for _ in range(runs)]
    finally:
        cluster.stop()
    step = median([t[0] for t in timings])
    ideal = CALLS * SECONDS / (THREADS * workers)
    start_up = median([t[1] - t[0] for t in timings])
    return Figure(
        f"{CALLS} one-second agent calls on {workers} worker(s) × {THREADS} threads",
        step,
        ideal,
        f"{CALLS} / ({THREADS} × {workers}) seconds",
        "s",
        "≤ 1.15×",
        step <= 1.15 * ideal,
        (f"process start-up and connecting, apart: {start_up:.1f} s",),
    )


def _overhead(runs: int, root: Path, env: dict[str, str]) -> Figure:
    project = _project(root / "quick", QUICK_CONFIG)
    local = median([_run(project, env)[0] for _ in range(runs)])
    cluster = _with_cluster(2, root)
    try:
        remote = median(
            [_run(project, env, "--executor", cluster.executor)[0] for _ in range(runs)]
        )
    finally:
        cluster.stop()
    per_task_ms = (remote - local) * 1000 / CALLS
    return Figure(
        f"per-task overhead of the cluster ({CALLS} instant calls, 2 workers)",
        remote * 1000,
        local * 1000,
        "the same calls run here",
        "ms",
        "reported",
        True,
        (f"{per_task_ms:.1f} ms more per task than a local run",),
    )


def bench_cluster(runs: int) -> list[Figure]:
    with sandbox() as (root, env):
        env = {**env, "PYTHONPATH": os.environ.get("PYTHONPATH", "")}
        figures = [_scaling(w, runs, root / f"w{w}", env) for w in WORKERS]
        figures.append(_overhead(runs, root, env))
        return figures
