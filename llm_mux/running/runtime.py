"""What a running workflow shares: the services steps use and the observer.

Input: assembled by `llm_mux.running.run` for one run. Output: a `Runtime` handed to
the interpreter and to every step executor — the project root, the
environment, the backend pool, `--input` answers, whether a person is at the
terminal, the observer that shows progress (and records the run), the
`--context` preamble of every query prompt, and, when a run resumes another,
the `Reuse` consulted before each step, the step cache and the run's `Budget`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from llm_mux.compiler.plan import Plan, StepPlan

from .results import StepResult

if TYPE_CHECKING:
    from ..backends.pool import BackendPool
    from ..budget.meter import Budget
    from ..cache import StepCache
    from ..executors import Executor

__all__ = ["Backends", "NullObserver", "Observer", "Reuse", "Runtime"]


class Observer(Protocol):
    """Told about steps as they run; progress displays and the run ledger implement it."""

    def step_started(self, step: StepPlan) -> None: ...

    def items_known(self, step: StepPlan, total: int) -> None:
        """A for_each step's items are known: `total` of them, none finished yet."""
        ...

    def step_finished(self, step: StepPlan, result: StepResult) -> None: ...

    def item_finished(self, step: StepPlan, done: int, total: int) -> None: ...

    def pause(self) -> object:
        """A context manager during which nothing is drawn (an input step is asking)."""
        ...


class NullObserver:
    def step_started(self, step: StepPlan) -> None:
        pass

    def items_known(self, step: StepPlan, total: int) -> None:
        pass

    def step_finished(self, step: StepPlan, result: StepResult) -> None:
        pass

    def item_finished(self, step: StepPlan, done: int, total: int) -> None:
        pass

    def pause(self) -> object:
        import contextlib

        return contextlib.nullcontext()


class Reuse(Protocol):
    """Results of an earlier run that a resumed run takes over instead of running again.

    The interpreter asks after a step's condition held and before its first
    attempt (per item, for for_each), with the step's inputs freshly rendered
    against this run's results: a step can only be matched once its
    dependencies are known, so the decision is made as the run goes, not up front.
    """

    def recall(self, step: str, item: int | None, inputs: Mapping[str, str]) -> StepResult | None:
        """The recorded result to reuse, or None to run the step (or item)."""
        ...


class Backends:
    """The run's `BackendPool`, made on first use: a run that calls no backend (shell
    steps, steps the cache answers) never imports `llm_mux.backends` (~15 ms)."""

    __slots__ = ("_made", "_make")

    def __init__(self, make: Callable[[], BackendPool]) -> None:
        self._make = make
        self._made: BackendPool | None = None

    def pool(self) -> BackendPool:
        if self._made is None:
            self._made = self._make()
        return self._made

    async def aclose(self) -> None:
        """Close the pool's HTTP client, if a pool was made."""
        if self._made is not None:
            await self._made.aclose()


@dataclass(slots=True)
class Runtime:
    plan: Plan
    root: Path
    env: Mapping[str, str]
    backends: Backends
    observer: Observer = field(default_factory=NullObserver)
    inputs: Mapping[str, str] = field(default_factory=dict)
    interactive: bool = False
    preview_edits: bool = False  # apply steps show their edits as a diff, write nothing
    preamble: str = ""  # the --context files, put before every query prompt
    reuse: Reuse | None = None  # a resumed run's recorded results
    budget: Budget | None = None  # the run's limits, consulted before every backend call
    cache: StepCache | None = None  # the step cache, consulted after `reuse`
    executor: Executor | None = None  # where shell work runs; None: here

    def processes(self) -> Executor:
        """The executor that runs shell steps' commands (local unless a cluster is used)."""
        if self.executor is None:
            from ..executors import LocalExecutor

            self.executor = LocalExecutor(self.root, self.env)
        return self.executor
