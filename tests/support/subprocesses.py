"""llm-mux run as a user runs it — a subprocess with a home of its own — and pids watched.

`mux(...)` runs `python -m llm_mux ARGS` to completion (stdin closed, output
captured as text); `isolated_env(home)` is this process's environment with HOME
and the state directory under `home`; `alive(pid)` says whether a process exists.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

from llm_mux.processes.procfs import stat_fields

__all__ = ["alive", "isolated_env", "mux", "start_mux"]


def mux(
    *args: str,
    cwd: Path,
    env: Mapping[str, str],
    timeout: float = 120,
    preexec_fn: Callable[[], object] | None = None,
) -> subprocess.CompletedProcess[str]:
    """`llm-mux ARGS` in `cwd`, run to completion (at most `timeout` seconds)."""
    return subprocess.run(
        [sys.executable, "-m", "llm_mux", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        preexec_fn=preexec_fn,
    )


def isolated_env(home: Path) -> dict[str, str]:
    """This process's environment, with HOME at `home` and the state directory in it."""
    return dict(os.environ, HOME=str(home), XDG_STATE_HOME=str(home / "state"))


def alive(pid: int) -> bool:
    """Whether `pid` still runs. A zombie does not: a killed orphan is re-parented to this
    test process when an earlier in-process test made it a child subreaper, and stays a
    zombie here until reaped (it is reaped on the way)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    if _zombie(pid):
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        return False
    return True


def _zombie(pid: int) -> bool:
    fields = stat_fields(pid)
    return fields is not None and fields[0] == b"Z"


def start_mux(*args: str, cwd: Path, env: Mapping[str, str] | None = None) -> subprocess.Popen[str]:
    """`llm-mux ARGS` started in `cwd` (stdout and stderr piped), for a test to signal."""
    return subprocess.Popen(
        [sys.executable, "-m", "llm_mux", *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
