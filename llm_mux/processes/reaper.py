"""No descendant survives: finding and killing every process a child started.

Input: the pid of a child started by `llm_mux.processes.process` and the tag its environment
carried. Output: nothing; its descendants are gone. Killing a child's process group
misses what moved to a session of its own (Claude Code runs its Bash tool's commands
with `setsid`), and those are left running under PID 1. On Linux this module:

- makes llm-mux a *child subreaper* (`prctl(PR_SET_CHILD_SUBREAPER)`, unprivileged,
  kernel 3.4+): an orphaned descendant is re-parented to llm-mux, not to PID 1, so it
  stays findable as one of our own children;
- tags each child's environment with `LLM_MUX_SPAWN=<tag>`, inherited by whatever it
  starts, so an orphan is attributed to the child it came from even when several run;
- walks the live tree (`/proc/PID/task/TID/children`) before a kill, and holds a
  *pidfd* for every process it will signal, so a pid reused meanwhile is never hit.

Elsewhere (no prctl, no pidfds: children are then watched by asyncio, whose reaping
this would disturb) every function is a no-op and the process group kill
in `llm_mux.processes.process` is all there is. Cost for a child that leaves nothing behind: one
read of `/proc/self/task/<pid>/children` after it exits.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import os
import select
import signal
import sys
import time
from collections.abc import Callable, Iterable, Mapping

from . import procfs, spawn
from .environment import Environment

__all__ = ["TAG_VARIABLE", "Family", "enabled", "kill_everything"]

TAG_VARIABLE = "LLM_MUX_SPAWN"
_PR_SET_CHILD_SUBREAPER = 36
_ROUNDS = 8  # re-walks while killing: a process forking meanwhile is caught next round
_REAP_WAIT = 1.0
_ORPHAN_GRACE = 0.3
_counter = itertools.count(1)


def enabled() -> bool:
    """Whether this process is a child subreaper with pidfds (set once, on first use)."""
    return spawn.pidfds_work() and _subreaper()


@functools.cache
def _subreaper() -> bool:
    if sys.platform != "linux":
        return False
    import ctypes  # here: a run that starts no child does not pay its import

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return bool(libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0)
    except (OSError, AttributeError):
        return False


class Family:
    """One child and everything it starts: `env` carries the tag its descendants inherit.

    `terminate(root)` before the caller SIGTERMs the root's group, `kill(root)` after the
    grace period (with the group's SIGKILL), `sweep()` after a normal exit, `close()` last.
    """

    __slots__ = ("env", "found", "root", "root_fd", "tag")

    def __init__(self, env: Mapping[str, str] | None) -> None:
        self.root = -1
        self.root_fd: int | None = None  # held while killing: the root's pid is not reused
        self.found: dict[int, int] = {}  # pid -> pidfd
        self.tag = f"{os.getpid()}.{next(_counter)}" if enabled() else ""
        self.env: Mapping[str, str] | None = env
        if self.tag:
            given = os.environ if env is None else env
            shared = given if isinstance(given, Environment) else Environment(given)
            self.env = shared.plus(TAG_VARIABLE, self.tag)

    def started(self, pid: int) -> None:
        self.root = pid
        if self.tag:
            _live[pid] = self

    def terminate(self) -> None:
        """SIGTERM every descendant of the (still running) root, wherever it moved."""
        if self.tag:
            self.root_fd = _pidfd(self.root)
            self.found = _collect(self._walked(), self.tag, self.found)
            _signal_all(self.found.values(), signal.SIGTERM)

    def kill(self) -> None:
        """SIGKILL every descendant and orphan left, and reap those that became ours."""
        if not self.tag:
            return
        for _ in range(_ROUNDS):
            self.found = _collect(self._walked(), self.tag, self.found)
            alive = [fd for fd in self.found.values() if not _exited(fd)]
            if not alive:
                break
            _signal_all(alive, signal.SIGKILL)

    def _walked(self) -> int:
        """The root whose tree to walk, or -1 once it has exited (its pid may be reused)."""
        return self.root if self.root_fd is not None and not _exited(self.root_fd) else -1

    def sweep(self) -> None:
        """After the root exited by itself: end what it left in another group or session."""
        if not self.tag:
            return
        self.found = _collect(-1, self.tag, self.found)
        if self.found:
            _signal_all(self.found.values(), signal.SIGTERM)
            _wait_gone(self.found, time.monotonic() + _ORPHAN_GRACE)
            self.kill()

    def close(self) -> None:
        _live.pop(self.root, None)
        if self.found:
            _reap(self.found)
            self.found = {}
        if self.root_fd is not None:
            _close(self.root_fd)
            self.root_fd = None


_live: dict[int, Family] = {}  # by root pid: what kill_everything ends on a hard exit


def kill_everything() -> None:
    """SIGKILL every live child's whole tree now (llm-mux is exiting at once)."""
    for family in list(_live.values()):
        family.terminate()  # holds the root and walks its tree while it still runs
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(family.root, signal.SIGKILL)
        family.kill()
        family.close()


def _collect(root: int, tag: str, known: dict[int, int]) -> dict[int, int]:
    """Every descendant of `root` and every orphan carrying `tag`, pid -> pidfd."""
    found = dict(known)
    for pid in itertools.chain(_descendants(root), _orphans(tag)):
        if pid not in found:
            fd = _pidfd(pid)
            if fd is not None:
                found[pid] = fd
    return found


def _orphans(tag: str) -> list[int]:
    """Our own children (orphans land here) whose environment carries `tag`.

    Orphans that already exited are zombies of ours with no environment left to read:
    those outside our own session (so not a plain `subprocess` child of llm-mux, and
    not a spawned child: those are in `_live` until reaped) are reaped on the way.
    """
    needle = f"\0{TAG_VARIABLE}={tag}\0".encode()
    found = []
    for pid in _children(os.getpid()):
        if pid in _live:
            continue
        if _stray_zombie(pid):
            with contextlib.suppress(ChildProcessError, OSError):
                os.waitpid(pid, os.WNOHANG)
        elif needle in _environ(pid):
            found.append(pid)
    return found


def _stray_zombie(pid: int) -> bool:
    fields = procfs.stat_fields(pid)
    return fields is not None and fields[0] == b"Z" and int(fields[3]) != os.getsid(0)


def _descendants(root: int) -> list[int]:
    if root <= 0:
        return []
    seen: list[int] = []
    todo = _children(root)
    while todo:
        pid = todo.pop()
        if pid not in seen:
            seen.append(pid)
            todo.extend(_children(pid))
    return seen


# Orphans are re-parented to a live thread of ours, normally the main one.
_OURS = procfs.Kept("/proc/{pid}/task/{pid}/children")


def _children(pid: int) -> list[int]:
    if pid == os.getpid():
        return _pids(_OURS.read)
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return []
    paths = (f"/proc/{pid}/task/{task}/children" for task in tasks)
    return [child for path in paths for child in _pids(functools.partial(procfs.read, path))]


def _pids(read: Callable[[], bytes]) -> list[int]:
    try:
        return [int(word) for word in read().split()]
    except (OSError, ValueError):
        return []


def _environ(pid: int) -> bytes:
    try:
        return b"\0" + procfs.read(f"/proc/{pid}/environ") + b"\0"
    except OSError:
        return b""


def _pidfd(pid: int) -> int | None:
    try:
        return os.pidfd_open(pid)
    except OSError:  # gone already
        return None


def _signal_all(fds: Iterable[int], sig: signal.Signals) -> None:
    for fd in fds:
        with contextlib.suppress(ProcessLookupError, PermissionError, OSError):
            signal.pidfd_send_signal(fd, sig)


def _exited(fd: int) -> bool:
    """A pidfd polls readable once its process has exited."""
    try:
        return bool(select.select([fd], [], [], 0)[0])
    except (OSError, ValueError):
        return True


def _wait_gone(found: Mapping[int, int], deadline: float) -> None:
    pending = [fd for fd in found.values() if not _exited(fd)]
    while pending and (remaining := deadline - time.monotonic()) > 0:
        ready, _, _ = select.select(pending, [], [], remaining)
        pending = [fd for fd in pending if fd not in ready]


def _reap(found: Mapping[int, int]) -> None:
    """Wait for what was killed and collect the exit of those that became our children."""
    _wait_gone(found, time.monotonic() + _REAP_WAIT)
    for pid, fd in found.items():
        with contextlib.suppress(ChildProcessError, OSError):
            os.waitpid(pid, os.WNOHANG)
        _close(fd)


def _close(fd: int) -> None:
    with contextlib.suppress(OSError):
        os.close(fd)
