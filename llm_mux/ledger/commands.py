"""`llm-mux runs list` and `llm-mux runs show RUN_ID`: what happened, from the ledger.

Input: the global options, a limit or a run id. Output: a table for people, or
with `--output json` the rows themselves (`list`: a JSON list of runs; `show`:
one run with its `steps` and their `calls`, each with tokens and cost; a
resumed run names the run it resumed, a reused step the run it came from).
Exit 0, or 2 for an unknown run. `runs resume` lives in `resume.py`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence

from ..commands import emit, places_for
from ..options import GlobalOptions
from ..tables import cell, format_cost, local_time, render_table
from .reads import Row, list_runs, load_run
from .schema import ledger_path, run_directory

__all__ = ["render_run", "render_runs", "runs_list_command", "runs_show_command"]


def runs_list_command(options: GlobalOptions, *, limit: int) -> int:
    runs = list_runs(ledger_path(places_for(options).state_dir), limit=limit)
    emit(_json(runs) if options.output == "json" else render_runs(runs), options)
    return 0


def runs_show_command(options: GlobalOptions, run_id: str) -> int:
    state_dir = places_for(options).state_dir
    run = load_run(ledger_path(state_dir), run_id)
    run["directory"] = str(run_directory(state_dir, str(run["run_id"])))
    for step in _steps(run):
        step.pop("result", None)  # what `runs resume` reads back: the rest says it all
    emit(_json(run) if options.output == "json" else render_run(run), options)
    return 0


# -- text --------------------------------------------------------------------------
def render_runs(runs: Sequence[Row]) -> str:
    if not runs:
        return "no runs recorded yet\n"
    headers = ("run id", "workflow", "status", "started", "duration", "tokens", "cost")
    rows = [
        (
            str(run["run_id"]),
            str(run["workflow"]),
            str(run["status"]),
            local_time(run["started_at"]),
            _duration(run["duration_ms"]),
            _tokens(run["usage"]),
            _cost(run["cost"]),
        )
        for run in runs
    ]
    return render_table(headers, rows)


def render_run(run: Row) -> str:
    lines = [f"run {run['run_id']}: {run['workflow']} {run['status']}", ""]
    fields = [
        ("workflow", f"{run['workflow']} ({run['path']})"),
        ("started", local_time(run["started_at"])),
        ("duration", _duration(run["duration_ms"])),
        ("args", _args(run["args"])),
        ("team", cell(run["team"])),
        ("ecosystem", cell(run["ecosystem"])),
        ("tokens", _tokens(run["usage"], detail=True)),
        ("cost", _cost(run["cost"])),
        ("outputs", str(run["directory"])),
    ]
    if run.get("resumed_from"):
        fields.append(("resumes", f"run {run['resumed_from']}"))
    lines += [f"  {name + ':':<10} {value}" for name, value in fields]
    if run["error"]:
        lines.append(f"  {'error:':<10} {run['error']}")
    steps = _steps(run)
    lines += ["", render_table(_STEP_HEADERS, [_step_cells(s) for s in steps]).rstrip()]
    calls = [_call_cells(step, call) for step in steps for call in _calls(step)]
    if calls:
        lines += ["", "backend calls:", render_table(_CALL_HEADERS, calls).rstrip()]
    directory = str(run["directory"])
    candidates = [_candidate_cells(step, c, directory) for step in steps for c in _candidates(step)]
    if candidates:
        lines += ["", "candidates:", render_table(_CANDIDATE_HEADERS, candidates).rstrip()]
    outputs = [line for step in steps for line in _step_output(step)]
    if outputs:
        lines += ["", "outputs:", *outputs]
    rejected = [line for step in steps for line in _candidate_errors(step)]
    if rejected:
        lines += ["", "candidates that lost:", *rejected]
    errors = [line for step in steps for line in _step_errors(step)]
    if errors:
        lines += ["", "errors:", *errors]
    return "\n".join(lines) + "\n"


def _steps(run: Row) -> list[Row]:
    steps = run["steps"]
    assert isinstance(steps, list)
    return steps


def _calls(step: Row) -> list[Row]:
    calls = step["calls"]
    assert isinstance(calls, list)
    return calls


_CALL_HEADERS = ("step", "backend", "model", "status", "attempts", "tokens", "cost")


def _call_cells(step: Row, call: Row) -> tuple[str, ...]:
    item = f"[{call['item']}]" if call["item"] is not None else ""
    return (
        f"{step['name']}{item}",
        str(call["backend"]),
        cell(call["model"]),
        "ok" if call["ok"] else "failed",
        cell(call["attempts"]),
        _tokens(call["usage"], detail=True),
        _cost(call.get("cost")),
    )


_CANDIDATE_HEADERS = ("step", "#", "backend", "status", "metric", "attempts", "diff")


def _candidates(step: Row) -> list[Row]:
    found = step.get("candidates")
    return found if isinstance(found, list) else []


def _candidate_cells(step: Row, candidate: Row, directory: str) -> tuple[str, ...]:
    """One candidate; its diff file relative to the run's directory (`outputs:`)."""
    metric = candidate["metric"]
    diff = candidate["diff_file"]
    if isinstance(diff, str) and diff.startswith(directory + os.sep):
        diff = diff[len(directory) + 1 :]
    return (
        str(step["name"]),
        str(candidate["candidate"]),
        str(candidate["backend"]),
        str(candidate["status"]),
        f"{metric:g}" if isinstance(metric, int | float) else "-",
        cell(candidate["attempts"]),
        cell(diff),
    )


