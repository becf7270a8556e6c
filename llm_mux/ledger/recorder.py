"""Recording a run in the ledger while it runs.

Input: the run about to start (id, plan, args, team, ecosystem, environment)
and the observer that shows progress. Output: rows in
`$XDG_STATE_HOME/llm-mux/runs.db` and one output file per step under
`runs/<run_id>/`.

`recording` writes the run as `running` and returns a `RunRecorder`, an
`Observer` that forwards every event to the progress display and records each
step as it finishes (so a run killed outright still leaves its finished steps):
the rows and the output file are written by the ledger's own thread
(`writer.LedgerWriter`), so the run never waits for the disk.
`finish_run` completes the run from the interpreter's outcome, including steps
that never started (`pending`). `recording` wraps the two: if the run ends in an
exception instead — Ctrl-C outside the event loop, a bug — the run is recorded
`cancelled` or `failed` and the exception goes on. Every text is passed through
the run's `Redactor` first. The ledger never stops a run: when it cannot be
written, one warning goes to stderr and the run goes on unrecorded.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import sqlite3
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import click
import msgspec

from llm_mux.compiler.plan import Plan, StepPlan

from ..executors import Placement
from ..processes.signals import last_words
from ..redact import Redactor
from ..running.context import RunInfo
from ..running.interpreter import RunOutcome
from ..running.results import StepResult, Usage, result_record
from ..running.runtime import Observer
from .candidates import candidate_rows
from .orphans import mark_orphaned, process_started, this_host
from .schema import OUTPUT_LIMIT, ledger_path
from .writer import LedgerWriter

__all__ = ["RunMeta", "RunRecorder", "abort_run", "finish_run", "recording"]

_WRITE_CHUNK = 1 << 20  # characters: large outputs are encoded a piece at a time


class RunRecorder:
    """An `Observer` that records each finished step, then tells the progress display."""

    def __init__(
        self,
        ledger: LedgerWriter,
        plan: Plan,
        run_id: str,
        run_dir: Path,
        redact: Redactor,
        inner: Observer,
    ) -> None:
        self.ledger = ledger
        self.plan = plan
        self.run_id = run_id
        self.run_dir = run_dir
        self.redact = redact
        self.inner = inner
        self.started = time.perf_counter()
        self.positions = {step.name: index for index, step in enumerate(plan.steps)}
        self.step_starts: dict[str, float] = {}  # time.time(), formatted by the writer
        self.recorded: set[str] = set()
        self.saving = True  # step outputs are written to files until that fails once

    # -- Observer -----------------------------------------------------------------
    def step_started(self, step: StepPlan) -> None:
        self.step_starts[step.name] = time.time()
        self.inner.step_started(step)

    def step_finished(self, step: StepPlan, result: StepResult) -> None:
        self.inner.step_finished(step, result)
        self.record_step(step, result)

    def items_known(self, step: StepPlan, total: int) -> None:
        self.inner.items_known(step, total)

    def item_finished(self, step: StepPlan, done: int, total: int) -> None:
        self.inner.item_finished(step, done, total)

    def pause(self) -> object:
        return self.inner.pause()

    def close(self) -> None:
        """Close the ledger; the progress display is its owner's to close."""
        self.ledger.close()

    # -- rows ---------------------------------------------------------------------
    def record_placements(self, placements: Sequence[Placement]) -> None:
        """Where each piece of the run's work ran (a cluster run), in one transaction."""
        rows = [{"run_id": self.run_id, **msgspec.structs.asdict(p)} for p in placements]

        def write(connection: sqlite3.Connection) -> None:
            for row in rows:
                _insert(connection, "placements", row)

        if rows:
            self.ledger.write(write)

    def record_step(self, step: StepPlan, result: StepResult) -> None:
        """Queue the step's rows and output file for the writer thread (results are frozen)."""
        again = step.name in self.recorded
        self.recorded.add(step.name)
        finished = time.time() if step.name in self.step_starts else None
        self.ledger.submit(lambda: self._write_step(step, result, finished, again))

    def _write_step(
        self, step: StepPlan, result: StepResult, finished: float | None, again: bool
    ) -> None:
        output_file = self._save_output(step.name, result)
        row = self._step_row(step, result, output_file, finished)
        # Rows made as they are inserted: a for_each's 100,000 calls are never all in memory.
        calls = (self._call_row(step.name, call) for call in _calls(result))
        candidates = self._candidate_rows(result)

        def write(connection: sqlite3.Connection) -> None:
            if again:  # recorded before: the new rows replace the old ones
                key = (self.run_id, step.name)
                connection.execute("DELETE FROM candidates WHERE run_id = ? AND step = ?", key)
                connection.execute("DELETE FROM calls WHERE run_id = ? AND step = ?", key)
                connection.execute("DELETE FROM steps WHERE run_id = ? AND name = ?", key)
            _insert(connection, "steps", row)
            _insert_many(connection, "calls", calls)
            _insert_many(connection, "candidates", candidates)

        self.ledger.transaction(write)

    def _step_row(
        self, step: StepPlan, result: StepResult, output_file: Path | None, finished: float | None
    ) -> _Row:
        output = self.redact(result.output)
        return {
            "run_id": self.run_id,
            "name": step.name,
            "position": self.positions[step.name],
            "type": step.type,
            "status": result.status,
            "inputs": self.as_json({k: self.redact(v) for k, v in result.inputs.items()}),
            "output": output[:OUTPUT_LIMIT],
            "output_file": str(output_file) if output_file else None,
            "error": self.redact(result.error) if result.error else None,
            "started_at": _timestamp(self.step_starts.get(step.name)),
            "finished_at": _timestamp(finished),
            "duration_ms": result.duration_ms,
            "attempts": result.attempts,
            "backend": result.backend,
            "backends": json.dumps(list(result.backends)),
            "exit_code": result.exit_code,
            **_tokens(result.usage),
            "cost": result.cost,
            "result": self._result_json(result),
            "reused_from": _origin(result, "reused_from"),
            "cached_from": _origin(result, "cached_from"),
        }

    def _result_json(self, result: StepResult) -> str | None:
        """What `runs resume` needs to reuse the step: a succeeded step, or the
        succeeded items of a for_each step that failed."""
        if result.status != "succeeded" and not result.items:
            return None
        return self.redact(_record_json(result, self.redact))

    def _call_row(self, step: str, call: Mapping[str, object]) -> _Row:
        backend = str(call.get("backend"))
        spec = self.plan.backends.get(backend)
        usage = call.get("usage")
        error = call.get("error")
        return {
            "run_id": self.run_id,
            "step": step,
            "item": call.get("item"),
            "backend": backend,
            "model": call.get("model") or (spec.model if spec else None),
            "ok": bool(call.get("ok")),
            "attempts": call.get("attempts"),
            "duration_ms": call.get("duration_ms"),
            **_tokens(usage if isinstance(usage, Usage) else _usage_from(usage)),
            "cost": cost if isinstance(cost := call.get("cost"), int | float) else None,
            "error": self.redact(str(error)) if error else None,
        }

    def _candidate_rows(self, result: StepResult) -> list[dict[str, object]]:
        """A best-of-N step's candidates, each one's diff saved under the run's directory."""
        run_dir = self.run_dir if self.saving else None
        try:
            return candidate_rows(result, self.run_id, run_dir, self.redact, _write_private)
        except OSError as error:
            self.saving = False
            click.echo(f"llm-mux: warning: step outputs cannot be saved: {error}", err=True)
            return candidate_rows(result, self.run_id, None, self.redact, _write_private)

    def _save_output(self, name: str, result: StepResult) -> Path | None:
        if result.status not in ("succeeded", "failed") or not self.saving:
            return None
        path = self.run_dir / f"{name}.txt"
        try:
            _write_private(path, self.redact(result.output))
        except OSError as error:
            self.saving = False  # one warning, not one per step
            click.echo(f"llm-mux: warning: step outputs cannot be saved: {error}", err=True)
            return None
        return path

    def as_json(self, value: object) -> str:
        """`value` as JSON text, redacted (the values first, then the text as a net)."""
        return self.redact(_JSON.encode(self.redact.value(value)))


