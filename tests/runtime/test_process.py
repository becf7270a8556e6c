"""run_process on every way of starting and watching a child: CPython's `fork_exec`
(as Popen calls it) or Popen itself (a Python whose `fork_exec` takes other arguments),
both watched by epoll and pidfd (Linux), and asyncio's transport.

The same laws for each: output and exit code, stdin however large, a child that stops
reading its stdin, a timeout and a cancel that kill the whole process group, and no
descriptor or zombie left behind.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import os
import signal
import sys
import threading
import time
import types
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from support.strays import reap_strays

from llm_mux.processes import spawn
from llm_mux.processes.process import CommandNotFound, ProcessTimeout, run_process


@pytest.fixture(params=["fork_exec", "popen", "transport"])
def watching(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[str]:
    """Which way children start here; the others fail, so the test proves it took this one."""
    if request.param != "transport" and not spawn.pidfds_work():
        pytest.skip("no pidfds on this system")
    if request.param == "fork_exec":
        if not spawn._fork_exec_fits():
            pytest.skip(f"fork_exec takes other arguments on Python {sys.version_info[:2]}")
        monkeypatch.setattr(spawn._Pipes, "popen", _not_this_way)
    elif request.param == "popen":
        monkeypatch.setattr(spawn, "_fork_exec_fits", lambda: False)
        monkeypatch.setattr(spawn._Pipes, "fork_exec", _not_this_way)
    else:
        monkeypatch.setattr(spawn, "pidfds_work", lambda: False)
    yield request.param


def _not_this_way(*args: object) -> object:
    raise AssertionError("the child was started another way than the test meant")


def run(argv: list[str], tmp_path: Path, **kwargs: object):  # type: ignore[no-untyped-def]
    return asyncio.run(run_process(argv, cwd=tmp_path, **kwargs))  # type: ignore[arg-type]


def test_output_error_and_exit_code(watching: str, tmp_path: Path) -> None:
    done = run(["sh", "-c", "pwd; echo oops >&2; exit 3"], tmp_path)
    assert (done.exit_code, done.stdout, done.stderr) == (3, str(tmp_path), "oops\n")


def test_stdin_of_any_size_and_a_child_that_stops_reading(watching: str, tmp_path: Path) -> None:
    data = b"0123456789" * 500_000  # far more than a pipe holds
    assert run(["wc", "-c"], tmp_path, stdin=data).stdout.strip() == str(len(data))
    assert run(["head", "-c", "5"], tmp_path, stdin=data).stdout == "01234"
    assert run(["true"], tmp_path, stdin=data).exit_code == 0
    assert run(["cat"], tmp_path, stdin=b"").stdout == ""


def test_a_timeout_kills_the_group(watching: str, tmp_path: Path) -> None:
    marker = tmp_path / "survived"
    started = time.monotonic()
    with pytest.raises(ProcessTimeout):
        run(["sh", "-c", f"(sleep 1; touch {marker}) & sleep 30"], tmp_path, timeout=0.2)
    assert time.monotonic() - started < 5
    time.sleep(1.3)
    assert not marker.exists()


def test_a_cancel_kills_the_child(watching: str, tmp_path: Path) -> None:
    async def cancelled() -> None:
        task = asyncio.create_task(run_process(["sleep", "30"], cwd=tmp_path))
        await asyncio.sleep(0.2)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    started = time.monotonic()
    asyncio.run(cancelled())
    assert time.monotonic() - started < 5


def test_a_child_that_closes_its_pipes_and_runs_on(watching: str, tmp_path: Path) -> None:
    # Both pipes close long before the exit: the exit is then watched by pidfd.
    done = run(["sh", "-c", "exec >&- 2>&-; sleep 0.3; exit 3"], tmp_path)
    assert (done.exit_code, done.stdout) == (3, "")
    assert done.duration_ms >= 300


def test_the_child_leads_its_own_session_with_sigpipe_at_its_default(
    watching: str, tmp_path: Path
) -> None:
    done = run(["sh", "-c", "cat /proc/$$/stat; grep SigIgn /proc/$$/status"], tmp_path)
    stat, ignored = done.stdout.splitlines()
    pid, session = stat.rsplit(")", 1)[0].split()[0], stat.rsplit(")", 1)[1].split()[3]
    assert session == pid  # `setsid`: its own session and process group, no terminal
    mask = int(ignored.split()[1], 16)
    assert not mask & (1 << (signal.SIGPIPE - 1))  # Python ignores it; children must not
    assert not mask & (1 << (signal.SIGXFSZ - 1))


def test_only_the_standard_descriptors_are_inherited(watching: str, tmp_path: Path) -> None:
    read_end, write_end = os.pipe()
    os.set_inheritable(write_end, True)  # as a descriptor llm-mux inherited would be
    try:
        done = run(["sh", "-c", "ls /proc/$$/fd; true"], tmp_path)
    finally:
        os.close(read_end)
        os.close(write_end)
    assert done.stdout.split() == ["0", "1", "2"]


def test_a_program_moved_on_path_is_found_again(watching: str, tmp_path: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    for directory in (first, second):
        directory.mkdir()
    tool = first / "tool"
    tool.write_text("#!/bin/sh\necho first\n")
    tool.chmod(0o755)
    env = {"PATH": f"{first}:{second}:/usr/bin:/bin"}
    assert run(["tool"], tmp_path, env=env).stdout == "first"
    tool.rename(second / "tool")  # found in `first` before: now only in `second`
    assert run(["tool"], tmp_path, env=env).stdout == "first"


def test_a_program_gone_from_path_is_not_found(tmp_path: Path) -> None:
    tool = tmp_path / "tool"
    tool.write_text("#!/bin/sh\necho here\n")
    tool.chmod(0o755)
    env = {"PATH": f"{tmp_path}:/usr/bin:/bin"}
    assert run(["tool"], tmp_path, env=env).stdout == "here"
    tool.unlink()
    with pytest.raises(CommandNotFound):
        run(["tool"], tmp_path, env=env)


def test_nothing_is_left_open_or_unreaped(watching: str, tmp_path: Path) -> None:
    async def many() -> None:
        await asyncio.gather(*(run_process(["echo", "hi"], cwd=tmp_path) for _ in range(50)))

    asyncio.run(many())  # descriptors opened once per process (/dev/null) exist from here
    before = open_descriptors()
    asyncio.run(many())
    assert open_descriptors() == before
    assert zombies() == []


def open_descriptors() -> int:
    """This process's open descriptors once the loops that ended are collected: a loop's
    epoll for its children closes with the loop, whenever the collector gets to it."""
    gc.collect()
    return len(os.listdir("/proc/self/fd"))


@pytest.fixture(autouse=True)
def _clean_slate() -> None:
    """Earlier tests' strays are not this test's: reaped, or left out when alive."""
    STRAYS.clear()
    STRAYS.update(reap_strays())


STRAYS: set[int] = set()


def zombies() -> list[int]:
    """Children of this process that exited and were never reaped."""
    found = []
    for entry in os.listdir("/proc"):
        try:
            stat = (Path("/proc") / entry / "stat").read_text()
        except (OSError, ValueError):
            continue
        state, ppid = stat.rsplit(")", 1)[1].split()[:2]
        if state == "Z" and int(ppid) == os.getpid() and int(entry) not in STRAYS:
            found.append(int(entry))
    return found


def children() -> list[int]:
    """Live or unreaped children of this process (any of its threads)."""
    found = []
    for task in os.listdir("/proc/self/task"):
        with open(f"/proc/self/task/{task}/children") as listing:
            found += [int(pid) for pid in listing.read().split() if int(pid) not in STRAYS]
    return found


class HeldSpawn:
    """Children start (on the spawning thread) only once `release` is set; `started` is
    set when a start has returned or failed."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.started = threading.Event()

    def settled(self) -> None:
        """Let the held start go and wait until it has happened."""
        self.release.set()
        assert self.started.wait(10)


