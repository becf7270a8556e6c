"""Starting a child process and watching it from the event loop.

Input: an argv, how to start it (executable, directory, environment, the bytes for its
stdin or none) and a `SubprocessProtocol`. Output: a started `Child` — its pid, its exit
code once it has exited, `close()`. The protocol hears `pipe_data_received(1|2, data)`,
`pipe_connection_lost(1|2, None)` and `process_exited()`, as from asyncio's transports.
The child runs in its own session (process group), stdin from /dev/null unless given,
SIGPIPE and SIGXFSZ at their defaults (Python ignores both; `subprocess` restores them).

On Linux (pidfds, kernel 5.3+) a child is started the way `subprocess.Popen` starts
it — CPython's `_posixsubprocess.fork_exec`, with `vfork` — but without Popen's Python
around it, on the event loop's thread (see `_fork_exec`). Its pipes go into one epoll
per event loop, whose own descriptor is all the loop watches: no transport, task,
future or selector key per pipe. Its exit is read when both pipes have closed, which
is when a child has normally exited; only one still running then (or being killed) is
watched by pidfd. A Python whose `fork_exec` takes other arguments than the ones read
here starts children with `Popen` on spawning threads instead. Elsewhere asyncio's
subprocess transport does the same work.

Descriptors: a child inherits only its three standard ones (`close_fds`, as Popen's
default).
"""

from __future__ import annotations

import _posixsubprocess
import asyncio
import concurrent.futures
import contextlib
import errno
import fcntl
import functools
import os
import select
import subprocess
import sys
import weakref
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Protocol, TypeVar

import msgspec

from .environment import Environment, encode

__all__ = ["Child", "pidfds_work", "start"]

_READ_SIZE = 256 * 1024  # as asyncio's pipe transports read
_SPAWNERS = 2  # threads starting children with Popen at once (see _spawner)
T = TypeVar("T")


class Child(Protocol):
    pid: int

    def returncode(self) -> int | None: ...

    def watch_exit(self) -> None:
        """Report the exit even while the pipes stay open (before a kill)."""

    def close(self) -> None:
        """Stop watching; the child's pipes are closed on this side."""


async def start(
    protocol: asyncio.SubprocessProtocol,
    argv: Sequence[str],
    *,
    executable: str | None,
    cwd: Path,
    env: Mapping[str, str] | None,
    stdin: bytes | None,
) -> Child:
    """Start `argv` and report what it does to `protocol` (raises what Popen raises)."""
    loop = asyncio.get_running_loop()
    command = _Command(argv, executable, cwd, env, stdin)
    if pidfds_work():
        return await _Watched.start(loop, protocol, command)
    return await _Transported.start(loop, protocol, command)


class _Command(msgspec.Struct, frozen=True):
    """What to start, and how: `start`'s arguments."""

    argv: Sequence[str]
    executable: str | None
    cwd: Path
    env: Mapping[str, str] | None
    stdin: bytes | None


@functools.cache
def _devnull() -> int:
    """One /dev/null for every child's stdin (read-write, as subprocess.DEVNULL opens it):
    DEVNULL opens and closes one per child."""
    return os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)


@functools.cache
def pidfds_work() -> bool:
    """Whether this kernel gives pidfds (Linux 5.3+): children are then watched by fd."""
    try:
        os.close(os.pidfd_open(os.getpid()))
    except (AttributeError, OSError):  # not Linux, or a kernel older than 5.3
        return False
    return True


_Handler = Callable[[int, int], None]  # (fd, epoll events)


