"""The unit of work an executor runs, and the label saying whose work it is.

Input: built by shell steps (`sh -c …`) and CLI backends (`claude -p …`).
Output: `Work`, a plain value that can travel to another machine, and
`Label` — the step and for_each item on whose behalf the work runs, set by the
interpreter around each attempt (a context variable, so the backend pool in
between needs no new parameter) and read by executors that record placement.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Protocol

import msgspec

from ..processes.process import ProcessResult

__all__ = ["Executor", "Label", "Placement", "Work", "labelled", "work_label"]


class Work(msgspec.Struct, frozen=True, kw_only=True):
    """One process to run: what a shell step or a CLI backend call needs, nothing more.

    `env` holds only what the work itself declares (a CLI backend's `env`
    table, expanded): a local run adds it to the run's environment, a worker to
    its own, so the coordinator's other variables never leave it.
    """

    argv: tuple[str, ...]
    stdin: bytes | None = None
    timeout: float | None = None
    env: dict[str, str] = {}
    wrapper: tuple[str, ...] = ()  # `[defaults] command_wrapper`, around the argv
    backend: str | None = None  # the CLI backend making the call; None for a shell step
    max_concurrent: int | None = None  # the backend's limit, held across a cluster
    max_output: int | None = None  # most stdout bytes kept (a CLI backend's max_response_bytes)


class Label(msgspec.Struct, frozen=True):
    """On whose behalf work runs: a step, the for_each item, whether it may run twice."""

    step: str
    item: int | None = None
    rerun: bool = True  # may run again elsewhere when its worker dies


class Placement(msgspec.Struct, frozen=True):
    """Where one piece of work ran, as the ledger records it."""

    step: str
    item: int | None
    backend: str | None
    worker: str
    duration_ms: int
    exit_code: int | None


class Executor(Protocol):
    local: bool  # whether work runs on this machine (PATH and files are this machine's)

    def unavailable(self, backend: str) -> str | None:
        """Why the CLI backend `backend` can run nowhere this executor reaches, or None."""
        ...

    def tree_changed(self) -> None:
        """The project's files were changed here (an apply step wrote them)."""
        ...

    async def run(self, work: Work) -> ProcessResult:
        """Run `work` to completion; raises CommandNotFound, ProcessTimeout, OutputTooLarge,
        OSError or CancelledError as `llm_mux.processes.process.run_process` does."""
        ...


_LABEL: ContextVar[Label | None] = ContextVar("llm_mux_work_label", default=None)


def work_label() -> Label | None:
    """The label of the attempt running in this task, if the interpreter set one."""
    return _LABEL.get()


class labelled:  # lower case: used as a function, `with labelled(label):`
    """Mark the work started inside this block as done for `label` (a class, not a
    generator: entered once per for_each item)."""

    __slots__ = ("label", "token")

    def __init__(self, label: Label) -> None:
        self.label = label

    def __enter__(self) -> None:
        self.token = _LABEL.set(self.label)

    def __exit__(self, *exc_info: object) -> None:
        _LABEL.reset(self.token)
