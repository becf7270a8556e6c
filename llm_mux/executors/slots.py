"""How much work a run hands the cluster at once: no more than its workers have slots.

Dask's scheduler gives a worker up to `worker-saturation` × its threads (1.1 by
default: 3 tasks on 2 threads). With calls of equal length, a worker holding a
third call starts it only when one of its two ends, while another worker may sit
idle: a straggler costing a whole call at the end of a burst (64 one-second calls
on 8 workers × 2 threads took 5.2 s instead of 4). Handing the cluster no more
calls than the workers that may run them have threads means each call goes to a
worker that starts it at once, whatever the scheduler's settings.

That still left the choice of worker to the scheduler, and the straggler came back
now and then (5 of 15 benchmark runs of 8 workers on 2026-12-07): a call that any
worker may take is therefore also given the worker holding the fewest of this run's
calls per thread, as a preference (`allow_other_workers`: a worker gone meanwhile
does not hold it up). With calls of one group, no worker is then given more calls
than it has threads.

Input: the workers as the run began (`WorkerInfo`). Output: `Slots.hold(group)`,
entered around each submitted call, giving the worker to prefer (None: the
scheduler's choice). A group is the workers a call may go to (None: any) and the
Dask resource it takes (None: none). The workers are read again from the scheduler
while calls wait, so workers joining a run add slots and workers leaving it take
theirs away.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence

from .placement import WorkerInfo

__all__ = ["Group", "Slots"]

Group = tuple[tuple[str, ...] | None, str | None]  # (workers, or any; resource, or none)

_RECHECK = 2.0  # seconds: how often a waiting call reads the workers again
_ANYWHERE: Group = (None, None)


class Slots:
    def __init__(
        self,
        workers: Sequence[WorkerInfo],
        refresh: Callable[[], Awaitable[Sequence[WorkerInfo]]],
    ) -> None:
        self._workers = tuple(workers)
        self._refresh = refresh
        self._refreshed = time.monotonic()
        self._busy: collections.Counter[Group] = collections.Counter()
        self._placed: collections.Counter[str] = collections.Counter()  # calls per worker
        self._waiters: collections.deque[asyncio.Future[None]] = collections.deque()

    def capacity(self, group: Group) -> int:
        """How many calls of `group` the workers can start at once (at least one)."""
        addresses, resource = group
        chosen = [w for w in self._workers if addresses is None or w.address in addresses]
        return max(1, sum(_slots(w, resource) for w in chosen))

    @contextlib.asynccontextmanager
    async def hold(self, group: Group) -> AsyncIterator[str | None]:
        """A slot for one call of `group`; for a call any worker may take, the worker
        to send it to (see the module's text), else None."""
        while self._busy[group] >= self.capacity(group):
            await self._wait()
        self._busy[group] += 1
        worker = self._least_placed() if group == _ANYWHERE else None
        if worker is not None:
            self._placed[worker] += 1
        try:
            yield worker
        finally:
            self._busy[group] -= 1
            if worker is not None:
                self._placed[worker] -= 1
            self._wake()

    def _least_placed(self) -> str | None:
        """The worker holding the fewest of the calls placed here, per thread."""
        if not self._workers:
            return None
        placed = self._placed
        return min(self._workers, key=lambda w: placed[w.address] / max(1, w.nthreads)).address

    async def _wait(self) -> None:
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            async with asyncio.timeout(_RECHECK):
                await waiter
        except TimeoutError:
            await self._read_workers()
        finally:
            with contextlib.suppress(ValueError):
                self._waiters.remove(waiter)

    def _wake(self) -> None:
        """Let every waiting call look again: each checks its own group, so a slot freed
        in one group never sits unused while a call of another holds the only wake-up."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)

    async def _read_workers(self) -> None:
        if time.monotonic() - self._refreshed < _RECHECK:
            return
        self._refreshed = time.monotonic()
        with contextlib.suppress(Exception):  # keep the workers known so far
            self._workers = tuple(await self._refresh())


def _slots(worker: WorkerInfo, resource: str | None) -> int:
    if resource is None:
        return worker.nthreads
    return min(worker.nthreads, int(worker.resources.get(resource, 0)))
