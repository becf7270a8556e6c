"""`scripts/bench`: run the benchmarks, print every figure with its ratio, optionally
rewrite the results table in docs/performance.md.

    scripts/bench                      every benchmark, default number of runs
    scripts/bench --only validate,compile
    scripts/bench --runs 3             the same number of runs for every benchmark
    scripts/bench --write-docs         also replace the table in docs/performance.md

Exit 0 when every SPEC §6 goal holds, 1 otherwise.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable

from . import backends, compile, shell, startup
from .harness import REPO, Figure
from .report import document, machine, write_table

PAGE = REPO / "docs" / "performance.md"

Bench = Callable[[int], list[Figure]]

# name → (benchmark, default runs)
BENCHMARKS: dict[str, tuple[Bench, int]] = {
    "validate": (startup.bench_validate, 21),
    "compile": (compile.bench_compile, 11),
    "parallel": (backends.bench_parallel, 5),
    "for_each": (backends.bench_for_each, 3),
    "memory": (shell.bench_memory, 3),
    "steps": (shell.bench_many_steps, 11),
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
    options = parser.parse_args(argv)
    names = options.only.split(",") if options.only else list(BENCHMARKS)
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}")
    machine_line = machine()
    figures: list[Figure] = []
    for name in names:
        bench, runs = BENCHMARKS[name]
        started = time.perf_counter()
        print(f"bench: {name} …", file=sys.stderr, flush=True)
        figures += bench(options.runs or runs)
        print(f"bench: {name} done in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    command = "scripts/bench" + ("" if options.only is None else f" --only {options.only}")
    text = document(figures, machine_line, command)
    print(text)
    if options.write_docs:
        write_table(PAGE, text)
        print(f"\nwrote the table into {PAGE}", file=sys.stderr)
    return 0 if all(f.ok for f in figures) else 1
