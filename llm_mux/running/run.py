"""`llm-mux run`: compile, bind args, execute, report.

Input: the command line (workflow, `KEY=VALUE` args, `--input`, `--context`,
`--dry-run`). Output: progress on stderr, the final output once on stdout (or
one JSON document with `--output json`), and the exit code: 0 succeeded,
1 failed, 130 interrupted. `execute_plan` is the part `runs resume` shares:
a compiled plan and its args in, a recorded run and its exit code out.
"""

from __future__ import annotations

import functools
import json
import os
import secrets
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import click
import msgspec

from llm_mux.compiler.plan import Plan, Query, StepPlan
from llm_mux.compiler.render import to_text

from .. import collector
from ..budget import Limits
from ..commands import Compiled, compile_plan, emit, places_for
from ..config import environment
from ..ecosystems import EcosystemView, detect_ecosystem
from ..errors import EXIT_FAILED, EXIT_INTERRUPTED, UsageError
from ..executors.choose import open_executor
from ..executors.settings import ExecutorSettings, executor_settings
from ..ledger import RunMeta, RunRecorder, finish_run, recording
from ..memory.view import with_memory
from ..options import GlobalOptions
from ..paths import Places
from ..processes.signals import run_until_interrupted
from ..redact import Redactor
from ..trust import TrustStore, ensure_trusted
from .arguments import bind_args, describe_args, parse_assignments, resolve_args
from .context import RunInfo, base_context
from .context_files import ContextFile, preamble, read_context_files
from .interpreter import Interpreter, RunOutcome
from .progress import make_progress, summary_line
from .runtime import Backends, NullObserver, Observer, Reuse, Runtime

if TYPE_CHECKING:
    from ..backends.pool import BackendPool
    from ..budget.meter import Budget
    from ..cache import CacheMode, StepCache
    from ..executors import Executor

__all__ = [
    "Job",
    "RunRequest",
    "RunSettings",
    "execute_plan",
    "parse_inputs",
    "resolve_args",
    "run_command",
    "template_base",
    "workflow_help",
]


def run_command(options: GlobalOptions, request: RunRequest, settings: RunSettings) -> int:
    """`llm-mux run` as typed: `settings` holds the options that need no plan; the
    `--input` answers and `--context` files are read here, against the compiled plan."""
    places = places_for(options)
    compiled = compile_plan(options, request.workflow, reuse=True)
    plan = compiled.plan
    env = environment()
    bound = bind_args(plan.args, parse_assignments(request.assignments))
    job = Job(compiled, places, env, resolve_args(plan.args, bound, env))
    settings = msgspec.structs.replace(
        settings,
        inputs=parse_inputs(request.answers, plan),
        context=read_context_files(request.context_files, places.cwd),
    )
    if request.dry_run:
        emit(dry_run_text(plan, job.args, env), options)
        return 0
    _check_refresh(plan, settings.refresh)
    return execute_plan(options, job, settings)


class RunRequest(msgspec.Struct, frozen=True):
    """What `llm-mux run` was given that only the compiled plan makes sense of."""

    workflow: str
    assignments: Sequence[str] = ()  # KEY=VALUE args
    answers: Sequence[str] = ()  # --input STEP=VALUE
    context_files: Sequence[Path] = ()  # --context FILE
    dry_run: bool = False


class RunSettings(msgspec.Struct, frozen=True):
    """How to run a compiled plan, beyond its args."""

    inputs: Mapping[str, str] = msgspec.field(default_factory=dict)  # --input answers
    context: Sequence[ContextFile] = ()  # --context files
    preview: bool = False  # apply steps show their edits, write nothing
    reuse: Reuse | None = None  # recorded results a resumed run takes over
    resumed_from: str | None = None  # the id of the run this one resumes
    limits: Limits | None = None  # --max-cost, --max-tokens, --allow-unknown-cost
    carried: tuple[float, int] = (0.0, 0)  # cost and tokens spent by the runs resumed
    cache_mode: CacheMode = "default"  # --cache / --no-cache
    refresh: tuple[str, ...] = ()  # --refresh STEP: run these again, replacing their entries
    executor: str | None = None  # --executor: where shell and CLI work runs


class Job(msgspec.Struct, frozen=True):
    """What to run: the compiled workflow with its bound args, where, and with which
    environment (`run` and `runs resume` build one; everything after shares it)."""

    compiled: Compiled
    places: Places
    env: Mapping[str, str]
    args: Mapping[str, object]

    @property
    def plan(self) -> Plan:
        return self.compiled.plan


class Launch(msgspec.Struct, frozen=True):
    """One run, ready to start: the job, its id and template context, and the
    services the settings asked for (budget, step cache, cluster)."""

    job: Job
    run: RunInfo
    base: Mapping[str, object]
    settings: RunSettings
    budget: Budget | None
    cache: StepCache | None
    cluster: ExecutorSettings | None


