"""The interpreter: runs a `Plan`, scheduling each step by readiness.

Input: the plan, the base template context and a `Runtime` (backends, inputs,
observer). Output: a `RunOutcome` — every step's result, the final output,
status, usage and cost.

A step starts the moment its own dependencies have finished, so independent
steps overlap. Everything runs inside one `asyncio.TaskGroup`: a step that
fails without `continue_on_error` raises out of its task, the group cancels
every running step (their results say `cancelled`) and no new step starts
(those stay `pending`). The interpreter trusts the plan: names, edges and
templates were checked by the compiler.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

from llm_mux.compiler.expr import Expr
from llm_mux.compiler.plan import Plan, StepPlan

from ..executors import Label, labelled
from ..jsontext import json_array, json_value
from ..steps import execute_action, step_inputs
from .context import item_context, step_context
from .rendering import RenderError, evaluate_expression, holds
from .results import ItemDetails, Status, StepResult, Usage, add_usage
from .runtime import Runtime

__all__ = ["Interpreter", "RunOutcome", "RunStatus"]

RunStatus = Literal["succeeded", "failed", "cancelled"]
# A for_each worker lets the loop run after this many items even when they finished
# without waiting (skipped, reused, cached): not after every item, a loop trip each.
_YIELD_EVERY = 16


@dataclass(frozen=True, slots=True)
class RunOutcome:
    """What a run ended with. Its repr leaves out the results and the output: asyncio
    formats the run's task, result and all, when the run ends (`asyncio.run` reading
    back its SIGINT handler), and those hold every for_each item (68 ms at 5,000)."""

    status: RunStatus
    results: Mapping[str, StepResult] = field(repr=False)
    output: str = field(repr=False)
    error: str | None
    duration_ms: int
    usage: Usage | None
    cost: float | None
    output_step: str | None = None  # the step whose output is the run's (see _output_step)

    @property
    def success(self) -> bool:
        return self.status == "succeeded"


class _StepFailed(Exception):
    """Raised out of a step's task to stop the run (the TaskGroup cancels the rest)."""


