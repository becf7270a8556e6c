"""Query steps: render the prompt, route it to the role's backends, collect answers.

Input: a `Query` action (prompt, system, resolved `Route`, optional
`output_schema`) and the context. Output: `output` — the answer, or for a
parallel route one `=== <backend> ===` block per successful backend in role
order — plus `outputs` per backend, `backend`, `backends`, `errors`, `json`,
token `usage` and `cost`. With a schema, each answer is extracted (bare or
fenced JSON), validated, and its backend is asked again with the validation
error up to `schema_retries` times.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from llm_mux.compiler import json_limits
from llm_mux.compiler.plan import BackendSpec, Query, StepPlan

from ..backends import BackendOutcome, Check, Request, RouteResult
from ..budget.prices import attempt_cost
from ..jsontext import extract_json
from ..running.results import Outputs, StepResult, Usage, add_usage
from ..running.runtime import Runtime
from . import failed
from .calls import Call, QueryDetails
from .prompts import query_inputs

__all__ = ["call_cost", "run_query", "schema_check"]


async def run_query(
    step: StepPlan, action: Query, context: Mapping[str, object], runtime: Runtime
) -> StepResult:
    inputs = query_inputs(action, context, runtime.preamble)
    if action.route is None:
        return failed(step, 'no role or backend to ask: set role = "…" or backend = "…"')
    check = None
    if action.output_schema is not None:
        check = schema_check(action.output_schema, action.schema_retries)
    request = Request(inputs["prompt"], inputs.get("system"))
    meter = runtime.budget.meter(step) if runtime.budget is not None else None
    routed = await runtime.backends.pool().run_route(
        action.route, request, check=check, meter=meter
    )
    return _result(step, action, routed, runtime.plan.backends, inputs)


def _result(
    step: StepPlan,
    action: Query,
    routed: RouteResult,
    specs: Mapping[str, BackendSpec],
    inputs: Mapping[str, str],
) -> StepResult:
    answered = [o for o in routed.outcomes if o.completion is not None]
    errors = {o.backend: o.error for o in routed.outcomes if o.error is not None}
    errors.update({name: f"not available: {why}" for name, why in routed.unavailable.items()})
    texts = [(o.backend, o.completion.text) for o in answered if o.completion is not None]
    parallel = action.route is not None and action.route.execution == "parallel"
    output = _parallel_output(texts) if parallel else (texts[0][1] if texts else "")
    usage = _usage(routed.outcomes)
    fields: dict[str, object] = {
        "output": output,
        "outputs": Outputs(texts),
        "backend": texts[0][0] if texts else None,
        "backends": _shared(tuple(name for name, _ in texts)),
        "errors": errors,
        "usage": usage,
        "cost": _cost(routed.outcomes, specs),
        "inputs": inputs,
        "json": _json(texts, action, parallel),
        "details": QueryDetails(tuple(_call(o, specs.get(o.backend)) for o in routed.outcomes)),
    }
    if not errors:
        del fields["errors"]  # the shared empty mapping, not 64 bytes per item
    if not routed.ok:
        return failed(step, routed.error or "no backend answered", **fields)
    return StepResult(step.name, step.type, "succeeded", **fields)  # type: ignore[arg-type]


_NAME_TUPLES: dict[tuple[str, ...], tuple[str, ...]] = {}


def _shared(names: tuple[str, ...]) -> tuple[str, ...]:
    """One tuple per combination of backends, shared by every item that has it."""
    return _NAME_TUPLES.setdefault(names, names)


def _parallel_output(texts: Sequence[tuple[str, str]]) -> str:
    return "\n\n".join(f"=== {name} ===\n{text}" for name, text in texts)


def _json(texts: Sequence[tuple[str, str]], action: Query, parallel: bool) -> object:
    """The parsed answer: one value, or for a parallel route a list in role order."""
    values = []
    for _, text in texts:
        try:
            values.append(extract_json(text) if action.output_schema else json_limits.loads(text))
        except ValueError:
            values.append(None)
    if not values:
        return None
    return values if parallel else values[0]


def _usage(outcomes: Sequence[BackendOutcome]) -> Usage | None:
    total: Usage | None = None
    for outcome in outcomes:
        for attempt in outcome.attempts:
            if attempt.usage is not None:
                used = attempt.usage
                total = add_usage(
                    total, Usage(used.prompt_tokens, used.completion_tokens, used.total_tokens)
                )
    return total


def _cost(outcomes: Sequence[BackendOutcome], specs: Mapping[str, BackendSpec]) -> float | None:
    """The price of every call; None as soon as one call's price cannot be known."""
    total = 0.0
    for outcome in outcomes:
        cost = call_cost(outcome, specs.get(outcome.backend))
        if cost is None:
            return None
        total += cost
    return total


def call_cost(outcome: BackendOutcome, spec: BackendSpec | None) -> float | None:
    """One backend's attempts priced from the usage they report (`budget.attempt_cost`)."""
    total = 0.0
    for attempt in outcome.attempts:
        cost = attempt_cost(attempt, spec)
        if cost is None:
            return None
        total += cost
    return total


def _call(outcome: BackendOutcome, spec: BackendSpec | None) -> Call:
    """One backend's part in the step, as `--output json` and the run ledger record it."""
    return Call(
        outcome.backend,
        outcome.completion.model if outcome.completion else None,
        outcome.completion is not None,
        outcome.error,
        len(outcome.attempts),
        outcome.duration_ms,
        _usage([outcome]),
        call_cost(outcome, spec),
    )


# -- output_schema -------------------------------------------------------------------
def schema_check(schema: Mapping[str, object], retries: int) -> Check:
    import jsonschema

    validator_class = jsonschema.validators.validator_for(schema)
    validator = validator_class(schema)

    def validate(text: str) -> str | None:
        try:
            value = extract_json(text)
        except ValueError as error:
            return str(error)
        problem = jsonschema.exceptions.best_match(validator.iter_errors(value))  # type: ignore[arg-type]
        if problem is None:
            return None
        where = "/".join(str(p) for p in problem.absolute_path) or "the top level"
        return f"at {where}: {problem.message}"

    def reprompt(original: str, answer: str, error: str) -> str:
        return (
            f"{original}\n\nYour previous answer was:\n{answer}\n\n"
            f"It is not valid: {error}\nAnswer again with corrected JSON only."
        )

    return Check(validate=validate, retries=retries, reprompt=reprompt)
