"""What a running workflow shares: the services steps use and the observer.

Input: assembled by `llm_mux.run` for one run. Output: a `Runtime` handed to
the interpreter and to every step executor — the project root, the
environment, the backend pool, `--input` answers, whether a person is at the
terminal, and the observer that shows progress (and records the run).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from llm_mux.compiler.plan import Plan, StepPlan

from .results import StepResult

if TYPE_CHECKING:
    from .backends.pool import BackendPool

__all__ = ["NullObserver", "Observer", "Runtime"]


class Observer(Protocol):
    """Told about steps as they run; progress displays and the run ledger implement it."""

    def step_started(self, step: StepPlan) -> None: ...

    def step_finished(self, step: StepPlan, result: StepResult) -> None: ...

    def item_finished(self, step: StepPlan, done: int, total: int) -> None: ...

    def pause(self) -> object:
        """A context manager during which nothing is drawn (an input step is asking)."""
        ...


class NullObserver:
    def step_started(self, step: StepPlan) -> None:
        pass

    def step_finished(self, step: StepPlan, result: StepResult) -> None:
        pass

    def item_finished(self, step: StepPlan, done: int, total: int) -> None:
        pass

    def pause(self) -> object:
        import contextlib

        return contextlib.nullcontext()


@dataclass(slots=True)
class Runtime:
    plan: Plan
    root: Path
    env: Mapping[str, str]
    pool: BackendPool
    observer: Observer = field(default_factory=NullObserver)
    inputs: Mapping[str, str] = field(default_factory=dict)
    interactive: bool = False
    preview_edits: bool = False  # apply steps show their edits as a diff, write nothing
