"""Measuring: timed child processes, medians, peak memory, and the `Figure` each benchmark returns.

Every figure is a ratio against a baseline measured in the same run, interleaved with
it (figure, baseline, figure, baseline, …) so that a noisy neighbour slows both alike.
Every child runs with a deadline and an isolated HOME, so no developer config leaks in
and no benchmark can hang.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
# What the installed `llm-mux` console script runs, without the shim some machines wrap it in.
LLM_MUX = [PYTHON, "-c", "from llm_mux.cli import main; main()"]
DEADLINE = 120.0  # seconds: no single child may take longer


@dataclass(frozen=True)
class Plot:
    """A curve to draw: per line, (number of items, value) points."""

    title: str
    unit: str
    lines: Mapping[str, Sequence[tuple[int, float]]]


@dataclass(frozen=True)
class Figure:
    """One measured figure: `value` against `baseline` (same unit), and the SPEC goal;
    `plot`, the curve it belongs to, if any."""

    name: str
    value: float
    baseline: float
    baseline_name: str
    unit: str
    goal: str
    ok: bool
    notes: tuple[str, ...] = field(default=())
    plot: Plot | None = None

    @property
    def ratio(self) -> float:
        return self.value / self.baseline if self.baseline else float("inf")


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


@dataclass(frozen=True)
class Done:
    seconds: float
    code: int
    stdout: str
    stderr: str


def run(
    argv: Sequence[str],
    *,
    cwd: Path = REPO,
    env: Mapping[str, str] | None = None,
    stdin: str | None = None,
    capture: bool = True,
    deadline: float = DEADLINE,
) -> Done:
    """Run a child to completion, with the wall time around it."""
    out = subprocess.PIPE if capture else subprocess.DEVNULL
    started = time.perf_counter()
    process = subprocess.Popen(
        argv,
        cwd=cwd,
        env=dict(env) if env is not None else None,
        stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
        stdout=out,
        stderr=out,
        text=True,
    )
    try:
        stdout, stderr = process.communicate(stdin, timeout=deadline)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        raise RuntimeError(f"benchmark child took over {deadline:g}s: {argv}") from None
    seconds = time.perf_counter() - started
    return Done(seconds, process.returncode, stdout or "", stderr or "")


def peak_rss(argv: Sequence[str], *, cwd: Path, env: Mapping[str, str]) -> tuple[int, int]:
    """(exit code, peak RSS in bytes) of a child whose output is thrown away.

    `wait4` reports the child's own high-water mark (and that of its waited-for
    descendants, such as the `sh`, `head` and `tr` of a shell step, which are tiny).
    """
    process = subprocess.Popen(
        argv, cwd=cwd, env=dict(env), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL
    )
    deadline = time.monotonic() + DEADLINE
    while True:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            break
        if time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"benchmark child took over {DEADLINE:g}s: {argv}")
        time.sleep(0.01)
    process.returncode = os.waitstatus_to_exitcode(status)
    return process.returncode, usage.ru_maxrss * 1024


@dataclass(frozen=True)
class Measured:
    """A child's wall time and peak RSS (its own high-water mark, from `wait4`)."""

    seconds: float
    code: int
    peak_rss: int
    stderr: str


def measure(
    argv: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    stdin: Path | None = None,
    deadline: float = DEADLINE,
) -> Measured:
    """Run a child to completion (stdout thrown away, stdin from a file or /dev/null):
    its wall time, exit code, peak RSS and stderr. Killed after `deadline` seconds."""
    with tempfile.TemporaryFile() as errors, open(stdin or os.devnull, "rb") as source:
        started = time.perf_counter()
        process = subprocess.Popen(
            argv, cwd=cwd, env=dict(env), stdin=source, stdout=subprocess.DEVNULL, stderr=errors
        )
        watchdog = threading.Timer(deadline, process.kill)
        watchdog.start()
        try:
            _, status, usage = os.wait4(process.pid, 0)
        finally:
            watchdog.cancel()
        seconds = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        if seconds >= deadline:
            raise RuntimeError(f"benchmark child took over {deadline:g}s: {argv}")
        errors.seek(0)
        text = errors.read().decode(errors="replace")
    return Measured(seconds, process.returncode, usage.ru_maxrss * 1024, text)


def interleave(runs: int, **commands: Callable[[], float]) -> dict[str, list[float]]:
    """Call each command `runs` times, round-robin; every value each returned, by name."""
    values: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(runs):
        for name, command in commands.items():
            values[name].append(command())
    return values


@contextmanager
def sandbox() -> Iterator[tuple[Path, dict[str, str]]]:
    """A temporary directory and an environment whose HOME and XDG dirs live in it."""
    with tempfile.TemporaryDirectory(prefix="llm-mux-bench-") as name:
        root = Path(name)
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(root / "home"),
            "XDG_CONFIG_HOME": str(root / "home" / ".config"),
            "XDG_STATE_HOME": str(root / "home" / ".local" / "state"),
            "LANG": os.environ.get("LANG", "C.UTF-8"),
        }
        (root / "home").mkdir()
        yield root, env
