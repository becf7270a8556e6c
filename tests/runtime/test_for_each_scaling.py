"""for_each does the same work per item however many items there are: counted, not timed.

The whole `llm-mux run` (compile, interpreter, progress count, ledger thread, JSON
document) runs in-process under a profile hook that counts every Python and C call,
for a growing number of items. Input steps answered with `--input` do no I/O, so the
counts are exact and the same on every machine: the calls each item adds must stay
the same as the list grows (a per-item `sum` over the results, say, makes them grow
with it). Timing goals are for `scripts/bench`, not for tests.
"""

from __future__ import annotations

import asyncio
import json
import sys
import threading
from pathlib import Path
from types import FrameType

from llm_mux.running.results import StepResult

WORKFLOW = """
name = "counted"

[[steps]]
name = "list"
type = "input"
prompt = "Which items?"

[[steps]]
name = "each"
type = "input"
prompt = "item {{ item }} ({{ loop.index }} of {{ loop.length }})"
for_each = "steps.list.output"
concurrency = 4
"""


class Counter:
    """A profile hook: every call and return, and the tasks task groups create."""

    def __init__(self) -> None:
        self.events = 0
        self.tasks = 0

    def __call__(self, frame: FrameType, event: str, arg: object) -> None:
        self.events += 1
        if event == "call" and frame.f_code is asyncio.TaskGroup.create_task.__code__:
            self.tasks += 1


def counted_run(cli, tmp_path: Path, items: int) -> Counter:  # type: ignore[no-untyped-def]
    answers = json.dumps([f"item-{index}" for index in range(items)])
    counter = Counter()
    threading.setprofile(counter)  # the ledger's writer thread too
    sys.setprofile(counter)
    try:
        args = ("--input", f"list={answers}", "--input", "each=yes")
        result = cli("--output", "json", "--trust", "run", "wf.toml", *args, cwd=tmp_path)
    finally:
        sys.setprofile(None)
        threading.setprofile(None)  # type: ignore[arg-type]
    document = json.loads(result.out)
    assert result.code == 0, result.err
    assert document["steps"]["each"]["outputs"] == ["yes"] * items
    return counter


def test_each_item_costs_the_same_however_many_there_are(cli, tmp_path: Path) -> None:
    (tmp_path / "wf.toml").write_text(WORKFLOW)
    counted_run(cli, tmp_path, 1)  # imports and first-use caches out of the way
    small, medium, large = (counted_run(cli, tmp_path, n) for n in (100, 300, 900))
    first = (medium.events - small.events) / 200
    then = (large.events - medium.events) / 600
    assert then <= 1.05 * first, f"{first:.0f} calls per item up to 300 items, then {then:.0f}"


def test_items_get_a_task_when_a_slot_frees_up_not_all_at_once(cli, tmp_path: Path) -> None:
    (tmp_path / "wf.toml").write_text(WORKFLOW)
    counter = counted_run(cli, tmp_path, 500)
    # One task per step, one per concurrency slot: not one per item.
    assert counter.tasks <= 2 + 4


def test_the_end_of_a_run_formats_no_result(cli, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """`asyncio.run` formats the run's task, its result included, when it reads back its
    SIGINT handler at the end: the outcome's repr leaves the results out (formatting
    every item took 68 ms at 5,000 items, twice)."""
    formatted: list[str] = []

    def counted(result: StepResult) -> str:
        formatted.append(result.name)
        return "StepResult(...)"

    monkeypatch.setattr(StepResult, "__repr__", counted)
    (tmp_path / "wf.toml").write_text(WORKFLOW)
    counted_run(cli, tmp_path, 50)
    assert formatted == []