@pytest.fixture
def held_spawn(monkeypatch: pytest.MonkeyPatch) -> Iterator[HeldSpawn]:
    if not spawn.pidfds_work():
        pytest.skip("no pidfds on this system")
    monkeypatch.setattr(spawn, "_fork_exec_fits", lambda: False)  # Popen, on a spawning thread
    held = HeldSpawn()
    popen = spawn._Pipes.popen

    def holding(self: spawn._Pipes, *args: object) -> object:
        held.release.wait(10)
        try:
            return popen(self, *args)  # type: ignore[arg-type]
        finally:
            held.started.set()

    monkeypatch.setattr(spawn._Pipes, "popen", holding)
    yield held
    held.release.set()


def test_a_cancel_while_the_child_starts_still_kills_it(
    held_spawn: HeldSpawn, tmp_path: Path
) -> None:
    async def cancelled() -> None:
        task = asyncio.create_task(run_process(["sleep", "30"], cwd=tmp_path))
        await asyncio.sleep(0.05)  # the task waits for its child to start
        task.cancel()
        await asyncio.sleep(0.05)
        held_spawn.release.set()  # the child starts after the cancel
        with pytest.raises(asyncio.CancelledError):
            await task

    started = time.monotonic()
    asyncio.run(cancelled())
    held_spawn.settled()
    assert time.monotonic() - started < 5
    assert children() == []


