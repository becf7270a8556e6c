"""Starting a child process and watching it from the event loop.

Input: an argv, how to start it (executable, directory, environment, the bytes for its
stdin or none) and a `SubprocessProtocol`. Output: a started `Child` — its pid, its exit
code once it has exited, `close()`. The protocol hears `pipe_data_received(1|2, data)`,
`pipe_connection_lost(1|2, None)` and `process_exited()`, as from asyncio's transports.
The child runs in its own session (process group), stdin from /dev/null unless given,
SIGPIPE and SIGXFSZ at their defaults (Python ignores both; `subprocess` restores them).

On Linux (pidfds, kernel 5.3+) a child is started with `posix_spawn` when it runs in
llm-mux's own directory (Python 3.11's `posix_spawn` cannot change directory), else
with `subprocess.Popen` on a spawning thread. Its pipes go into one epoll per event
loop, whose own descriptor is all the loop watches: no transport, task, future or
selector key per pipe. Its exit is read when both pipes have closed, which is when a
child has normally exited; only one still running then (or being killed) is watched
by pidfd. Elsewhere asyncio's subprocess transport does the same work.

Descriptors: a `posix_spawn` child inherits only its three standard ones, because
every descriptor llm-mux opens is close-on-exec (Python's default, PEP 446) and those
llm-mux itself inherited are made so before the first child starts — what `Popen`'s
`close_fds` gives.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import fcntl
import functools
import os
import select
import signal
import subprocess
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TypeVar

__all__ = ["Child", "pidfds_work", "start"]

_READ_SIZE = 256 * 1024  # as asyncio's pipe transports read
_SPAWNERS = 2  # threads starting children with Popen at once (see _spawner)
T = TypeVar("T")
_DEFAULT_SIGNALS = (signal.SIGPIPE, signal.SIGXFSZ)  # restored in the child, as Popen does


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


@dataclass(frozen=True, slots=True)
class _Command:
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
        """Start the child: at once with `posix_spawn`, or with Popen on a spawning thread
        while the event loop goes on."""
        pipes = _Pipes(with_stdin=command.stdin is not None)
        program = pipes.spawnable(command) if _Spawning.works else None
        if program is not None:
            try:
                pid = pipes.spawn(program, command)
                return cls(loop, protocol, _Started(pid, None), pipes, command.stdin)
            except NotImplementedError:  # no POSIX_SPAWN_SETSID in this C library: Popen
                _Spawning.works = False
                pipes = _Pipes(with_stdin=command.stdin is not None)
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


class _Spawning:
    works = True  # until `posix_spawn` says it cannot start a child in a session of its own


@dataclass(frozen=True, slots=True)
class _Started:
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

    def spawnable(self, command: _Command) -> str | None:
        """The program `posix_spawn` can start `command` with, or None when only Popen can:
        in another directory, with PATH to search, or with a standard descriptor
        closed in llm-mux (a pipe then took its number)."""
        program = command.executable or command.argv[0]
        if "/" not in program or str(command.cwd) != _here():
            return None
        if min(self.out_write, self.err_write, self.stdin()) < 3:
            return None
        return program

    def spawn(self, program: str, command: _Command) -> int:
        """Start the child with `posix_spawn`; on failure every pipe is closed.

        It returns once the child has called `exec` — on a busy machine half a
        millisecond, mostly the child waiting for a CPU — and runs on the event loop's
        thread all the same: on a spawning thread, handing the GIL back and forth cost
        the loop more than the wait (5,000 `sh -c true` items took a quarter longer).
        """
        _no_inherited_descriptors()
        actions = [
            (os.POSIX_SPAWN_DUP2, self.stdin(), 0),
            (os.POSIX_SPAWN_DUP2, self.out_write, 1),
            (os.POSIX_SPAWN_DUP2, self.err_write, 2),
        ]
        env = os.environ if command.env is None else command.env
        spawn = functools.partial(
            os.posix_spawn,
            program,
            list(command.argv),
            env,
            file_actions=actions,
            setsid=True,  # its own process group, killed as a whole
            setsigdef=_DEFAULT_SIGNALS,
        )
        return self._handing_over(spawn)

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


def _here() -> str | None:
    try:
        return os.getcwd()
    except OSError:  # llm-mux's own directory was removed
        return None


@functools.cache
def _no_inherited_descriptors() -> None:
    """Make the descriptors llm-mux inherited (all but 0, 1 and 2) close-on-exec, once:
    `posix_spawn` children then inherit what `Popen(close_fds=True)` children do."""
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd > 2:
            with contextlib.suppress(OSError):
                os.set_inheritable(fd, False)


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
