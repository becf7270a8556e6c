"""The attempt loop of an apply step: apply edits, verify, ask again, start over.

Input: the text holding edits, the directory to apply them in (the project, or
a candidate's worktree), the rendered verify command and how to ask for new
edits. Output: every `Tried` attempt; the last one's changes are still written
(through the caller's `Transaction`) when it succeeded. Shared by plain apply
steps (`steps.apply`) and best-of-N candidates (`llm_mux.candidates`).

One attempt: parse the edits, check all of them in memory, write them
atomically (snapshots first), run `verify` with `sh -c` in that directory.
A failed attempt is rolled back before the source is asked again, so every
attempt starts from the files as they were before the step.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from llm_mux.compiler.plan import Apply, Query, Route, StepPlan

from ..backends import BackendOutcome, Request
from ..edits import Change, EditError, Transaction, parse_edits, plan_changes
from ..processes.process import TOO_LONG_HINT, CommandNotFound, CommandTooLong, run_process
from ..running.rendering import render
from ..running.results import StepResult
from ..running.runtime import Runtime

__all__ = ["Attempts", "Reasker", "Tried", "default_retry_prompt", "run_verify", "source_query"]

_SHOWN = 20_000  # characters of verify output kept (its end: where test failures are)
_ERROR_LINES = 20  # lines of verify output quoted in the step's error


@dataclass(frozen=True, slots=True)
class Tried:
    """One attempt: what it changed, and why it failed (None: it succeeded)."""

    number: int
    edits: str
    changes: tuple[Change, ...]
    error: str | None  # for the step's error message
    feedback: str  # `error` in the retry prompt: verify output, or the edit problem
    exit_code: int | None
    verify_output: str | None


Ask = Callable[[Tried], Awaitable[str | None]]


class Attempts:
    """Attempts in `root` until one passes, retries run out, or asking again fails."""

    def __init__(
        self,
        root: Path,
        verify: str | None,
        retries: int,
        env: Mapping[str, str],
        *,
        wrapper: Sequence[str] = (),
    ) -> None:
        """`wrapper`: `[defaults] command_wrapper`, which the verify command runs inside."""
        self.root = root
        self.verify = verify
        self.retries = retries
        self.env = env
        self.wrapper = wrapper
        self.transaction = Transaction()
        self.tried: list[Tried] = []

    async def run(self, text: str, ask: Ask | None) -> Tried:
        """The last attempt; a failed one is left written for the caller to roll back."""
        while True:
            tried = await self._attempt(len(self.tried) + 1, text)
            self.tried.append(tried)
            if tried.error is None or len(self.tried) > self.retries or ask is None:
                return tried
            self.transaction.rollback()  # the next attempt starts from the original files
            answer = await ask(tried)
            if answer is None:
                return tried
            text = answer

    async def _attempt(self, number: int, text: str) -> Tried:
        try:
            changes = plan_changes(parse_edits(text), self.root)
            self.transaction.apply(changes)
        except EditError as problem:
            message = f"the edits cannot be applied: {problem}"
            return Tried(number, text, (), message, message, None, None)
        if self.verify is None:
            return Tried(number, text, changes, None, "", None, None)
        code, output = await run_verify(self.verify, self.root, self.env, self.wrapper)
        if code == 0:
            return Tried(number, text, changes, None, "", code, output)
        error = f"verify failed: `{self.verify}` exited with code {code}" + _tail(output)
        return Tried(number, text, changes, error, output, code, output)


async def run_verify(
    command: str, cwd: Path, env: Mapping[str, str], wrapper: Sequence[str] = ()
) -> tuple[int, str]:
    """The exit code and stdout + stderr (their ends) of a command run with `sh -c`
    (inside `wrapper`, when there is one)."""
    try:
        done = await run_process(["sh", "-c", command], cwd=cwd, env=env, wrapper=wrapper)
    except CommandNotFound as error:
        return 127, str(error)
    except CommandTooLong as error:
        return 126, f"{error.strerror}; {TOO_LONG_HINT}"
    output = "\n".join(part for part in (done.stdout, done.stderr.rstrip()) if part)
    return done.exit_code, output[-_SHOWN:]


def _tail(output: str) -> str:
    lines = output.rstrip().splitlines()[-_ERROR_LINES:]
    return (":\n" + "\n".join(lines)) if lines else " (no output)"


# -- asking again ----------------------------------------------------------------------
class Reasker:
    """Asks the source query again with an attempt's error; keeps every call made."""

    def __init__(
        self,
        action: Apply,
        context: Mapping[str, object],
        runtime: Runtime,
        source: StepResult,
        verify: str | None,
        step: StepPlan | None = None,
    ) -> None:
        self.step = step  # whose budget re-asks are charged to (the run's, at least)
        self.action = action
        self.context = context
        self.runtime = runtime
        self.source = source
        self.verify = verify
        self.query = source_query(runtime, action.source)
        self.calls: list[BackendOutcome] = []
        self.error: str | None = None  # why the last re-ask gave no answer

    def why_not_asked(self, attempts: Attempts) -> str | None:
        """Why a failed last attempt was not followed by another, when it was not asked."""
        if self.error is not None or len(attempts.tried) > attempts.retries:
            return self.error
        return f"cannot ask again: the source step '{self.action.source}' is not a query step"

    def asker(self, route: Route | None = None) -> Ask | None:
        """Re-asks through `route` (default: the source query's own), or None when the
        source is not a query step."""
        if self.query is None or self.query.route is None:
            return None
        chosen = route or self.query.route

        async def ask(tried: Tried) -> str | None:
            return await self._ask(chosen, tried)

        return ask

    async def _ask(self, route: Route, tried: Tried) -> str | None:
        query = self.query
        assert query is not None
        prompt = self._retry_prompt(tried)
        system = render(query.system, self.context, key="system") if query.system else None
        budget, step = self.runtime.budget, self.step
        meter = budget.meter(step) if budget is not None and step is not None else None
        request = Request(prompt, system)
        routed = await self.runtime.backends.pool().run_route(
            route, request, check=None, meter=meter
        )
        self.calls.extend(routed.outcomes)
        answers = [o.completion.text for o in routed.outcomes if o.completion is not None]
        if not routed.ok or not answers:
            self.error = f"asking '{self.action.source}' again failed: {routed.error}"
            return None
        return answers[0]

    def _retry_prompt(self, tried: Tried) -> str:
        original = self.source.inputs.get("prompt", "")
        if self.action.verify_retry_prompt is None:
            return default_retry_prompt(original, tried.feedback, tried.edits, self.verify)
        scope = {**self.context, "original": original, "error": tried.feedback}
        scope["edits"] = tried.edits
        return render(self.action.verify_retry_prompt, scope, key="verify_retry_prompt")


def source_query(runtime: Runtime, name: str) -> Query | None:
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
