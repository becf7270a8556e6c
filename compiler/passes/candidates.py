"""Best-of-N check: the keys of an apply step with `candidates = "each"` fit together.

Input: the checked workflow. Output: diagnostics only — a best-of-N key on an
apply step that does not try candidates (E610), candidates taken from a step
that is not a query (E611: only a query's backends give separate answers),
`select = "best"` without a `metric` to rank by (E612), and keys whose
meaning candidates replace (E105: `rollback_on_failure = false`, since the
working tree only ever receives a passing candidate; a `metric` with
`select = "first"`, which never ranks).
"""

from __future__ import annotations

from ..checked import CheckedStep, CheckedWorkflow
from ..diagnostics import Sink
from ..schema import ApplyStep, QueryStep
from ..source import KeyPath

__all__ = ["check_candidates"]

_EACH = 'candidates = "each"'


def check_candidates(workflow: CheckedWorkflow, sink: Sink) -> None:
    queries = {s.name for s in workflow.steps if isinstance(s.surface, QueryStep)}
    for step in workflow.steps:
        apply = step.surface
        if not isinstance(apply, ApplyStep):
            continue
        if apply.candidates == "each":
            _check_each(workflow, step, apply, queries, sink)
        else:
            _check_combined(workflow, step, apply, sink)


def _check_combined(
    workflow: CheckedWorkflow, step: CheckedStep, apply: ApplyStep, sink: Sink
) -> None:
    """A best-of-N key set on a step that applies one combined answer."""
    chosen = {
        "select": apply.select is not None,
        "metric": apply.metric is not None,
        "prefer": apply.prefer != "higher",
        "max_parallel": apply.max_parallel != 4,
    }
    for key in (key for key, written in chosen.items() if written):
        sink.error(
            "E610",
            f"apply step '{step.name}' sets {key}, which only counts with {_EACH}",
            workflow.source.key(_path(step, key)),
            hint=f"add {_EACH} to try each backend's answer on its own, or remove {key}",
        )


def _check_each(
    workflow: CheckedWorkflow,
    step: CheckedStep,
    apply: ApplyStep,
    queries: set[str],
    sink: Sink,
) -> None:
    source = apply.source.strip().removeprefix("steps.")
    names = {s.name for s in workflow.steps}
    if source in names and source not in queries:
        sink.error(
            "E611",
            f"apply step '{step.name}' has {_EACH}, but its source '{source}' is not a "
            "query step, so there is one answer, not one per backend",
            workflow.source.value(_path(step, "candidates")),
            hint="take the edits from a query step whose role runs its backends in parallel",
        )
    if apply.select == "best" and apply.metric is None:
        sink.error(
            "E612",
            f"apply step '{step.name}' selects the best candidate, but has no metric to rank by",
            workflow.source.value(_path(step, "select")),
            hint='add metric = "<command printing a number>", or select = "first"',
        )
    if apply.select == "first" and apply.metric is not None:
        sink.error(
            "E105",
            f"apply step '{step.name}' has select = \"first\" and a metric, which only "
            'select = "best" uses',
            workflow.source.key(_path(step, "metric")),
            hint='remove select = "first" to pick the best by the metric, or remove the metric',
        )
    if not apply.rollback_on_failure:
        sink.error(
            "E105",
            f"apply step '{step.name}' has {_EACH} and rollback_on_failure = false: failing "
            "candidates never touch the working tree, so there is nothing to keep",
            workflow.source.key(_path(step, "rollback_on_failure")),
            hint="remove rollback_on_failure; every candidate's diff is kept in the run directory",
        )


def _path(step: CheckedStep, key: str) -> KeyPath:
    return ("steps", step.index, key)
