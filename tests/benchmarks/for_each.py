"""for_each over many items: the cost per item as the list grows, against baselines
timed in the same run.

- shell: for_each of 1,000 / 10,000 / 100,000 items running `true`, concurrency 8. The
  whole `llm-mux run` (start-up, compile, the items, ledger, report), net of the same
  run over 0 items, divided by the number of items; baseline `xargs -P 8` running
  `sh -c true` once per line of the same list. Goals: ≤ 1.3× xargs per item at every
  size, and the per-item cost at 100,000 ≤ 1.2× that at 1,000.
- memory: those runs' peak RSS net of the 0-item run's, per item (the items' outputs
  are empty). Goal: ≤ 1.5 KB per item.
- query: for_each of 1,000 / 10,000 / 50,000 query items, concurrency 64, against the
  test server (`support.openai_server`, 20 ms per answer), net of the 0-item run;
  baseline the bare `httpx.AsyncClient` loop of `backends.py` against the same server.
  Goals: at 50,000, ≥ 0.8× the bare loop's throughput and within 1.2× of the
  1,000-item throughput.

Each size is measured `runs` times, interleaved with its baseline (medians); a size
under 5,000 items is measured 5,000 // size times as often, each run beside a 0-item
run, because the start-up noise in a short run's net time weighs on few items (1,000
items: 15 runs by default). Every figure also carries the curve it belongs to, which
`scripts/bench` plots.
`max_items` leaves out the larger sizes (a quick look on a busy machine).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from support.openai_server import ModelServer, Reply

from .backends import BARE_LOOP, backend_config
from .harness import LLM_MUX, PYTHON, Figure, Measured, Plot, measure, median, run, sandbox

SHELL_SIZES = (1_000, 10_000, 100_000)
QUERY_SIZES = (1_000, 10_000, 50_000)
SHELL_CONCURRENCY = 8
QUERY_CONCURRENCY = 64
ANSWER_LATENCY = 0.02
MEMORY_GOAL = 1536  # bytes per item
ROUND_ITEMS = 5_000  # a size below this is run more than once a round (see _repeats)
DEADLINE = 1800.0  # seconds for one child: 100,000 items on a busy machine


def shell_workflow(items: int) -> str:
    return (
        'name = "many-items"\n\n'
        f'[[steps]]\nname = "list"\ntype = "shell"\nrun = "seq {items}"\n\n'
        '[[steps]]\nname = "each"\ntype = "shell"\n'
        'for_each = "steps.list.output | lines"\n'
        f'concurrency = {SHELL_CONCURRENCY}\nrun = "true"\n'
    )


def query_workflow(url: str, items: int) -> str:
    return (
        'name = "many-queries"\n\n'
        + backend_config("local", url)
        + f'[[steps]]\nname = "questions"\ntype = "shell"\nrun = "seq {items}"\n\n'
        + '[[steps]]\nname = "ask"\ntype = "query"\nbackend = "local"\n'
        + 'for_each = "steps.questions.output | lines"\n'
        + f"concurrency = {QUERY_CONCURRENCY}\n"
        + 'prompt = "question {{ item }}"\n'
    )


def _repeats(size: int) -> int:
    """How often a round measures `size`, each time beside a 0-item run: a run of few
    items is short, so the start-up noise its net time carries weighs more on each item;
    a round holds at least `ROUND_ITEMS` items' worth of runs."""
    return max(1, ROUND_ITEMS // size)


def _sizes(sizes: Sequence[int], max_items: int | None) -> list[int]:
    kept = [size for size in sizes if max_items is None or size <= max_items]
    return kept or [min(sizes)]


class _Runs:
    """`llm-mux run` of a workflow written for each size, net of its 0-item run."""

    def __init__(self, root: Path, env: dict[str, str], workflow: Callable[[int], str]) -> None:
        self.root = root
        self.env = env
        self.workflow = workflow
        self.empty: list[Measured] = []
        self.by_size: dict[int, list[Measured]] = {}

    def ours(self, items: int) -> Measured:
        path = self.root / f"items-{items}.toml"
        if not path.exists():
            path.write_text(self.workflow(items), encoding="utf-8")
        argv = [*LLM_MUX, "run", str(path)]
        done = measure(argv, cwd=self.root, env=self.env, deadline=DEADLINE)
        if done.code != 0:
            raise RuntimeError(f"{path.name} exited {done.code}: {done.stderr[-2000:]}")
        (self.empty if items == 0 else self.by_size.setdefault(items, [])).append(done)
        return done

    def net_seconds(self, items: int) -> float:
        """Median wall time of the `items` runs, less the 0-item runs' median."""
        empty = median([m.seconds for m in self.empty])
        return median([m.seconds for m in self.by_size[items]]) - empty

    def net_memory(self, items: int) -> float:
        empty = median([m.peak_rss for m in self.empty])
        return median([m.peak_rss for m in self.by_size[items]]) - empty


def bench_shell(runs: int, max_items: int | None = None) -> list[Figure]:
    sizes = _sizes(SHELL_SIZES, max_items)
    xargs: dict[int, list[float]] = {size: [] for size in sizes}
    with sandbox() as (root, env):
        ours = _Runs(root, env, shell_workflow)
        for _ in range(runs):
            for size in sizes:
                for _ in range(_repeats(size)):
                    ours.ours(0)
                    ours.ours(size)
                    xargs[size].append(_xargs(root, env, size))
        per_item = {size: ours.net_seconds(size) / size * 1e6 for size in sizes}
        baseline = {size: median(xargs[size]) / size * 1e6 for size in sizes}
        memory = {size: ours.net_memory(size) / size for size in sizes}
        empty_rss = median([m.peak_rss for m in ours.empty])
        empty_wall = median([m.seconds for m in ours.empty])
    plot = Plot(
        f"shell items (`true`), concurrency {SHELL_CONCURRENCY}",
        "µs per item",
        {"llm-mux for_each": _points(per_item), "xargs -P 8": _points(baseline)},
    )
    figures = [
        Figure(
            f"for_each of {size:,} shell items, per item",
            per_item[size],
            baseline[size],
            f"xargs -P {SHELL_CONCURRENCY} running sh -c true",
            "µs",
            "≤ 1.3×",
            per_item[size] <= 1.3 * baseline[size],
            (f"the 0-item run (start-up, compile, ledger) took {empty_wall * 1000:.0f} ms",)
            if size == sizes[0]
            else (),
            plot if size == sizes[-1] else None,
        )
        for size in sizes
    ]
    largest, smallest = sizes[-1], sizes[0]
    figures.append(
        Figure(
            f"for_each per-item cost at {largest:,} shell items",
            per_item[largest],
            per_item[smallest],
            f"per item at {smallest:,}",
            "µs",
            "≤ 1.2×",
            per_item[largest] <= 1.2 * per_item[smallest],
        )
    )
    figures.append(
        Figure(
            f"peak RSS per item, for_each of {largest:,} shell items",
            memory[largest],
            MEMORY_GOAL,
            "the goal",
            "B",
            "≤ 1×",
            memory[largest] <= MEMORY_GOAL,
            (
                "per item at each size: "
                + ", ".join(f"{size:,}: {memory[size]:,.0f} B" for size in sizes)
                + f"; the 0-item run peaks at {empty_rss / 1e6:.0f} MB",
            ),
        )
    )
    return figures


def _xargs(root: Path, env: dict[str, str], items: int) -> float:
    lines = root / f"lines-{items}.txt"
    if not lines.exists():
        lines.write_text("true\n" * items, encoding="utf-8")
    argv = ["xargs", "-P", str(SHELL_CONCURRENCY), "-I", "{}", "sh", "-c", "{}"]
    done = measure(argv, cwd=root, env=env, stdin=lines, deadline=DEADLINE)
    if done.code != 0:
        raise RuntimeError(f"xargs exited {done.code}: {done.stderr[-2000:]}")
    return done.seconds


def bench_query(runs: int, max_items: int | None = None) -> list[Figure]:
    sizes = _sizes(QUERY_SIZES, max_items)
    bare: dict[int, list[float]] = {size: [] for size in sizes}
    with sandbox() as (root, env), ModelServer(keep_requests=False) as server:
        server.default = Reply("ok", latency=ANSWER_LATENCY)
        ours = _Runs(root, env, lambda items: query_workflow(server.url, items))
        for _ in range(runs):
            for size in sizes:
                for _ in range(_repeats(size)):
                    ours.ours(0)
                    ours.ours(size)
                    bare[size].append(_bare_loop(server.url, env, size))
        rate = {size: size / ours.net_seconds(size) for size in sizes}
        baseline = {size: size / median(bare[size]) for size in sizes}
        memory = {size: ours.net_memory(size) / size for size in sizes}
    plot = Plot(
        f"query items, concurrency {QUERY_CONCURRENCY}, {ANSWER_LATENCY * 1000:.0f} ms answers",
        "µs per item",
        {
            "llm-mux for_each": _points({s: 1e6 / r for s, r in rate.items()}),
            "bare httpx loop": _points({s: 1e6 / r for s, r in baseline.items()}),
        },
    )
    figures = [
        Figure(
            f"for_each of {size:,} queries, concurrency {QUERY_CONCURRENCY}",
            rate[size],
            baseline[size],
            f"bare httpx.AsyncClient loop, semaphore {QUERY_CONCURRENCY}",
            "calls/s",
            "≥ 0.8×",
            rate[size] >= 0.8 * baseline[size],
            (f"peak RSS per item {memory[size]:,.0f} B",),
            plot if size == sizes[-1] else None,
        )
        for size in sizes
    ]
    largest, smallest = sizes[-1], sizes[0]
    figures.append(
        Figure(
            f"for_each throughput at {largest:,} queries",
            rate[largest],
            rate[smallest],
            f"throughput at {smallest:,}",
            "calls/s",
            "≥ 1/1.2×",
            rate[smallest] <= 1.2 * rate[largest],
        )
    )
    return figures


def _bare_loop(url: str, env: dict[str, str], items: int) -> float:
    argv = [PYTHON, "-c", BARE_LOOP, url, str(items), str(QUERY_CONCURRENCY)]
    done = run(argv, env=env, deadline=DEADLINE)
    if done.code != 0:
        raise RuntimeError(f"the bare httpx loop failed: {done.stderr}")
    return float(done.stdout)


def _points(values: dict[int, float]) -> tuple[tuple[int, float], ...]:
    return tuple(sorted(values.items()))
