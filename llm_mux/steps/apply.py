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
from dataclasses import dataclass

from llm_mux.compiler.plan import Apply, Query, StepPlan

from ..backends import BackendOutcome, Request
from ..edits import Change, EditError, Transaction, parse_edits, plan_changes, render_diff
from ..process import CommandNotFound, run_process
from ..rendering import render
from ..results import StepResult, StepsView
from ..runtime import Runtime
from . import failed
from .query import _call, _cost, _usage

__all__ = ["apply_inputs", "default_retry_prompt", "run_apply"]

_SHOWN = 20_000  # characters of verify output kept (its end: where test failures are)
_ERROR_LINES = 20  # lines of verify output quoted in the step's error

# Apply steps of one run take turns (per event loop): a verify must never see another
# step's half-applied edits, and two rollbacks must never interleave.
_TURNS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
    weakref.WeakKeyDictionary()
)


async def run_apply(
    step: StepPlan, action: Apply, context: Mapping[str, object], runtime: Runtime
) -> StepResult:
    source = _source_result(context, action.source)
    if isinstance(source, str):
        return failed(step, source)
    if source.skipped:
        reason = f"nothing to apply: the source step '{action.source}' was skipped"
        return StepResult(step.name, step.type, "skipped", details={"reason": reason})
    if runtime.preview_edits:
        return _preview(step, source.output, runtime)
    session = _Session(step, action, context, runtime, source)
    async with _turn():
        return await session.run()


def apply_inputs(action: Apply, context: Mapping[str, object]) -> dict[str, str]:
    """The edits to apply (the source step's output) and the rendered verify command."""
    source = _source_result(context, action.source)
    edits = source.output if isinstance(source, StepResult) else ""
    verify = render(action.verify, context, key="verify", shell=True) if action.verify else ""
    return {"edits": edits, "verify": verify}


def _turn() -> asyncio.Lock:
    loop = asyncio.get_running_loop()
    lock = _TURNS.get(loop)
    if lock is None:
        lock = _TURNS[loop] = asyncio.Lock()
    return lock


def _source_result(context: Mapping[str, object], name: str) -> StepResult | str:
    """The source step's result, or why there are no edits to apply."""
    steps = context.get("steps")
    if not isinstance(steps, StepsView) or name not in steps:
        return f"the source step '{name}' has no result"
    result = steps[name]
    if result.failed:
        return f"the source step '{name}' failed, so there are no edits to apply: {result.error}"
    return result