_Row = dict[str, object]
_JSON = json.JSONEncoder(ensure_ascii=False, default=str)


def _record_json(result: StepResult, redact: Redactor) -> str:
    """`result_record(result)` as JSON text, its values redacted, a for_each step's items
    encoded one at a time: 100,000 items are never 100,000 records (dicts of dicts) at
    once, only text."""
    if result.items is None:
        return _JSON.encode(redact.value(result_record(result)))
    record = result_record(replace(result, items=()))
    del record["items"]
    items = ",".join(_JSON.encode(redact.value(_item_record(item))) for item in result.items)
    return f'{_JSON.encode(redact.value(record))[:-1]}, "items": [{items}]}}'


def _item_record(item: StepResult) -> dict[str, object]:
    """An item's record without the values `result_from_record` also reads into an
    absent key (null; an empty output, list or mapping): under half the text."""
    record = result_record(item, with_output=True)
    return {key: value for key, value in record.items() if not _as_absent(key, value)}


def _as_absent(key: str, value: object) -> bool:
    if value is None:
        return True
    return key in _EMPTY_WHEN_ABSENT and value in ("", [], {})


_EMPTY_WHEN_ABSENT = frozenset({"output", "outputs", "backends", "errors", "inputs", "details"})


# -- the run ----------------------------------------------------------------------
def _start_run(
    state_dir: Path,
    run: RunInfo,
    plan: Plan,
    meta: RunMeta,
    inner: Observer,
) -> RunRecorder:
    """Record the run as `running` and return the observer that records its steps."""
    run_dir = Path(run.dir)
    writer = LedgerWriter(ledger_path(state_dir))
    recorder = RunRecorder(writer, plan, run.id, run_dir, meta.redact, inner)
    try:
        run_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as error:
        recorder.saving = False
        click.echo(f"llm-mux: warning: step outputs cannot be saved: {error}", err=True)
    row = {
        "id": run.id,
        "workflow": plan.workflow.name,
        "path": plan.workflow.path,
        "project_root": str(meta.root),
        "args": recorder.as_json(dict(meta.args)),
        "team": plan.team.name if plan.team else None,
        "ecosystem": meta.ecosystem,
        "status": "running",
        "started_at": _now(),
        "output_step": plan.output,
        "invocation": recorder.as_json(dict(meta.invocation or {})),
        "resumed_from": meta.resumed_from,
        "pid": os.getpid(),
        "host": this_host(),
        "process_started": process_started(),
    }
    recorder.ledger.write(lambda connection: _start_row(connection, row))
    return recorder


