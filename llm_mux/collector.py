"""The garbage collector around the command line's two kinds of work.

Input: a block of work. Output: the same work with the collector set for it.
Compiling (`validate`, `plan`, the start of `run`) makes objects that live until it
ends — hundreds of thousands for a large workflow — and the generational collector
walked them again and again for nothing (a fifth of compiling 5,000 steps), so it is
paused while compiling. A run makes many short-lived objects beside a heap of
long-lived ones (the imported libraries, the plan): those are frozen out of its walks
for the run (one full walk was 25 ms of a 200-step run).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["frozen", "paused"]


@contextmanager
def paused() -> Iterator[None]:
    """No collection during the block (cycles made in it are collected after)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@contextmanager
def frozen() -> Iterator[None]:
    """Objects alive before the block are left out of collections during it.

    Frozen objects are never collected, so the freeze ends with the block (in-process
    callers keep collecting what the block left behind).
    """
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
