"""Ctrl-C and SIGTERM: exit 130, `cancelled` results, no process left behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support.subprocesses import alive, isolated_env, mux, start_mux

from llm_mux.processes.procfs import stat_fields

WORKFLOW = """
[[steps]]
name = "slow"
type = "shell"
run = "sh -c 'echo $$ > child.pid; sleep 30' & wait"
[[steps]]
name = "after"
type = "shell"
run = "echo {{ steps.slow.output }}"
"""


def start(tmp_path: Path) -> subprocess.Popen[str]:
    (tmp_path / "wf.toml").write_text(WORKFLOW)
    return start_mux("--output", "json", "run", "wf.toml", cwd=tmp_path, env=isolated_env(tmp_path))


def wait_for(path: Path, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists() or not path.read_text().strip():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)


@pytest.mark.parametrize("number", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_cancels_the_run_and_kills_its_processes(tmp_path: Path, number: int) -> None:
    process = start(tmp_path)
    wait_for(tmp_path / "child.pid")
    child = int((tmp_path / "child.pid").read_text())
    process.send_signal(number)
    out, err = process.communicate(timeout=15)
    assert process.returncode == 130, err
    document = json.loads(out)
    assert document["status"] == "cancelled" and document["success"] is False
    assert document["steps"]["slow"]["status"] == "cancelled"
    assert document["steps"]["after"]["status"] == "pending"
    assert "Traceback" not in err
    deadline = time.monotonic() + 5
    while alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(child), "the step's child process survived"


def test_a_second_interrupt_exits_at_once(tmp_path: Path) -> None:
    (tmp_path / "wf.toml").write_text(WORKFLOW)
    process = start(tmp_path)
    wait_for(tmp_path / "child.pid")
    process.send_signal(signal.SIGINT)
    process.send_signal(signal.SIGINT)
    process.communicate(timeout=15)
    assert process.returncode == 130


# -- issue 12, case 13 ---------------------------------------------------------------------
STUBBORN = """
[[steps]]
name = "stubborn"
type = "shell"
run = "sh -c 'trap \\"\\" TERM INT; echo $$ > child.pid; while :; do sleep 0.1; done' & wait"
"""


def wait_for_running(tmp_path: Path) -> None:
    """Until the ledger holds the run, `running` (its writer thread commits on its own)."""
    import sqlite3

    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            if [status for status, _ in ledger_status(tmp_path)] == ["running"]:
                return
        except sqlite3.OperationalError:  # no database or table yet
            pass
        time.sleep(0.05)
    raise AssertionError("the run was never recorded as running")


def ledger_status(tmp_path: Path) -> list[tuple[str, str | None]]:
    import sqlite3

    connection = sqlite3.connect(tmp_path / "state" / "llm-mux" / "runs.db")
    try:
        return list(connection.execute("SELECT status, error FROM runs"))
    finally:
        connection.close()


def test_a_second_interrupt_kills_what_ignores_sigterm_and_records_cancelled(
    tmp_path: Path,
) -> None:
    (tmp_path / "wf.toml").write_text(STUBBORN)
    process = start_mux("run", "wf.toml", cwd=tmp_path, env=isolated_env(tmp_path))
    wait_for(tmp_path / "child.pid")
    child = int((tmp_path / "child.pid").read_text())
    process.send_signal(signal.SIGINT)
    process.send_signal(signal.SIGINT)  # while the first is being handled
    _, err = process.communicate(timeout=15)
    assert process.returncode == 130
    assert "Traceback" not in err
    deadline = time.monotonic() + 5
    while alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(child), "a child that ignores SIGTERM survived the second Ctrl-C"
    assert [status for status, _ in ledger_status(tmp_path)] == ["cancelled"]


def test_a_second_interrupt_during_the_cancel_kills_what_ignores_sigterm(tmp_path: Path) -> None:
    """The second Ctrl-C sent once the first is being handled (its line printed), while
    the cancel waits for a child that ignores SIGTERM: that child is killed, the run is
    recorded `cancelled`, not left `running`."""
    (tmp_path / "wf.toml").write_text(STUBBORN)
    process = start_mux("run", "wf.toml", cwd=tmp_path, env=isolated_env(tmp_path))
    wait_for(tmp_path / "child.pid")
    child = int((tmp_path / "child.pid").read_text())
    process.send_signal(signal.SIGINT)
    assert process.stderr is not None
    seen = ""
    while "cancelling the run" not in seen:
        line = process.stderr.readline()
        assert line, f"the run ended without saying it was cancelling: {seen}"
        seen += line
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=15)
    assert process.returncode == 130
    assert "Traceback" not in seen + err
    deadline = time.monotonic() + 5
    while alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(child), "a child that ignores SIGTERM survived the second Ctrl-C"
    assert [status for status, _ in ledger_status(tmp_path)] == ["cancelled"]


# Runs llm-mux as `python -m llm_mux` does, with a signal sent to itself the moment it
# starts importing its command line: the first milliseconds of a run.
SIGNAL_WHILE_IMPORTING = """
import importlib.abc, os, runpy, signal, sys

