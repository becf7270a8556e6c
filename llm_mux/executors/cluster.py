"""The Dask executor: each `Work` becomes a task on a Dask cluster.

Input: `ExecutorSettings`, the project root, the run id, the backends the
plan may call. Output: an `Executor` whose `run` submits the work to a worker
that can run it, waits for it and returns its `ProcessResult`; `placements`
says where each piece of work ran, for the ledger.

- Refused before anything runs: a scheduler that cannot be reached, a cluster
  without workers, workers whose llm-mux version is not this one, and (with
  `project = "shared"`) workers that do not see the project's path.
- The run hands the cluster no more calls at once than the workers that may run
  them have threads (`slots.Slots`), and a call any worker may take goes to the
  worker holding the fewest of the run's calls per thread, so no call waits on a
  busy worker while another is idle.
- A backend's `max_concurrent` holds across the cluster: a `distributed.Semaphore`
  named after the backend, shared by every run using the same scheduler.
- Cancelling (Ctrl-C, a step's timeout) cancels the task and kills its
  process on the worker (`worker.cancel_keys`).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.metadata
import itertools
import os
from collections.abc import AsyncIterator, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec

from llm_mux.compiler.plan import BackendSpec

from ..errors import MuxError
from ..processes.process import (
    CommandNotFound,
    CommandTooLong,
    OutputTooLarge,
    ProcessResult,
    ProcessTimeout,
)
from .placement import BackendPlacement, current_workers, place_backends, workers_of
from .settings import ExecutorSettings
from .slots import Slots
from .snapshot import take_snapshot
from .work import Label, Placement, Work, work_label
from .worker import Outcome, ProjectRef, cancel_keys, end_run, run_work, tree_bytes, warm

if TYPE_CHECKING:
    from distributed import Client, Future, Semaphore

__all__ = ["DaskExecutor", "connect"]

_CANCEL_WAIT = 5.0  # seconds to reach the workers when cancelling; they kill on their own


async def connect(
    settings: ExecutorSettings,
    root: Path,
    run: str,
    backends: Iterable[BackendSpec],
    env: Mapping[str, str],
) -> DaskExecutor:
    """A ready executor, or a `MuxError` saying why the cluster cannot be used."""
    client = await _client(settings)
    try:
        await _check_workers(client, settings, root)
        placement = await place_backends(client, backends, env)
    except BaseException:
        await client.close()
        raise
    executor = DaskExecutor(client, settings, root, run, placement)
    await executor.warm_up()
    return executor


class DaskExecutor:
    local = False

    def __init__(
        self,
        client: Client,
        settings: ExecutorSettings,
        root: Path,
        run: str,
        placement: BackendPlacement,
    ) -> None:
        self.client = client
        self.settings = settings
        self.root = root
        self.run_id = run
        self.placement = placement
        self.placements: list[Placement] = []
        self._numbers = itertools.count(1)
        self._tree: tuple[ProjectRef, Future | None] | None = None
        self._tree_lock = asyncio.Lock()
        self._semaphores: dict[str, Semaphore] = {}
        self._slots = Slots(workers_of(client), lambda: current_workers(client))

    async def warm_up(self) -> None:
        """Ship the project to every worker now, not with the run's first commands: the
        snapshot is unpacked on each worker before any step starts its clock."""
        project, tree = await self._project()
        futures = [
            self.client.submit(
                warm, project, tree, key=f"llm-mux-warm-{n}-{self.run_id}", workers=[address]
            )
            for n, address in enumerate(sorted(self.client.scheduler_info(n_workers=-1)["workers"]))
        ]
        await self.client.gather(futures)

    def unavailable(self, backend: str) -> str | None:
        return self.placement.why_not.get(backend)

    def tree_changed(self) -> None:
        """The project's files changed here (an apply step wrote them): ship them anew."""
        self._tree = None

    async def run(self, work: Work) -> ProcessResult:
        label = work_label() or Label("work")
        group = self.placement.group(work.backend)
        async with self._limit(work), self._slots.hold(group) as worker:
            outcome = await self._submit(work, label, worker)
        self.placements.append(_placement(label, work, outcome))
        return _result(outcome, work)

    async def close(self) -> None:
        """Stop what is still running on the workers, drop the run's copies, disconnect."""
        with contextlib.suppress(Exception):
            async with asyncio.timeout(_CANCEL_WAIT):
                await self.client.run(cancel_keys, self.run_id, None, on_error="ignore")
                await self.client.run(end_run, self.run_id, on_error="ignore")
        await self.client.close()

    # -- submitting ------------------------------------------------------------------
    async def _submit(self, work: Work, label: Label, worker: str | None) -> Outcome:
        project, tree = await self._project()
        key = f"llm-mux-{label.step}-{next(self._numbers)}-{self.run_id}"
        future = self.client.submit(
            run_work,
            key,
            msgspec.msgpack.encode(work),
            project,
            tree,
            label.rerun,
            key=key,
            pure=False,
            workers=[worker] if worker else self.placement.where(work.backend),
            allow_other_workers=worker is not None,  # a preference: it may have left
            resources=self.placement.resources.get(work.backend or ""),
        )
        try:
            raw = await future
        except asyncio.CancelledError:
            await self._cancel(future)
            raise
        except Exception as error:  # the task was lost with its workers (KilledWorker)
            return Outcome("?", failure="lost", detail=f"{type(error).__name__}: {error}")
        finally:
            future.release()
        return msgspec.msgpack.decode(raw, type=Outcome)

    async def _cancel(self, future: Future) -> None:
        with contextlib.suppress(Exception):
            async with asyncio.timeout(_CANCEL_WAIT):
                await self.client.cancel([future], force=True)
                await self.client.run(cancel_keys, self.run_id, [future.key], on_error="ignore")

    @contextlib.asynccontextmanager
    async def _limit(self, work: Work) -> AsyncIterator[None]:
        if work.backend is None or work.max_concurrent is None:
            yield
            return
        semaphore = self._semaphore(work.backend, work.max_concurrent)
        await semaphore.acquire()
        try:
            yield
        finally:
            await semaphore.release()

    def _semaphore(self, backend: str, limit: int) -> Semaphore:
        from distributed import Semaphore

        if backend not in self._semaphores:
            self._semaphores[backend] = Semaphore(
                max_leases=limit,
                name=f"llm-mux-backend-{backend}",
                scheduler_rpc=self.client.scheduler,
                loop=self.client.loop,
            )
        return self._semaphores[backend]

    async def _project(self) -> tuple[ProjectRef, Future | None]:
        if self.settings.project == "shared":
            return ProjectRef(self.run_id, shared=str(self.root)), None
        async with self._tree_lock:
            if self._tree is None:
                snapshot = await asyncio.to_thread(take_snapshot, self.root)
                # A task, not scattered data: if every worker holding it dies (or Dask's
                # memory manager dropped the other copies), it is computed again.
                tree = self.client.submit(
                    tree_bytes, snapshot.data, key=f"llm-mux-tree-{snapshot.digest}"
                )
                ref = ProjectRef(self.run_id, digest=snapshot.digest, subdir=snapshot.subdir)
                self._tree = (ref, tree)
            return self._tree


