"""Faults on a cluster: a worker dying mid-step, Ctrl-C with remote work running,
secrets, and a backend's `max_concurrent` held across two coordinators.

Every test drives the real `llm-mux` in a subprocess against the LocalCluster of
`conftest.py` (two worker processes on 127.0.0.1).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from support.cluster import Cluster
from support.cluster_projects import environment, placements, project, run_workflow
from support.subprocesses import mux

pytestmark = pytest.mark.cluster


def start(root: Path, env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "llm_mux", "--trust", "run", "wf.toml", *args],
        cwd=root,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for_lines(path: Path, count: int, timeout: float = 60) -> list[str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lines = path.read_text().split() if path.exists() else []
        if len(lines) >= count:
            return lines
        time.sleep(0.05)
    raise AssertionError(f"{path} never had {count} lines")


def gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


LONG = """
[[steps]]
name = "long"
type = "shell"
run = "echo $PPID >> {marks}; echo $$ >> {pids}; sleep {seconds}; echo done"
on_worker_loss = "{policy}"
"""


def long_step(tmp_path: Path, policy: str, seconds: int) -> tuple[Path, Path, str]:
    marks, pids = tmp_path / "worker-pids", tmp_path / "shell-pids"
    text = LONG.format(marks=marks, pids=pids, seconds=seconds, policy=policy)
    return marks, pids, text


@pytest.mark.parametrize("policy", ["rerun", "fail"])
def test_a_worker_that_dies_mid_step_has_its_work_run_again_unless_the_step_opts_out(
    tmp_path: Path, agents_bin: Path, cluster: Cluster, policy: str
) -> None:
    marks, pids, workflow = long_step(tmp_path, policy, seconds=3)
    root = project(tmp_path / "p", "", workflow)
    home = tmp_path / "home"
    running = start(root, environment(home, agents_bin), "--executor", cluster.executor)
    try:
        worker = int(wait_for_lines(marks, 1)[0])
        os.kill(worker, signal.SIGKILL)  # the worker process; its nanny starts a new one
        out, err = running.communicate(timeout=120)
    finally:
        for pid in wait_for_lines(pids, 1):
            with_suppressed_kill(int(pid))
    if policy == "rerun":
        assert running.returncode == 0, err
        assert len(wait_for_lines(marks, 2)) == 2  # it ran twice: once per worker
        assert "done" in out
        assert [step for step, *_ in placements(home)] == ["long"]
    else:
        assert running.returncode == 1
        assert "the work was lost" in err and 'on_worker_loss = "fail"' in err
        time.sleep(0.5)
        assert len(marks.read_text().split()) == 1  # it never started again


def with_suppressed_kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


def test_ctrl_c_cancels_remote_work_and_kills_its_processes(
    tmp_path: Path, agents_bin: Path, cluster: Cluster
) -> None:
    _marks, pids, workflow = long_step(tmp_path, "rerun", seconds=300)
    root = project(tmp_path / "p", "", workflow)
    running = start(
        root, environment(tmp_path / "home", agents_bin), "--executor", cluster.executor
    )
    shell = int(wait_for_lines(pids, 1)[0])
    running.send_signal(signal.SIGINT)
    _, err = running.communicate(timeout=60)
    assert running.returncode == 130, err
    assert gone(shell, timeout=2.0), "the remote shell survived Ctrl-C"


SECRET = "tok-3f9a1c-very-secret"
SECRETS_CONFIG = """
[backends.failing]
command = "sh"
args = ["-c", "echo failing on purpose >&2; exit 3"]
env = { TOKEN = "${COORDINATOR_TOKEN}" }
[backends.a]
command = "agent-a"
"""
SECRETS_WORKFLOW = """
[[steps]]
name = "env"
type = "shell"
run = "echo ${COORDINATOR_TOKEN:-absent}"

