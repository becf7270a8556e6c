"""Progress on stderr while a workflow runs.

Input: interpreter events (step started, its for_each items known, an item finished,
step finished). Output: plain lines when stderr is not a terminal (logs, pipes, CI),
or a live `rich` display on a terminal: per running step a spinner and its elapsed
time, and for a for_each step a bar with `k/N` from the moment N is known; query
steps name their role → backends, and each finished step says how each of its
backends fared. Nothing here touches stdout, which carries the result.

To show more about a step, change `describe_start` / `describe_finish` (both modes
print them); `backend_fates` is where a query step's backends are described.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, TextIO

from llm_mux.compiler.plan import Query, StepPlan

from ..tables import format_cost
from .results import StepResult

if TYPE_CHECKING:
    from rich.progress import ProgressColumn, Task
    from rich.text import Text

__all__ = [
    "PlainProgress",
    "backend_fates",
    "describe_finish",
    "describe_start",
    "make_progress",
    "summary_line",
]

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


def backend_fates(step: StepPlan, result: StepResult, redact: Redact = _same) -> list[str]:
    """How each backend of a query step's route fared, in role order: `claude ✓`,
    `codex ✗ timed out after 30s`, `gemini not asked` (a for_each step: none)."""
    action = step.action
    if not isinstance(action, Query) or action.route is None or result.items is not None:
        return []
    fates = []
    for backend in action.route.backends:
        if backend in result.backends:
            fates.append(f"{backend} ✓")
        elif backend in result.errors:
            error = result.errors[backend].removeprefix(f"backend '{backend}': ")
            fates.append(f"{backend} ✗ {_first_line(error, redact)}")
        else:
            fates.append(f"{backend} not asked")
    return fates


def describe_finish(
    result: StepResult, step: StepPlan | None = None, redact: Redact = _same
) -> str:
    parts = [f"{_MARKS[result.status]} {result.name}"]
    if result.status == "skipped":
        return parts[0] + " skipped"
    reused = result.details.get("reused_from")
    if isinstance(reused, str):
        return f"{parts[0]} reused from run {reused}"
    cached = result.details.get("cached_from")  # a for_each step: when every item was
    if isinstance(cached, str):
        return f"{parts[0]} cached (from run {cached})"
    details = [f"{result.duration_ms / 1000:.1f}s"]
    fates = [] if step is None else backend_fates(step, result, redact)
    if fates:
        details.append(", ".join(fates))
    elif result.backends:
        details.append(", ".join(result.backends))
    if result.items is not None:
        details.append(f"{len(result.items)} items")
    text = f"{parts[0]} ({'; '.join(details)})"
    if result.status == "cancelled":
        return text + " cancelled"
    if result.error:
        text += f": {_first_line(result.error, redact)}"
    return text


def _first_line(text: str, redact: Redact) -> str:
    text = redact(text).strip()  # before the first line is cut out of it
    return text.splitlines()[0] if text else ""


class PlainProgress:
    """One line per event; safe for logs and pipes."""

    def __init__(self, stream: TextIO | None = None, redact: Redact = _same) -> None:
        self.stream = stream or sys.stderr
        self.redact = redact

    def step_started(self, step: StepPlan) -> None:
        self._line(f"→ {describe_start(step)}")

    def items_known(self, step: StepPlan, total: int) -> None:
        self._line(f"  {step.name}: 0/{total} items")

    def step_finished(self, step: StepPlan, result: StepResult) -> None:
        self._line(self.redact(describe_finish(result, step, self.redact)))

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
    """A live display: per running step a spinner and the time it has taken; a for_each
    step also gets a bar and `k/N` as soon as its N items are known."""

    def __init__(self, redact: Redact = _same) -> None:
        from rich.console import Console
        from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        self.console = Console(stderr=True)
        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}", markup=False),  # "[shell]" is text, not a tag
            *_count_columns(),
            TimeElapsedColumn(),
            console=self.console,
            transient=True,
        )
        self.tasks: dict[str, object] = {}
        self.redact = redact
        self.progress.start()

    def step_started(self, step: StepPlan) -> None:
        self.tasks[step.name] = self.progress.add_task(describe_start(step), total=None)

    def items_known(self, step: StepPlan, total: int) -> None:
        task = self.tasks.get(step.name)
        if task is not None:
            self.progress.update(task, completed=0, total=total)  # type: ignore[arg-type]

    def step_finished(self, step: StepPlan, result: StepResult) -> None:
        task = self.tasks.pop(step.name, None)
        if task is not None:
            self.progress.remove_task(task)  # type: ignore[arg-type]
        text = self.redact(describe_finish(result, step, self.redact))
        self.console.print(text, highlight=False, markup=False)

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


def _count_columns() -> tuple[ProgressColumn, ...]:
    """A bar and `k/N` that are drawn only for a task whose total is known: a step
    without a count shows its spinner and elapsed time, not an empty bar and `0/?`."""
    from rich.progress import BarColumn, MofNCompleteColumn
    from rich.text import Text

    class CountBar(BarColumn):
        def render(self, task: Task) -> Text:  # type: ignore[override]
            return Text("") if task.total is None else super().render(task)  # type: ignore[return-value]

    class Count(MofNCompleteColumn):
        def render(self, task: Task) -> Text:
            return Text("") if task.total is None else super().render(task)

    return (CountBar(), Count())


def make_progress(live: bool, redact: Redact = _same) -> PlainProgress | RichProgress:
    return RichProgress(redact) if live else PlainProgress(redact=redact)


def summary_line(
    status: str,
    duration_ms: int,
    total_tokens: int | None,
    cost: float | None,
    asked: bool,
    results: Iterable[StepResult] = (),
) -> str:
    """`run failed in 2.1s · failed: build · skipped: deploy · 1234 tokens · cost 0.0123`:
    the steps that failed or were skipped, then tokens and cost if a model was asked."""
    text = f"run {status} in {duration_ms / 1000:.1f}s"
    by_status: dict[str, list[str]] = {}
    for result in results:
        by_status.setdefault(result.status, []).append(result.name)
    for status_name in ("failed", "cancelled", "skipped", "pending"):
        names = by_status.get(status_name)
        if names:
            shown = "not started" if status_name == "pending" else status_name
            text += f" · {shown}: {', '.join(names)}"
    if not asked:
        return text
    if total_tokens is not None:
        text += f" · {total_tokens} tokens"
    text += f" · cost {format_cost(cost)}" if cost is not None else " · cost unknown"
    return text
