"""Lower pass: checked workflow + merged config + team → `Plan`.

Input: a `CheckedWorkflow` that passed every check, its `Ordering`, the merged
config (workflow overlays applied) and the team in effect. Output: the frozen
plan — roles resolved to backends (team overrides first, step `backend`,
`parallel` and `min_success` last), backends with defaults and durations in
seconds, one `StepPlan` per step in declaration order.
"""

from __future__ import annotations

from typing import assert_never

from ..checked import CheckedStep, CheckedWorkflow
from ..durations import DurationError, parse_duration
from ..plan import (
    Action,
    Apply,
    BackendSpec,
    Candidates,
    Input,
    Plan,
    Query,
    Route,
    Shell,
    StepPlan,
    Store,
    TeamInfo,
    WorkflowInfo,
)
from ..schema import (
    ApplyStep,
    Backend,
    Config,
    Defaults,
    Execution,
    InputStep,
    QueryStep,
    ShellStep,
    StoreStep,
    Team,
    TeamRole,
)
from .config import backend_kind, wrapper_words
from .graph import Ordering

__all__ = ["backend_spec", "backend_specs", "lower", "resolve_route"]

_NO_DEFAULTS = Defaults()


def lower(workflow: CheckedWorkflow, ordering: Ordering, config: Config, team: str | None) -> Plan:
    team_table = config.teams.get(team) if team else None
    surface = workflow.surface
    steps = tuple(_step(step, config, team_table, surface.cache) for step in workflow.steps)
    return Plan(
        workflow=WorkflowInfo(
            name=workflow.name,
            path=workflow.source.path,
            description=surface.description,
            version=str(surface.version) if surface.version is not None else None,
        ),
        steps=steps,
        stages=ordering.stages,
        edges=ordering.edges,
        output=workflow.output,
        output_explicit=surface.output is not None,
        args=workflow.args,
        backends=backend_specs(config),
        max_concurrent=config.defaults.max_concurrent,
        command_wrapper=wrapper_words(config.defaults.command_wrapper) or (),
        team=_team_info(team, team_table),
        timeout=workflow.timeout,
        continue_on_error=surface.continue_on_error,
        max_cost=surface.max_cost,
        max_tokens=surface.max_tokens,
        allow_unknown_cost=surface.allow_unknown_cost,
    )


def _team_info(name: str | None, team: Team | None) -> TeamInfo | None:
    if name is None or team is None:
        return None
    return TeamInfo(name=name, description=team.description, verify=team.verify)


def _step(step: CheckedStep, config: Config, team: Team | None, cache: bool) -> StepPlan:
    surface = step.surface
    cacheable = isinstance(surface, QueryStep | ShellStep)
    return StepPlan(
        name=surface.name,
        action=_action(step, config, team),
        description=surface.description,
        depends_on=step.depends_on(inferred=False),
        inferred_depends_on=step.depends_on(inferred=True),
        condition=step.condition_text,
        condition_expr=step.condition,
        for_each=step.for_each_text,
        for_each_expr=step.for_each,
        concurrency=surface.concurrency,
        continue_on_error=step.continue_on_error,
        timeout=step.timeout,
        retries=surface.retries,
        retry_delay=step.retry_delay,
        max_cost=surface.max_cost,
        max_tokens=surface.max_tokens,
        cache=cacheable and (surface.cache if surface.cache is not None else cache),
        inputs=tuple(surface.inputs),
        rerun_on_worker_loss=surface.on_worker_loss == "rerun",
    )


def _action(step: CheckedStep, config: Config, team: Team | None) -> Action:
    surface = step.surface
    match surface:
        case ShellStep():
            return Shell(run=surface.run, shell=surface.shell or "sh")
        case QueryStep():
            return Query(
                prompt=surface.prompt,
                route=resolve_route(surface, config, team),
                system=surface.system,
                output_schema=surface.output_schema,
                schema_retries=surface.schema_retries,
            )
        case ApplyStep():
            verify = surface.verify
            if verify is True:
                verify = team.verify if team else None
            return Apply(
                source=surface.source.strip().removeprefix("steps."),
                verify=verify or None,
                verify_retries=surface.verify_retries,
                verify_retry_prompt=surface.verify_retry_prompt,
                rollback_on_failure=surface.rollback_on_failure,
                candidates=_candidates(surface),
            )
        case StoreStep():
            text = surface.input if surface.input is not None else surface.prompt
            return Store(input=text or "", ecosystem=surface.ecosystem)
        case InputStep():
            options = tuple(surface.options) if surface.options is not None else None
            return Input(prompt=surface.prompt, options=options, default=surface.default)
        case _:
            assert_never(surface)


