"""Estimates before spending: what a plan's query steps may cost, known in advance.

Input: a `Plan` and the run's args (and environment, for `env.*` in
templates). Output: an `Estimate` — per query step, the items (a for_each
whose list is known from args and literals), the backend calls (a range:
`fallback` may stop at the first backend), and an upper bound on the cost —
and its text and JSON forms for `plan` and `run --dry-run`.

The bound of one call is `max_tokens` (the backend's cap on the answer) ×
the output price, plus the prompt's UTF-8 bytes (+ `OVERHEAD` tokens for the
chat framing) × the input price: a byte-level BPE token is at least one byte,
so a prompt has no more tokens than bytes. Calls are counted once each, plus
`schema_retries` re-asks and step `retries`; a backend's own retries of a
failure before any work (429, 5xx, no connection) cost nothing. Whatever
cannot be bounded is "unknown", with the reason: a prompt that needs another
step's output, a for_each over a step's output, a backend without prices or
`max_tokens`, a CLI agent that reports no usage.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from llm_mux.compiler.plan import BackendSpec, Plan, Query, StepPlan

from ..running.rendering import RenderError, evaluate_expression, render
from .limits import money
from .prices import usage_reported

__all__ = ["OVERHEAD", "Estimate", "StepEstimate", "estimate", "render_estimate"]

OVERHEAD = 16  # tokens a chat request adds around the prompt (roles, separators)


@dataclass(frozen=True, slots=True)
class StepEstimate:
    step: str
    items: int | None  # None: not a for_each; -1 never — unknown counts say so in `unknown`
    calls: tuple[int, int] | None  # fewest and most calls; None when the item count is unknown
    cost: float | None  # upper bound; None when unknown
    unknown: str | None  # why the bound (or the count) is unknown

    def to_json(self) -> dict[str, object]:
        return {
            "step": self.step,
            "items": self.items,
            "calls_min": self.calls[0] if self.calls else None,
            "calls_max": self.calls[1] if self.calls else None,
            "cost_max": self.cost,
            "unknown": self.unknown,
        }


@dataclass(frozen=True, slots=True)
class Estimate:
    steps: tuple[StepEstimate, ...]
    max_cost: float | None  # the workflow's budget, for comparison
    max_tokens: int | None

    @property
    def calls(self) -> tuple[int, int] | None:
        if any(s.calls is None for s in self.steps):
            return None
        return sum(s.calls[0] for s in self.steps if s.calls), sum(
            s.calls[1] for s in self.steps if s.calls
        )

    @property
    def cost(self) -> float | None:
        if any(s.cost is None for s in self.steps):
            return None
        return sum(s.cost for s in self.steps if s.cost is not None)

    def to_json(self) -> dict[str, object]:
        calls = self.calls
        return {
            "steps": [step.to_json() for step in self.steps],
            "calls_min": calls[0] if calls else None,
            "calls_max": calls[1] if calls else None,
            "cost_max": self.cost,
            "known_cost_max": sum(s.cost for s in self.steps if s.cost is not None),
            "max_cost": self.max_cost,
            "max_tokens": self.max_tokens,
        }


def estimate(plan: Plan, args: Mapping[str, object], env: Mapping[str, str]) -> Estimate:
    context = {"args": dict(args), "env": dict(env)}
    steps = tuple(
        _step(step, step.action, plan.backends, context)
        for step in plan.steps
        if isinstance(step.action, Query)
    )
    return Estimate(steps, plan.max_cost, plan.max_tokens)


def _step(
    step: StepPlan, query: Query, specs: Mapping[str, BackendSpec], context: Mapping[str, object]
) -> StepEstimate:
    if query.route is None:
        return StepEstimate(step.name, None, (0, 0), 0.0, None)
    scopes, why_items = _scopes(step, context)
    backends = [specs[name] for name in query.route.backends if name in specs]
    fewest = 1 if query.route.execution == "fallback" else len(backends)
    tries = (1 + (query.schema_retries if query.output_schema else 0)) * (1 + step.retries)
    items = None if scopes is None else len(scopes)
    calls = None if items is None else (fewest * items, len(backends) * tries * items)
    cost: float | None = None
    why_cost = why_items
    if scopes is not None:
        bounds = [_call_bound(query, backends, scope) for scope in scopes]
        why_cost = next((why for _, why in bounds if why is not None), None)
        if why_cost is None:
            cost = sum(bound for bound, _ in bounds if bound is not None) * tries
    shown = items if step.for_each_expr is not None else None
    return StepEstimate(step.name, shown, calls, cost, why_cost)


def _scopes(
    step: StepPlan, context: Mapping[str, object]
) -> tuple[list[Mapping[str, object]] | None, str | None]:
    """The context of each run of the step (one per for_each item), when they are known."""
    if step.for_each_expr is None:
        return [context], None
    from ..running.context import item_context
    from ..running.interpreter import for_each_items

    try:
        items = for_each_items(evaluate_expression(step.for_each_expr, context, key="for_each"))
    except RenderError:
        return None, f"its for_each needs what runs before it ({step.for_each})"
    return [item_context(context, item, i, len(items)) for i, item in enumerate(items)], None


def _call_bound(
    query: Query, backends: Sequence[BackendSpec], context: Mapping[str, object]
) -> tuple[float | None, str | None]:
    """The most one round of calls (one per backend of the route) can cost, or why not."""
    for spec in backends:  # before rendering anything: most unknowns are found here
        why = _unbounded(spec)
        if why is not None:
            return None, why
    try:
        prompt = render(query.prompt, context, key="prompt")
        system = render(query.system, context, key="system") if query.system else ""
    except RenderError:
        return None, "the prompt needs what runs before it"
    prompt_tokens = len((prompt + system).encode("utf-8")) + OVERHEAD
    return sum(_one_call(spec, prompt_tokens) for spec in backends), None


def _unbounded(spec: BackendSpec) -> str | None:
    if not usage_reported(spec):
        return f"backend '{spec.name}' reports no token usage"
    if spec.input_cost_per_million is None or spec.output_cost_per_million is None:
        return f"backend '{spec.name}' has no prices"
    if spec.max_tokens is None:
        return f"backend '{spec.name}' sets no max_tokens, so its answers are unbounded"
    return None


def _one_call(spec: BackendSpec, prompt_tokens: int) -> float:
    """The most one call can cost: prompt (and the backend's system) in, max_tokens out."""
    assert spec.input_cost_per_million is not None and spec.output_cost_per_million is not None
    assert spec.max_tokens is not None
    system = len(spec.system.encode("utf-8")) if spec.system else 0
    tokens_in = prompt_tokens + system
    return (
        tokens_in * spec.input_cost_per_million + spec.max_tokens * spec.output_cost_per_million
    ) / 1e6


# -- text ------------------------------------------------------------------------------
def render_estimate(found: Estimate) -> str:
    """The estimate as `plan` and `run --dry-run` print it, after the plan."""
    lines = ["estimate (upper bounds, before anything runs):"]
    if not found.steps:
        return "\n".join([*lines, "  no query steps: no backend is called"]) + "\n"
    rows = [(s.step, _calls(s.calls, s.items), _cost(s)) for s in found.steps]
    rows.append(("total", _calls(found.calls, None), _total(found)))
    name_width = max(len(row[0]) for row in rows)
    calls_width = max(len(row[1]) for row in rows)
    lines += [f"  {n:<{name_width}}  {c:<{calls_width}}  {cost}" for n, c, cost in rows]
    if found.max_cost is not None:
        lines.append(f"  budget: max_cost {money(found.max_cost)[0]}" + _against(found))
    return "\n".join(lines) + "\n"


def _calls(calls: tuple[int, int] | None, items: int | None) -> str:
    per = f"{items} item{'s' if items != 1 else ''}, " if items is not None else ""
    if calls is None:
        return f"{per}calls unknown"
    fewest, most = calls
    count = f"{fewest}" if fewest == most else f"{fewest}–{most}"
    return f"{per}{count} call{'s' if most != 1 else ''}"


def _cost(step: StepEstimate) -> str:
    if step.cost is not None:
        return f"≤ {money(step.cost)[0]}"
    return f"cost unknown: {step.unknown}"


def _total(found: Estimate) -> str:
    if found.cost is not None:
        return f"≤ {money(found.cost)[0]}"
    unknown = sum(s.cost is None for s in found.steps)
    text = f"cost unknown ({unknown} step{'s' if unknown != 1 else ''}"
    if unknown == len(found.steps):
        return text + ")"
    known = sum(s.cost for s in found.steps if s.cost is not None)
    return f"{text}; the others ≤ {money(known)[0]})"


def _against(found: Estimate) -> str:
    if found.cost is None or found.max_cost is None:
        return ""
    return " (within it)" if found.cost <= found.max_cost else " (the bound is above it)"
