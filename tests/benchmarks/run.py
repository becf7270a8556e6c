"""`scripts/bench`: run the benchmarks, print every figure with its ratio, optionally
rewrite the results table in docs/performance.md.

    scripts/bench                      every benchmark, default number of runs
    scripts/bench --only validate,compile
    scripts/bench --runs 3             the same number of runs for every benchmark
    scripts/bench --write-docs         also replace the table in docs/performance.md
                                       and its plot, docs/img/for-each.png
    scripts/bench --max-items 10000    for_each benchmarks without their larger sizes
    scripts/bench --max-items for_each_query=10000   (only the query benchmark's)

Exit 0 when every SPEC §6 goal holds, 1 otherwise.
"""

from __future__ import annotations

import argparse
import functools
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from . import backends, cluster, compile, for_each, noop, shell, startup
from .harness import REPO, Figure
from .plot import draw
from .report import document, machine, write_table

PAGE = REPO / "docs" / "performance.md"
PLOT = REPO / "docs" / "img" / "for-each.png"

Bench = Callable[[int], list[Figure]]
SIZED = {"for_each_shell": for_each.bench_shell, "for_each_query": for_each.bench_query}

# name → (benchmark, default runs)
BENCHMARKS: dict[str, tuple[Bench, int]] = {
    "validate": (startup.bench_validate, 21),
    "compile": (compile.bench_compile, 11),
    "parallel": (backends.bench_parallel, 5),
    "for_each_shell": (for_each.bench_shell, 3),
    "for_each_query": (for_each.bench_query, 3),
    "memory": (shell.bench_memory, 3),
    "steps": (shell.bench_many_steps, 11),
    "noop": (noop.bench_noop, 11),
    "cluster": (cluster.bench_cluster, 1),  # docs/cluster.md: starts LocalClusters
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="scripts/bench",
        description="SPEC §6 benchmarks: every figure against a baseline measured in the same run.",
    )
    parser.add_argument("--only", help="comma-separated: " + ", ".join(BENCHMARKS))
    parser.add_argument("--runs", type=int, help="runs per benchmark (default: per benchmark)")
    parser.add_argument(
        "--write-docs",
        "--write-readme",  # the table's old home; the spelling still works
        dest="write_docs",
        action="store_true",
        help="rewrite the table in docs/performance.md",
    )
    parser.add_argument(
        "--max-items",
        type=_limits,
        default={},
        help="leave out for_each sizes above N: N for both, or for_each_query=N,… "
        "(default: none left out — up to 100,000 shell and 50,000 query items)",
    )
    options = parser.parse_args(argv)
    names = options.only.split(",") if options.only else list(BENCHMARKS)
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}")
    machine_line = machine()
    figures: list[Figure] = []
    for name in names:
        bench, runs = BENCHMARKS[name]
        if name in SIZED:
            limit = options.max_items.get(name, options.max_items.get("*"))
            bench = functools.partial(SIZED[name], max_items=limit)
        started = time.perf_counter()
        print(f"bench: {name} …", file=sys.stderr, flush=True)
        figures += bench(options.runs or runs)
        print(f"bench: {name} done in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    given = sys.argv[1:] if argv is None else argv
    measuring = [a for a in given if a not in ("--write-docs", "--write-readme")]
    command = " ".join(["scripts/bench", *measuring])
    text = document(figures, machine_line, command)
    print(text)
    plotted = _plot(figures, PLOT if options.write_docs else None, machine_line)
    if options.write_docs:
        write_table(PAGE, text)
        print(f"\nwrote the table into {PAGE}", file=sys.stderr)
    if plotted is not None:
        print(plotted, file=sys.stderr)
    return 0 if all(f.ok for f in figures) else 1


def _limits(text: str) -> dict[str, int]:
    """`10000` (every for_each benchmark) or `for_each_query=10000,for_each_shell=1000`."""
    limits: dict[str, int] = {}
    for part in text.split(","):
        name, _, number = part.rpartition("=")
        if name and name not in SIZED:
            raise argparse.ArgumentTypeError(f"{name} is not one of: {', '.join(SIZED)}")
        try:
            limits[name or "*"] = int(number)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{number!r} is not a number of items") from None
    return limits


def _plot(figures: list[Figure], path: Path | None, caption: str) -> str | None:
    """Draw the figures' curves (if any): into `path`, or a temporary file."""
    plots = [figure.plot for figure in figures if figure.plot is not None]
    if not plots:
        return None
    if path is None:
        path = Path(tempfile.gettempdir()) / "llm-mux-bench" / "for-each.png"
    why_not = draw(plots, path, caption)
    return f"plot not drawn: {why_not}" if why_not else f"wrote the plot into {path}"
