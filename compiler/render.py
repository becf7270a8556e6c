"""Plan renderers: Plan → text, JSON, Graphviz DOT, Mermaid.

Input: a `Plan`. Output: a string for `llm-mux plan --format …`. The JSON form
is the serialized IR with `plan_version`; the other three are for people.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import assert_never

from .plan import Apply, Candidates, Input, Plan, Query, Route, Shell, StepPlan, Store

__all__ = ["FORMATS", "render", "to_dot", "to_json", "to_mermaid", "to_text"]


def to_json(plan: Plan) -> str:
    document = {
        "plan_version": plan.plan_version,
        "workflow": plan.workflow.name,
        "path": plan.workflow.path,
        "description": plan.workflow.description,
        "team": plan.team.name if plan.team else None,
        "output": plan.output,
        "timeout": plan.timeout,
        "args": [_arg_json(a) for a in plan.args],
        "stages": [list(stage) for stage in plan.stages],
        "steps": [_step_json(step) for step in plan.steps],
        "edges": [{"from": e.source, "to": e.target, "inferred": e.inferred} for e in plan.edges],
    }
    document.update(_set(max_cost=plan.max_cost, max_tokens=plan.max_tokens))
    if plan.allow_unknown_cost:
        document["allow_unknown_cost"] = True
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def _arg_json(arg: object) -> dict[str, object]:
    import msgspec

    return dict(msgspec.to_builtins(arg))


def _step_json(step: StepPlan) -> dict[str, object]:
    route = step.action.route if isinstance(step.action, Query) else None
    document: dict[str, object] = {
        "name": step.name,
        "type": step.type,
        "description": step.description,
        "depends_on": list(step.depends_on),
        "inferred_depends_on": [d for d in step.inferred_depends_on if d not in step.depends_on],
        "condition": step.condition,
        "for_each": step.for_each,
        "concurrency": step.concurrency,
        "role": route.role if route else None,
        "execution": route.execution if route else None,
        "backends": list(route.backends) if route else [],
        "min_success": route.min_success if route else None,
        "timeout": step.timeout,
        "retries": step.retries,
        "continue_on_error": step.continue_on_error,
    }
    document.update(_action_fields(step))
    document.update(_spending(step))
    return document


def _spending(step: StepPlan) -> dict[str, object]:
    """Budget and cache settings, only where the workflow sets them."""
    fields = _set(max_cost=step.max_cost, max_tokens=step.max_tokens)
    if step.cache:
        fields["cache"] = True
    if step.inputs:
        fields["inputs"] = list(step.inputs)
    return fields


def _set(**fields: object) -> dict[str, object]:
    return {key: value for key, value in fields.items() if value is not None}


def _action_fields(step: StepPlan) -> dict[str, object]:
    action = step.action
    match action:
        case Shell():
            return {"run": action.run, "shell": action.shell}
        case Query():
            return {
                "prompt": action.prompt,
                "system": action.system,
                "output_schema": action.output_schema,
            }
        case Apply():
            fields: dict[str, object] = {
                "source": action.source,
                "verify": action.verify,
                "verify_retries": action.verify_retries,
            }
            if action.candidates is not None:
                fields["candidates"] = _candidates_json(action.candidates)
            return fields
        case Store():
            return {"input": action.input, "ecosystem": action.ecosystem}
        case Input():
            return {"prompt": action.prompt, "options": action.options, "default": action.default}
        case _:
            assert_never(action)


def _candidates_json(candidates: Candidates) -> dict[str, object]:
    return {
        "select": candidates.select,
        "metric": candidates.metric,
        "prefer": candidates.prefer,
        "max_parallel": candidates.max_parallel,
    }


# -- text ----------------------------------------------------------------------
def to_text(plan: Plan) -> str:
    lines = [f"workflow {plan.workflow.name}" + _suffix(plan.workflow.description)]
    lines.append(f"  file: {plan.workflow.path}")
    if plan.team:
        lines.append(f"  team: {plan.team.name}")
    if plan.args:
        lines.append(
            "  args: " + ", ".join(_arg_text(a.name, a.required, a.default) for a in plan.args)
        )
    lines.append(f"  output: {plan.output}")
    for key, value in _set(max_cost=plan.max_cost, max_tokens=plan.max_tokens).items():
        lines.append(f"  {key}: {value}")
    lines.append("")
    for number, stage in enumerate(plan.stages, start=1):
        lines.append(f"stage {number}: " + ", ".join(stage))
    for step in plan.steps:
        lines.append("")
        lines.extend(_step_text(step))
    return "\n".join(lines) + "\n"


def _suffix(description: str | None) -> str:
    return f" — {description}" if description else ""


def _arg_text(name: str, required: bool, default: object) -> str:
    if required:
        return f"{name} (required)"
    return f"{name} (default {default!r})" if default is not None else name


def _step_text(step: StepPlan) -> list[str]:
    lines = [f"{step.name} [{step.type}]" + _suffix(step.description)]
    explicit = list(step.depends_on)
    inferred = [f"{d} (inferred)" for d in step.inferred_depends_on if d not in step.depends_on]
    if explicit or inferred:
        lines.append("  depends on: " + ", ".join(explicit + inferred))
    action = step.action
    if isinstance(action, Query):
        lines.append("  " + _route_text(action.route))
    lines.extend(f"  {key}: {_one_line(value)}" for key, value in _details(step))
    return lines


def _route_text(route: Route | None) -> str:
    if route is None:
        return "backends: (resolved at run time)"
    who = f"role {route.role}" if route.role else "backend"
    mode: str = route.execution
    if route.execution == "parallel" and route.min_success > 1:
        mode += f", min_success {route.min_success}"
    return f"{who} → {', '.join(route.backends)} ({mode})"


def _details(step: StepPlan) -> list[tuple[str, object]]:
    fields: list[tuple[str, object]] = [
        (key, value)
        for key, value in _action_fields(step).items()
        if value is not None
        and key not in ("output_schema", "shell", "verify_retries", "candidates")
    ]
    if isinstance(step.action, Apply) and step.action.candidates is not None:
        fields.append(("candidates", _candidates_text(step.action.candidates)))
        if step.action.candidates.metric:
            fields.append(("metric", step.action.candidates.metric))
    if step.condition:
        fields.append(("if", step.condition))
    if step.for_each:
        fields.append(("for_each", step.for_each))
        fields.append(("concurrency", step.concurrency))
    if step.timeout is not None:
        fields.append(("timeout", f"{step.timeout:g}s"))
    if step.retries:
        fields.append(("retries", step.retries))
    if step.continue_on_error:
        fields.append(("continue_on_error", "true"))
    fields += [(key, _toml(value)) for key, value in _spending(step).items()]
    return fields


def _candidates_text(candidates: Candidates) -> str:
    """`each backend's answer, the first to pass wins (4 at a time)` and the like."""
    if candidates.select == "best":
        best = "highest" if candidates.prefer == "higher" else "lowest"
        rule = f"the {best} metric wins, ties by role order"
    else:
        rule = "the first to pass wins"
    return (
        f"each backend's answer in its own worktree; {rule} ({candidates.max_parallel} at a time)"
    )


def _toml(value: object) -> str:
    return json.dumps(value) if isinstance(value, bool | list) else str(value)


def _one_line(value: object) -> str:
    text = str(value).strip()
    first = text.splitlines()[0] if text else ""
    return first + (" …" if "\n" in text else "")


# -- graphs --------------------------------------------------------------------
def to_dot(plan: Plan) -> str:
    lines = [
        f"digraph {_dot_quote(plan.workflow.name)} {{",
        "  rankdir=LR;",
        '  node [shape=box, fontname="monospace"];',
    ]
    for step in plan.steps:
        label = _dot_quote(f"{step.name}\n{step.type}")
        lines.append(f"  {_dot_quote(step.name)} [label={label}];")
    for edge in plan.edges:
        style = " [style=dashed]" if edge.inferred else ""
        lines.append(f"  {_dot_quote(edge.source)} -> {_dot_quote(edge.target)}{style};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _dot_quote(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def to_mermaid(plan: Plan) -> str:
    ids = {step.name: f"s{index}" for index, step in enumerate(plan.steps)}
    lines = ["flowchart LR"]
    for step in plan.steps:
        label = f"{step.name} ({step.type})".replace('"', "#quot;")
        lines.append(f'  {ids[step.name]}["{label}"]')
    for edge in plan.edges:
        arrow = "-.->" if edge.inferred else "-->"
        lines.append(f"  {ids[edge.source]} {arrow} {ids[edge.target]}")
    return "\n".join(lines) + "\n"


FORMATS: dict[str, Callable[[Plan], str]] = {
    "text": to_text,
    "json": to_json,
    "dot": to_dot,
    "mermaid": to_mermaid,
}


def render(plan: Plan, fmt: str) -> str:
    return FORMATS[fmt](plan)
