"""Spending pass: budgets and the step cache, checked before anything runs.

Input: a `CheckedWorkflow` and (unless `--no-config`) the merged config.
Output: diagnostics only —
- E104: a negative `max_cost`, `max_tokens` below 1 at workflow level, `cache`
  on a step that cannot be cached (only query and shell steps are), an
  `inputs` glob outside the project (absolute, or through `..`);
- W801: a query step under a budget (`max_cost`, `max_tokens`) that may call a
  backend whose cost (or token usage) cannot be known: that call will be
  refused at run time unless `allow_unknown_cost = true`;
- W802: a cached query step over a CLI agent without `inputs`: the agent reads
  the working tree itself, so a changed file would not invalidate the cache.
A step's backends here are every backend its role may resolve to, under any team.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..checked import CheckedStep, CheckedWorkflow
from ..costs import cost_knowable, usage_reported
from ..diagnostics import Sink
from ..schema import Config, QueryStep, ShellStep, TeamRole, Workflow
from ..source import SourceFile
from .config import MergedConfig, backend_kind

__all__ = ["check_spending"]


def check_spending(workflow: CheckedWorkflow, config: MergedConfig | None, sink: Sink) -> None:
    surface, source = workflow.surface, workflow.source
    _check_limits(surface, source, sink)
    for step in workflow.steps:
        _check_step(step, surface, source, sink)
        if config is not None and isinstance(step.surface, QueryStep):
            _check_backends(step, step.surface, workflow, config.config, sink)


def _check_limits(surface: Workflow, source: SourceFile, sink: Sink) -> None:
    if surface.max_cost is not None and surface.max_cost < 0:
        sink.error("E104", "'max_cost' must be 0 or more", source.value(("max_cost",)))
    if surface.max_tokens is not None and surface.max_tokens < 1:
        sink.error("E104", "'max_tokens' must be 1 or more", source.value(("max_tokens",)))


def _check_step(step: CheckedStep, surface: Workflow, source: SourceFile, sink: Sink) -> None:
    path = ("steps", step.index)
    own = step.surface
    if own.max_cost is not None and own.max_cost < 0:
        message = f"'max_cost' in step '{step.name}' must be 0 or more"
        sink.error("E104", message, source.value(path + ("max_cost",)))
    if own.cache and not isinstance(own, QueryStep | ShellStep):
        sink.error(
            "E104",
            f"step '{step.name}' is a {step.surface.__struct_config__.tag} step, which "
            "cannot be cached: only query and shell steps are",
            source.value(path + ("cache",)),
            hint="remove cache = true from this step",
        )
    for index, pattern in enumerate(own.inputs):
        if pattern.startswith("/") or ".." in pattern.split("/"):
            sink.error(
                "E104",
                f"inputs of step '{step.name}': '{pattern}' is outside the project",
                source.value(path + ("inputs", index)),
                hint="inputs are globs relative to the project root, such as 'src/**/*.py'",
            )


def _check_backends(
    step: CheckedStep, query: QueryStep, workflow: CheckedWorkflow, config: Config, sink: Sink
) -> None:
    surface = workflow.surface
    cost_limit = query.max_cost if query.max_cost is not None else surface.max_cost
    token_limit = query.max_tokens if query.max_tokens is not None else surface.max_tokens
    at = workflow.source.key(("steps", step.index))
    cached = query.cache if query.cache is not None else surface.cache
    agents: list[str] = []
    for name in dict.fromkeys(_backends(query, config)):
        backend = config.backends.get(name)
        if backend is None:
            continue  # E401/E402 say so
        kind = backend_kind(backend)
        agents += [name] if kind == "cli" else []
        prices = (backend.input_cost_per_million, backend.output_cost_per_million)
        if surface.allow_unknown_cost:
            continue
        shown = backend.output_format
        if cost_limit is not None and not cost_knowable(kind, *prices, shown):
            reported = usage_reported(kind, shown)
            why = "it has no prices" if reported else "it reports no token usage"
            sink.warning(
                "W801",
                f"step '{step.name}' may call backend '{name}', whose cost cannot be known "
                f"({why}), under a max_cost budget: that call will be refused",
                at,
                hint=f"set input_cost_per_million and output_cost_per_million on [backends.{name}]"
                ", or allow_unknown_cost = true",
            )
        elif token_limit is not None and not usage_reported(kind, shown):
            sink.warning(
                "W801",
                f"step '{step.name}' may call backend '{name}', which reports no token usage, "
                "under a max_tokens budget: that call will be refused",
                at,
                hint="set allow_unknown_cost = true to let it run uncounted",
            )
    if cached and agents and not query.inputs:
        sink.warning(
            "W802",
            f"step '{step.name}' is cached, but backend '{agents[0]}' is a CLI agent that reads "
            "the working tree itself: a changed file would not invalidate the cache",
            at,
            hint='declare the files it reads: inputs = ["src/**/*.py"]',
        )


def _backends(query: QueryStep, config: Config) -> Iterator[str]:
    """Every backend the step may be routed to: its backend, or its role's under any team."""
    if query.backend is not None:
        yield query.backend
        return
    role = query.role or "default"
    if role in config.roles:
        yield from config.roles[role].backends
    for team in config.teams.values():
        override = team.roles.get(role)
        if isinstance(override, TeamRole):
            yield from override.backends
        elif override is not None:
            yield from override
