"""Subprocesses the way llm-mux needs them: own process group, killed whole.

Input: an argv, a working directory, extra environment, optional stdin bytes
and a timeout. Output: a `ProcessResult` (exit code, stdout, end of stderr).
Used by CLI backends, shell steps and verify commands. A timeout or a
cancellation kills the *process group*, so `sh -c 'sleep 100 & wait'` leaves
nothing behind, and `llm_mux.processes.reaper` ends descendants that left the group too.
Output that is not UTF-8 is decoded with replacement.

Memory: stdout is collected in one bytearray and its trailing newlines are cut
in place before decoding, so a step printing 200 MB peaks near twice that.
With `max_output` (a CLI backend's `max_response_bytes`) no more than that many
bytes are ever kept: the first byte past it stops collecting, the process group
is killed as on a timeout, and `OutputTooLarge` is raised.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import functools
import os
import resource
import shlex
import shutil
import signal
import time
import weakref
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path

import msgspec

from . import reaper, spawn

__all__ = [
    "TOO_LONG_HINT",
    "CommandNotFound",
    "CommandTooLong",
    "Gate",
    "OutputTooLarge",
    "ProcessResult",
    "ProcessTimeout",
    "run_process",
    "wrapped",
]

_STDERR_TAIL = 64 * 1024
_KILL_GRACE = 0.5  # everything is gone within a second of a timeout or cancel


class ProcessResult(msgspec.Struct, frozen=True):
    exit_code: int
    stdout: str
    stderr: str
    duration_ms: int


class CommandNotFound(Exception):
    def __init__(self, command: str) -> None:
        super().__init__(f"command not found: {command}")
        self.command = command


TOO_LONG_HINT = (
    "pass large values through a file or stdin instead of the command line "
    "(e.g. have the step that makes the value write it to a file, and read that file here)"
)


class CommandTooLong(OSError):
    """The system refused to start a command this long (E2BIG): a step failure, not a bug."""

    def __init__(self, argv: Sequence[str]) -> None:
        size = sum(len(os.fsencode(arg)) + 1 for arg in argv)
        super().__init__(
            errno.E2BIG,
            f"the command is {size:,} bytes, more than the system lets one command take "
            "(a single argument may hold at most 128 KiB)",
        )


class OutputTooLarge(Exception):
    """The child wrote more than `max_output` bytes to stdout; `kept` is what was held."""

    def __init__(self, limit: int, kept: int, stderr: str = "") -> None:
        super().__init__(f"wrote more than {limit:,} bytes to standard output")
        self.limit = limit
        self.kept = kept
        self.stderr = stderr


class ProcessTimeout(Exception):
    def __init__(self, seconds: float, stderr: str = "") -> None:
        super().__init__(f"timed out after {seconds:g}s")
        self.seconds = seconds
        self.stderr = stderr


async def run_process(
    argv: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str] | None = None,
    stdin: bytes | None = None,
    timeout: float | None = None,
    wrapper: Sequence[str] = (),
    max_output: int | None = None,
) -> ProcessResult:
    """Run `argv` (inside `wrapper`, see `wrapped`) to completion; raises
    CommandNotFound, CommandTooLong, ProcessTimeout, OutputTooLarge (more than
    `max_output` bytes on stdout), or CancelledError.

    Children beyond what the process's descriptor limit can hold wait their turn
    (`_slots`): 400 steps at once under `ulimit -n 1024` queue, they do not crash."""
    async with _slots():
        return await _run_process(argv, cwd, env, stdin, timeout, wrapper, max_output)


# Descriptors a running child holds in llm-mux (two pipes, a pidfd, the reaper's
# pidfds of its tree), and those kept free for everything else (the ledger, HTTP
# connections, files).
_FDS_PER_CHILD = 6
_FDS_RESERVED = 128
_SLOTS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Gate] = weakref.WeakKeyDictionary()


def child_slots() -> int:
    """How many children may run at once under the current RLIMIT_NOFILE."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        soft = 1 << 20
    return max(1, (soft - _FDS_RESERVED) // _FDS_PER_CHILD)


def _slots() -> Gate:
    """The one gate on starting children, per event loop."""
    loop = asyncio.get_running_loop()
    if loop not in _SLOTS:
        _SLOTS[loop] = Gate(child_slots())
    return _SLOTS[loop]


class Gate:
    """At most `size` holders at once; the others wait in arrival order.

    An `asyncio.Semaphore` whose waiters are cancelled in no particular order (a
    TaskGroup cancelling 20,000 steps waiting for a child slot) removes each from a
    deque by scanning it: quadratic, 2 s of the cancel at 20,000. Here a waiter
    leaves a dict in constant time, and a slot a cancelled waiter was just handed
    passes on to the next.
    """

    def __init__(self, size: int) -> None:
        self.free = size
        self.waiting: dict[asyncio.Future[None], None] = {}  # insertion-ordered

    async def __aenter__(self) -> None:
        if self.free > 0 and not self.waiting:
            self.free -= 1
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.waiting[waiter] = None
        try:
            await waiter
        except BaseException:
            self.waiting.pop(waiter, None)
            if waiter.done() and not waiter.cancelled():
                self._release()  # handed a slot, but cancelled before taking it
            raise

    async def __aexit__(self, *exc_info: object) -> None:
        self._release()

    def _release(self) -> None:
        """Hand the slot to the first live waiter, or free it."""
        while self.waiting:
            waiter = next(iter(self.waiting))
            del self.waiting[waiter]
            if not waiter.done():
                waiter.set_result(None)
                return
        self.free += 1


async def _run_process(
    argv: Sequence[str],
    cwd: Path,
    env: Mapping[str, str] | None,
    stdin: bytes | None,
    timeout: float | None,
    wrapper: Sequence[str],
    max_output: int | None,
) -> ProcessResult:
    argv = wrapped(argv, wrapper)
    started = time.perf_counter()
    collector = _Collector(asyncio.get_running_loop(), max_output)
    family = reaper.Family(env)
    start = functools.partial(spawn.start, collector, argv, cwd=cwd, env=family.env, stdin=stdin)
    try:
        child = await _started(start, argv[0], env)
    except FileNotFoundError as error:
        raise CommandNotFound(argv[0]) from error
    except PermissionError as error:
        raise CommandNotFound(f"{argv[0]} (not executable)") from error
    except OSError as error:
        if error.errno == errno.E2BIG:
            raise CommandTooLong(argv) from error
        raise
    family.started(child.pid)
    try:
        await _within(collector.finished, timeout)
    except TimeoutError:
        await _kill_group(child, collector, family)
        raise ProcessTimeout(timeout or 0.0, collector.stderr_text()) from None
    except OutputTooLarge as too_large:
        await _kill_group(child, collector, family)
        kept = len(collector.stdout)  # after the kill: nothing it wrote since was kept
        raise OutputTooLarge(too_large.limit, kept, collector.stderr_text()) from None
    except BaseException:
        await _kill_group(child, collector, family)
        raise
    finally:
        child.close()
        family.close()  # idempotent: reaps what a kill left; the normal path sweeps first
    if _group_alive(child.pid):  # background jobs die with their step
        _signal_group(child.pid, signal.SIGTERM)
    family.sweep()  # and so do those that left its group or session
    family.close()
    duration = int((time.perf_counter() - started) * 1000)
    code = child.returncode()
    assert code is not None  # `finished` waits for the exit
    return ProcessResult(code, collector.stdout_text(), collector.stderr_text(), duration)


async def _within(finished: asyncio.Future[None], timeout: float | None) -> None:
    if timeout is None:  # no timer to set and cancel, per child
        await finished
        return
    async with asyncio.timeout(timeout):
        await finished


# A wrapper ending in one of these takes the command as one string, which it
# hands to a shell: `nix-shell --run`, `bash -c`, `sh -c`.
_TAKES_A_STRING = frozenset({"-c", "--run", "--command"})


def wrapped(argv: Sequence[str], wrapper: Sequence[str]) -> list[str]:
    """`argv` run inside `[defaults] command_wrapper`.

    `docker exec box` gets the words as its arguments; a wrapper ending in `-c`,
    `--run` or `--command` gets them joined into one string, each word
    shell-quoted, so the shell it starts runs exactly `argv` and no word (a
    prompt, an interpolated value) is ever read as shell code.
    """
    if not wrapper:
        return list(argv)
    if wrapper[-1] in _TAKES_A_STRING:
        return [*wrapper, shlex.join(argv)]
    return [*wrapper, *argv]


async def _started(
    start: Callable[..., Awaitable[spawn.Child]], program: str, env: Mapping[str, str] | None
) -> spawn.Child:
    """`start(executable=…)` with the file `program` was found to be on PATH; when that
    fails (removed or changed since it was found), PATH is searched again."""
    executable = _executable(program, env)
    try:
        return await start(executable=executable)
    except (FileNotFoundError, PermissionError):
        if executable is None:
            raise
    _found_on.cache_clear()
    return await start(executable=_executable(program, env))


def _executable(program: str, env: Mapping[str, str] | None) -> str | None:
    """The file `program` runs, found once per PATH; None leaves the search to Popen.

    Popen searches PATH in the child on every start, one failed exec per directory
    before the one holding the program, while the parent waits: with a long PATH
    that is most of what starting `sh -c true` costs. A PATH with a relative entry
    (relative to the child's directory) is left to Popen.
    """
    if "/" in program:
        return None
    path = (os.environ if env is None else env).get("PATH", os.defpath)
    return _found_on(program, path)


@functools.lru_cache(maxsize=64)
def _found_on(program: str, path: str) -> str | None:
    if not all(os.path.isabs(entry) for entry in path.split(os.pathsep)):
        return None
    return shutil.which(program, path=path)


class _Collector(asyncio.SubprocessProtocol):
    """What the child writes, as the pipes deliver it: stdout up to `limit`, the end of stderr.

    A protocol rather than stream readers: no reader tasks per process, which is
    most of the event loop's own cost of a trivial shell step. `exited` is done when
    the process has exited, `finished` when it has and both pipes are closed too —
    or fails with `OutputTooLarge` as soon as stdout goes past `limit`, after which
    nothing more is kept.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, limit: int | None = None) -> None:
        self.limit = limit
        self.stdout = bytearray()
        self.stderr = bytearray()
        self.exited: asyncio.Future[None] = loop.create_future()
        self.finished: asyncio.Future[None] = loop.create_future()
        self._open_pipes = 2

    def pipe_data_received(self, fd: int, data: bytes | bytearray) -> None:
        if fd == 1:
            self._keep(data)
            return
        self.stderr += data
        if len(self.stderr) > 2 * _STDERR_TAIL:
            del self.stderr[: len(self.stderr) - _STDERR_TAIL]  # only its end is ever shown

    def _keep(self, data: bytes | bytearray) -> None:
        if self.limit is None:
            self.stdout += data
        elif not self.finished.done():  # past the limit (failed) or over: keep nothing more
            if len(self.stdout) + len(data) > self.limit:
                self.finished.set_exception(OutputTooLarge(self.limit, len(self.stdout)))
                return
            self.stdout += data

    def pipe_connection_lost(self, fd: int, exc: Exception | None) -> None:
        if fd in (1, 2):
            self._open_pipes -= 1
            self._check()

    def process_exited(self) -> None:
        _resolve(self.exited)
        self._check()

    def _check(self) -> None:
        if self.exited.done() and self._open_pipes == 0:
            _resolve(self.finished)

    def stdout_text(self) -> str:
        end = len(self.stdout)
        while end and self.stdout[end - 1] in b"\r\n":
            end -= 1
        del self.stdout[end:]  # in place: no second copy of a huge output
        return self.stdout.decode("utf-8", errors="replace")

    def stderr_text(self) -> str:
        return bytes(self.stderr[-_STDERR_TAIL:]).decode("utf-8", errors="replace")


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


async def _kill_group(child: spawn.Child, collector: _Collector, family: reaper.Family) -> None:
    """SIGTERM the whole group and every descendant, SIGKILL what is left after a short grace."""
    pid = child.pid
    child.watch_exit()  # its pipes may stay open: `exited` must not wait for them
    if collector.exited.done() and not _group_alive(pid):
        family.sweep()
        return
    if not collector.exited.done():  # not reaped yet: its pid still names it
        family.terminate()
    _signal_group(pid, signal.SIGTERM)
    try:
        async with asyncio.timeout(_KILL_GRACE):
            await asyncio.shield(collector.exited)
    except TimeoutError:
        pass
    _signal_group(pid, signal.SIGKILL)
    family.kill()
    await asyncio.shield(collector.exited)


def _signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def _group_alive(pid: int) -> bool:
    try:
        os.killpg(pid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True
