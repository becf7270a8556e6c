"""Starting Dask clusters for tests: a LocalCluster, or a scheduler and `dask worker`s.

Each is a process group of its own on 127.0.0.1, stopped (and killed whole) when
the test is done. `Cluster.address` is what `run --executor` takes.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Cluster", "start_local_cluster", "start_scheduler", "start_worker", "wait_for_workers"]

_HERE = Path(__file__).resolve().parent
_START_TIMEOUT = 90.0


@dataclass
class Cluster:
    address: str  # tcp://127.0.0.1:PORT
    processes: list[subprocess.Popen[str]] = field(default_factory=list)

    @property
    def executor(self) -> str:
        return "dask://" + self.address.removeprefix("tcp://")

    def stop(self) -> None:
        for process in reversed(self.processes):
            _stop(process)


def start_local_cluster(
    workers: int, threads: int, *, cwd: Path, env: Mapping[str, str]
) -> Cluster:
    script = str(_HERE / "dask_cluster.py")
    process = _popen([sys.executable, script, str(workers), str(threads)], cwd, env, stdin=True)
    line = _first_line(process)
    return Cluster(line, [process])


def start_scheduler(*, cwd: Path, env: Mapping[str, str], extra: Sequence[str] = ()) -> Cluster:
    address_file = cwd / "scheduler.json"
    argv = [
        sys.executable, "-m", "distributed.cli.dask_scheduler",
        "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
        "--scheduler-file", str(address_file), *extra,
    ]  # fmt: skip
    process = _popen(argv, cwd, env)
    deadline = time.monotonic() + _START_TIMEOUT
    while not address_file.exists() or not address_file.read_text().strip():
        _check_alive(process, deadline)
        time.sleep(0.1)
    import json

    address = str(json.loads(address_file.read_text())["address"])
    return Cluster(address, [process])


def start_worker(
    cluster: Cluster, *, name: str, cwd: Path, env: Mapping[str, str], extra: Sequence[str] = ()
) -> None:
    argv = [
        sys.executable, "-m", "distributed.cli.dask_worker", cluster.address,
        "--name", name, "--nthreads", "1", "--no-dashboard", "--host", "127.0.0.1",
        *extra,
    ]  # fmt: skip
    cluster.processes.append(_popen(argv, cwd, env))


def wait_for_workers(cluster: Cluster, count: int) -> None:
    """Until `count` workers have joined the scheduler (each `dask worker` takes a while)."""
    from distributed import Client

    with Client(cluster.address, timeout=_START_TIMEOUT) as client:
        client.wait_for_workers(count, timeout=_START_TIMEOUT)


def _popen(
    argv: list[str], cwd: Path, env: Mapping[str, str], *, stdin: bool = False
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        argv,
        cwd=cwd,
        env=dict(env),
        stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )


def _first_line(process: subprocess.Popen[str]) -> str:
    assert process.stdout is not None
    line = process.stdout.readline().strip()
    if not line.startswith("tcp://"):
        _stop(process)
        raise RuntimeError(f"the test cluster did not start (said {line!r})")
    return line


def _check_alive(process: subprocess.Popen[str], deadline: float) -> None:
    if process.poll() is not None or time.monotonic() > deadline:
        _stop(process)
        raise RuntimeError("the test scheduler did not start")


def _stop(process: subprocess.Popen[str]) -> None:
    """Ask nicely (stdin closed, or SIGTERM), then kill the whole group."""
    if process.stdin is not None:
        process.stdin.close()
    else:
        _signal(process, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=15)
    _signal(process, signal.SIGKILL)
    process.wait()


def _signal(process: subprocess.Popen[str], number: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, number)