_STEP_HEADERS = ("step", "type", "status", "duration", "attempts", "backends", "tokens", "cost")


def _step_cells(step: Row) -> tuple[str, ...]:
    reused = " (reused)" if step.get("reused_from") else ""
    reused = " (cached)" if step.get("cached_from") else reused
    return (
        str(step["name"]),
        str(step["type"]),
        f"{step['status']}{reused}",
        _duration(step["duration_ms"]) if step["status"] != "pending" else "-",
        cell(step["attempts"] or None),
        _backends(step),
        _tokens(step["usage"]),
        _cost(step["cost"]),
    )


def _backends(step: Row) -> str:
    """Each backend called once, a failed one marked: `claude, codex (failed)`."""
    calls = step["calls"]
    assert isinstance(calls, list)
    outcome: dict[str, bool] = {}
    for call in calls:
        name = str(call["backend"])
        outcome[name] = outcome.get(name, False) or bool(call["ok"])
    shown = [name if ok else f"{name} (failed)" for name, ok in outcome.items()]
    return ", ".join(shown) or "-"


_OUTPUT_LINES = 3  # lines of each step's output `runs show` prints
_OUTPUT_WIDTH = 120  # characters of each of those lines


def _step_output(step: Row) -> list[str]:
    """The start of what the step produced, and where the whole of it is."""
    output = str(step.get("output") or "")
    path = step.get("output_file")
    if step["status"] in ("skipped", "pending") or not (output or path):
        return []
    where = f" ({path})" if path else ""
    lines = output.splitlines()
    shown = [_cut(line) for line in lines[:_OUTPUT_LINES]] or ["(empty)"]
    more = len(lines) - _OUTPUT_LINES
    if more > 0:
        shown.append(f"… {more} more line{'s' if more > 1 else ''}")
    return [f"  {step['name']}{where}:", *(f"    {line}" for line in shown)]


def _cut(line: str) -> str:
    return line if len(line) <= _OUTPUT_WIDTH else line[: _OUTPUT_WIDTH - 1] + "…"


def _step_errors(step: Row) -> list[str]:
    if not step["error"]:
        return []
    lines = [f"  {step['name']}: {_indent(str(step['error']))}"]
    calls = step["calls"]
    assert isinstance(calls, list)
    for call in calls:
        if call["error"]:
            item = f"[{call['item']}] " if call["item"] is not None else ""
            lines.append(f"    {item}{call['backend']}: {_indent(str(call['error']), 6)}")
    return lines


def _candidate_errors(step: Row) -> list[str]:
    """Why each best-of-N candidate lost, when the step itself did not fail (else its
    error lists them already)."""
    if step["error"]:
        return []
    return [
        f"  {step['name']} candidate {c['candidate']} ({c['backend']}): "
        + _indent(str(c["error"]), 6)
        for c in _candidates(step)
        if c["error"]
    ]


def _indent(text: str, width: int = 4) -> str:
    return text.replace("\n", "\n" + " " * width)


def _duration(ms: object) -> str:
    if not isinstance(ms, int):
        return "-"
    seconds = ms / 1000
    return f"{seconds:.1f}s" if seconds < 60 else f"{int(seconds // 60)}m{seconds % 60:02.0f}s"


def _tokens(usage: object, *, detail: bool = False) -> str:
    if not isinstance(usage, Mapping):
        return "-"
    total = str(usage.get("total_tokens"))
    if not detail:
        return total
    prompt, completion = usage.get("prompt_tokens"), usage.get("completion_tokens")
    return f"{total} (prompt {prompt}, completion {completion})"


def _cost(cost: object) -> str:
    return format_cost(cost) if isinstance(cost, int | float) else "-"


def _args(args: object) -> str:
    if not isinstance(args, Mapping) or not args:
        return "-"
    return " ".join(f"{key}={value}" for key, value in args.items())


def _json(value: object) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False) + "\n"
