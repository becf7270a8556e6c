"""The step cache as a run uses it: which steps it covers, lookups and new entries.

Input: the plan, the project root, the environment, the run's id and redactor,
and the command line's choice (`--cache`: every query and shell step;
`--no-cache`: none; `--refresh STEP`: run STEP and replace its entries).
Output: `StepCache.recall` — a result taken over from the entry with the same
key, marked `cached_from` (the run that paid for it), costing nothing — and
`StepCache.keep`, which writes each success as it happens. The cache never
stops a run: a file that cannot be used costs one warning, and the run goes on
uncached.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Collection, Mapping
from typing import Literal

import click

from llm_mux.compiler.plan import Plan, StepPlan

from ..database import DatabaseError
from ..paths import Places
from ..running.results import StepResult, result_from_record, result_record, taken_over
from .key import cache_key, files_digest
from .store import CacheStore, Entry, cache_path, now

__all__ = ["CacheMode", "StepCache"]

CacheMode = Literal["default", "on", "off"]  # the workflow decides / --cache / --no-cache
CACHEABLE = ("query", "shell")


class StepCache:
    def __init__(
        self,
        places: Places,
        plan: Plan,
        env: Mapping[str, str],
        *,
        run_id: str,
        redact: Callable[[str], str],
        mode: CacheMode = "default",
        refresh: Collection[str] = (),
    ) -> None:
        self.path = cache_path(places.state_dir)
        self.plan = plan
        self.root = places.project_root
        self.env = env
        self.run_id = run_id
        self.redact = redact
        self.mode = mode
        self.refresh = frozenset(refresh)
        self._store: CacheStore | None = None
        self._broken = False
        self._files: dict[str, str] = {}  # step → digest of its `inputs` files, once a run

    def applies(self, step: StepPlan) -> bool:
        """Whether `step` is looked up and kept in the cache in this run."""
        if self.mode == "off" or self._broken or step.type not in CACHEABLE:
            return False
        return self.mode == "on" or step.cache

    def key(self, step: StepPlan, inputs: Mapping[str, str]) -> str:
        files = self._files.get(step.name)
        if files is None:
            files = self._files[step.name] = files_digest(self.root, step.inputs)
        return cache_key(step, inputs, self.plan.backends, files, self.env)

    def recall(self, step: StepPlan, key: str) -> StepResult | None:
        """The cached result for `key` (None under `--refresh STEP` or on a miss)."""
        if step.name in self.refresh:
            return None
        entry = self._use(lambda store: store.get(key))
        if entry is None:
            return None
        result = result_from_record(step.name, entry.result, entry.output)
        return taken_over(result, entry.run_id, "cached_from")

    def keep(self, step: StepPlan, item: int | None, key: str, result: StepResult) -> None:
        """Write a success (of a step, or of one for_each item) as an entry, now."""
        if not result.succeeded:
            return
        record = json.loads(self.redact(json.dumps(result_record(result), default=str)))
        made = now()
        entry = Entry(
            key=key,
            workflow=self.plan.workflow.name,
            step=step.name,
            item=item,
            run_id=self.run_id,
            created_at=made,
            used_at=made,
            hits=0,
            cost=result.cost,
            output=self.redact(result.output),
            result=record,
        )
        self._use(lambda store: store.put(entry))

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None

    def _use(self, action: Callable[[CacheStore], Entry | None]) -> Entry | None:
        try:
            if self._store is None:
                self._store = CacheStore.open(self.path)
            assert self._store is not None
            return action(self._store)
        except (DatabaseError, sqlite3.Error, OSError) as error:
            self._broken = True  # one warning, then the run goes on without the cache
            click.echo(f"llm-mux: warning: the step cache cannot be used: {error}", err=True)
            return None
