"""Best of N: every backend's edits tried in a workspace of their own; one winner applied.

Input: an apply step with `candidates` (plan), the source query's result (one
answer per backend, in role order), the context and the `Runtime`. Output: the
step's `StepResult` — the winner's files, diff and verify output as for a plain
apply step, plus `winner`, `select`, `workspace` and `candidates`, one entry
per backend (`model.candidate_json`).

The contest: `Workspaces.prepare` snapshots the project; each candidate gets
its own workspace, at most `max_parallel` at once, where its edits are applied
and verified — and, when they fail, its own backend alone is asked again with
its own error, `verify_retries` times (`steps.attempts`). With a metric and
`select = "best"`, each passing candidate is then scored in its workspace.
`select = "first"` stops at the first candidate to pass and cancels the rest.
The user's working tree is written once, by the winner: its edits are checked
against the tree as it is now, must give exactly the files that were verified,
and go through a `Transaction` (all or nothing, byte-exact restore on a failed
write). Workspaces are removed however the step ends: success, failure, a
timeout or Ctrl-C.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence

from llm_mux.compiler.plan import Apply, Candidates, Route, StepPlan

from ..backends import BackendOutcome
from ..edits import Change, EditError, Transaction, parse_edits, plan_changes, render_diff
from ..processes.process import CommandNotFound, run_process
from ..running.results import Outputs, StepResult
from ..running.runtime import Runtime
from ..steps import failed
from ..steps.apply import apply_inputs, attempt_json, call_fields, calls_json, files_json, summary
from ..steps.attempts import Attempts, Reasker
from .model import Candidate, candidate_json
from .ranking import best, read_metric
from .workspaces import WorkspaceError, Workspaces

__all__ = ["Contest", "run_candidates"]

_METRIC_SHOWN = 2_000  # characters of the metric command's output kept


async def run_candidates(
    step: StepPlan,
    action: Apply,
    context: Mapping[str, object],
    runtime: Runtime,
    source: StepResult,
) -> StepResult:
    contest = Contest(step, action, context, runtime, source)
    if runtime.preview_edits:
        return contest.preview()
    return await contest.run()


class Contest:
    def __init__(
        self,
        step: StepPlan,
        action: Apply,
        context: Mapping[str, object],
        runtime: Runtime,
        source: StepResult,
    ) -> None:
        assert action.candidates is not None
        self.step = step
        self.action = action
        self.settings: Candidates = action.candidates
        self.context = context
        self.runtime = runtime
        self.source = source
        self.inputs = apply_inputs(action, context)
        self.verify = self.inputs["verify"] or None
        self.metric = self.inputs.get("metric")
        self.reaskers: list[Reasker] = []
        self.candidates = _candidates(source, self._role_order())
        self.finished: list[Candidate] = []  # passing candidates in the order they passed
        self.workspaces: Workspaces | None = None

    def _role_order(self) -> Sequence[str]:
        reasker = Reasker(
            self.action, self.context, self.runtime, self.source, self.verify, self.step
        )
        query = reasker.query
        return query.route.backends if query is not None and query.route is not None else ()

    # -- running -------------------------------------------------------------------------
    async def run(self) -> StepResult:
        answered = [c for c in self.candidates if c.answer is not None]
        if not answered:
            return self._failed("no candidates: no backend of the source step answered")
        try:
            self.workspaces = await Workspaces.prepare(self.runtime.root, self.runtime.env)
        except WorkspaceError as error:
            return self._failed(f"the candidates cannot be tried: {error}")
        try:
            await self._try_all(answered)
        finally:
            self.workspaces.remove()
        return self._decide()

    async def _try_all(self, answered: Sequence[Candidate]) -> None:
        limit = asyncio.Semaphore(self.settings.max_parallel)
        tasks = [asyncio.create_task(self._try(c, limit)) for c in answered]
        try:
            if self.settings.select == "first":
                for next_done in asyncio.as_completed(tasks):
                    if (await next_done).status == "passed":
                        break
            else:
                await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()  # the first passed (or the step is cancelled): stop the rest
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _try(self, candidate: Candidate, limit: asyncio.Semaphore) -> Candidate:
        try:
            async with limit:
                return await self._verify(candidate)
        except asyncio.CancelledError:
            candidate.status = "cancelled" if candidate.status == "running" else "skipped"
            raise

    async def _verify(self, candidate: Candidate) -> Candidate:
        assert self.workspaces is not None and candidate.answer is not None
        if self.settings.select == "first" and self.finished:
            candidate.status = "skipped"  # another passed while this one waited its turn
            return candidate
        started = time.perf_counter()
        candidate.status = "running"
        try:
            root = await self.workspaces.create(candidate.number, candidate.backend)
            candidate.attempts = Attempts(
                root,
                self.verify,
                self.action.verify_retries,
                self.runtime.env,
                wrapper=self.runtime.plan.command_wrapper,
            )
            reasker = Reasker(
                self.action, self.context, self.runtime, self.source, self.verify, self.step
            )
            self.reaskers.append(reasker)
            ask = reasker.asker(_alone(candidate.backend))
            tried = await candidate.attempts.run(candidate.answer, ask)
            if tried.error is not None:
                why = reasker.why_not_asked(candidate.attempts)
                return _fail(candidate, tried.error + (f"; {why}" if why else ""))
            if self.metric and self.settings.select == "best":
                await self._measure(candidate)
            candidate.status = "passed"
            self.finished.append(candidate)
            return candidate
        except WorkspaceError as error:
            return _fail(candidate, str(error))
        finally:
            candidate.duration_ms = int((time.perf_counter() - started) * 1000)

    async def _measure(self, candidate: Candidate) -> None:
        assert self.metric is not None and candidate.attempts is not None
        try:
            done = await run_process(
                ["sh", "-c", self.metric], cwd=candidate.attempts.root, env=self.runtime.env
            )
        except CommandNotFound as error:
            candidate.error = f"no metric: {error}"
            return
        candidate.metric_output = done.stdout[-_METRIC_SHOWN:]
        if done.exit_code != 0:
            candidate.error = f"no metric: `{self.metric}` exited with code {done.exit_code}"
            return
        candidate.metric = read_metric(done.stdout)
        if candidate.metric is None:
            candidate.error = f"no metric: `{self.metric}` printed no number on its last line"

    # -- deciding ------------------------------------------------------------------------
    def _decide(self) -> StepResult:
        winner = self._winner()
        if winner is None:
            return self._none_passed()
        tried = winner.tried[-1]
        try:
            changes = plan_changes(parse_edits(tried.edits), self.runtime.root)
        except EditError as error:
            return self._failed(f"the winning edits no longer apply to the working tree: {error}")
        differing = _differing(changes, tried.changes)
        if differing:
            return self._failed(
                f"the winning edits would give other files in the working tree than the "
                f"ones verified ({', '.join(differing)}): they changed during verification, "
                "or git ignores them; nothing was written"
            )
        try:
            Transaction().apply(changes)  # all or nothing; no await since planning
        except EditError as error:
            return self._failed(f"the winning edits could not be written: {error}")
        winner.status = "won"
        return self._succeeded(winner, changes)

    def _winner(self) -> Candidate | None:
        if self.settings.select == "first":
            return self.finished[0] if self.finished else None
        passed = {c.number: c for c in self.candidates if c.status == "passed"}
        place = best([(n, c.metric) for n, c in passed.items()], self.settings.prefer)
        return passed[place] if place is not None else None

    # -- results -------------------------------------------------------------------------
    def _succeeded(self, winner: Candidate, changes: Sequence[Change]) -> StepResult:
        tried = winner.tried[-1]
        details = {
            **files_json(changes),
            "attempts": [attempt_json(t) for t in winner.tried],
            "verify_output": tried.verify_output,
            "diff": render_diff(changes),
            "rolled_back": False,
            **self._contest_details(winner),
        }
        return StepResult(
            self.step.name,
            self.step.type,
            "succeeded",
            output=summary(changes, self._verdict(winner)),
            exit_code=tried.exit_code,
            details=details,
            **self._call_fields(winner),  # type: ignore[arg-type]
        )

    def _verdict(self, winner: Candidate) -> str:
        of = f"candidate {winner.number} of {len(self.candidates)}, {winner.backend}"
        attempt = f"attempt {winner.tried[-1].number}"
        if self.verify is None:
            check = "not verified: the step has no verify command"
        else:
            check = f"verified with `{self.verify}` in its own {self._workspace_kind()}"
        if self.settings.select == "best":
            metric = "no metric" if winner.metric is None else f"metric {winner.metric:g}"
            return f"{check}; chosen: {of} ({attempt}, {metric}, the best of {self._passed()})"
        return f"{check}; chosen: {of} ({attempt}, the first to pass)"

    def _passed(self) -> str:
        count = sum(c.status in ("passed", "won") for c in self.candidates)
        return f"{count} passing"

    def _workspace_kind(self) -> str:
        return self.workspaces.kind if self.workspaces is not None else "workspace"

    def _none_passed(self) -> StepResult:
        reasons = [f"{c.backend}: {c.error or c.status}" for c in self.candidates]
        return self._failed(
            "no candidate passed (the working tree was not touched):\n" + "\n".join(reasons)
        )

    def _failed(self, error: str) -> StepResult:
        details = {**files_json(()), "diff": "", "rolled_back": False}
        details.update(self._contest_details(None))
        return failed(
            self.step,
            error,
            output="no files changed",
            details=details,
            **self._call_fields(None),
        )

    def _contest_details(self, winner: Candidate | None) -> dict[str, object]:
        return {
            "winner": winner.backend if winner is not None else None,
            "select": self.settings.select,
            "workspace": self._workspace_kind(),
            "candidates": [candidate_json(c) for c in self.candidates],
            "calls": calls_json(self._calls(), self.runtime),  # the re-asks
        }

    def _calls(self) -> list[BackendOutcome]:
        return [call for reasker in self.reaskers for call in reasker.calls]

    def _call_fields(self, winner: Candidate | None) -> dict[str, object]:
        """The re-asks' usage and cost; `backend` is the winner's (the progress line and
        `runs show` name it), `backends` every backend that offered a candidate."""
        fields = call_fields(self._calls(), self.runtime, self.inputs)
        fields["backend"] = winner.backend if winner is not None else None
        fields["backends"] = tuple(c.backend for c in self.candidates if c.answer is not None)
        return fields

    # -- --preview -----------------------------------------------------------------------
    def preview(self) -> StepResult:
        """Each candidate's edits checked against the working tree and shown; nothing
        written, nothing verified."""
        shown: list[str] = []
        for candidate in self.candidates:
            shown.append(f"=== {candidate.backend} ===\n{_preview(candidate, self.runtime)}")
        details: dict[str, object] = {"preview": True, **self._contest_details(None)}
        ok = any(c.status == "preview" for c in self.candidates)
        output = "\n\n".join(shown)
        if not ok:
            return failed(self.step, "no candidate's edits can be applied", output=output)
        return StepResult(
            self.step.name, self.step.type, "succeeded", output=output, details=details
        )


def _preview(candidate: Candidate, runtime: Runtime) -> str:
    if candidate.answer is None:
        return f"(no answer: {candidate.error})"
    try:
        candidate.previewed = plan_changes(parse_edits(candidate.answer), runtime.root)
    except EditError as error:
        _fail(candidate, f"the edits cannot be applied: {error}")
        return f"(the edits cannot be applied: {error})"
    candidate.status = "preview"
    diff = render_diff(candidate.previewed).rstrip("\n")
    return diff or "(no changes: the edits leave every file as it was)"


def _fail(candidate: Candidate, error: str) -> Candidate:
    candidate.status = "failed"
    candidate.error = error
    return candidate


def _alone(backend: str) -> Route:
    """The route that asks one candidate's backend again, and no other."""
    return Route(role=None, execution="first", backends=(backend,))


def _differing(here: Sequence[Change], verified: Sequence[Change]) -> list[str]:
    mine = {c.name: (c.before, c.after) for c in here}
    theirs = {c.name: (c.before, c.after) for c in verified}
    return sorted(
        name for name in mine.keys() | theirs.keys() if mine.get(name) != theirs.get(name)
    )


def _candidates(source: StepResult, order: Sequence[str]) -> list[Candidate]:
    """One candidate per backend of the source query that was asked, in role order."""
    answers = source.outputs.to_json() if isinstance(source.outputs, Outputs) else {}
    if not answers:  # not a per-backend answer: the whole output is one candidate
        answers = {source.backend or source.name: source.output}
    names = [n for n in order if n in answers or n in source.errors]
    names += [n for n in [*answers, *source.errors] if n not in names]
    found: list[Candidate] = []
    for number, name in enumerate(names, start=1):
        candidate = Candidate(number, name, answers.get(name))
        if candidate.answer is None:
            _fail(candidate, f"did not answer the source step: {source.errors.get(name)}")
        found.append(candidate)
    return found