def test_a_timeout_while_the_child_starts_is_a_timeout(
    held_spawn: HeldSpawn, tmp_path: Path
) -> None:
    async def timed_out() -> None:
        threading.Timer(0.2, held_spawn.release.set).start()
        async with asyncio.timeout(0.05):
            await run_process(["sleep", "30"], cwd=tmp_path)

    with pytest.raises(TimeoutError):
        asyncio.run(timed_out())
    held_spawn.settled()
    assert children() == []


def test_fork_exec_is_used_only_where_its_arguments_are_known(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not spawn.pidfds_work():
        pytest.skip("no pidfds on this system")

    def fork_exec(*args: object) -> int:
        raise AssertionError("called with arguments it does not take")

    # Python 3.14's fork_exec: no allow_vfork at the end.
    fork_exec.__text_signature__ = declared(spawn._FORK_EXEC_PARAMETERS[:-1])
    monkeypatch.setattr(spawn, "_posixsubprocess", types.SimpleNamespace(fork_exec=fork_exec))
    fits = functools.cache(spawn._fork_exec_fits.__wrapped__)
    monkeypatch.setattr(spawn, "_fork_exec_fits", fits)
    assert run(["sh", "-c", "echo started"], tmp_path).stdout == "started"  # by Popen
    assert fits() is False
    fork_exec.__text_signature__ = declared(spawn._FORK_EXEC_PARAMETERS)
    assert spawn._fork_exec_fits.__wrapped__() is True  # as 3.12 and 3.13 declare it


def declared(parameters: tuple[str, ...]) -> str:
    """A text signature as CPython writes it (over several lines in 3.13)."""
    return "($module, " + ",\n          ".join(parameters) + ",\n          /)"


def test_a_program_that_cannot_start_says_why_and_leaves_nothing(
    watching: str, tmp_path: Path
) -> None:
    script = tmp_path / "script"
    script.write_text("#!/bin/sh\necho never\n")  # not executable
    with pytest.raises(CommandNotFound, match="not executable"):
        run([str(script)], tmp_path)
    with pytest.raises(CommandNotFound, match="no-such-program"):
        run(["no-such-program"], tmp_path)
    with pytest.raises(CommandNotFound):  # its directory is gone: chdir fails in the child
        run(["sh", "-c", "true"], tmp_path / "gone")
    assert zombies() == []
    assert children() == []


def test_the_child_gets_the_environment_exactly(watching: str, tmp_path: Path) -> None:
    env = {"PATH": os.environ["PATH"], "PLAIN": "a b=c", "ACCENTED": "é ü 中", "EMPTY": ""}
    done = run(
        ["sh", "-c", 'printf "%s|%s|%s|" "$PLAIN" "$ACCENTED" "$EMPTY"; env | wc -l'],
        tmp_path,
        env=env,
    )
    assert done.stdout.split("|")[:3] == ["a b=c", "é ü 中", ""]
    assert int(done.stdout.split("|")[3]) <= len(env) + 4  # its own, and what sh sets (PWD, …)


names = st.text(st.characters(blacklist_characters="=\0"), min_size=1)
values = st.text(st.characters(blacklist_characters="\0"))


@given(st.dictionaries(names, values, max_size=8))
def test_the_environment_is_encoded_as_popen_encodes_it(env: dict[str, str]) -> None:
    """The same bytes as `os.fsencode` (undecodable bytes llm-mux read come back as
    they were), or the same error for text no file name could hold."""
    try:
        expected = [os.fsencode(name) + b"=" + os.fsencode(value) for name, value in env.items()]
    except UnicodeEncodeError:
        with pytest.raises(UnicodeEncodeError):
            spawn._environment(env)
        return
    assert spawn._environment(env) == tuple(expected)


def test_a_variable_name_holding_an_equals_sign_is_refused() -> None:
    with pytest.raises(ValueError, match="illegal environment variable name"):
        spawn._environment({"A=B": "c"})