class Interpreter:
    def __init__(self, plan: Plan, runtime: Runtime, base: Mapping[str, object]) -> None:
        self.plan = plan
        self.runtime = runtime
        self.base = base
        self.results: dict[str, StepResult] = {
            step.name: StepResult(step.name, step.type) for step in plan.steps
        }
        self.waiting = {step.name: set(step.all_dependencies) for step in plan.steps}
        self.dependents: dict[str, list[StepPlan]] = defaultdict(list)
        for step in plan.steps:
            for dependency in step.all_dependencies:
                self.dependents[dependency].append(step)
        self.group: asyncio.TaskGroup | None = None

    # -- the run -----------------------------------------------------------------
    async def run(self) -> RunOutcome:
        started = time.perf_counter()
        status: RunStatus = "succeeded"
        error = None
        try:
            async with asyncio.timeout(self.plan.timeout):
                error = await self._run_all()
        except TimeoutError:
            error = f"the workflow timed out after {self.plan.timeout:g}s"
        except asyncio.CancelledError:
            status = "cancelled"
            error = "the run was interrupted"
            task = asyncio.current_task()
            if task is not None:
                task.uncancel()  # handled here: the run ends as `cancelled`, not as an error
        if error is not None and status != "cancelled":
            status = "failed"
        return self._outcome(status, error, started)

    async def _run_all(self) -> str | None:
        failed: list[str] = []
        try:
            async with asyncio.TaskGroup() as group:
                self.group = group
                for step in self.plan.steps:
                    if not self.waiting[step.name]:
                        self._start(step)
        except* _StepFailed as failures:
            failed = [str(e) for e in failures.exceptions]
        budget = self.runtime.budget.summary() if self.runtime.budget is not None else None
        if budget is not None:
            return budget
        if not failed:
            return None
        first = self.results[failed[0]]
        return f"step '{first.name}' failed: {first.error}"

    def _start(self, step: StepPlan) -> None:
        assert self.group is not None
        if self._stopped():
            return  # a budget was reached: nothing new starts (the step stays pending)
        self.group.create_task(self._run_step(step), name=step.name)

    def _release(self, finished: str) -> None:
        for dependent in self.dependents[finished]:
            waiting = self.waiting[dependent.name]
            waiting.discard(finished)
            if not waiting:
                self._start(dependent)

    def _stopped(self) -> bool:
        """Whether a budget stopped the run: no new step or item starts, while steps and
        calls already running finish (their results are kept, so a resume reuses them)."""
        budget = self.runtime.budget
        return budget is not None and budget.stopped is not None

    def _output_step(self) -> StepResult:
        """The step whose output is the run's: the workflow's `output`; else the
        last-declared final step, or — when that was skipped — the last-declared
        step that succeeded with no succeeded step depending on it."""
        chosen = self.results[self.plan.output]
        if self.plan.output_explicit or not chosen.skipped:
            return chosen
        ran = [s for s in self.plan.steps if self.results[s.name].succeeded]
        needed = {name for s in ran for name in s.all_dependencies}
        finals = [s.name for s in ran if s.name not in needed]
        return self.results[finals[-1]] if finals else chosen

    def _outcome(self, status: RunStatus, error: str | None, started: float) -> RunOutcome:
        output_step = self._output_step()
        usage: Usage | None = None
        for result in self.results.values():
            usage = add_usage(usage, result.usage)
        return RunOutcome(
            status=status,
            results=dict(self.results),
            output=output_step.output if output_step.succeeded else "",
            error=error,
            duration_ms=_ms_since(started),
            usage=usage,
            cost=_run_cost(self.results.values()),
            output_step=output_step.name,
        )

    # -- one step ----------------------------------------------------------------
    async def _run_step(self, step: StepPlan) -> None:
        started = time.perf_counter()
        self.runtime.observer.step_started(step)
        try:
            result = await self._execute(step)
        except asyncio.CancelledError:
            self.results[step.name] = StepResult(
                step.name, step.type, "cancelled", duration_ms=_ms_since(started)
            )
            self.runtime.observer.step_finished(step, self.results[step.name])
            raise
        result = replace(result, duration_ms=_ms_since(started))
        if result.succeeded and result.json is None and result.type != "query":
            # Query steps parse their answers themselves (a list for a parallel one).
            result = replace(result, json=json_value(result.output))
        if step.type == "apply" and result.succeeded:
            self.runtime.processes().tree_changed()  # a cluster ships the new tree
        self.results[step.name] = result
        self.runtime.observer.step_finished(step, result)
        if self._stopped():
            return  # not `_StepFailed`: that would cancel the calls still in flight
        if result.failed and not step.continue_on_error:
            raise _StepFailed(step.name)
        self._release(step.name)

    async def _execute(self, step: StepPlan) -> StepResult:
        context = step_context(self.base, self.results)
        if step.for_each_expr is not None:
            return await self._for_each(step, step.for_each_expr, context)
        return await self._attempts(step, context)

    async def _attempts(self, step: StepPlan, context: Mapping[str, object]) -> StepResult:
        result, attempts = await self._tries(step, context)
        return result if attempts is None else replace(result, attempts=attempts)

    async def _tries(
        self, step: StepPlan, context: Mapping[str, object], item: int | None = None
    ) -> tuple[StepResult, int | None]:
        """The condition, a recorded result to reuse (a resume's, then the cache's), or
        up to `retries + 1` attempts, each bounded by the timeout; and the number of
        attempts when the result does not say it yet (a for_each item's result is
        then copied once, not twice)."""
        skipped = self._skip(step, context)
        if skipped is not None:
            return skipped, None
        reused = self._reused(step, context, item)
        if reused is not None:
            return reused, None
        key = self._cache_key(step, context)
        cached = self.runtime.cache.recall(step, key) if self.runtime.cache and key else None
        if cached is not None:
            return cached, None
        attempt = 0
        while True:
            attempt += 1
            with labelled(Label(step.name, item, step.rerun_on_worker_loss)):
                result = await self._attempt(step, context)
            if not result.failed or attempt > step.retries or self._stopped():
                break
            await asyncio.sleep(step.retry_delay)
        if self.runtime.cache is not None and key is not None:
            result = replace(result, attempts=attempt)
            self.runtime.cache.keep(step, item, key, result)
            return result, None
        return result, attempt

    def _cache_key(self, step: StepPlan, context: Mapping[str, object]) -> str | None:
        """The step's (or item's) cache key, when the cache covers it in this run."""
        cache = self.runtime.cache
        if cache is None or not cache.applies(step):
            return None
        try:
            inputs = step_inputs(step, context, preamble=self.runtime.preamble)
        except RenderError:
            return None  # the attempt fails the same way and says why
        return cache.key(step, inputs)

    def _skip(self, step: StepPlan, context: Mapping[str, object]) -> StepResult | None:
        if step.condition_expr is None:
            return None
        key = "if" if step.condition else "when"
        try:
            true = holds(step.condition_expr, context, key=key)
        except RenderError as error:
            return StepResult(step.name, step.type, "failed", error=str(error))
        return None if true else StepResult(step.name, step.type, "skipped")

    def _reused(
        self, step: StepPlan, context: Mapping[str, object], item: int | None
    ) -> StepResult | None:
        """A resumed run's recorded result for these exact inputs, if there is one."""
        if self.runtime.reuse is None or step.name in self.runtime.inputs:
            return None  # an answer given now (--input) wins over the recorded one
        try:
            inputs = step_inputs(step, context, preamble=self.runtime.preamble)
        except RenderError:
            return None  # the attempt fails the same way and says why
        return self.runtime.reuse.recall(step.name, item, inputs)

    async def _attempt(self, step: StepPlan, context: Mapping[str, object]) -> StepResult:
        try:
            if step.timeout is None:  # no timer to set and cancel, per for_each item
                return await execute_action(step, context, self.runtime)
            async with asyncio.timeout(step.timeout):
                return await execute_action(step, context, self.runtime)
        except TimeoutError:
            message = f"timed out after {step.timeout:g}s (the step's timeout)"
            return StepResult(step.name, step.type, "failed", error=message)
        except RenderError as error:
            return StepResult(step.name, step.type, "failed", error=str(error))

    # -- for_each ----------------------------------------------------------------
    async def _for_each(
        self, step: StepPlan, expr: Expr, context: Mapping[str, object]
    ) -> StepResult:
        """Every item, `concurrency` at a time, in item order; the same work per item
        whatever the number of items: a task per free slot (not per item), a running
        count for the progress display, results stored by index."""
        try:
            items = for_each_items(evaluate_expression(expr, context, key="for_each"))
        except RenderError as error:
            return StepResult(step.name, step.type, "failed", error=str(error))
        run = _Items(step, items)
        self.runtime.observer.items_known(step, len(items))
        try:
            async with asyncio.TaskGroup() as group:
                for _ in range(min(max(step.concurrency, 1), len(items))):
                    group.create_task(self._item_worker(run, context))
        except* _StepFailed:
            pass  # the failed item is in `results`; the others were cancelled
        return _combine(step, run.finished("pending" if self._stopped() else "cancelled"))

    async def _item_worker(self, run: _Items, context: Mapping[str, object]) -> None:
        """Take the next item not started yet, until there is none (or one fails)."""
        step = run.step
        for index in run.indices:
            if self._stopped():
                return  # a budget was reached: the items not started stay pending
            try:
                scope = item_context(context, run.items[index], index, len(run.items))
                result, attempts = await self._tries(step, scope, index)
            except asyncio.CancelledError:
                run.results[index] = StepResult(run.name(index), step.type, "cancelled")
                raise
            result = run.finish(index, result, attempts)
            self.runtime.observer.item_finished(step, run.done, len(run.items))
            if result.failed and not step.continue_on_error and not self._stopped():
                raise _StepFailed(run.name(index))
            if index % _YIELD_EVERY == 0:  # items that finish at once still let others run
                await asyncio.sleep(0)


