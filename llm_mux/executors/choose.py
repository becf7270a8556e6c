"""Opening the run's executor: here, or connected to a cluster for the run's length.

Input: the settings (None for local), the project root, the run id, the plan's
backends and the environment. Output: an async context yielding the
`Executor`; on leaving it a cluster's remote work is stopped, the run's
snapshot copies are removed, and `record` gets where every piece of work ran.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from pathlib import Path

from llm_mux.compiler.plan import BackendSpec

from .local import LocalExecutor
from .settings import ExecutorSettings
from .work import Executor, Placement

__all__ = ["open_executor"]


@contextlib.asynccontextmanager
async def open_executor(
    settings: ExecutorSettings | None,
    root: Path,
    run: str,
    backends: Iterable[BackendSpec],
    env: Mapping[str, str],
    record: Callable[[Sequence[Placement]], None],
) -> AsyncIterator[Executor]:
    if settings is None:
        yield LocalExecutor(root, env)
        return
    from .cluster import connect  # distributed is imported only for a cluster run

    executor = await connect(settings, root, run, backends, env)
    try:
        yield executor
    finally:
        await executor.close()
        record(executor.placements)
