"""Reading /proc: small files with plain system calls, and a process's stat fields.

Input: a path under /proc, or a pid. Output: the file's bytes, or the fields of
`/proc/PID/stat` after the command's name (`[0]` the state, `Z` for a zombie;
`[3]` the session; `[19]` the start time in clock ticks since boot), None when
the process is gone. The reaper reads these after every child's exit, where
`Path.read_text` (a file object, a decoder) cost five times as much.
"""

from __future__ import annotations

import os

__all__ = ["read", "stat_fields"]


def read(path: str) -> bytes:
    """The whole of a small /proc file; raises OSError as `open` does."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        chunks = []
        while chunk := os.read(fd, 65536):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def stat_fields(pid: int) -> list[bytes] | None:
    """The fields of /proc/PID/stat after the command's name (which may hold spaces and
    parentheses), or None when there is no such process."""
    try:
        stat = read(f"/proc/{pid}/stat")
    except OSError:
        return None
    return stat.rsplit(b")", 1)[1].split()