class _Epoll:
    """One epoll per event loop holding every child's pipes and pidfds; the loop
    watches its descriptor alone and `_ready` calls the handler of each ready fd.
    It lives as long as the loop: made and registered once, not per child."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.epoll = select.epoll()
        self.handlers: dict[int, _Handler] = {}
        loop.add_reader(self.epoll.fileno(), self._ready)
        weakref.finalize(loop, self.epoll.close)

    def watch(self, fd: int, handler: _Handler) -> None:
        self.epoll.register(fd, select.EPOLLIN)
        self.handlers[fd] = handler

    def forget(self, fd: int) -> None:
        """Before `fd` is closed: a copy of it in a child being forked would keep it in
        the epoll, its events then reported under a number since reused."""
        del self.handlers[fd]
        self.epoll.unregister(fd)

    def _ready(self) -> None:
        for fd, events in self.epoll.poll(0):
            handler = self.handlers.get(fd)
            if handler is not None:  # forgotten by an earlier handler of this round
                handler(fd, events)


_EPOLLS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Epoll] = weakref.WeakKeyDictionary()


def _epoll(loop: asyncio.AbstractEventLoop) -> _Epoll:
    found = _EPOLLS.get(loop)
    if found is None:
        found = _EPOLLS[loop] = _Epoll(loop)
    return found


class _Watched:
    """A child whose pipes (and, when needed, pidfd) the loop's `_Epoll` watches."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        protocol: asyncio.SubprocessProtocol,
        started: _Started,
        pipes: _Pipes,
        stdin: bytes | None,
    ) -> None:
        self.loop = loop
        self.epoll = _epoll(loop)
        self.protocol = protocol
        self.pid = started.pid
        self.process = started.process
        self.code: int | None = None
        self.pidfd = -1
        self.closed = False
        self.readers = {pipes.out_read: 1, pipes.err_read: 2}
        for fd in self.readers:
            fcntl.fcntl(fd, fcntl.F_SETFL, os.O_NONBLOCK)  # a read end: no other flag
            self.epoll.watch(fd, self._readable)
        self.stdin_fd = pipes.in_write
        self.pending = memoryview(stdin or b"")
        self.writing = False
        if stdin is not None:
            os.set_blocking(self.stdin_fd, False)
            self._write()

    @classmethod
    async def start(
        cls,
        loop: asyncio.AbstractEventLoop,
        protocol: asyncio.SubprocessProtocol,
        command: _Command,
    ) -> _Watched:
        """Start the child: at once with `fork_exec`, or with Popen on a spawning thread
        while the event loop goes on."""
        pipes = _Pipes(with_stdin=command.stdin is not None)
        if _fork_exec_fits():
            pid = pipes.fork_exec(command)
            return cls(loop, protocol, _Started(pid, None), pipes, command.stdin)
        popen = functools.partial(pipes.popen, command)
        process = await _settled(loop.run_in_executor(_spawner(), popen))
        return cls(loop, protocol, _Started(process.pid, process), pipes, command.stdin)

    def returncode(self) -> int | None:
        return self.code

    def _readable(self, fd: int, events: int) -> None:
        try:
            # A pipe whose writers are gone with nothing left in it says so (HUP
            # without IN): no read needed to learn it ended.
            data = os.read(fd, _READ_SIZE) if events & select.EPOLLIN else b""
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""  # the pipe broke: its end, as far as we are concerned
        if data:
            self.protocol.pipe_data_received(self.readers[fd], data)
            return
        which = self.readers.pop(fd)
        self.epoll.forget(fd)
        os.close(fd)
        self.protocol.pipe_connection_lost(which, None)
        if not self.readers:
            self._pipes_closed()

    def _pipes_closed(self) -> None:
        """Both pipes are closed: nearly always because the child has exited."""
        code = _wait(self.pid, os.WNOHANG)
        if code is None:
            self.watch_exit()  # it closed them and runs on
        else:
            self._exited(code)

    def watch_exit(self) -> None:
        if self.code is not None or self.pidfd != -1:
            return
        try:
            self.pidfd = os.pidfd_open(self.pid)  # not reaped yet: the pid is still its own
        except ProcessLookupError:  # reaped by someone else meanwhile (see _wait)
            self._exited(0)
            return
        self.epoll.watch(self.pidfd, self._pidfd_ready)

    def _pidfd_ready(self, fd: int, events: int) -> None:
        self.epoll.forget(fd)
        os.close(fd)
        self.pidfd = -1
        code = _wait(self.pid, 0)  # it has exited: this does not block
        self._exited(0 if code is None else code)

    def _exited(self, code: int) -> None:
        self.code = code
        if self.process is not None:
            self.process.returncode = code  # reaped here: Popen must not wait for it again
        if not self.closed:
            self.protocol.process_exited()

    def _write(self) -> None:
        """Write what the child's stdin takes now; the rest when it is writable again."""
        try:
            written = os.write(self.stdin_fd, self.pending) if self.pending else 0
        except (BlockingIOError, InterruptedError):
            written = 0
        except OSError:  # the child closed its stdin (EPIPE): the rest is not wanted
            self.pending = memoryview(b"")
            written = 0
        self.pending = self.pending[written:]
        if not self.pending:
            self._close_stdin()  # the child sees end of input
        elif not self.writing:
            self.loop.add_writer(self.stdin_fd, self._write)
            self.writing = True

    def _close_stdin(self) -> None:
        if self.stdin_fd != -1:
            self.loop.remove_writer(self.stdin_fd)
            os.close(self.stdin_fd)
            self.stdin_fd = -1

    def close(self) -> None:
        """Stop reporting; a child still running is reaped when it exits (no zombie)."""
        self.closed = True
        self._close_stdin()
        for fd in self.readers:
            self.epoll.forget(fd)
            os.close(fd)
        self.readers.clear()
        self.watch_exit()


