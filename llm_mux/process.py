"""Subprocesses the way llm-mux needs them: own process group, killed whole.

Input: an argv, a working directory, extra environment, optional stdin bytes
and a timeout. Output: a `ProcessResult` (exit code, stdout, end of stderr).
Used by CLI backends, shell steps and verify commands. A timeout or a
cancellation kills the *process group*, so `sh -c 'sleep 100 & wait'` leaves
nothing behind. Output that is not UTF-8 is decoded with replacement.

Memory: stdout is collected in one bytearray and its trailing newlines are cut
in place before decoding, so a step printing 200 MB peaks near twice that.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import shutil
import signal
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "CommandNotFound",
    "ProcessResult",
    "ProcessTimeout",
    "run_process",
]

_CHUNK = 1 << 16
_STDERR_TAIL = 64 * 1024
_KILL_GRACE = 2.0


@dataclass(frozen=True, slots=True)
class ProcessResult:
    exit_code: int
    stdout: str
    stderr: str
    duration_ms: int


class CommandNotFound(Exception):
    def __init__(self, command: str) -> None:
        super().__init__(f"command not found: {command}")
        self.command = command


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
) -> ProcessResult:
    """Run `argv` to completion; raises CommandNotFound, ProcessTimeout, or CancelledError."""
    started = time.perf_counter()
    try:
        process = await asyncio.create_subprocess_exec(
            *argv,
            executable=_executable(argv[0], env),
            cwd=cwd,
            env=dict(env) if env is not None else None,
            stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,  # its own process group, killed as a whole
        )
    except FileNotFoundError as error:
        raise CommandNotFound(argv[0]) from error
    except PermissionError as error:
        raise CommandNotFound(f"{argv[0]} (not executable)") from error
    collector = _Collector(process)
    try:
        async with asyncio.timeout(timeout):
            code = await collector.wait(stdin)
    except TimeoutError:
        await _kill_group(process)
        raise ProcessTimeout(timeout or 0.0, collector.stderr_text()) from None
    except BaseException:
        await _kill_group(process)
        raise
    if _group_alive(process.pid):  # background jobs die with their step
        _signal_group(process.pid, signal.SIGTERM)
    duration = int((time.perf_counter() - started) * 1000)
    return ProcessResult(code, collector.stdout_text(), collector.stderr_text(), duration)


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
    found = _found_on(program, path)
    # Checked on every use: a program removed since it was found is searched anew.
    return found if found is not None and os.access(found, os.X_OK) else None


@functools.lru_cache(maxsize=64)
def _found_on(program: str, path: str) -> str | None:
    if not all(os.path.isabs(entry) for entry in path.split(os.pathsep)):
        return None
    return shutil.which(program, path=path)


class _Collector:
    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.stdout = bytearray()
        self.stderr = bytearray()

    async def wait(self, stdin: bytes | None) -> int:
        await asyncio.gather(
            self._feed(stdin),
            self._read(self.process.stdout, self.stdout, None),
            self._read(self.process.stderr, self.stderr, _STDERR_TAIL),
        )
        return await self.process.wait()

    async def _feed(self, data: bytes | None) -> None:
        pipe = self.process.stdin
        if pipe is None or data is None:
            return
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            pipe.write(data)
            await pipe.drain()
        pipe.close()

    async def _read(
        self, stream: asyncio.StreamReader | None, into: bytearray, keep: int | None
    ) -> None:
        if stream is None:
            return
        while chunk := await stream.read(_CHUNK):
            into += chunk
            if keep is not None and len(into) > 2 * keep:
                del into[: len(into) - keep]  # only the end of stderr is ever shown

    def stdout_text(self) -> str:
        end = len(self.stdout)
        while end and self.stdout[end - 1] in b"\r\n":
            end -= 1
        del self.stdout[end:]  # in place: no second copy of a huge output
        return self.stdout.decode("utf-8", errors="replace")

    def stderr_text(self) -> str:
        return bytes(self.stderr[-_STDERR_TAIL:]).decode("utf-8", errors="replace")


async def _kill_group(process: asyncio.subprocess.Process) -> None:
    """SIGTERM the whole group, then SIGKILL whatever is left after a short grace."""
    if process.returncode is not None and not _group_alive(process.pid):
        return
    _signal_group(process.pid, signal.SIGTERM)
    try:
        async with asyncio.timeout(_KILL_GRACE):
            await process.wait()
    except TimeoutError:
        pass
    _signal_group(process.pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError):
        await asyncio.shield(process.wait())


def _signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def _group_alive(pid: int) -> bool:
    try:
        os.killpg(pid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True
