"""`llm-mux doctor --executor ADDRESS`: the cluster's workers, and where each backend runs.

Input: the executor settings, the project root, the configured backends and the
environment. Output: `Check`s — the cluster reachable, each worker with its
threads, resources and llm-mux version, and per backend where its calls can
run: a CLI backend on the workers that find its command (and advertise its
resource, where any worker does) with the variables its `env` table sends set
here; an HTTP backend here, on the coordinator, with its key set.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from llm_mux.compiler.plan import BackendSpec

from ..doctor import Check
from ..errors import MuxError
from ..processes.signals import run_until_interrupted
from .placement import BackendPlacement, WorkerInfo, workers_of
from .settings import ExecutorSettings

__all__ = ["cluster_checks"]


def cluster_checks(
    settings: ExecutorSettings,
    root: Path,
    specs: Mapping[str, BackendSpec],
    env: Mapping[str, str],
) -> list[Check]:
    try:
        return run_until_interrupted(_checks(settings, root, specs, env))
    except MuxError as error:
        hint = f" ({error.hint})" if error.hint else ""
        return [Check("executor", settings.address, "broken", f"{error}{hint}")]


async def _checks(
    settings: ExecutorSettings,
    root: Path,
    specs: Mapping[str, BackendSpec],
    env: Mapping[str, str],
) -> list[Check]:
    from .cluster import connect, coordinator_version

    executor = await connect(settings, root, "doctor", specs.values(), env)
    try:
        workers = workers_of(executor.client)
        checks = [_cluster(settings, workers, coordinator_version())]
        checks += [_worker(w) for w in workers]
        checks += [_backend(spec, executor.placement, workers, env) for spec in specs.values()]
        return checks
    finally:
        await executor.client.close()


def _cluster(settings: ExecutorSettings, workers: Sequence[WorkerInfo], version: str) -> Check:
    threads = sum(w.nthreads for w in workers)
    detail = f"{len(workers)} workers, {threads} threads, all on llm-mux {version}"
    return Check("executor", settings.address, "ok", detail)


def _worker(worker: WorkerInfo) -> Check:
    resources = ", ".join(f"{k}={v:g}" for k, v in sorted(worker.resources.items()))
    detail = f"{worker.address}, {worker.nthreads} threads, resources: {resources or 'none'}"
    return Check("worker", worker.name, "info", detail)


def _backend(
    spec: BackendSpec,
    placement: BackendPlacement,
    workers: Sequence[WorkerInfo],
    env: Mapping[str, str],
) -> Check:
    if spec.kind != "cli":
        return Check("backend", spec.name, "info", "HTTP: called from here, not from workers")
    unset = _unset_variables(spec, env)
    if spec.name in placement.why_not:
        return Check("backend", spec.name, "broken", placement.why_not[spec.name])
    if unset:
        return Check("backend", spec.name, "broken", f"its env table needs {unset}, unset here")
    names = {w.address: w.name for w in workers}
    able = placement.workers.get(spec.name, ())
    where = "every worker" if able is None else ", ".join(names.get(a, a) for a in able)
    return Check("backend", spec.name, "ok", f"runs on {where or 'no worker'}")


def _unset_variables(spec: BackendSpec, env: Mapping[str, str]) -> str:
    from llm_mux.compiler.envvars import UnsetVariable, expand_env

    missing = []
    for key, value in spec.env:
        try:
            expand_env(value, env)
        except UnsetVariable as error:
            missing.append(f"${error.name} (for {key})")
    return ", ".join(missing)