[[steps]]
name = "ask"
type = "query"
backend = "failing"
prompt = "hello"
continue_on_error = true
"""


def test_secrets_stay_with_the_coordinator_and_out_of_the_clusters_logs(
    tmp_path: Path, agents_bin: Path, cluster: Cluster
) -> None:
    from distributed import Client

    root = project(tmp_path / "p", SECRETS_CONFIG, SECRETS_WORKFLOW)
    env = {**environment(tmp_path / "home", agents_bin), "COORDINATOR_TOKEN": SECRET}
    done = mux(
        "--trust", "--output", "json", "run", "wf.toml", "--executor", cluster.executor,
        cwd=root, env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    steps = json.loads(done.stdout)["steps"]
    assert steps["env"]["output"] == "absent"  # not in a shell step's environment
    assert "failing on purpose" in steps["ask"]["error"]
    with Client(cluster.address, timeout=30) as client:
        logs = str(client.get_scheduler_logs()) + str(client.get_worker_logs())
        events = str(client.get_events())
    assert SECRET not in logs and SECRET not in events


class _Counting(BaseHTTPRequestHandler):
    lock = threading.Lock()
    in_flight = 0
    most = 0
    calls = 0

    def do_GET(self) -> None:
        cls = type(self)
        with cls.lock:
            cls.in_flight += 1
            cls.calls += 1
            cls.most = max(cls.most, cls.in_flight)
        time.sleep(0.4)
        with cls.lock:
            cls.in_flight -= 1
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def counting_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Counting)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()


LIMITED_CONFIG = """
[backends.b]
command = "agent-b"
max_concurrent = 2
env = { COUNT_URL = "${COUNT_URL}" }
"""
LIMITED_WORKFLOW = """
[[steps]]
name = "ask"
type = "query"
backend = "b"
prompt = "item {{ item }}"
for_each = [1, 2, 3, 4, 5, 6]
concurrency = 6
"""


def test_max_concurrent_holds_across_the_cluster_for_two_coordinators(
    tmp_path: Path, agents_bin: Path, cluster: Cluster, counting_server: str
) -> None:
    runs = []
    for name in ("one", "two"):
        root = project(tmp_path / name, LIMITED_CONFIG, LIMITED_WORKFLOW)
        env = {**environment(tmp_path / f"home-{name}", agents_bin), "COUNT_URL": counting_server}
        runs.append(start(root, env, "--executor", cluster.executor))
    for running in runs:
        _, err = running.communicate(timeout=180)
        assert running.returncode == 0, err
    assert _Counting.calls == 12
    assert _Counting.most <= 2


def test_a_backends_timeout_kills_its_process_on_the_worker(
    tmp_path: Path, agents_bin: Path, cluster: Cluster
) -> None:
    pids = tmp_path / "agent-pids"
    config = (
        f'[backends.slow]\ncommand = "sh"\nargs = ["-c", "echo $$ >> {pids}; exec sleep 120"]\n'
        'timeout = "1s"\nmax_retries = 0\n'
    )
    done = ask_on_the_cluster(tmp_path, agents_bin, cluster, "slow", config)
    assert done.returncode == 1
    assert "timed out after 1s" in done.stderr
    assert gone(int(wait_for_lines(pids, 1)[0]), timeout=2.0)


def test_a_command_over_the_argument_limit_is_a_step_failure_on_a_worker_too(
    tmp_path: Path, agents_bin: Path, cluster: Cluster
) -> None:
    workflow = (
        '[[steps]]\nname = "gen"\ntype = "shell"\n'
        "run = \"head -c 200000 /dev/zero | tr '\\\\0' x\"\n"
        '[[steps]]\nname = "s"\ntype = "shell"\nrun = "echo {{ steps.gen.output }}"\n'
        "continue_on_error = true\n"
        '[[steps]]\nname = "after"\ntype = "shell"\nrun = "echo still here"\n'
        'depends_on = ["s"]\n'
    )
    root = project(tmp_path / "q", "", workflow)
    done = run_workflow(root, tmp_path / "home", agents_bin, "--executor", cluster.executor)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "more than the system lets one command take" in done.stderr
    assert "still here" in done.stdout


def test_a_cli_backend_over_max_response_bytes_on_a_worker_is_the_same_error(
    tmp_path: Path, agents_bin: Path, cluster: Cluster
) -> None:
    config = (
        '[backends.flood]\ncommand = "sh"\n'
        'args = ["-c", "head -c 50000000 /dev/zero | tr \'\\\\\\\\0\' x"]\n'
        "max_retries = 0\nmax_response_bytes = 1000000\n"
    )
    done = ask_on_the_cluster(tmp_path, agents_bin, cluster, "flood", config)
    assert done.returncode == 1
    assert "the output is larger than max_response_bytes (1,000,000 bytes)" in done.stderr
    assert "raise backends.flood.max_response_bytes if it is expected" in done.stderr
    assert "Traceback" not in done.stderr


def ask_on_the_cluster(
    tmp_path: Path, agents_bin: Path, cluster: Cluster, backend: str, config: str
) -> subprocess.CompletedProcess[str]:
    """A one-step workflow asking `backend` (defined by `config`), run on the cluster."""
    workflow = f'[[steps]]\nname = "ask"\ntype = "query"\nbackend = "{backend}"\nprompt = "hi"\n'
    root = project(tmp_path / "p", config, workflow)
    return run_workflow(root, tmp_path / "home", agents_bin, "--executor", cluster.executor)
