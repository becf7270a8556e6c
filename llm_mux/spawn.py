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
import contextlib
import functools
import os
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Protocol

__all__ = ["Child", "pidfds_work", "start"]

_READ_SIZE = 256 * 1024  # as asyncio's pipe transports read


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
    if pidfds_work():
        return _Watched(loop, protocol, argv, executable, cwd, env, stdin)
    return await _Transported.start(loop, protocol, argv, executable, cwd, env, stdin)


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
        argv: Sequence[str],
        executable: str | None,
        cwd: Path,
        env: Mapping[str, str] | None,
        stdin: bytes | None,
    ) -> None:
        self.loop = loop
        self.protocol = protocol
        out_read, out_write = os.pipe2(os.O_CLOEXEC)
        err_read, err_write = os.pipe2(os.O_CLOEXEC)
        in_read, in_write = os.pipe2(os.O_CLOEXEC) if stdin is not None else (-1, -1)
        ours = [out_read, err_read, in_write]
        try:
            self.process = subprocess.Popen(
                list(argv),
                executable=executable,
                cwd=cwd,
                env=dict(env) if env is not None else None,
                stdin=in_read if stdin is not None else _devnull(),
                stdout=out_write,
                stderr=err_write,
                start_new_session=True,  # its own process group, killed as a whole
            )
        except BaseException:
            for fd in ours:
                _close(fd)
            raise
        finally:
            for fd in (out_write, err_write, in_read):  # the child has its copies
                _close(fd)
        self.pid = self.process.pid
        self.pidfd = os.pidfd_open(self.pid)
        self.readers = {out_read: 1, err_read: 2}
        for fd in self.readers:
            os.set_blocking(fd, False)
            loop.add_reader(fd, self._readable, fd)
        loop.add_reader(self.pidfd, self._exited)
        self.stdin_fd = in_write
        self.pending = memoryview(stdin or b"")
        self.writing = False
        if stdin is not None:
            os.set_blocking(in_write, False)
            self._write()

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
        argv: Sequence[str],
        executable: str | None,
        cwd: Path,
        env: Mapping[str, str] | None,
        stdin: bytes | None,
    ) -> _Transported:
        transport, _ = await loop.subprocess_exec(
            lambda: protocol,
            *argv,
            executable=executable,
            cwd=cwd,
            env=dict(env) if env is not None else None,
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


def _close(fd: int) -> None:
    if fd != -1:
        with contextlib.suppress(OSError):
            os.close(fd)