def _candidates(surface: ApplyStep) -> Candidates | None:
    if surface.candidates != "each":
        return None
    select = surface.select or ("best" if surface.metric else "first")
    return Candidates(
        select=select,
        metric=surface.metric,
        prefer=surface.prefer,
        max_parallel=surface.max_parallel,
    )


def resolve_route(step: QueryStep, config: Config, team: Team | None) -> Route | None:
    """Backends for a query step: step backend, else team override, else the role."""
    if step.backend is not None:
        return Route(role=None, execution="first", backends=(step.backend,))
    name = step.role or "default"
    base = config.roles.get(name)
    override = team.roles.get(name) if team else None
    if base is None and override is None:
        return None
    execution = base.execution if base else "first"
    min_success = base.min_success if base else 1
    backends = tuple(base.backends) if base else ()
    if isinstance(override, TeamRole):
        backends = tuple(override.backends)
        execution = override.execution or execution
        min_success = override.min_success or min_success
    elif isinstance(override, list):
        backends = tuple(override)
    parallel = step.parallel if step.parallel is not None else config.defaults.parallel or None
    if parallel is not None:
        execution = _one_or_all(execution, parallel)
    if step.min_success is not None:
        min_success = step.min_success
    return Route(role=name, execution=execution, backends=backends, min_success=min_success)


def _one_or_all(execution: Execution, parallel: bool) -> Execution:
    """A step's `parallel` over its role's execution: all at once, or exactly one answer."""
    if parallel:
        return "parallel"
    return "fallback" if execution == "parallel" else execution


def backend_specs(config: Config) -> dict[str, BackendSpec]:
    """Every configured backend, with `[defaults]` and every other default applied."""
    return {name: backend_spec(name, b, config.defaults) for name, b in config.backends.items()}


def backend_spec(name: str, backend: Backend, defaults: Defaults = _NO_DEFAULTS) -> BackendSpec:
    env = backend.env.items() if isinstance(backend.env, dict) else backend.env
    kind = backend_kind(backend)
    timeout = backend.timeout if backend.timeout is not None else defaults.timeout
    return BackendSpec(
        name=name,
        kind=kind,  # type: ignore[arg-type]
        command=_command(backend),
        wrapper=(wrapper_words(defaults.command_wrapper) or ()) if kind == "cli" else (),
        args=tuple(backend.args),
        prompt_mode=backend.prompt_mode,
        prompt_flag=backend.prompt_flag,
        end_of_options=backend.end_of_options,
        output_format=backend.output_format,
        env=tuple((str(k), str(v)) for k, v in env),
        model=backend.model,
        api_key=_api_key(backend),
        headers=tuple(backend.headers.items()),
        system=backend.system,
        temperature=backend.temperature,
        max_tokens=backend.max_tokens,
        max_response_bytes=backend.max_response_bytes,
        enabled=backend.enabled,
        timeout=_seconds(timeout if timeout is not None else 300, "s", 300.0),
        max_retries=backend.max_retries,
        retry_delay=_seconds(backend.retry_delay, "ms", 1.0),
        retry_rate_limit=backend.retry_rate_limit,
        retry_timeout=backend.retry_timeout,
        max_concurrent=backend.max_concurrent,
        input_cost_per_million=backend.input_cost_per_million,
        output_cost_per_million=backend.output_cost_per_million,
    )


def _command(backend: Backend) -> str:
    """`claude-api` backends had no URL: any command that is not one means the default."""
    if backend.type == "claude-api" and not backend.command.startswith(("http://", "https://")):
        return ""
    return backend.command


def _api_key(backend: Backend) -> str | None:
    if backend.api_key_env is not None:
        return "${" + backend.api_key_env + "}"
    return backend.api_key


def _seconds(value: int | float | str, unit: str, fallback: float) -> float:
    try:
        return parse_duration(value, bare_unit=unit)
    except DurationError:  # already reported by the config pass
        return fallback
