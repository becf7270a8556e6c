"""Ctrl-C and SIGTERM during a run: cancel cleanly once, leave at once the second time.

Input: the coroutine that runs a workflow. Output: its result. The first
SIGINT or SIGTERM cancels the run's task, so every step is cancelled through
the TaskGroup — subprocess groups killed, HTTP calls dropped, an apply rolled
back — and the run is reported and recorded as `cancelled` (exit 130). A second
signal exits immediately with 130.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Callable, Coroutine, Iterator
from typing import TypeVar

from ..errors import EXIT_INTERRUPTED
from . import reaper
from .spawn import pidfds_work

__all__ = ["last_words", "run_until_interrupted"]

T = TypeVar("T")
_SIGNALS = (signal.SIGINT, signal.SIGTERM)


_LAST_WORDS: list[Callable[[], None]] = []


@contextlib.contextmanager
def last_words(callback: Callable[[], None]) -> Iterator[None]:
    """While the block runs, `callback` is called if a second signal exits at once."""
    _LAST_WORDS.append(callback)
    try:
        yield
    finally:
        _LAST_WORDS.remove(callback)


def _say_last_words() -> None:
    for callback in _LAST_WORDS:
        try:
            callback()
        except Exception as error:  # exiting anyway: say it, do the rest
            sys.stderr.write(f"llm-mux: could not record the run as cancelled: {error}\n")


def run_until_interrupted(work: Coroutine[object, object, T]) -> T:
    return asyncio.run(_guarded(work))


async def _guarded(work: Coroutine[object, object, T]) -> T:
    with _pidfd_child_watcher():
        return await _until_signalled(work)


@contextlib.contextmanager
def _pidfd_child_watcher() -> Iterator[None]:
    """Reap the run's subprocesses through pidfds, not with a thread per child.

    Python 3.11's default child watcher starts (and waits for) a thread for every
    subprocess, a third of the parent's cost of a trivial shell step; Linux's
    pidfds (kernel 5.3+) let the event loop itself see a child exit. Python 3.12
    picks that watcher by itself. The previous watcher is restored after the run.
    """
    if sys.version_info >= (3, 12) or not pidfds_work():
        yield
        return
    policy = asyncio.get_event_loop_policy()
    previous = policy.get_child_watcher()
    watcher = asyncio.PidfdChildWatcher()
    watcher.attach_loop(asyncio.get_running_loop())
    policy.set_child_watcher(watcher)
    try:
        yield
    finally:
        policy.set_child_watcher(previous)
        watcher.close()


async def _until_signalled(work: Coroutine[object, object, T]) -> T:
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None
    received: list[int] = []

    def on_signal(number: int) -> None:
        received.append(number)
        if len(received) > 1:
            sys.stderr.write("llm-mux: interrupted again, exiting now\n")
            reaper.kill_everything()  # SIGKILL: no child outlives us, even on the way out
            _say_last_words()  # the ledger records the run as cancelled
            os._exit(EXIT_INTERRUPTED)
        sys.stderr.write("llm-mux: interrupted, cancelling the run (again to quit at once)\n")
        task.cancel()

    previous = {number: signal.getsignal(number) for number in _SIGNALS}
    for number in _SIGNALS:
        loop.add_signal_handler(number, on_signal, number)
    try:
        return await work
    finally:
        for number in _SIGNALS:
            loop.remove_signal_handler(number)
            signal.signal(number, previous[number])  # the quiet exit of `entry`, again
