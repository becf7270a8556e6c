"""Check pass: whole-workflow rules on a `CheckedWorkflow`.

Input: the checked workflow and (unless `--no-config`) the merged config.
Output: diagnostics only — dependency cycles (printed in full), roles and
backends that the merged config does not define, and apply steps that keep
edits without verifying them; budgets and the cache (`spending`). Runs on the
`validate` path, so it finds cycles with a plain depth-first search rather than
importing networkx.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

from ..checked import CheckedStep, CheckedWorkflow, Dependency
from ..diagnostics import Sink, did_you_mean
from ..schema import ApplyStep, QueryStep
from .candidates import check_candidates
from .config import MergedConfig
from .spending import check_spending

__all__ = ["check", "find_cycles"]


def check(workflow: CheckedWorkflow, config: MergedConfig | None, sink: Sink) -> bool:
    errors_before = sink.error_count
    _check_cycles(workflow, sink)
    _check_apply(workflow, config, sink)
    check_candidates(workflow, sink)
    check_spending(workflow, config, sink)
    if config is not None:
        for step in workflow.steps:
            if isinstance(step.surface, QueryStep):
                _check_route(step, step.surface, workflow, config, sink)
    return sink.error_count == errors_before


# -- cycles --------------------------------------------------------------------------
Edge = tuple[str, Dependency]  # (step, its dependency on the next step)
_NEW, _ON_PATH, _DONE = 0, 1, 2


def find_cycles(
    edges: Mapping[str, Sequence[Dependency]], order: Sequence[str]
) -> list[list[Edge]]:
    """Every cycle a depth-first search meets, each as the edges that close it.

    Iterative, because a 5,000-step chain is deeper than Python's recursion limit.
    """
    state: dict[str, int] = {}
    cycles: list[list[Edge]] = []
    for root in order:
        if state.get(root, _NEW) != _NEW:
            continue
        state[root] = _ON_PATH
        frames: list[tuple[str, Iterator[Dependency]]] = [(root, iter(edges.get(root, ())))]
        path: list[Edge] = []
        while frames:
            name, pending = frames[-1]
            dependency = next(pending, None)
            if dependency is None:
                state[name] = _DONE
                frames.pop()
                if path:
                    path.pop()
                continue
            target = dependency.target
            if state.get(target, _NEW) == _ON_PATH:
                start = next((i for i, (owner, _) in enumerate(path) if owner == target), len(path))
                cycles.append(path[start:] + [(name, dependency)])
            elif state.get(target, _NEW) == _NEW:
                state[target] = _ON_PATH
                path.append((name, dependency))
                frames.append((target, iter(edges.get(target, ()))))
    return cycles


def _check_cycles(workflow: CheckedWorkflow, sink: Sink) -> None:
    edges = {step.name: step.dependencies for step in workflow.steps}
    for cycle in find_cycles(edges, [s.name for s in workflow.steps]):
        names = [owner for owner, _ in cycle] + [cycle[-1][1].target]
        if len(cycle) == 1:
            message = f"step '{names[0]}' depends on itself"
            hint = "a step cannot use its own result; remove this reference"
        else:
            message = "steps depend on each other in a cycle: " + " → ".join(names)
            hint = "each step here needs the next one first; remove one of these dependencies"
        sink.error("E204", message, cycle[0][1].at, hint=hint)


# -- routes ----------------------------------------------------------------------------
def _check_route(
    step: CheckedStep,
    query: QueryStep,
    workflow: CheckedWorkflow,
    config: MergedConfig,
    sink: Sink,
) -> None:
    source = workflow.source
    path = ("steps", step.index)
    backends = config.config.backends
    if query.backend is not None:
        if query.backend not in backends:
            suggestion = did_you_mean(query.backend, backends)
            sink.error(
                "E402",
                f"step '{step.name}' uses backend '{query.backend}', which is not defined",
                source.value(path + ("backend",)),
                hint=f"did you mean '{suggestion}'?"
                if suggestion
                else "define it under [backends] in a config file or this workflow",
            )
        return
    role = query.role or "default"
    roles = set(config.config.roles) | {r for t in config.config.teams.values() for r in t.roles}
    if role in roles:
        return
    suggestion = did_you_mean(role, roles)
    if query.role is None:
        sink.error(
            "E401",
            f"step '{step.name}' names no role, so it uses role 'default', which is not defined",
            source.key(path),
            hint='add role = "…" to the step, or define [roles.default] (`llm-mux init` '
            "writes one from the backends it finds)",
        )
        return
    define = f"define [roles.{role}] with backends = [...]"
    if role == "default":  # what a new user meets first, with the built-in review
        define += " (`llm-mux init` writes one from the backends it finds)"
    sink.error(
        "E401",
        f"step '{step.name}' uses role '{role}', which is not defined",
        source.value(path + ("role",)),
        hint=f"did you mean '{suggestion}'?" if suggestion else define,
    )


# -- apply -----------------------------------------------------------------------------
def _check_apply(workflow: CheckedWorkflow, config: MergedConfig | None, sink: Sink) -> None:
    for step in workflow.steps:
        apply = step.surface
        if not isinstance(apply, ApplyStep):
            continue
        path = ("steps", step.index)
        if apply.verify is None or apply.verify is False:
            sink.warning(
                "W602",
                f"apply step '{step.name}' keeps the edits without verifying them",
                workflow.source.key(path),
                hint='add verify = "<test command>", or verify = true to use the team\'s verify',
            )
        elif apply.verify is True and config is not None:
            teams = config.config.teams.values()
            if not any(team.verify for team in teams):
                sink.warning(
                    "W602",
                    f"apply step '{step.name}' has verify = true, but no team defines verify",
                    workflow.source.value(path + ("verify",)),
                    hint='set verify = "…" on a [teams.NAME] table, or give the command here',
                )