def _start_row(connection: sqlite3.Connection, row: Mapping[str, object]) -> None:
    mark_orphaned(connection, _now())  # start-up: earlier runs whose process is gone
    _insert(connection, "runs", row)


def finish_run(recorder: RunRecorder, outcome: RunOutcome) -> None:
    """Complete the run: steps not recorded yet (pending, or cut short), then its row."""
    _complete(
        recorder,
        outcome.results,
        {
            "status": outcome.status,
            "output_step": outcome.output_step or recorder.plan.output,
            "duration_ms": outcome.duration_ms,
            "error": recorder.redact(outcome.error) if outcome.error else None,
            **_tokens(outcome.usage),
            "cost": outcome.cost,
        },
    )


def abort_run(recorder: RunRecorder, error: BaseException) -> None:
    """The run ended in an exception: `cancelled` for an interrupt, else `failed`."""
    interrupted = isinstance(error, KeyboardInterrupt | asyncio.CancelledError)
    message = "the run was interrupted" if interrupted else f"{type(error).__name__}: {error}"
    _complete(
        recorder,
        {},
        {
            "status": "cancelled" if interrupted else "failed",
            "duration_ms": int((time.perf_counter() - recorder.started) * 1000),
            "error": recorder.redact(message),
        },
    )


def _complete(recorder: RunRecorder, results: Mapping[str, StepResult], row: _Row) -> None:
    for step in recorder.plan.steps:
        if step.name not in recorder.recorded:
            result = results.get(step.name) or StepResult(step.name, step.type)
            if step.name in recorder.step_starts and result.status == "pending":
                result = result.with_status("cancelled")  # started, never finished
            recorder.record_step(step, result)
    row = {"finished_at": _now(), **row}
    assignments = ", ".join(f"{column} = ?" for column in row)

    def write(connection: sqlite3.Connection) -> None:
        connection.execute(
            f"UPDATE runs SET {assignments} WHERE id = ?", (*row.values(), recorder.run_id)
        )

    recorder.ledger.write(write)


class RunMeta(msgspec.Struct, frozen=True):
    """What the ledger records about a run besides its plan.

    `invocation` (JSON-ready) is how to start the run again (`runs resume`);
    `resumed_from` the id of the run this one resumes. `redact` is the run's
    one secret filter, the same the console output goes through.
    """

    args: Mapping[str, object]
    redact: Redactor
    root: Path
    ecosystem: str | None
    invocation: Mapping[str, object] | None = None
    resumed_from: str | None = None


