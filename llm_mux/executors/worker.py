"""What runs on a Dask worker: one `Work` per task, and the housekeeping around it.

Input: an encoded `Work`, where the project is (`ProjectRef`) and, for a
snapshot, the tar itself (a Dask dependency, so it reaches each worker once).
Output: an encoded `Outcome` — never an exception, so nothing about the work
(its argv, its environment) lands in a worker's or the scheduler's logs.

The process runs through `llm_mux.processes.process.run_process`, with every guarantee
it has locally: own process group, killed whole on timeout and cancel, stdin
closed. `cancel_keys` (sent with `Client.run` when the coordinator is
interrupted) cancels the run's tasks on this worker, which kills their
processes. Snapshots unpack once per digest under the worker cache
(`$LLM_MUX_WORKER_CACHE`, else `~/.cache/llm-mux/worker`); each run works in a
copy of its own, removed by `end_run`.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import shutil
import tarfile
import time
from pathlib import Path

import msgspec

from ..processes.process import (
    CommandNotFound,
    CommandTooLong,
    OutputTooLarge,
    ProcessTimeout,
    run_process,
)
from .work import Work

__all__ = [
    "Outcome",
    "ProjectRef",
    "cancel_keys",
    "end_run",
    "run_work",
    "tree_bytes",
    "warm",
    "worker_cache",
]

_RUNNING: dict[str, dict[str, asyncio.Task[object]]] = {}  # run id → task key → task
_UNPACKING: dict[str, asyncio.Lock] = {}


class ProjectRef(msgspec.Struct, frozen=True):
    """Where a run's project is on a worker: a shared path, or a snapshot by digest."""

    run: str
    shared: str | None = None  # the project's path, the same on every worker
    digest: str | None = None  # the snapshot's digest
    subdir: str = ""  # the project root inside the snapshot


class Outcome(msgspec.Struct, frozen=True):
    worker: str
    exit_code: int = 0
    stdout: str = ""
    stderr: str = ""
    duration_ms: int = 0
    failure: str | None = None  # not_found, too_long, too_large, timeout, start, cancelled, lost
    detail: str = ""


async def run_work(
    key: str, payload: bytes, project: ProjectRef, tree: bytes | None, rerun: bool
) -> bytes:
    """Run one `Work`; the encoded `Outcome`.

    The work runs in a task of its own, which `cancel_keys` cancels: Dask's own
    task around it ends normally, saying the work was cancelled."""
    here = _worker_name()
    if not rerun and await _ran_before(key):
        return _encode(Outcome(here, failure="lost", detail="its worker died"))
    work = asyncio.ensure_future(_prepare_and_run(_decode(payload), project, tree, here))
    running = _RUNNING.setdefault(project.run, {})
    running[key] = work
    try:
        await asyncio.wait({work})
    finally:
        running.pop(key, None)
        if not work.done():
            work.cancel()
            await asyncio.gather(work, return_exceptions=True)
    if work.cancelled():
        return _encode(Outcome(here, failure="cancelled", detail="cancelled"))
    return _encode(work.result())


async def _prepare_and_run(
    work: Work, project: ProjectRef, tree: bytes | None, here: str
) -> Outcome:
    root = await _project_root(project, tree)
    return await _run(work, root, here)


def _decode(payload: bytes) -> Work:
    return msgspec.msgpack.decode(payload, type=Work)


def _encode(outcome: Outcome) -> bytes:
    return msgspec.msgpack.encode(outcome)


async def _run(work: Work, root: Path, here: str) -> Outcome:
    env = {**os.environ, **work.env}
    started = time.perf_counter()
    try:
        done = await run_process(
            work.argv,
            cwd=root,
            env=env,
            stdin=work.stdin,
            timeout=work.timeout,
            wrapper=work.wrapper,
            max_output=work.max_output,
        )
    except CommandNotFound as missing:
        return Outcome(here, failure="not_found", detail=missing.command)
    except ProcessTimeout as timeout:
        return Outcome(here, failure="timeout", detail=str(timeout.seconds), stderr=timeout.stderr)
    except OutputTooLarge as too_large:
        detail = f"{too_large.limit} {too_large.kept}"
        return Outcome(here, failure="too_large", detail=detail, stderr=too_large.stderr)
    except CommandTooLong:
        return Outcome(here, failure="too_long")
    except OSError as error:
        return Outcome(here, failure="start", detail=error.strerror or str(error))
    ms = int((time.perf_counter() - started) * 1000)
    return Outcome(here, done.exit_code, done.stdout, done.stderr, ms)


async def _ran_before(key: str) -> bool:
    """Whether this task started once already, on a worker that then died."""
    from distributed import Event

    started = Event(f"{key}-started")
    if await started.is_set():
        return True
    await started.set()
    return False


def _worker_name() -> str:
    from distributed import get_worker

    worker = get_worker()
    return str(worker.name if worker.name is not None else worker.address)


async def cancel_keys(run: str, keys: list[str] | None) -> int:
    """Cancel the run's tasks on this worker — those named, or all when `keys` is None —
    which kills their processes; how many were running here."""
    running = _RUNNING.get(run, {})
    tasks = [running.pop(k) for k in list(running) if keys is None or k in keys]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return len(tasks)


async def warm(project: ProjectRef, tree: bytes | None) -> str:
    """Make this worker ready for the run: the snapshot unpacked and copied, the
    process layer imported; its name."""
    await _project_root(project, tree)
    return _worker_name()


def tree_bytes(data: bytes) -> bytes:
    """A snapshot as a task's result, so Dask can compute it again where it was lost."""
    return data


def end_run(run: str) -> None:
    """Remove the run's working copy of its snapshot from this worker."""
    shutil.rmtree(worker_cache() / "runs" / run, ignore_errors=True)


def worker_cache() -> Path:
    configured = os.environ.get("LLM_MUX_WORKER_CACHE")
    return Path(configured) if configured else Path.home() / ".cache" / "llm-mux" / "worker"


async def _project_root(project: ProjectRef, tree: bytes | None) -> Path:
    if project.shared is not None:
        return Path(project.shared)
    assert project.digest is not None and tree is not None
    copy = worker_cache() / "runs" / project.run / project.digest  # a new tree, a new copy
    lock = _UNPACKING.setdefault(project.digest, asyncio.Lock())
    async with lock:
        if not copy.exists():
            await asyncio.to_thread(_prepare_copy, project.digest, tree, copy)
    return copy / project.subdir if project.subdir else copy


def _prepare_copy(digest: str, tree: bytes, copy: Path) -> None:
    pristine = worker_cache() / "trees" / digest
    if not pristine.exists():
        _place(copy=None, tree=tree, into=pristine)
    if not copy.exists():
        _place(copy=pristine, tree=tree, into=copy)


def _place(*, copy: Path | None, tree: bytes, into: Path) -> None:
    """Build `into` (a copy of `copy`, else the unpacked tar) under a temporary name and
    rename it into place: a half-written tree is never taken for a whole one, and of
    two workers on one host building the same tree, the first one's is kept."""
    into.parent.mkdir(parents=True, exist_ok=True)
    partial = into.with_name(f"{into.name}.{os.getpid()}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    if copy is not None:
        shutil.copytree(copy, partial, symlinks=True)
    else:
        with tarfile.open(fileobj=io.BytesIO(tree)) as tar:
            tar.extractall(partial, filter="tar")
    with contextlib.suppress(OSError):  # another worker on this host was faster
        partial.rename(into)
    shutil.rmtree(partial, ignore_errors=True)
