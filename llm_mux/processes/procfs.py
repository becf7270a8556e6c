"""Reading /proc: small files with plain system calls, and a process's stat fields.

Input: a path under /proc, or a pid. Output: the file's bytes, or the fields of
`/proc/PID/stat` after the command's name (`[0]` the state, `Z` for a zombie;
`[3]` the session; `[19]` the start time in clock ticks since boot), None when
the process is gone. The reaper reads these after every child's exit, where
`Path.read_text` (a file object, a decoder) cost five times as much.
"""

from __future__ import annotations

import os

__all__ = ["Kept", "read", "stat_fields"]

_CHUNK = 65536


def read(path: str) -> bytes:
    """The whole of a small /proc file; raises OSError as `open` does."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        return _read_from(fd)
    finally:
        os.close(fd)


def _read_from(fd: int) -> bytes:
    """Everything from offset 0 (a /proc file is made anew by a read at 0), to the end:
    a read may return less than there is."""
    chunks = []
    offset = 0
    while chunk := os.pread(fd, _CHUNK, offset):
        chunks.append(chunk)
        offset += len(chunk)
    return b"".join(chunks)


class Kept:
    """A /proc file of this process read again and again through one descriptor: the
    reaper reads its children after every child's exit, and the walk of the path
    cost eight times the read."""

    def __init__(self, path: str) -> None:
        self.path = path  # "{pid}" stands for this process's pid
        self.fd = -1
        self.pid = -1

    def read(self) -> bytes:
        if self.pid != os.getpid():  # first use, or in a child forked since
            self.fd = os.open(self.path.format(pid=os.getpid()), os.O_RDONLY | os.O_CLOEXEC)
            self.pid = os.getpid()
        return _read_from(self.fd)


def stat_fields(pid: int) -> list[bytes] | None:
    """The fields of /proc/PID/stat after the command's name (which may hold spaces and
    parentheses), or None when there is no such process."""
    try:
        stat = read(f"/proc/{pid}/stat")
    except OSError:
        return None
    return stat.rsplit(b")", 1)[1].split()
