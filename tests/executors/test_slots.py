"""Laws of `Slots`: never more calls handed out than the workers have slots, per group;
every call gets its turn; workers that join while calls wait add slots."""

from __future__ import annotations

import asyncio
import collections

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llm_mux.executors import slots as slots_module
from llm_mux.executors.placement import WorkerInfo
from llm_mux.executors.slots import Group, Slots


def _worker(n: int, threads: int, resources: dict[str, float] | None = None) -> WorkerInfo:
    return WorkerInfo(f"tcp://127.0.0.1:{9000 + n}", f"w{n}", resources or {}, threads)


async def _unchanged(workers: list[WorkerInfo]) -> list[WorkerInfo]:
    return workers


async def _run_calls(slots: Slots, groups: list[Group]) -> dict[Group, int]:
    """Hold each group's slot briefly; the most calls of each group held at once."""
    held: collections.Counter[Group] = collections.Counter()
    peak: collections.Counter[Group] = collections.Counter()

    async def call(group: Group, turns: int) -> None:
        async with slots.hold(group):
            held[group] += 1
            peak[group] = max(peak[group], held[group])
            for _ in range(turns):
                await asyncio.sleep(0)
            held[group] -= 1

    await asyncio.gather(*(call(g, 1 + i % 3) for i, g in enumerate(groups)))
    return dict(peak)


@settings(max_examples=60, deadline=None)
@given(
    threads=st.lists(st.integers(1, 4), min_size=1, max_size=5),
    picks=st.lists(st.integers(0, 2), min_size=1, max_size=40),
)
def test_calls_held_never_exceed_the_slots_of_their_group(
    threads: list[int], picks: list[int]
) -> None:
    workers = [
        _worker(n, t, {"gpu": 1}) if n == 0 else _worker(n, t) for n, t in enumerate(threads)
    ]
    first = (workers[0].address,)
    groups: list[Group] = [(None, None), (first, None), (first, "gpu")]
    slots = Slots(workers, lambda: _unchanged(workers))
    peak = asyncio.run(_run_calls(slots, [groups[p] for p in picks]))
    for group, most in peak.items():
        assert most <= slots.capacity(group)
    assert slots.capacity((None, None)) == sum(threads)
    assert slots.capacity((first, "gpu")) == 1


def test_a_burst_fills_every_slot_and_no_more() -> None:
    workers = [_worker(n, 2) for n in range(4)]
    slots = Slots(workers, lambda: _unchanged(workers))
    peak = asyncio.run(_run_calls(slots, [(None, None)] * 64))
    assert peak == {(None, None): 8}


@settings(max_examples=60, deadline=None)
@given(threads=st.lists(st.integers(1, 4), min_size=1, max_size=6), calls=st.integers(1, 60))
def test_a_call_any_worker_may_take_goes_to_a_worker_with_a_thread_free(
    threads: list[int], calls: int
) -> None:
    """The straggler of the module's text: with every slot held, each worker was given
    exactly its threads' worth of calls, never a third call on two threads."""
    workers = [_worker(n, t) for n, t in enumerate(threads)]
    slots = Slots(workers, lambda: _unchanged(workers))
    given_to: collections.Counter[str | None] = collections.Counter()
    most: collections.Counter[str | None] = collections.Counter()

    async def call() -> None:
        async with slots.hold((None, None)) as worker:
            given_to[worker] += 1
            most[worker] = max(most[worker], given_to[worker])
            await asyncio.sleep(0)
            given_to[worker] -= 1

    async def burst() -> None:
        await asyncio.gather(*(call() for _ in range(calls)))

    asyncio.run(burst())
    assert None not in most
    assert all(most[w.address] <= w.nthreads for w in workers)
    if calls >= sum(threads):
        assert all(most[w.address] == w.nthreads for w in workers)


def test_a_call_restricted_to_some_workers_is_left_to_the_scheduler() -> None:
    workers = [_worker(0, 2, {"gpu": 1}), _worker(1, 2)]
    slots = Slots(workers, lambda: _unchanged(workers))

    async def given(group: Group) -> str | None:
        async with slots.hold(group) as worker:
            return worker

    assert asyncio.run(given(((workers[0].address,), None))) is None
    assert asyncio.run(given((None, "gpu"))) is None
    assert asyncio.run(given((None, None))) == workers[0].address


def test_workers_joining_while_calls_wait_add_slots(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(slots_module, "_RECHECK", 0.01)
    known = [_worker(0, 1)]
    joined = [_worker(0, 1), _worker(1, 3)]

    async def later() -> list[WorkerInfo]:
        return joined

    async def scenario() -> int:
        slots = Slots(known, later)
        started = 0
        release = asyncio.Event()

        async def call() -> None:
            nonlocal started
            async with slots.hold((None, None)):
                started += 1
                await release.wait()

        calls = [asyncio.create_task(call()) for _ in range(4)]
        for _ in range(200):
            await asyncio.sleep(0.01)
            if started == 4:
                break
        release.set()
        await asyncio.gather(*calls)
        return started

    assert asyncio.run(scenario()) == 4  # one slot at first, four once w1 joined


def test_a_cancelled_waiter_leaves_its_turn_to_the_others() -> None:
    workers = [_worker(0, 1)]
    slots = Slots(workers, lambda: _unchanged(workers))

    async def scenario() -> list[str]:
        order: list[str] = []
        gate = asyncio.Event()

        async def call(name: str) -> None:
            async with slots.hold((None, None)):
                order.append(name)
                await gate.wait()

        first = asyncio.create_task(call("first"))
        await asyncio.sleep(0)
        doomed = asyncio.create_task(call("doomed"))
        last = asyncio.create_task(call("last"))
        await asyncio.sleep(0)
        doomed.cancel()
        gate.set()
        await asyncio.gather(first, last, doomed, return_exceptions=True)
        return order

    assert asyncio.run(scenario()) == ["first", "last"]