def _result(outcome: Outcome, work: Work) -> ProcessResult:
    """What `run_process` would have returned or raised, had the work run here."""
    match outcome.failure:
        case None:
            return ProcessResult(
                outcome.exit_code, outcome.stdout, outcome.stderr, outcome.duration_ms
            )
        case "not_found":
            raise CommandNotFound(f"{outcome.detail} (on worker {outcome.worker})")
        case "timeout":
            raise ProcessTimeout(float(outcome.detail), outcome.stderr)
        case "too_large":
            limit, kept = (int(number) for number in outcome.detail.split())
            raise OutputTooLarge(limit, kept, outcome.stderr)
        case "too_long":
            raise CommandTooLong(work.argv)
        case "start":  # as a shell reports a command it cannot execute
            stderr = f"llm-mux: cannot start {work.argv[0]} on worker {outcome.worker}: "
            return ProcessResult(126, "", stderr + outcome.detail, outcome.duration_ms)
        case "cancelled":
            raise asyncio.CancelledError
        case _:
            stderr = f'llm-mux: the work was lost: {outcome.detail} (on_worker_loss = "fail")'
            if outcome.worker == "?":
                stderr = f"llm-mux: the work was lost with its workers: {outcome.detail}"
            return ProcessResult(255, "", stderr, outcome.duration_ms)


def _placement(label: Label, work: Work, outcome: Outcome) -> Placement:
    code = outcome.exit_code if outcome.failure is None else None
    return Placement(
        label.step, label.item, work.backend, outcome.worker, outcome.duration_ms, code
    )


# -- connecting ----------------------------------------------------------------------
async def _client(settings: ExecutorSettings) -> Client:
    from distributed import Client

    try:
        return await Client(
            settings.address,
            asynchronous=True,
            timeout=settings.connect_timeout,
            security=_security(settings),
            set_as_default=False,
        )
    except (OSError, TimeoutError) as error:
        raise MuxError(
            f"cannot reach the Dask scheduler at {settings.address}: {error}",
            hint="start one with `dask scheduler` and workers with `dask worker ADDRESS`, "
            "or run without --executor",
        ) from None


def _security(settings: ExecutorSettings) -> Any:
    if not settings.tls:
        return None
    from distributed.security import Security

    return Security(
        tls_ca_file=_str(settings.tls_ca_file),
        tls_client_cert=_str(settings.tls_cert),
        tls_client_key=_str(settings.tls_key),
        require_encryption=True,
    )


def _str(path: Path | None) -> str | None:
    return str(path) if path is not None else None


async def _check_workers(client: Client, settings: ExecutorSettings, root: Path) -> None:
    try:
        await client.wait_for_workers(1, timeout=settings.connect_timeout)
    except TimeoutError:
        raise MuxError(
            f"the Dask scheduler at {settings.address} has no workers",
            hint="start workers with `dask worker ADDRESS`",
        ) from None
    await _check_versions(client)
    if settings.project == "shared":
        await _check_shared(client, root)


def coordinator_version() -> str:
    return importlib.metadata.version("llm-mux")


async def _check_versions(client: Client) -> None:
    ours = coordinator_version()
    answers = await client.run(importlib.metadata.version, "llm-mux", on_error="return")
    names = {w.address: w.name for w in workers_of(client)}
    wrong = {
        names.get(address, address): version if isinstance(version, str) else "not installed"
        for address, version in answers.items()
        if version != ours
    }
    if wrong:
        listed = ", ".join(f"{name}: {version}" for name, version in sorted(wrong.items()))
        raise MuxError(
            f"workers run another llm-mux than this one ({ours}): {listed}",
            hint="install the same llm-mux on every worker and restart them",
        )


async def _check_shared(client: Client, root: Path) -> None:
    answers = await client.run(os.path.isdir, str(root), on_error="return")
    names = {w.address: w.name for w in workers_of(client)}
    missing = sorted(names.get(a, a) for a, seen in answers.items() if seen is not True)
    if missing:
        raise MuxError(
            f'project = "shared", but {", ".join(missing)} cannot see {root}',
            hint='mount the project at the same path on every worker, or use project = "snapshot"',
        )