def execute_plan(options: GlobalOptions, job: Job, settings: RunSettings) -> int:
    """Run a compiled plan, record it in the ledger, report it; the exit code."""
    plan, places = job.plan, job.places
    ensure_trusted(
        job.compiled.files,
        TrustStore.at(places.state_dir),
        override=options.trust,
        env=job.env,
        cwd=Path.cwd(),
        allow=options.allowed_parts(),
    )
    run = _new_run(places)
    base, ecosystem = template_base(job, run)
    redact = Redactor.for_run(job.env, plan.backends.values())
    observer = _observer(options, redact)
    # The run ledger: the recorder forwards to `observer` and records each step.
    meta = RunMeta(
        args=job.args,
        redact=redact,
        root=places.project_root,
        ecosystem=ecosystem.name if ecosystem else None,
        invocation=invocation(options, job, settings),
        resumed_from=settings.resumed_from,
    )
    launch = Launch(
        job,
        run,
        base,
        settings,
        budget=make_budget(plan, settings),
        cache=_step_cache(job, run, redact, settings),
        cluster=executor_settings(settings.executor, job.compiled.config),
    )
    with recording(places.state_dir, run, plan, meta, inner=observer) as recorder:
        try:
            with collector.frozen():  # the libraries and the plan stay out of the GC's walks
                outcome = run_until_interrupted(_execute(launch, recorder))
        finally:
            if launch.cache is not None:
                launch.cache.close()
        finish_run(recorder, outcome)
    _close(observer)
    _report(outcome, job, run, options, redact)
    if outcome.status == "cancelled":
        return EXIT_INTERRUPTED
    return 0 if outcome.success else EXIT_FAILED


def template_base(job: Job, run: RunInfo) -> tuple[dict[str, object], EcosystemView | None]:
    """The template context every step starts from, and the detected ecosystem."""
    places = job.places
    ecosystem, why_not = detect_ecosystem(job.compiled.config, places.cwd, job.env)
    ecosystem = with_memory(ecosystem, places.user_dir)  # ecosystem.memory, read on demand
    base = base_context(
        job.plan,
        args=job.args,
        env=job.env,
        root=places.project_root,
        run=run,
        ecosystem=ecosystem,
        no_ecosystem_reason=why_not,
    )
    return base, ecosystem


def invocation(options: GlobalOptions, job: Job, settings: RunSettings) -> dict[str, object]:
    """What `runs resume` needs to start this run again the same way (absolute paths)."""
    places = job.places
    return {
        "cwd": str(places.cwd),
        "workflow": str(job.compiled.files[-1].resolve()),
        "configs": [str((places.cwd / path).resolve()) for path in options.configs],
        "context": [{"name": file.name, "path": str(file.path)} for file in settings.context],
        "team": options.team,
        "limits": settings.limits.to_json() if settings.limits else None,
    }


def _step_cache(
    job: Job, run: RunInfo, redact: Redactor, settings: RunSettings
) -> StepCache | None:
    """The step cache, when this run may use it (the file is opened on first use)."""
    if settings.cache_mode == "off":
        return None
    if settings.cache_mode == "default" and not any(step.cache for step in job.plan.steps):
        return None
    from ..cache import StepCache

    return StepCache(
        job.places,
        job.plan,
        job.env,
        run_id=run.id,
        redact=redact,
        mode=settings.cache_mode,
        refresh=settings.refresh,
    )


def _check_refresh(plan: Plan, names: Sequence[str]) -> None:
    known = {step.name for step in plan.steps}
    for name in names:
        if name not in known:
            raise UsageError(
                f"--refresh names '{name}', which is not a step of {plan.workflow.name}",
                hint="steps: " + ", ".join(step.name for step in plan.steps),
            )


def make_budget(plan: Plan, settings: RunSettings) -> Budget | None:
    """The run's budget: the command line's limits win over the workflow's; None
    when neither the workflow, a step nor the command line sets one."""
    given = settings.limits or Limits()
    limits = Limits(
        max_cost=given.max_cost if given.max_cost is not None else plan.max_cost,
        max_tokens=given.max_tokens if given.max_tokens is not None else plan.max_tokens,
        allow_unknown_cost=given.allow_unknown_cost or plan.allow_unknown_cost,
    )
    stepwise = any(s.max_cost is not None or s.max_tokens is not None for s in plan.steps)
    if not limits.any and not stepwise:
        return None
    from ..budget.meter import Budget

    cost, tokens = settings.carried
    return Budget(limits, carried_cost=cost, carried_tokens=tokens)


async def _execute(launch: Launch, recorder: RunRecorder) -> RunOutcome:
    plan, env, settings, cache = launch.job.plan, launch.job.env, launch.settings, launch.cache
    root = launch.job.places.project_root
    specs = plan.backends.values()
    opened = open_executor(
        launch.cluster, root, launch.run.id, specs, env, recorder.record_placements
    )
    async with opened as executor:
        backends = Backends(functools.partial(_pool, plan, root, env, executor))
        try:
            # Client set-up before, not inside, a step — except for cached steps: a run
            # whose every step comes from the cache never imports httpx (nor the pool).
            if routed := routed_backends(plan, skip=cache.applies if cache else None):
                backends.pool().prepare(routed)
            runtime = Runtime(
                plan,
                root,
                env,
                backends,
                recorder,
                settings.inputs,
                interactive=sys.stdin.isatty(),
                preview_edits=settings.preview,
                preamble=preamble(settings.context),
                reuse=settings.reuse,
                budget=launch.budget,
                cache=cache,
                executor=executor,
            )
            return await Interpreter(plan, runtime, launch.base).run()
        finally:
            await backends.aclose()


