"""Input steps: ask the person at the terminal, or take the answer given up front.

Input: an `Input` action (prompt, options, default), `--input STEP=VALUE`
answers and whether stdin is a terminal. Output: the answer as `output`. An
answer given with `--input` wins; without a terminal the default is used; with
neither the step fails and says how to pass an answer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence

from llm_mux.compiler.plan import Input, StepPlan

from ..running.results import StepResult
from ..running.runtime import Runtime
from . import failed, step_inputs

__all__ = ["run_input"]


async def run_input(
    step: StepPlan, action: Input, context: Mapping[str, object], runtime: Runtime
) -> StepResult:
    inputs = step_inputs(step, context)
    question = inputs["prompt"]
    answer = runtime.inputs.get(step.name)
    if answer is None and runtime.interactive:
        with runtime.observer.pause():  # type: ignore[attr-defined]
            answer = await asyncio.to_thread(_ask, question, action.options, action.default)
    if answer is None:
        answer = action.default
    if answer is None:
        return failed(
            step,
            f"step '{step.name}' asks {question!r}, but there is no terminal to answer it: "
            f"pass --input {step.name}=VALUE to run, or give the step a default",
            inputs=inputs,
        )
    if action.options is not None and answer not in action.options:
        allowed = ", ".join(action.options)
        return failed(step, f"answer {answer!r} is not one of: {allowed}", inputs=inputs)
    return StepResult(step.name, step.type, "succeeded", output=answer, inputs=inputs)


def _ask(question: str, options: Sequence[str] | None, default: str | None) -> str:
    import click

    kind = click.Choice(list(options)) if options else None
    return str(click.prompt(question, default=default, type=kind, err=True))
