"""Progress on stderr while a workflow runs.

Input: interpreter events (step started, finished, for_each item finished).
Output: a line per step start and finish with duration and backends — plain
text when stderr is not a terminal, a live `rich` display (spinners, a bar per
for_each) when it is. Nothing here touches stdout, which carries the result.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from typing import TextIO

from llm_mux.compiler.plan import Query, StepPlan

from .results import StepResult
from .tables import format_cost

__all__ = ["PlainProgress", "make_progress", "summary_line"]

Redact = Callable[[str], str]


def _same(text: str) -> str:
    return text


_MARKS = {"succeeded": "✓", "failed": "✗", "skipped": "-", "cancelled": "⊘", "pending": "·"}


def describe_start(step: StepPlan) -> str:
    action = step.action
    if isinstance(action, Query) and action.route is not None:
        route = action.route
        who = f"{route.role} → " if route.role else ""
        return f"{step.name} [query: {who}{', '.join(route.backends)}, {route.execution}]"
    return f"{step.name} [{step.type}]"


def describe_finish(result: StepResult) -> str:
    parts = [f"{_MARKS[result.status]} {result.name}"]
    if result.status == "skipped":
        return parts[0] + " skipped"
    reused = result.details.get("reused_from")
    if isinstance(reused, str):
        return f"{parts[0]} reused from run {reused}"
    details = [f"{result.duration_ms / 1000:.1f}s"]
    if result.backends:
        details.append(", ".join(result.backends))
    if result.items is not None:
        details.append(f"{len(result.items)} items")
    text = f"{parts[0]} ({'; '.join(details)})"
    if result.status == "cancelled":
        return text + " cancelled"
    if result.error:
        first = result.error.strip().splitlines()[0] if result.error.strip() else ""
        text += f": {first}"
    return text


class PlainProgress:
    """One line per event; safe for logs and pipes."""

    def __init__(self, stream: TextIO | None = None, redact: Redact = _same) -> None:
        self.stream = stream or sys.stderr
        self.redact = redact

    def step_started(self, step: StepPlan) -> None:
        self._line(f"→ {describe_start(step)}")

    def step_finished(self, step: StepPlan, result: StepResult) -> None:
        self._line(self.redact(describe_finish(result)))

    def item_finished(self, step: StepPlan, done: int, total: int) -> None:
        if total >= 10 and done % max(total // 10, 1) == 0 and done != total:
            self._line(f"  {step.name}: {done}/{total} items")

    @contextlib.contextmanager
    def pause(self) -> Iterator[None]:
        yield

    def _line(self, text: str) -> None:
        self.stream.write(text + "\n")
        self.stream.flush()


class RichProgress:
    """A live display: a spinner per running step, a bar per for_each."""

    def __init__(self, redact: Redact = _same) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            SpinnerColumn,
            TextColumn,
            TimeElapsedColumn,
        )

        self.console = Console(stderr=True)
        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=self.console,
            transient=True,
        )
        self.tasks: dict[str, object] = {}
        self.redact = redact
        self.progress.start()

    def step_started(self, step: StepPlan) -> None:
        total = None if step.for_each_expr is None else 0
        self.tasks[step.name] = self.progress.add_task(describe_start(step), total=total)

    def step_finished(self, step: StepPlan, result: StepResult) -> None:
        task = self.tasks.pop(step.name, None)
        if task is not None:
            self.progress.remove_task(task)  # type: ignore[arg-type]
        self.console.print(self.redact(describe_finish(result)), highlight=False, markup=False)

    def item_finished(self, step: StepPlan, done: int, total: int) -> None:
        task = self.tasks.get(step.name)
        if task is not None:
            self.progress.update(task, completed=done, total=total)  # type: ignore[arg-type]

    @contextlib.contextmanager
    def pause(self) -> Iterator[None]:
        self.progress.stop()
        try:
            yield
        finally:
            self.progress.start()

    def close(self) -> None:
        self.progress.stop()


def make_progress(live: bool, redact: Redact = _same) -> PlainProgress | RichProgress:
    return RichProgress(redact) if live else PlainProgress(redact=redact)


def summary_line(
    status: str, duration_ms: int, total_tokens: int | None, cost: float | None, asked: bool
) -> str:
    """`run succeeded in 2.1s · 1234 tokens · cost 0.0123` (tokens and cost if a model ran)."""
    text = f"run {status} in {duration_ms / 1000:.1f}s"
    if not asked:
        return text
    if total_tokens is not None:
        text += f" · {total_tokens} tokens"
    text += f" · cost {format_cost(cost)}" if cost is not None else " · cost unknown"
    return text