class _Started(msgspec.Struct, frozen=True):
    pid: int
    process: subprocess.Popen[bytes] | None  # when Popen started it


def _wait(pid: int, options: int) -> int | None:
    """The child's exit code once it has exited (None while it runs), reaping it."""
    try:
        done, status = os.waitpid(pid, options)
    except ChildProcessError:  # reaped elsewhere: its status is lost (0, as subprocess says)
        return 0
    return os.waitstatus_to_exitcode(status) if done else None


class _Transported:
    """A child behind asyncio's subprocess transport (no pidfds)."""

    def __init__(self, transport: asyncio.SubprocessTransport) -> None:
        self.transport = transport
        self.pid = transport.get_pid()

    @classmethod
    async def start(
        cls,
        loop: asyncio.AbstractEventLoop,
        protocol: asyncio.SubprocessProtocol,
        command: _Command,
    ) -> _Transported:
        stdin = command.stdin
        transport, _ = await loop.subprocess_exec(
            lambda: protocol,
            *command.argv,
            executable=command.executable,
            cwd=command.cwd,
            env=dict(command.env) if command.env is not None else None,
            stdin=subprocess.PIPE if stdin is not None else _devnull(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        pipe = transport.get_pipe_transport(0)
        if isinstance(pipe, asyncio.WriteTransport) and stdin is not None:
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                pipe.write(stdin)  # buffered by the transport, written as the child reads
            pipe.close()  # after the buffered data: the child sees end of input
        return cls(transport)

    def returncode(self) -> int | None:
        return self.transport.get_returncode()

    def watch_exit(self) -> None:
        pass  # the transport always watches it

    def close(self) -> None:
        self.transport.close()


class _Pipes:
    """The child's stdout, stderr and (if it is given bytes) stdin pipes: ours, and the
    ends it inherits, which are closed here once it has them."""

    def __init__(self, *, with_stdin: bool) -> None:
        self.out_read, self.out_write = os.pipe2(os.O_CLOEXEC)
        self.err_read, self.err_write = os.pipe2(os.O_CLOEXEC)
        self.in_read, self.in_write = os.pipe2(os.O_CLOEXEC) if with_stdin else (-1, -1)

    def stdin(self) -> int:
        return self.in_read if self.in_read != -1 else _devnull()

    def fork_exec(self, command: _Command) -> int:
        """Start the child with `_fork_exec`; on failure every pipe is closed."""
        standard = (self.stdin(), self.out_write, self.err_write)
        return self._handing_over(functools.partial(_fork_exec, command, standard))

    def popen(self, command: _Command) -> subprocess.Popen[bytes]:
        """Start the child (on a spawning thread); on failure every pipe is closed."""

        def popen() -> subprocess.Popen[bytes]:
            return subprocess.Popen(
                list(command.argv),
                executable=command.executable,
                cwd=command.cwd,
                env=dict(command.env) if command.env is not None else None,
                stdin=self.stdin(),
                stdout=self.out_write,
                stderr=self.err_write,
                start_new_session=True,  # its own process group, killed as a whole
            )

        return self._handing_over(popen)

    def _handing_over(self, start: Callable[[], T]) -> T:
        """`start()`, then close the child's ends (it has its copies); ours too if it failed."""
        try:
            return start()
        except BaseException:
            for fd in (self.out_read, self.err_read, self.in_write):
                _close(fd)
            raise
        finally:
            for fd in (self.out_write, self.err_write, self.in_read):
                _close(fd)


# The parameters of `_posixsubprocess.fork_exec`, in the order Popen passes them
# (CPython 3.11 to 3.13; 3.12 and later declare them in its text signature).
_FORK_EXEC_PARAMETERS = (
    "args", "executable_list", "close_fds", "pass_fds", "cwd", "env",
    "p2cread", "p2cwrite", "c2pread", "c2pwrite", "errread", "errwrite",
    "errpipe_read", "errpipe_write", "restore_signals", "call_setsid", "pgid_to_set",
    "gid", "extra_groups", "uid", "child_umask", "preexec_fn", "allow_vfork",
)  # fmt: skip
_REPORT_LIMIT = 50_000  # what Popen reads of a child's report at most


@functools.cache
def _fork_exec_fits() -> bool:
    """Whether this Python's `fork_exec` takes what `_fork_exec` passes: the parameters
    it declares, or (3.11 declares none) the version whose Popen was read."""
    declared = getattr(_posixsubprocess.fork_exec, "__text_signature__", None)
    if declared is None:
        return sys.version_info[:2] == (3, 11)
    names = tuple(name.strip() for name in declared.strip("()").split(","))
    return names == ("$module", *_FORK_EXEC_PARAMETERS, "/")


def _fork_exec(command: _Command, standard: tuple[int, int, int]) -> int:
    """Start the child as Popen does, and return its pid; raises what Popen raises.

    CPython's own `fork_exec` with the arguments Popen gives it: `vfork`, then in the
    child `setsid`, SIGPIPE and SIGXFSZ back at their defaults, `standard` as fds 0-2,
    every other descriptor closed, `chdir`, `exec` — or a report of why not on a pipe.
    Popen's Python around it cost the event loop more than the start itself, and
    glibc's `posix_spawn` (used before) makes the child reset all 64 signal handlers
    while the parent waits: 5,000 shell items took 6% longer with it (paired medians of
    15 runs). It returns once the child has called `exec` (releasing the GIL meanwhile)
    and runs on the loop's thread: on a spawning thread, handing the GIL back and forth
    cost more than the wait.
    """
    report_read, report_write = os.pipe2(os.O_CLOEXEC)
    try:
        try:
            pid = _posixsubprocess.fork_exec(
                command.argv, _executables(command), True, (report_write,), str(command.cwd),
                _environment(command.env), standard[0], -1, -1, standard[1], -1, standard[2],
                report_read, report_write, True, True, -1, None, None, None, -1,
                None,  # type: ignore[arg-type]  # no preexec_fn, as Popen passes it
                True,
            )  # fmt: skip
        finally:
            os.close(report_write)  # the child's copy closes when it calls exec
        report = _read_report(report_read)
    finally:
        os.close(report_read)
    if report:
        _wait(pid, 0)  # it exited without calling exec
        raise _exec_failure(report, command)
    return pid


def _executables(command: _Command) -> tuple[bytes, ...]:
    """The files the child tries in turn: the program, or a bare name in each PATH entry."""
    program = os.fsencode(command.executable or command.argv[0])
    if os.path.dirname(program):
        return (program,)
    return tuple(
        os.path.join(os.fsencode(entry), program) for entry in os.get_exec_path(command.env)
    )


def _environment(env: Mapping[str, str] | None) -> tuple[bytes, ...] | None:
    """`env` as exec takes it (see `environment`); None keeps llm-mux's own."""
    if env is None:
        return None
    return env.encoded() if isinstance(env, Environment) else encode(env)


def _read_report(fd: int) -> bytes:
    """The child's report: empty once it has called exec (the pipe's end), else why not."""
    report = b""
    while len(report) <= _REPORT_LIMIT and (part := os.read(fd, _REPORT_LIMIT)):
        report += part
    return report


def _exec_failure(report: bytes, command: _Command) -> OSError:
    """The error the child reported (`OSError:<errno in hex>:` and `noexec` when it never
    got to exec, as in a `chdir` that failed), as Popen raises it."""
    _, _, rest = report.partition(b":")
    number, _, where = rest.partition(b":")
    try:
        code = int(number, 16)
    except ValueError:
        code = errno.EIO  # not a report fork_exec writes
    place = command.cwd if where.startswith(b"noexec") else command.executable or command.argv[0]
    return OSError(code, os.strerror(code), str(place))


@functools.cache
def _spawner() -> concurrent.futures.ThreadPoolExecutor:
    """The threads that start children with Popen.

    `Popen` waits until the new child has called `exec` (CPython starts it with
    `vfork`) and does much in Python besides: on the event loop's thread that stopped
    everything else, so children started one after another; here the loop goes on
    (CPython releases the GIL while it waits) and two children start at once.
    """
    return concurrent.futures.ThreadPoolExecutor(_SPAWNERS, thread_name_prefix="llm-mux-spawn")


async def _settled(spawning: asyncio.Future[T]) -> T:
    """The started child, even when the task is cancelled meanwhile.

    A child being started cannot be stopped half-way: a cancel that arrives now
    waits for it and is then requested again, so that it reaches the caller
    holding the child, which kills it as it kills any child on a cancel.
    """
    cancelled = False
    while not spawning.done():
        try:
            await asyncio.shield(spawning)
        except asyncio.CancelledError:
            cancelled = True
    if cancelled and spawning.exception() is None:
        task = asyncio.current_task()
        assert task is not None
        task.uncancel()  # the cancel caught here is not lost: it is requested again
        task.cancel()
    elif cancelled:
        raise asyncio.CancelledError
    return spawning.result()


def _close(fd: int) -> None:
    if fd != -1:
        with contextlib.suppress(OSError):
            os.close(fd)
