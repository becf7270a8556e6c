"""Children of the test process that earlier tests left behind, out of the way.

Once a test runs llm-mux in-process, the test process is a child subreaper
(`llm_mux.processes.reaper`): from then on an orphan of any earlier test's subprocess (a
background child of git, pre-commit or a killed `llm-mux`) is re-parented to it
and, as nobody waits for it, stays a zombie. Tests that count this process's
children start from a clean slate: `reap_strays()` reaps those zombies and
returns the children that are still alive, which the test then leaves out.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from llm_mux.processes.procfs import stat_fields

__all__ = ["reap_strays"]


def reap_strays() -> set[int]:
    """Reap this process's zombie children; the pids of its live ones."""
    alive = set()
    for pid in _children():
        fields = stat_fields(pid)
        if fields is not None and fields[0] == b"Z":
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)
        else:
            alive.add(pid)
    return alive


def _children() -> list[int]:
    found = []
    for task in os.listdir("/proc/self/task"):
        with contextlib.suppress(OSError):
            found += [int(p) for p in Path(f"/proc/self/task/{task}/children").read_text().split()]
    return found
