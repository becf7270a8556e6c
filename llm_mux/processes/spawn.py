"""Starting a child process and watching it from the event loop.

Input: an argv, how to start it (executable, directory, environment, the bytes for its
stdin or none) and a `SubprocessProtocol`. Output: a started `Child` — its pid, its exit
code once it has exited, `close()`. The protocol hears `pipe_data_received(1|2, data)`,
`pipe_connection_lost(1|2, None)` and `process_exited()`, as from asyncio's transports.
The child runs in its own session (process group), stdin from /dev/null unless given.

On Linux (pidfds, kernel 5.3+) the event loop watches the child's two pipes and its
pidfd itself: no transport, task or future per pipe and no pipe file objects, which was
a third of what starting a trivial shell step cost the parent. Elsewhere asyncio's
subprocess transport does the same work.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import os
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

__all__ = ["Child", "pidfds_work", "start"]

_READ_SIZE = 256 * 1024  # as asyncio's pipe transports read
_SPAWNERS = 2  # threads starting children at once (see _spawner)


class Child(Protocol):
    pid: int

    def returncode(self) -> int | None: ...

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


class _Watched:
    """A child whose pipes and pidfd the event loop reads directly."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        protocol: asyncio.SubprocessProtocol,
        process: subprocess.Popen[bytes],
        pipes: _Pipes,
        stdin: bytes | None,
    ) -> None:
        self.loop = loop
        self.protocol = protocol
        self.process = process
        self.pid = process.pid
        self.pidfd = os.pidfd_open(self.pid)
        self.readers = {pipes.out_read: 1, pipes.err_read: 2}
        for fd in self.readers:
            os.set_blocking(fd, False)
            loop.add_reader(fd, self._readable, fd)
        loop.add_reader(self.pidfd, self._exited)
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
        """Start the child on a spawning thread; the event loop goes on meanwhile."""
        pipes = _Pipes(with_stdin=command.stdin is not None)
        popen = functools.partial(pipes.popen, command)
        process = await _settled(loop.run_in_executor(_spawner(), popen))
        return cls(loop, protocol, process, pipes, command.stdin)

    def returncode(self) -> int | None:
        return self.process.returncode

    def _readable(self, fd: int) -> None:
        try:
            data = os.read(fd, _READ_SIZE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""  # the pipe broke: its end, as far as we are concerned
        if data:
            self.protocol.pipe_data_received(self.readers[fd], data)
            return
        which = self.readers.pop(fd)
        self.loop.remove_reader(fd)
        os.close(fd)
        self.protocol.pipe_connection_lost(which, None)

    def _exited(self) -> None:
        self.loop.remove_reader(self.pidfd)
        os.close(self.pidfd)
        self.pidfd = -1
        self.process.wait()  # reaps it: the pidfd says it has exited
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
        self._close_stdin()
        for fd in list(self.readers):
            self.loop.remove_reader(fd)
            os.close(fd)
        self.readers.clear()
        if self.pidfd != -1:  # not exited yet: Popen reaps it later
            self.loop.remove_reader(self.pidfd)
            os.close(self.pidfd)
            self.pidfd = -1


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

    def close(self) -> None:
        self.transport.close()


class _Pipes:
    """The child's stdout, stderr and (if it is given bytes) stdin pipes: ours, and the
    ends it inherits, which are closed here once it has them."""

    def __init__(self, *, with_stdin: bool) -> None:
        self.out_read, self.out_write = os.pipe2(os.O_CLOEXEC)
        self.err_read, self.err_write = os.pipe2(os.O_CLOEXEC)
        self.in_read, self.in_write = os.pipe2(os.O_CLOEXEC) if with_stdin else (-1, -1)

    def popen(self, command: _Command) -> subprocess.Popen[bytes]:
        """Start the child (on a spawning thread); on failure every pipe is closed."""
        try:
            return subprocess.Popen(
                list(command.argv),
                executable=command.executable,
                cwd=command.cwd,
                env=dict(command.env) if command.env is not None else None,
                stdin=self.in_read if self.in_read != -1 else _devnull(),
                stdout=self.out_write,
                stderr=self.err_write,
                start_new_session=True,  # its own process group, killed as a whole
            )
        except BaseException:
            for fd in (self.out_read, self.err_read, self.in_write):
                _close(fd)
            raise
        finally:
            for fd in (self.out_write, self.err_write, self.in_read):  # the child has its copies
                _close(fd)


@functools.cache
def _spawner() -> concurrent.futures.ThreadPoolExecutor:
    """The threads that start children.

    `Popen` waits until the new child has called `exec` (CPython starts it with
    `vfork`): on a busy machine that is a millisecond or more, most of it waiting to
    be scheduled. On the event loop's thread that wait stopped everything else, so
    children started one after another; here the loop goes on (CPython releases the
    GIL while it waits) and two children start at once.
    """
    return concurrent.futures.ThreadPoolExecutor(_SPAWNERS, thread_name_prefix="llm-mux-spawn")


async def _settled(spawning: asyncio.Future[subprocess.Popen[bytes]]) -> subprocess.Popen[bytes]:
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