class _Items:
    """One for_each step's items as they run: the next to start, and each result."""

    def __init__(self, step: StepPlan, items: list[object]) -> None:
        self.step = step
        self.items = items
        self.indices = iter(range(len(items)))  # shared by the workers
        self.results: list[StepResult | None] = [None] * len(items)
        self.done = 0

    def name(self, index: int) -> str:
        return f"{self.step.name}[{index}]"

    def finish(self, index: int, result: StepResult, attempts: int | None) -> StepResult:
        """Keep the item's result, named after it, with its item and attempts."""
        details = ItemDetails(result.details, self.items[index])
        tries = result.attempts if attempts is None else attempts
        kept = replace(result, name=self.name(index), details=details, attempts=tries)
        self.results[index] = kept
        self.done += 1
        return kept

    def finished(self, unstarted: Status = "cancelled") -> list[StepResult]:
        """Every item's result; those never started (or cut short) are `unstarted`:
        `cancelled`, or `pending` when a budget stopped the run before them."""
        return [
            r or StepResult(self.name(i), self.step.type, unstarted)
            for i, r in enumerate(self.results)
        ]


def for_each_items(value: object) -> list[object]:
    """What for_each iterates over: a list, or text holding a JSON array."""
    if isinstance(value, list | tuple):
        return list(value)
    if isinstance(value, str):
        parsed = json_array(value)
        if parsed is not None:
            return parsed
        raise RenderError(
            "for_each: the value is text, not a list: add | lines to iterate over its lines, "
            "or | fromjson if it holds JSON"
        )
    raise RenderError(
        f"for_each: the value is {type(value).__name__}, not a list "
        "(use | lines on text, or | fromjson on JSON)"
    )