@contextmanager
def recording(
    state_dir: Path, run: RunInfo, plan: Plan, meta: RunMeta, *, inner: Observer
) -> Iterator[RunRecorder]:
    """The run recorded as `running` on entry; `abort_run` if the block raises; the
    ledger closed on exit. The block calls `finish_run` with the outcome when the run
    returns one."""
    recorder = _start_run(state_dir, run, plan, meta, inner)
    try:
        with last_words(lambda: _cancelled_at_once(state_dir, run.id)):
            yield recorder
    except BaseException as error:
        abort_run(recorder, error)
        raise
    finally:
        recorder.close()


def _cancelled_at_once(state_dir: Path, run_id: str) -> None:
    """A second Ctrl-C: the process exits now, so the run's row is written here and now."""
    connection = sqlite3.connect(ledger_path(state_dir), timeout=2)
    try:
        with connection:
            connection.execute(
                "UPDATE runs SET status = 'cancelled', finished_at = ?, error = ? "
                "WHERE id = ? AND status = 'running'",
                (_now(), "interrupted twice: stopped at once", run_id),
            )
    finally:
        connection.close()


# -- helpers ----------------------------------------------------------------------
def _calls(result: StepResult) -> Iterator[Mapping[str, object]]:
    """Backend calls: the query step's own records, or each for_each item's."""
    if result.items is None:
        yield from _own_calls(result)
        return
    for index, item in enumerate(result.items):
        yield from ({**call, "item": index} for call in _own_calls(item))


def _own_calls(result: StepResult) -> list[Mapping[str, object]]:
    recorded = result.details.get("calls")
    if isinstance(recorded, list):
        return [c for c in recorded if isinstance(c, Mapping)]
    if result.type != "query" or "reused_from" in result.details or "cached_from" in result.details:
        return []  # a reused or cached result called no backend in this run
    # Records dropped on the way (for_each items keep only `item` in details):
    # rebuild what the result still says — who answered, who failed.
    single = len(result.backends) + len(result.errors) == 1
    calls: list[Mapping[str, object]] = [
        {"backend": b, "ok": True, "usage": result.usage if single else None}
        for b in result.backends
    ]
    calls += [
        {"backend": b, "ok": False, "error": e}
        for b, e in result.errors.items()
        if not e.startswith("not available")  # passed over, never called
    ]
    return calls


def _origin(result: StepResult, mark: str) -> str | None:
    """The run a reused or cached (`mark`) step, or every item of a for_each step, was
    taken from."""
    if result.items:
        origins = {item.details.get(mark) for item in result.items}
        origin = origins.pop() if len(origins) == 1 else None
    else:
        origin = result.details.get(mark)
    return origin if isinstance(origin, str) else None


def _usage_from(value: object) -> Usage | None:
    if not isinstance(value, Mapping):
        return None
    numbers = [value.get(k) for k in ("prompt_tokens", "completion_tokens", "total_tokens")]
    if not all(isinstance(n, int) for n in numbers):
        return None
    return Usage(*numbers)  # type: ignore[arg-type]


def _tokens(usage: Usage | None) -> _Row:
    return {
        "prompt_tokens": usage.prompt_tokens if usage else None,
        "completion_tokens": usage.completion_tokens if usage else None,
        "total_tokens": usage.total_tokens if usage else None,
    }


def _insert(connection: sqlite3.Connection, table: str, row: Mapping[str, object]) -> None:
    columns = ", ".join(row)
    holes = ", ".join("?" for _ in row)
    connection.execute(f"INSERT INTO {table} ({columns}) VALUES ({holes})", tuple(row.values()))


def _insert_many(connection: sqlite3.Connection, table: str, rows: Iterable[_Row]) -> None:
    """Rows of the same columns in one statement: a for_each's calls, a row per item."""
    remaining = iter(rows)
    first = next(remaining, None)
    if first is not None:
        columns = ", ".join(first)
        holes = ", ".join("?" for _ in first)
        statement = f"INSERT INTO {table} ({columns}) VALUES ({holes})"
        rows_in_order = itertools.chain((first,), remaining)
        connection.executemany(statement, (tuple(row.values()) for row in rows_in_order))


def _write_private(path: Path, text: str) -> None:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with open(descriptor, "w", encoding="utf-8", errors="replace") as file:
        for start in range(0, len(text), _WRITE_CHUNK):
            file.write(text[start : start + _WRITE_CHUNK])


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _timestamp(seconds: float | None) -> str | None:
    """A `time.time()` as `_now()` writes it (the run reads the clock, the writer formats)."""
    if seconds is None:
        return None
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="milliseconds")