NUMBER = int(sys.argv[1])

class Signal(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "llm_mux.cli":
            sys.meta_path.remove(self)
            os.kill(os.getpid(), NUMBER)
        return None

sys.meta_path.insert(0, Signal())
sys.argv = ["llm-mux", "validate", "wf.toml"]
runpy.run_module("llm_mux", run_name="__main__", alter_sys=True)
"""


@pytest.mark.parametrize(("number", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_while_llm_mux_is_importing_exits_quietly(
    tmp_path: Path, number: int, code: int
) -> None:
    (tmp_path / "wf.toml").write_text('[[steps]]\nname = "a"\ntype = "shell"\nrun = "true"\n')
    done = subprocess.run(
        [sys.executable, "-c", SIGNAL_WHILE_IMPORTING, str(int(number))],
        cwd=tmp_path,
        env=isolated_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == code, done.stderr[-2000:]
    assert "Traceback" not in done.stderr and "KeyboardInterrupt" not in done.stderr
    assert done.stderr.strip() == "llm-mux: interrupted"


@pytest.mark.parametrize(("number", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_before_the_run_exits_quietly(tmp_path: Path, number: int, code: int) -> None:
    # A workflow big enough that validating it takes seconds of CPU (2.3 s for 60,000
    # steps on a fast day): the signal lands mid-compile, once llm-mux has used more CPU
    # than its start-up takes (about 0.2 s), however fast or busy the machine is.
    steps = "".join(
        f'[[steps]]\nname = "s{i}"\ntype = "shell"\nrun = "echo {{{{ args.a | default(1) }}}}"\n'
        for i in range(60000)
    )
    (tmp_path / "wf.toml").write_text(steps)
    process = start_mux("validate", "wf.toml", cwd=tmp_path)
    wait_for_cpu(process, seconds=0.6)
    assert process.poll() is None, "validate finished before the signal"
    process.send_signal(number)
    _, err = process.communicate(timeout=30)
    assert process.returncode == code
    assert "Traceback" not in err and "llm-mux: interrupted" in err


def wait_for_cpu(process: subprocess.Popen[str], seconds: float) -> None:
    """Until `process` has used `seconds` of CPU (user and system), or has exited."""
    ticks = os.sysconf("SC_CLK_TCK")
    deadline = time.monotonic() + 60
    while process.poll() is None and time.monotonic() < deadline:
        fields = stat_fields(process.pid)
        if fields is not None and (int(fields[11]) + int(fields[12])) / ticks >= seconds:
            return
        time.sleep(0.02)


def test_a_run_killed_with_sigkill_is_marked_interrupted_on_start_up(tmp_path: Path) -> None:
    process = start(tmp_path)
    wait_for(tmp_path / "child.pid")
    wait_for_running(
        tmp_path
    )  # the ledger's own thread records the run, maybe after the step starts
    process.kill()  # no handler, no last words
    process.communicate(timeout=15)
    assert [s for s, _ in ledger_status(tmp_path)] == ["running"]
    listed = mux(
        "--output", "json", "runs", "list", cwd=tmp_path, env=isolated_env(tmp_path), timeout=30
    )
    (status, error), *_ = ledger_status(tmp_path)
    assert status == "interrupted", listed.stderr
    assert "was gone when llm-mux next looked" in str(error) and "start time" in str(error)
    assert '"interrupted"' in listed.stdout
    child = int((tmp_path / "child.pid").read_text())
    if alive(child):  # a SIGKILLed parent cannot kill its children: do it for the test
        os.kill(child, signal.SIGKILL)
