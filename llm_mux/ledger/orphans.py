"""Runs whose process is gone: found on start-up and recorded as `interrupted`.

Input: the ledger, this host's name, and /proc. Output: every run still `running` whose
llm-mux process no longer exists — killed with SIGKILL, the machine restarted — marked
`interrupted`, with a sentence saying how that was decided (`error`). A process is the
run's only when both its pid and its start time (/proc/PID/stat) match, so a reused pid
is not mistaken for the run. Runs started on another host are left alone.
"""

from __future__ import annotations

import os
import socket
import sqlite3

from ..processes.procfs import stat_fields

__all__ = ["mark_orphaned", "process_started", "this_host"]


def this_host() -> str:
    return socket.gethostname()


def process_started(pid: int | None = None) -> int | None:
    """The start time of `pid` (clock ticks since boot), None when it does not exist."""
    fields = stat_fields(pid or os.getpid())
    return None if fields is None else int(fields[19])  # field 22 of proc(5)


def mark_orphaned(connection: sqlite3.Connection, now: str) -> int:
    """Mark this host's `running` runs whose process is gone as `interrupted`; how many."""
    host = this_host()
    rows = connection.execute(
        "SELECT id, pid, process_started FROM runs WHERE status = 'running' AND host = ?",
        (host,),
    ).fetchall()
    marked = 0
    for run_id, pid, started in rows:
        if pid is None or process_started(pid) == started:
            continue
        why = (
            f"interrupted: its llm-mux process (pid {pid} on {host}) was gone when llm-mux "
            f"next looked, at {now} (no process with that pid and start time)"
        )
        connection.execute(
            "UPDATE runs SET status = 'interrupted', finished_at = ?, error = ? "
            "WHERE id = ? AND status = 'running'",
            (now, why, run_id),
        )
        marked += 1
    return marked
