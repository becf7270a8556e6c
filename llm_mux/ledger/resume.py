"""`llm-mux runs resume RUN_ID`: finish a failed or cancelled run as a new run.

Input: a run recorded in the ledger — its workflow, args, invocation (working
directory, `--config` and `--context` files, `--team`) and, per step, the
rendered inputs, the output and the result record. Output: a new run, linked
to the old one by `runs.resumed_from`, in which every step whose freshly
rendered inputs equal the recorded ones takes over its recorded result instead
of running; or, with `--dry-run`, which steps would be reused and why the
others would run.

How reuse works: `RecordedResults` is the interpreter's `Reuse`. Before a
step's first attempt (after its condition held; per item for for_each), the
interpreter renders the step's inputs against *this* run's results and asks
for a recorded result with the same inputs. The decision is made as the run
goes because a step's inputs are only known once its dependencies have
results: a step after one that runs again is reused only if that step produced
the same output. Only succeeded steps and items are reused. Inputs are
compared as the ledger holds them — with secret values redacted — so a
resumed run redacts the fresh inputs the same way first. A reused result keeps
its outputs, costs nothing in the new run (usage null, cost 0, no backend
calls) and names the run that produced it (`reused_from`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import msgspec

from llm_mux.compiler.plan import Plan, StepPlan

from ..budget import Limits
from ..commands import compile_plan, emit, places_for
from ..config import environment
from ..errors import UsageError
from ..options import GlobalOptions
from ..redact import Redactor
from ..running.context import RunInfo, item_context, step_context
from ..running.context_files import ContextFile, preamble, read_context_file
from ..running.interpreter import for_each_items
from ..running.rendering import RenderError, evaluate_expression, holds
from ..running.results import StepResult, result_from_record, taken_over
from ..running.run import Job, RunSettings, execute_plan, parse_inputs, resolve_args, template_base
from ..steps import step_inputs
from .reads import Row, chain_spent, load_run
from .schema import OUTPUT_LIMIT, ledger_path

__all__ = ["RecordedResults", "Verdict", "preview", "runs_resume_command"]

RESUMABLE = ("failed", "cancelled")


@dataclass(frozen=True, slots=True)
class RecordedResults:
    """The results a run recorded, offered to a new run as its `Reuse`."""

    run_id: str
    results: Mapping[str, StepResult]
    redact: Callable[[str], str]
    missing: Mapping[str, str] = dataclasses.field(default_factory=dict)  # step → why

    @classmethod
    def from_run(cls, run: Row, redact: Callable[[str], str]) -> RecordedResults:
        run_id = str(run["run_id"])
        results: dict[str, StepResult] = {}
        missing: dict[str, str] = {}
        for step in _rows(run["steps"]):
            if not isinstance(step, Mapping):
                continue
            name, status = str(step["name"]), str(step["status"])
            record, output = step.get("result"), _full_output(step)
            if isinstance(record, Mapping) and output is not None:
                results[name] = result_from_record(name, record, output)
            elif status != "succeeded":
                missing[name] = f"it {status} in run {run_id}"
            elif record is None:
                missing[name] = f"run {run_id} kept no result to reuse (an older llm-mux)"
            else:
                missing[name] = f"its output file from run {run_id} is gone"
        return cls(run_id, results, redact, missing)

    def recall(self, step: str, item: int | None, inputs: Mapping[str, str]) -> StepResult | None:
        recorded = self._recorded(step, item)
        if isinstance(recorded, str) or self._changed(recorded, inputs):
            return None
        return reused(recorded, self.run_id)

    def why_not(self, step: str, item: int | None, inputs: Mapping[str, str]) -> str:
        """Why `recall` gives nothing for these inputs ("" when it gives a result)."""
        recorded = self._recorded(step, item)
        if isinstance(recorded, str):
            return recorded
        changed = self._changed(recorded, inputs)
        return f"its {', '.join(changed)} changed" if changed else ""

    def _recorded(self, step: str, item: int | None) -> StepResult | str:
        """The recorded result of the step (or item), or why there is none to reuse."""
        result = self.results.get(step)
        if result is None:
            return self.missing.get(step, f"it is not in run {self.run_id}")
        if item is not None:
            if result.items is None or item >= len(result.items):
                return f"item {item} did not run in run {self.run_id}"
            result = result.items[item]
        if not result.succeeded:
            return f"it {result.status} in run {self.run_id}"
        return result

    def _changed(self, recorded: StepResult, inputs: Mapping[str, str]) -> list[str]:
        fresh = {key: self.redact(value) for key, value in inputs.items()}
        keys = dict.fromkeys([*recorded.inputs, *fresh])
        return [key for key in keys if recorded.inputs.get(key) != fresh.get(key)]


def reused(result: StepResult, run_id: str) -> StepResult:
    """`result` taken over by a new run: nothing spent, the producing run named."""
    return taken_over(result, run_id, "reused_from")


# -- the command -----------------------------------------------------------------------
def runs_resume_command(
    options: GlobalOptions,
    run_id: str,
    *,
    answers: Sequence[str],
    dry_run: bool,
    limits: Limits | None = None,
) -> int:
    ledger = ledger_path(places_for(options).state_dir)
    run = load_run(ledger, run_id)
    _check_resumable(run)
    options = _as_recorded(options, run)
    places = places_for(options)
    compiled = compile_plan(options, _workflow(run), reuse=True)
    plan = compiled.plan
    env = environment()
    job = Job(compiled, places, env, _args(plan, run, env))
    inputs = parse_inputs(answers, plan)
    context = _context_files(run)
    recorded = RecordedResults.from_run(run, Redactor.for_run(env, plan.backends.values()))
    if dry_run:
        directory = places.state_dir / "runs" / "(new run)"
        base, _ = template_base(job, RunInfo("(new run)", str(directory)))
        verdicts = preview(plan, base, recorded, preamble(context))
        emit(render_preview(run, verdicts, as_json=options.output == "json"), options)
        return 0
    settings = RunSettings(
        inputs=inputs,
        context=context,
        reuse=recorded,
        resumed_from=recorded.run_id,
        limits=_limits(run, limits or Limits()),
        carried=chain_spent(ledger, recorded.run_id),
    )
    return execute_plan(options, job, settings)


def _check_resumable(run: Row) -> None:
    status = str(run["status"])
    if status in RESUMABLE:
        return
    if status == "succeeded":
        raise UsageError(
            f"run {run['run_id']} succeeded: there is nothing to resume",
            hint=f"`llm-mux run {run['workflow']}` runs it again",
        )
    raise UsageError(
        f"run {run['run_id']} is {status}: only a failed or cancelled run can be resumed",
        hint="a run killed without being recorded stays `running`; start it again with "
        "`llm-mux run`",
    )


def _as_recorded(options: GlobalOptions, run: Row) -> GlobalOptions:
    """The options of the recorded run, where the command line does not say otherwise."""
    invocation = _mapping(run["invocation"])
    cwd = invocation.get("cwd") or run["project_root"]
    configs = tuple(Path(str(path)) for path in _rows(invocation.get("configs")))
    team = invocation.get("team")
    return msgspec.structs.replace(
        options,
        directory=options.directory or (Path(str(cwd)) if cwd else None),
        configs=options.configs or configs,
        team=options.team or (str(team) if team else None),
    )


def _limits(run: Row, given: Limits) -> Limits:
    """The recorded run's command-line limits, where this command line does not say otherwise."""
    recorded = _mapping(_mapping(run["invocation"]).get("limits"))
    cost, tokens = recorded.get("max_cost"), recorded.get("max_tokens")
    return Limits(
        max_cost=given.max_cost if given.max_cost is not None else _float(cost),
        max_tokens=given.max_tokens if given.max_tokens is not None else _int(tokens),
        allow_unknown_cost=given.allow_unknown_cost or recorded.get("allow_unknown_cost") is True,
    )


