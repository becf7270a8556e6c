"""Step executors: one module per step type, one dispatch.

Input: a `StepPlan`, the template context for this step (or item) and the
`Runtime`. Output: a `StepResult` — `succeeded` or `failed` with an error a
user can act on. Templates that cannot render raise `RenderError`, which the
interpreter turns into a failed result.

`step_inputs` renders what a step records as its `inputs` without running it:
a resumed run compares them with the recorded ones before running a step. The
executors build their `inputs` with the same functions, so the two agree.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import assert_never

from llm_mux.compiler.plan import Apply, Input, Query, Shell, StepPlan, Store

from ..running.rendering import render
from ..running.results import StepResult
from ..running.runtime import Runtime

__all__ = ["execute_action", "failed", "step_inputs"]


async def execute_action(
    step: StepPlan, context: Mapping[str, object], runtime: Runtime
) -> StepResult:
    # The step modules import this package, so they are imported here, when first
    # needed; absolutely, as a relative import in a function runs importlib's Python
    # code on every call (once per for_each item).
    action = step.action
    match action:
        case Shell():
            from llm_mux.steps.shell import run_shell

            return await run_shell(step, action, context, runtime)
        case Query():
            from llm_mux.steps.query import run_query

            return await run_query(step, action, context, runtime)
        case Input():
            from llm_mux.steps.input import run_input

            return await run_input(step, action, context, runtime)
        case Store():
            from llm_mux.steps.store import run_store

            return await run_store(step, action, context, runtime)
        case Apply():
            from llm_mux.steps.apply import run_apply

            return await run_apply(step, action, context, runtime)
        case _:
            assert_never(action)


def step_inputs(
    step: StepPlan, context: Mapping[str, object], *, preamble: str = ""
) -> dict[str, str]:
    """The step's rendered inputs in `context` (raises `RenderError` like the step would)."""
    action = step.action
    match action:
        case Shell():
            return {"run": render(action.run, context, key="run", shell=True)}
        case Query():
            from llm_mux.steps.prompts import query_inputs

            return query_inputs(action, context, preamble)
        case Input():
            return {"prompt": render(action.prompt, context, key="prompt")}
        case Store():
            return {"input": render(action.input, context, key="input")}
        case Apply():
            from llm_mux.steps.apply import apply_inputs

            return apply_inputs(action, context)
        case _:
            assert_never(action)


def failed(step: StepPlan, error: str, **fields: object) -> StepResult:
    return StepResult(step.name, step.type, "failed", error=error, **fields)  # type: ignore[arg-type]
