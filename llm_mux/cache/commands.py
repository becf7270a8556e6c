"""`llm-mux cache list` and `llm-mux cache clear [--older-than 30d]`.

Input: the global options (the state directory), an age. Output: a table of
entries, most recently used first (`--output json`: the entries as a JSON
list, outputs left out), or how many entries `clear` removed. An age is a
number and a unit: `90s`, `15m`, `12h`, `30d`, `2w`; `clear --older-than`
removes the entries not *used* for that long. `clear` also removes the compiled plans
(`plans.py`) — all of them, or those not written for that long.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta

import click

from ..commands import emit, places_for
from ..errors import UsageError
from ..options import GlobalOptions
from ..tables import cell, format_cost, local_time, render_table
from .plans import clear_plans
from .store import CacheStore, Entry, cache_path

__all__ = ["cache_clear_command", "cache_list_command", "parse_age"]

_AGE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)\s*")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def cache_list_command(options: GlobalOptions) -> int:
    store = CacheStore.open(cache_path(places_for(options).state_dir), create=False)
    entries = [] if store is None else _entries(store)
    if options.output == "json":
        emit(json.dumps([e.to_json() for e in entries], indent=2) + "\n", options)
    else:
        emit(render_entries(entries), options)
    return 0


def cache_clear_command(options: GlobalOptions, *, older_than: str | None) -> int:
    age = parse_age(older_than) if older_than is not None else None
    places = places_for(options)
    store = CacheStore.open(cache_path(places.state_dir), create=False)
    removed = 0
    if store is not None:
        try:
            removed = store.clear(age)
        finally:
            store.close()
    plans = clear_plans(places.state_dir / "plans", age)
    which = f" not used for {older_than.strip()}" if older_than else ""
    compiled = f" and {plans} compiled plan{'s' if plans != 1 else ''}" if plans else ""
    click.echo(f"removed {removed} cached result{'s' if removed != 1 else ''}{compiled}{which}")
    return 0


def parse_age(text: str) -> timedelta:
    match = _AGE.fullmatch(text)
    if match is None:
        raise UsageError(
            f"--older-than: '{text}' is not an age", hint="a number and a unit: 12h, 30d, 2w"
        )
    return timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2)])


def _entries(store: CacheStore) -> list[Entry]:
    try:
        return store.entries()
    finally:
        store.close()


def render_entries(entries: list[Entry]) -> str:
    if not entries:
        return "the step cache is empty\n"
    headers = ("workflow", "step", "made by run", "made", "last used", "hits", "cost")
    rows = [
        (
            e.workflow,
            e.step if e.item is None else f"{e.step}[{e.item}]",
            e.run_id,
            local_time(e.created_at),
            local_time(e.used_at),
            cell(e.hits),
            format_cost(e.cost) if e.cost is not None else "-",
        )
        for e in entries
    ]
    return render_table(headers, rows)