def _float(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _workflow(run: Row) -> str:
    """The workflow file, absolute (recorded), else the recorded path, relative to the cwd."""
    invocation = _mapping(run["invocation"])
    recorded = invocation.get("workflow")
    if isinstance(recorded, str):
        return recorded
    cwd = invocation.get("cwd") or run["project_root"] or "."
    return str(Path(str(cwd)) / str(run["path"]))


def _context_files(run: Row) -> tuple[ContextFile, ...]:
    """The recorded run's --context files, read again, under the names they had."""
    files = _rows(_mapping(run["invocation"]).get("context"))
    return tuple(
        read_context_file(Path(str(file.get("path"))), str(file.get("name")))
        for file in files
        if isinstance(file, Mapping)
    )


def _args(plan: Plan, run: Row, env: Mapping[str, str]) -> dict[str, object]:
    """The recorded args (values as resolved then), defaults for args added since."""
    recorded = _mapping(run["args"])
    declared = {spec.name for spec in plan.args if spec.declared}
    given = {k: v for k, v in recorded.items() if not declared or k in declared}
    values = resolve_args(plan.args, given, env)
    for spec in plan.args:
        if spec.required and spec.name not in values:
            raise UsageError(
                f"the workflow now requires arg '{spec.name}', "
                f"which run {run['run_id']} did not have",
                hint=f"run it afresh: llm-mux run {run['workflow']} {spec.name}=VALUE ...",
            )
    return values


# -- --dry-run -----------------------------------------------------------------------------
Action = Literal["reuse", "run", "skip"]


@dataclass(frozen=True, slots=True)
class Verdict:
    step: str
    action: Action
    why: str


def preview(
    plan: Plan, base: Mapping[str, object], recorded: RecordedResults, prompt_preamble: str
) -> list[Verdict]:
    """What a resume would do with each step, in declaration order.

    Steps are visited in dependency order with the recorded results of the
    steps before them; a step after one that runs can only be decided then.
    """
    results = {step.name: StepResult(step.name, step.type) for step in plan.steps}
    known: set[str] = set()  # steps whose result the preview knows: reused or skipped
    verdicts: dict[str, Verdict] = {}
    for stage in plan.stages:
        for name in stage:
            step = plan.step(name)
            verdict, result = _verdict(step, base, results, known, recorded, prompt_preamble)
            verdicts[name] = verdict
            if result is not None:
                results[name] = result
                known.add(name)
    return [verdicts[step.name] for step in plan.steps]


def _verdict(
    step: StepPlan,
    base: Mapping[str, object],
    results: Mapping[str, StepResult],
    known: set[str],
    recorded: RecordedResults,
    prompt_preamble: str,
) -> tuple[Verdict, StepResult | None]:
    waiting = [name for name in step.all_dependencies if name not in known]
    if waiting:
        why = f"it needs '{waiting[0]}', which runs: decided when that finishes"
        return Verdict(step.name, "run", why), None
    context = step_context(base, results)
    try:
        if step.condition_expr is not None and not holds(step.condition_expr, context, key="if"):
            skipped = StepResult(step.name, step.type, "skipped")
            return Verdict(step.name, "skip", "its condition is false"), skipped
        if step.for_each_expr is not None:
            return _items_verdict(step, context, recorded, prompt_preamble)
        inputs = step_inputs(step, context, preamble=prompt_preamble)
    except RenderError as error:
        return Verdict(step.name, "run", f"it cannot be rendered yet: {error}"), None
    result = recorded.recall(step.name, None, inputs)
    if result is None:
        return Verdict(step.name, "run", recorded.why_not(step.name, None, inputs)), None
    return Verdict(step.name, "reuse", "its inputs are unchanged"), result


def _items_verdict(
    step: StepPlan,
    context: Mapping[str, object],
    recorded: RecordedResults,
    prompt_preamble: str,
) -> tuple[Verdict, StepResult | None]:
    assert step.for_each_expr is not None
    items = for_each_items(evaluate_expression(step.for_each_expr, context, key="for_each"))
    again = 0
    for index, item in enumerate(items):
        scope = item_context(context, item, index, len(items))
        if recorded.recall(step.name, index, step_inputs(step, scope, preamble=prompt_preamble)):
            continue
        again += 1
    whole = recorded.results.get(step.name)
    if again == 0 and whole is not None and whole.succeeded:
        return Verdict(step.name, "reuse", f"all {len(items)} items are unchanged"), reused(
            whole, recorded.run_id
        )
    reuse = len(items) - again
    why = f"{again} of {len(items)} items run, {reuse} reused"
    return Verdict(step.name, "run", why), None


def render_preview(run: Row, verdicts: Sequence[Verdict], *, as_json: bool) -> str:
    if as_json:
        import json

        steps = [{"name": v.step, "action": v.action, "why": v.why} for v in verdicts]
        document = {"resumes": run["run_id"], "workflow": run["workflow"], "steps": steps}
        return json.dumps(document, indent=2) + "\n"
    counts = {action: sum(v.action == action for v in verdicts) for action in ("reuse", "run")}
    lines = [
        f"resuming run {run['run_id']} ({run['workflow']}, {run['status']}): "
        f"{counts['reuse']} steps reused, {counts['run']} to run",
        "",
    ]
    width = max((len(v.step) for v in verdicts), default=0)
    lines += [f"  {v.action:<6} {v.step:<{width}}  {v.why}" for v in verdicts]
    lines += ["", "dry run: nothing was executed"]
    return "\n".join(lines) + "\n"


# -- helpers -------------------------------------------------------------------------------
def _full_output(step: Mapping[str, object]) -> str | None:
    """The step's whole recorded output: its file, else the column if it was not cut."""
    path = step.get("output_file")
    if isinstance(path, str):
        try:
            return Path(path).read_bytes().decode("utf-8", errors="replace")
        except OSError:
            pass
    output = step.get("output")
    if isinstance(output, str) and len(output) < OUTPUT_LIMIT:
        return output
    return None


def _rows(value: object) -> list[object]:
    return value if isinstance(value, list) else []


def _mapping(value: object) -> Mapping[str, object]:
    return value if isinstance(value, Mapping) else {}