# -- one apply step ----------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class _Tried:
    """One attempt: what it changed, and why it failed (None: it succeeded)."""

    number: int
    edits: str
    changes: tuple[Change, ...]
    error: str | None  # for the step's error message
    feedback: str  # `error` in the retry prompt: verify output, or the edit problem
    exit_code: int | None
    verify_output: str | None


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
        self.context = context
        self.runtime = runtime
        self.source = source
        self.inputs = apply_inputs(action, context)
        self.verify = self.inputs["verify"] or None
        self.query = _source_query(runtime, action.source)
        self.transaction = Transaction()
        self.tried: list[_Tried] = []
        self.calls: list[BackendOutcome] = []
        self.reask_error: str | None = None

    async def run(self) -> StepResult:
        text = self.source.output
        try:
            while True:
                tried = await self._attempt(len(self.tried) + 1, text)
                self.tried.append(tried)
                if tried.error is None:
                    self.transaction.keep()
                    return self._succeeded(tried)
                if len(self.tried) > self.action.verify_retries or not self._can_reask():
                    return self._failed(tried)
                self.transaction.rollback()  # the next attempt starts from the user's files
                answer = await self._ask_again(tried)
                if answer is None:
                    return self._failed(tried)
                text = answer
        finally:
            if self.transaction.pending:  # cancelled or interrupted: leave nothing half-done
                self.transaction.rollback()

    async def _attempt(self, number: int, text: str) -> _Tried:
        try:
            changes = plan_changes(parse_edits(text), self.runtime.root)
            self.transaction.apply(changes)
        except EditError as problem:
            message = f"the edits cannot be applied: {problem}"
            return _Tried(number, text, (), message, message, None, None)
        if self.verify is None:
            return _Tried(number, text, changes, None, "", None, None)
        code, output = await self._run_verify(self.verify)
        if code == 0:
            return _Tried(number, text, changes, None, "", code, output)
        error = f"verify failed: `{self.verify}` exited with code {code}" + _tail(output)
        return _Tried(number, text, changes, error, output, code, output)

    async def _run_verify(self, command: str) -> tuple[int, str]:
        """The exit code and stdout + stderr (their ends) of the verify command."""
        try:
            done = await run_process(
                ["sh", "-c", command], cwd=self.runtime.root, env=self.runtime.env
            )
        except CommandNotFound as error:
            return 127, str(error)
        output = "\n".join(part for part in (done.stdout, done.stderr.rstrip()) if part)
        return done.exit_code, output[-_SHOWN:]

    # -- asking again ------------------------------------------------------------------
    def _can_reask(self) -> bool:
        if self.query is None:
            self.reask_error = (
                f"cannot ask again: the source step '{self.action.source}' is not a query step"
            )
            return False
        return True

    async def _ask_again(self, tried: _Tried) -> str | None:
        """The source query's new answer, or None (the reason is in `reask_error`)."""
        query = self.query
        assert query is not None and query.route is not None
        prompt = self._retry_prompt(tried)
        system = render(query.system, self.context, key="system") if query.system else None
        routed = await self.runtime.pool.run_route(query.route, Request(prompt, system), check=None)
        self.calls.extend(routed.outcomes)
        answers = [o.completion.text for o in routed.outcomes if o.completion is not None]
        if not routed.ok or not answers:
            self.reask_error = f"asking '{self.action.source}' again failed: {routed.error}"
            return None
        return answers[0]

    def _retry_prompt(self, tried: _Tried) -> str:
        original = self.source.inputs.get("prompt", "")
        if self.action.verify_retry_prompt is None:
            return default_retry_prompt(original, tried.feedback, tried.edits, self.verify)
        scope = {**self.context, "original": original, "error": tried.feedback}
        scope["edits"] = tried.edits
        return render(self.action.verify_retry_prompt, scope, key="verify_retry_prompt")

    # -- results ------------------------------------------------------------------------
    def _succeeded(self, tried: _Tried) -> StepResult:
        return StepResult(
            self.step.name,
            self.step.type,
            "succeeded",
            output=_summary(tried.changes, self._verified(tried)),
            exit_code=tried.exit_code,
            details=self._details(tried, kept=True),
            **self._common(),  # type: ignore[arg-type]
        )

    def _failed(self, tried: _Tried) -> StepResult:
        keep = not self.action.rollback_on_failure and bool(tried.changes)
        if keep:
            self.transaction.keep()
            state = "the failed attempt's changes were kept (rollback_on_failure = false)"
        else:
            self.transaction.rollback()
            state = "the files were restored"
        attempts = f"attempt {tried.number} of {self.action.verify_retries + 1}"
        error = f"{tried.error} ({attempts}; {state})"
        if self.reask_error:
            error += f"; {self.reask_error}"
        output = _summary(tried.changes, None) if keep else "no files changed"
        return failed(
            self.step,
            error,
            output=output,
            exit_code=tried.exit_code,
            details=self._details(tried, kept=keep),
            **self._common(),
        )

    def _verified(self, tried: _Tried) -> str:
        if self.verify is None:
            return "not verified: the step has no verify command"
        return f"verified with `{self.verify}` (attempt {tried.number})"

    def _details(self, tried: _Tried, *, kept: bool) -> dict[str, object]:
        return {
            **_files(tried.changes if kept else ()),
            "attempts": [_attempt_json(t) for t in self.tried],
            "verify_output": tried.verify_output,
            "diff": render_diff(tried.changes),
            "rolled_back": not kept and bool(tried.changes),
            "calls": [self._call(outcome) for outcome in self.calls],  # the re-asks
        }

    def _call(self, outcome: BackendOutcome) -> dict[str, object]:
        return _call(outcome, self.runtime.plan.backends.get(outcome.backend))

    def _common(self) -> dict[str, object]:
        fields: dict[str, object] = {
            "inputs": self.inputs,
        }
        if self.calls:
            answered = [o.backend for o in self.calls if o.completion is not None]
            fields["usage"] = _usage(self.calls)
            fields["cost"] = _cost(self.calls, self.runtime.plan.backends)
            fields["backend"] = answered[-1] if answered else None
            fields["backends"] = tuple(dict.fromkeys(answered))
        return fields


def _source_query(runtime: Runtime, name: str) -> Query | None:
    match runtime.plan.step(name).action:
        case Query() as query if query.route is not None:
            return query
        case _:
            return None


def default_retry_prompt(original: str, error: str, edits: str, verify: str | None) -> str:
    """What the model is asked when the workflow gives no `verify_retry_prompt`."""
    check = f"the verification command `{verify}`" if verify else "applying them"
    return (
        f"{original}\n\n"
        f"Your previous answer was:\n{edits}\n\n"
        f"Those edits were applied, but {check} failed:\n{error}\n\n"
        "The files have been restored to how they were before your edits. Answer with "
        "corrected edits for those original files, in the same format, and nothing else."
    )


# -- preview ---------------------------------------------------------------------------
def _preview(step: StepPlan, text: str, runtime: Runtime) -> StepResult:
    """The edits checked and shown as a diff; nothing written, nothing verified."""
    try:
        changes = plan_changes(parse_edits(text), runtime.root)
    except EditError as error:
        return failed(step, f"the edits cannot be applied: {error}")
    diff = render_diff(changes)
    details: dict[str, object] = {**_files(changes), "diff": diff, "preview": True}
    output = diff.rstrip("\n") or "no changes: the edits leave every file as it was"
    return StepResult(step.name, step.type, "succeeded", output=output, details=details)


# -- shared shapes ----------------------------------------------------------------------
def _files(changes: Sequence[Change]) -> dict[str, list[str]]:
    return {
        "files_changed": [c.name for c in changes if c.kind == "modified"],
        "files_created": [c.name for c in changes if c.kind == "created"],
        "files_deleted": [c.name for c in changes if c.kind == "deleted"],
    }


def _summary(changes: Sequence[Change], verified: str | None) -> str:
    lines = [f"{change.kind} {change.name}" for change in changes]
    if not lines:
        lines = ["no changes: the edits leave every file as it was"]
    if verified is not None:
        lines.append(verified)
    return "\n".join(lines)


def _attempt_json(tried: _Tried) -> dict[str, object]:
    return {
        "attempt": tried.number,
        **_files(tried.changes),
        "error": tried.error,
        "exit_code": tried.exit_code,
    }


def _tail(output: str) -> str:
    lines = output.rstrip().splitlines()[-_ERROR_LINES:]
    return (":\n" + "\n".join(lines)) if lines else " (no output)"