def _combine(step: StepPlan, items: Sequence[StepResult]) -> StepResult:
    failed = [index for index, r in enumerate(items) if r.failed]
    unstarted = [index for index, r in enumerate(items) if r.status == "pending"]  # budget
    if failed or unstarted:
        status: Literal["failed", "skipped", "succeeded"] = "failed"
    elif items and all(r.skipped for r in items):
        status = "skipped"
    else:
        status = "succeeded"
    usage: Usage | None = None
    for item in items:
        usage = add_usage(usage, item.usage)
    error = None
    if failed:
        error = f"item {failed[0]} failed: {items[failed[0]].error}"
    elif unstarted:
        error = f"item {unstarted[0]} did not start: the budget was reached"
    return StepResult(
        step.name,
        step.type,
        status,
        output="\n".join(r.output for r in items if r.succeeded),
        outputs=tuple(r.output for r in items),
        error=error,
        items=tuple(items),
        usage=usage,
        cost=_run_cost(items) if any(r.cost is not None for r in items) else None,
        attempts=max((r.attempts for r in items), default=0),
        details=_cached(items),
    )


def _cached(items: Sequence[StepResult]) -> dict[str, object]:
    """`cached_from` for a for_each step whose every item came from the cache of one run."""
    origins = {item.details.get("cached_from") for item in items}
    origin = origins.pop() if len(origins) == 1 else None
    return {"cached_from": origin} if isinstance(origin, str) else {}


def _run_cost(results: Iterable[StepResult]) -> float | None:
    """Sum of known costs; None when any step that asked a model has no known cost."""
    total = 0.0
    known = False
    for result in results:
        if result.cost is not None:
            total += result.cost
            known = True
        elif _may_have_paid(result):
            return None
    return total if known else None


def _may_have_paid(result: StepResult) -> bool:
    """Whether a result without a cost stands for tokens someone may have paid for.

    A query step that ran (even one cut short by a timeout or a cancel) may
    have been billed; a skipped or never-started one was not.
    """
    if result.usage is not None:
        return True
    return result.type == "query" and result.status not in ("skipped", "pending")


def _ms_since(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)
