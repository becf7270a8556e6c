"""Store steps: JSON knowledge from earlier steps → the ecosystem's memory database.

Input: a `Store` action (the `input` template, an optional `ecosystem` name)
and the context, whose `ecosystem` is the detected one. Output: a summary
("stored 3 facts, 1 relationship in memory 'myapp'; skipped fact 2: missing
"source""), with `details` counting what was new, updated, unchanged and
skipped. Valid items are written in one transaction (`llm_mux.memory`);
invalid ones are reported by kind and 0-based index. The step fails when no
ecosystem is detected or named, when the input holds no JSON to store, when
every item is invalid, or when the database cannot be written — and then
nothing was stored.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Mapping
from datetime import UTC, datetime

from llm_mux.compiler.plan import StepPlan, Store

from ..database import DatabaseError
from ..ecosystems import EcosystemView
from ..memory.items import Batch, NoDocument, parse_batch
from ..memory.location import memory_path
from ..memory.writes import Stored, store_batch
from ..paths import find_places
from ..running.results import StepResult
from ..running.runtime import Runtime
from . import failed, step_inputs

__all__ = ["run_store"]


async def run_store(
    step: StepPlan, action: Store, context: Mapping[str, object], runtime: Runtime
) -> StepResult:
    inputs = step_inputs(step, context)
    text = inputs["input"]
    ecosystem, why_not = _ecosystem(action, context)
    if ecosystem is None:
        return failed(step, why_not, inputs=inputs)
    try:
        batch = parse_batch(text)
    except NoDocument as error:
        return failed(step, str(error), inputs=inputs)
    path = memory_path(find_places(runtime.root, runtime.env).user_dir, ecosystem)
    # Nested under one key: `details` joins the step's JSON, whose own `skipped` is a bool.
    report: dict[str, object] = {"ecosystem": ecosystem, "database": str(path)}
    report["skipped"] = [
        {"kind": s.kind, "index": s.index, "reason": s.reason} for s in batch.skipped
    ]
    details = {"store": report}
    if batch.size == 0 and batch.skipped:
        message = "nothing stored: no valid item; " + _skipped_text(batch)
        return failed(step, message, inputs=inputs, details=details)
    if batch.size == 0:
        output = "nothing to store: the input's lists are empty"
        return StepResult(step.name, step.type, "succeeded", output=output, inputs=inputs)
    try:
        # SQLite blocks (and may wait on the busy timeout): keep it off the event loop.
        stored = await asyncio.to_thread(
            store_batch, path, batch, run_id=_run_id(context), now=_now()
        )
    except (sqlite3.Error, DatabaseError, OSError) as error:
        message = f"could not write the memory database {path}: {error}; nothing was stored"
        return failed(step, message, inputs=inputs, details=details)
    report.update(stored=_counts(batch), **stored.to_json())
    return StepResult(
        step.name,
        step.type,
        "succeeded",
        output=_summary(batch, stored, ecosystem),
        inputs=inputs,
        details=details,
    )


def _ecosystem(action: Store, context: Mapping[str, object]) -> tuple[str | None, str]:
    """The step's `ecosystem = "…"`, else the detected one, else why there is none."""
    if action.ecosystem:
        return action.ecosystem, ""
    detected = context.get("ecosystem")
    if isinstance(detected, EcosystemView):
        return detected.name, ""
    # Without an ecosystem the context holds an Undefined whose hint says why.
    reason = getattr(detected, "_undefined_hint", None) or "no ecosystem detected"
    return None, f'{reason}; or name one on the store step: ecosystem = "NAME"'


def _run_id(context: Mapping[str, object]) -> str | None:
    run_id = getattr(context.get("run"), "id", None)
    return run_id if isinstance(run_id, str) else None


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def _counts(batch: Batch) -> dict[str, int]:
    return {
        "facts": len(batch.facts),
        "relationships": len(batch.relationships),
        "entities": len(batch.entities),
        "skipped": len(batch.skipped),
    }


def _summary(batch: Batch, stored: Stored, ecosystem: str) -> str:
    parts = [
        _plural(count, singular, plural)
        for count, singular, plural in (
            (len(batch.facts), "fact", "facts"),
            (len(batch.relationships), "relationship", "relationships"),
            (len(batch.entities), "entity", "entities"),
        )
        if count
    ]
    changes = [
        f"{total} {label}"
        for label, counter in (("new", stored.new), ("updated", stored.updated))
        if (total := sum(counter.values()))
    ]
    text = f"stored {', '.join(parts)} in memory '{ecosystem}'"
    text += f" ({', '.join(changes)})" if changes else " (all unchanged)"
    if stored.property_versions:
        values = _plural(stored.property_versions, "property value", "property values")
        text += f", {values} recorded"
    return text + (f"; {_skipped_text(batch)}" if batch.skipped else "")


def _skipped_text(batch: Batch) -> str:
    return "; ".join(f"skipped {s}" for s in batch.skipped)


def _plural(count: int, singular: str, plural: str) -> str:
    return f"{count} {singular if count == 1 else plural}"
