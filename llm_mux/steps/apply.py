"""Apply steps: write the edits a model proposed, verify them, ask again, or restore.

Input: an `Apply` action (source step, verify command template, retries,
retry prompt, rollback_on_failure), the context (where `steps[source].output`
holds the edits) and the `Runtime`. Output: a `StepResult` whose `output`
summarises the files changed, whose `exit_code` is the last verify's, and
whose `details` (merged into `--output json`) list `files_changed`,
`files_created`, `files_deleted`, every attempt with its error,
`verify_output` and the `diff` written.

One attempt: parse the edits, check all of them in memory, write them
atomically (snapshots first), run `verify` with `sh -c` in the project root.
When verify fails, the files are restored byte for byte and, while
`verify_retries` remain, the source query's backends are asked again with
`verify_retry_prompt` (`original`, `error`, `edits`); edits that cannot be
applied count as a failed attempt too. Every attempt starts from the files as
they were before the step; `rollback_on_failure = false` only keeps the last
failed attempt's files for inspection. Cancellation (Ctrl-C, a timeout)
restores everything before it propagates. With `runtime.preview_edits`
nothing is written or run: the edits are checked and shown as a diff.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Mapping, Sequence

from llm_mux.compiler.plan import Apply, StepPlan

from ..backends import BackendOutcome
from ..edits import Change, EditError, parse_edits, plan_changes, render_diff
from ..running.rendering import render
from ..running.results import StepResult, StepsView
from ..running.runtime import Runtime
from . import failed
from .attempts import Attempts, Reasker, Tried
from .query import _call, _cost, _usage

__all__ = [
    "apply_inputs",
    "attempt_json",
    "call_fields",
    "calls_json",
    "files_json",
    "run_apply",
    "source_result",
    "summary",
    "verified_line",
]

# Apply steps of one run take turns (per event loop): a verify must never see another
# step's half-applied edits, and two rollbacks must never interleave.
_TURNS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
    weakref.WeakKeyDictionary()
)


async def run_apply(
    step: StepPlan, action: Apply, context: Mapping[str, object], runtime: Runtime
) -> StepResult:
    source = source_result(context, action.source)
    if isinstance(source, str):
        return failed(step, source)
    if source.skipped:
        reason = f"nothing to apply: the source step '{action.source}' was skipped"
        return StepResult(step.name, step.type, "skipped", details={"reason": reason})
    if action.candidates is not None:
        from ..candidates import run_candidates

        async with _turn():
            return await run_candidates(step, action, context, runtime, source)
    if runtime.preview_edits:
        return _preview(step, source.output, runtime)
    session = _Session(step, action, context, runtime, source)
    async with _turn():
        return await session.run()


def apply_inputs(action: Apply, context: Mapping[str, object]) -> dict[str, str]:
    """The edits to apply (the source step's output) and the rendered verify command."""
    source = source_result(context, action.source)
    edits = source.output if isinstance(source, StepResult) else ""
    verify = render(action.verify, context, key="verify", shell=True) if action.verify else ""
    inputs = {"edits": edits, "verify": verify}
    if action.candidates is not None and action.candidates.metric:
        inputs["metric"] = render(action.candidates.metric, context, key="metric", shell=True)
    return inputs


def _turn() -> asyncio.Lock:
    loop = asyncio.get_running_loop()
    lock = _TURNS.get(loop)
    if lock is None:
        lock = _TURNS[loop] = asyncio.Lock()
    return lock


def source_result(context: Mapping[str, object], name: str) -> StepResult | str:
    """The source step's result, or why there are no edits to apply."""
    steps = context.get("steps")
    if not isinstance(steps, StepsView) or name not in steps:
        return f"the source step '{name}' has no result"
    result = steps[name]
    if result.failed:
        return f"the source step '{name}' failed, so there are no edits to apply: {result.error}"
    return result


# -- one apply step ----------------------------------------------------------------------
class _Session:
    def __init__(
        self,
        step: StepPlan,
        action: Apply,
        context: Mapping[str, object],
        runtime: Runtime,
        source: StepResult,
    ) -> None:
        self.step = step
        self.action = action
        self.runtime = runtime
        self.inputs = apply_inputs(action, context)
        self.verify = self.inputs["verify"] or None
        self.source = source
        self.reasker = Reasker(action, context, runtime, source, self.verify, step)
        self.attempts = Attempts(
            runtime.root,
            self.verify,
            action.verify_retries,
            runtime.env,
            wrapper=runtime.plan.command_wrapper,
        )

    async def run(self) -> StepResult:
        transaction = self.attempts.transaction
        try:
            tried = await self.attempts.run(self.source.output, self.reasker.asker())
            if tried.error is None:
                transaction.keep()
                return self._succeeded(tried)
            return self._failed(tried)
        finally:
            if transaction.pending:  # cancelled or interrupted: leave nothing half-done
                transaction.rollback()

    # -- results ------------------------------------------------------------------------
    def _succeeded(self, tried: Tried) -> StepResult:
        return StepResult(
            self.step.name,
            self.step.type,
            "succeeded",
            output=summary(tried.changes, verified_line(self.verify, tried)),
            exit_code=tried.exit_code,
            details=self._details(tried, kept=True),
            **call_fields(self.reasker.calls, self.runtime, self.inputs),  # type: ignore[arg-type]
        )

    def _failed(self, tried: Tried) -> StepResult:
        transaction = self.attempts.transaction
        keep = not self.action.rollback_on_failure and bool(tried.changes)
        if keep:
            transaction.keep()
            state = "the failed attempt's changes were kept (rollback_on_failure = false)"
        else:
            transaction.rollback()
            state = "the files were restored"
        attempts = f"attempt {tried.number} of {self.action.verify_retries + 1}"
        error = f"{tried.error} ({attempts}; {state})"
        if why := self.reasker.why_not_asked(self.attempts):
            error += f"; {why}"
        output = summary(tried.changes, None) if keep else "no files changed"
        return failed(
            self.step,
            error,
            output=output,
            exit_code=tried.exit_code,
            details=self._details(tried, kept=keep),
            **call_fields(self.reasker.calls, self.runtime, self.inputs),
        )

    def _details(self, tried: Tried, *, kept: bool) -> dict[str, object]:
        return {
            **files_json(tried.changes if kept else ()),
            "attempts": [attempt_json(t) for t in self.attempts.tried],
            "verify_output": tried.verify_output,
            "diff": render_diff(tried.changes),
            "rolled_back": not kept and bool(tried.changes),
            "calls": calls_json(self.reasker.calls, self.runtime),  # the re-asks
        }


def verified_line(verify: str | None, tried: Tried) -> str:
    if verify is None:
        return "not verified: the step has no verify command"
    return f"verified with `{verify}` (attempt {tried.number})"


def calls_json(calls: Sequence[BackendOutcome], runtime: Runtime) -> list[dict[str, object]]:
    return [_call(o, runtime.plan.backends.get(o.backend)).to_json() for o in calls]


def call_fields(
    calls: Sequence[BackendOutcome], runtime: Runtime, inputs: Mapping[str, str]
) -> dict[str, object]:
    """The step's `inputs`, and the usage, cost and backends of its re-asks."""
    fields: dict[str, object] = {"inputs": inputs}
    if calls:
        answered = [o.backend for o in calls if o.completion is not None]
        fields["usage"] = _usage(calls)
        fields["cost"] = _cost(calls, runtime.plan.backends)
        fields["backend"] = answered[-1] if answered else None
        fields["backends"] = tuple(dict.fromkeys(answered))
    return fields


# -- preview ---------------------------------------------------------------------------
def _preview(step: StepPlan, text: str, runtime: Runtime) -> StepResult:
    """The edits checked and shown as a diff; nothing written, nothing verified."""
    try:
        changes = plan_changes(parse_edits(text), runtime.root)
    except EditError as error:
        return failed(step, f"the edits cannot be applied: {error}")
    diff = render_diff(changes)
    details: dict[str, object] = {**files_json(changes), "diff": diff, "preview": True}
    output = diff.rstrip("\n") or "no changes: the edits leave every file as it was"
    return StepResult(step.name, step.type, "succeeded", output=output, details=details)


# -- shared shapes ----------------------------------------------------------------------
def files_json(changes: Sequence[Change]) -> dict[str, list[str]]:
    return {
        "files_changed": [c.name for c in changes if c.kind == "modified"],
        "files_created": [c.name for c in changes if c.kind == "created"],
        "files_deleted": [c.name for c in changes if c.kind == "deleted"],
    }


def summary(changes: Sequence[Change], verified: str | None) -> str:
    lines = [f"{change.kind} {change.name}" for change in changes]
    if not lines:
        lines = ["no changes: the edits leave every file as it was"]
    if verified is not None:
        lines.append(verified)
    return "\n".join(lines)


def attempt_json(tried: Tried) -> dict[str, object]:
    return {
        "attempt": tried.number,
        **files_json(tried.changes),
        "error": tried.error,
        "exit_code": tried.exit_code,
    }