def _pool(plan: Plan, root: Path, env: Mapping[str, str], executor: Executor) -> BackendPool:
    from ..backends.pool import BackendPool

    limit = plan.max_concurrent
    return BackendPool(plan.backends, root=root, env=env, max_concurrent=limit, executor=executor)


def routed_backends(plan: Plan, skip: Callable[[StepPlan], bool] | None = None) -> list[str]:
    """Every backend a query step of the plan may call, in plan order (but `skip`'s)."""
    names: list[str] = []
    for step in plan.steps:
        route = step.action.route if isinstance(step.action, Query) else None
        if route is not None and (skip is None or not skip(step)):
            names.extend(route.backends)
    return names


# -- args ----------------------------------------------------------------------------
def parse_inputs(answers: Sequence[str], plan: Plan) -> dict[str, str]:
    names = {step.name for step in plan.steps if step.type == "input"}
    parsed: dict[str, str] = {}
    for answer in answers:
        name, equals, value = answer.partition("=")
        if not equals:
            raise UsageError(f"--input expects STEP=VALUE, got '{answer}'")
        if name not in names:
            known = ", ".join(sorted(names)) or "none"
            raise UsageError(
                f"--input names '{name}', which is not an input step", hint=f"input steps: {known}"
            )
        parsed[name] = value
    return parsed


def workflow_help(options: GlobalOptions, workflow: str) -> int:
    plan = compile_plan(options, workflow).plan
    lines = [f"Usage: llm-mux run {workflow} [KEY=VALUE ...]", ""]
    if plan.workflow.description:
        lines += [plan.workflow.description, ""]
    lines.append(describe_args(plan.args).replace("args: ", "Args: ", 1))
    for spec in plan.args:
        extra = f" — {spec.description}" if spec.description else ""
        choices = f" (one of: {', '.join(map(str, spec.choices))})" if spec.choices else ""
        lines.append(f"  {spec.name}{extra}{choices}")
    click.echo("\n".join(lines))
    return 0


# -- running -------------------------------------------------------------------------
def _new_run(places: Places) -> RunInfo:
    run_id = time.strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(3)
    directory = places.state_dir / "runs" / run_id
    return RunInfo(id=run_id, dir=str(directory))


def _observer(options: GlobalOptions, redact: Redactor) -> Observer:
    if options.output != "console" or options.quiet:
        return NullObserver()
    live = sys.stderr.isatty() and os.environ.get("TERM") != "dumb"
    return make_progress(live=live, redact=redact)


def _close(observer: Observer) -> None:
    close = getattr(observer, "close", None)
    if close is not None:
        close()


def _report(
    outcome: RunOutcome, job: Job, run: RunInfo, options: GlobalOptions, redact: Redactor
) -> None:
    """The result, with every known secret value redacted, whatever the output mode."""
    if options.output == "json":
        values = redact.value(run_document(outcome, job, run))  # before encoding
        document = json.dumps(values, indent=2, default=str)
        emit(redact(document) + "\n", options)
        return
    if outcome.error:
        click.echo(f"llm-mux: {redact(outcome.error)}", err=True)
    if options.output == "console" and not options.quiet:
        asked = any(r.type == "query" and r.attempts for r in outcome.results.values())
        tokens = outcome.usage.total_tokens if outcome.usage else None
        line = summary_line(
            outcome.status,
            outcome.duration_ms,
            tokens,
            outcome.cost,
            asked,
            outcome.results.values(),
        )
        click.echo(line, err=True)
    if outcome.output:
        text = redact(outcome.output)
        emit(text, options, end="" if text.endswith("\n") else "\n")


def run_document(outcome: RunOutcome, job: Job, run: RunInfo) -> dict[str, object]:
    return {
        "run_id": run.id,
        "workflow": job.plan.workflow.name,
        "status": outcome.status,
        "success": outcome.success,
        "error": outcome.error,
        "duration_ms": outcome.duration_ms,
        "args": dict(job.args),
        "output": outcome.output,
        "usage": outcome.usage.to_json() if outcome.usage else None,
        "cost": outcome.cost,
        "steps": {name: result.to_json() for name, result in outcome.results.items()},
    }


def dry_run_text(plan: Plan, args: Mapping[str, object], env: Mapping[str, str]) -> str:
    """The plan and what it may cost (`budget.estimate`)."""
    from ..budget.estimate import estimate, render_estimate

    found = render_estimate(estimate(plan, args, env))
    lines = [to_text(plan).rstrip(), "", found.rstrip(), "", "dry run: nothing was executed"]
    return "\n".join(lines) + "\n"
