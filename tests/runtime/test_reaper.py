"""No descendant survives: processes that left the child's group or session are ended too.

A fake CLI starts a `setsid` grandchild (Claude Code's Bash tool does this) and writes
its pid to a file; whether the run ends by timeout, cancel or a normal exit, that
grandchild is gone (not merely orphaned to PID 1) within a second.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import time
from pathlib import Path

import pytest
from support.strays import reap_strays
from support.subprocesses import alive

from llm_mux.processes import reaper
from llm_mux.processes.process import ProcessTimeout, run_process

pytestmark = pytest.mark.skipif(
    not reaper.enabled() or shutil.which("setsid") is None, reason="needs Linux and setsid"
)


def escaping(pidfile: Path, then: str) -> list[str]:
    """A child whose grandchild moves to a session of its own, then does `then`.

    The grandchild lets go of the child's pipes (as an agent's tool does, reading its
    own): one holding stdout would keep the step waiting for it, by design.
    """
    grandchild = f"echo $$ > {pidfile}.tmp; mv {pidfile}.tmp {pidfile}; exec sleep 60"
    wait = f"while [ ! -s {pidfile} ]; do sleep 0.01; done"
    script = f"setsid sh -c '{grandchild}' >/dev/null 2>&1 & {wait}; {then}"
    return ["sh", "-c", script]


def gone_within(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while alive(pid):
        if time.monotonic() > deadline:
            os.kill(pid, 9)  # leave nothing behind for the next test either way
            return False
        time.sleep(0.02)
    return True


def test_a_timeout_ends_a_grandchild_in_another_session(tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    started = time.monotonic()
    with pytest.raises(ProcessTimeout):
        asyncio.run(run_process(escaping(pidfile, "sleep 60"), cwd=tmp_path, timeout=1.0))
    assert time.monotonic() - started < 3
    assert gone_within(int(pidfile.read_text()), 1.0)


def test_a_cancel_ends_it_too(tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"

    async def cancelled() -> None:
        task = asyncio.create_task(run_process(escaping(pidfile, "sleep 60"), cwd=tmp_path))
        while not pidfile.exists():
            await asyncio.sleep(0.02)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(cancelled())
    assert gone_within(int(pidfile.read_text()), 1.0)


def test_what_a_child_leaves_behind_at_a_normal_exit_is_ended(tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    done = asyncio.run(run_process(escaping(pidfile, "echo finished"), cwd=tmp_path))
    assert done.stdout == "finished"
    assert gone_within(int(pidfile.read_text()), 1.0)


def test_a_double_fork_daemon_is_ended_on_timeout(tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    argv = escaping(pidfile, "sleep 60")
    argv[2] = f"( {argv[2]} ) & sleep 60"  # the daemon's parent exits: an orphan by then
    with pytest.raises(ProcessTimeout):
        asyncio.run(run_process(argv, cwd=tmp_path, timeout=1.0))
    assert gone_within(int(pidfile.read_text()), 1.0)


def test_one_childs_exit_leaves_another_childs_processes_alone(tmp_path: Path) -> None:
    mine, theirs = tmp_path / "mine", tmp_path / "theirs"
    flag = tmp_path / "go"

    async def both() -> None:
        long = asyncio.create_task(
            run_process(
                escaping(theirs, f"while [ ! -e {flag} ]; do sleep 0.02; done"), cwd=tmp_path
            )
        )
        while not theirs.exists():
            await asyncio.sleep(0.02)
        await run_process(escaping(mine, "true"), cwd=tmp_path)
        assert alive(int(theirs.read_text()))  # still running: it belongs to the other child
        flag.touch()
        await long

    asyncio.run(both())
    assert gone_within(int(mine.read_text()), 1.0)
    assert gone_within(int(theirs.read_text()), 1.0)


@pytest.fixture(autouse=True)
def _clean_slate() -> None:
    """Earlier tests' zombies are not this test's (see support.strays)."""
    reap_strays()


def zombies() -> list[int]:
    """Children of this process that exited and were never reaped."""
    found = []
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            state, ppid = (Path("/proc") / entry / "stat").read_text().rsplit(")", 1)[1].split()[:2]
        except (OSError, ValueError):
            continue
        if state == "Z" and int(ppid) == os.getpid():
            found.append(int(entry))
    return found


def test_no_zombie_is_left_by_the_reaping(tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    asyncio.run(run_process(escaping(pidfile, "true"), cwd=tmp_path))
    assert gone_within(int(pidfile.read_text()), 1.0)
    assert zombies() == []
