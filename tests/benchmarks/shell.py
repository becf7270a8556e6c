"""Shell steps: peak memory of a huge output, and many trivial steps at once.

- memory: a shell step printing 200 MB, run with `--output quiet` (its output thrown
  away). The child's peak RSS, from `wait4`, against the output's size. Goal: ≤ 3×.
- 200 independent `true` steps: the run's `duration_ms` against `xargs -P 2` running
  the same 200 `sh -c true`, timed in the same run. Goal: ≤ 2×.
"""

from __future__ import annotations

import json

from .harness import LLM_MUX, Figure, interleave, median, peak_rss, run, sandbox

OUTPUT_BYTES = 200_000_000
STEPS = 200


def big_output_workflow(size: int) -> str:
    return (
        'name = "big-output"\n\n[[steps]]\nname = "print"\ntype = "shell"\n'
        f"run = \"head -c {size} /dev/zero | tr '\\\\0' x\"\n"
    )


def many_steps_workflow(steps: int) -> str:
    return 'name = "many-steps"\n' + "".join(
        f'\n[[steps]]\nname = "t{i}"\ntype = "shell"\nrun = "true"\n' for i in range(steps)
    )


def bench_memory(runs: int) -> list[Figure]:
    with sandbox() as (root, env):
        big = root / "big.toml"
        big.write_text(big_output_workflow(OUTPUT_BYTES), encoding="utf-8")
        small = root / "small.toml"
        small.write_text(big_output_workflow(1), encoding="utf-8")

        def peak(workflow: str) -> float:
            argv = [*LLM_MUX, "--output", "quiet", "run", workflow]
            code, rss = peak_rss(argv, cwd=root, env=env)
            if code != 0:
                raise RuntimeError(f"{workflow} exited {code}")
            return rss

        peaks = interleave(runs, big=lambda: peak(str(big)), small=lambda: peak(str(small)))
    value = median(peaks["big"])
    return [
        Figure(
            "peak RSS, shell step printing 200 MB (--output quiet)",
            value / 1e6,
            OUTPUT_BYTES / 1e6,
            "the output's size",
            "MB",
            "≤ 3×",
            value <= 3 * OUTPUT_BYTES,
            (f"the same run printing 1 byte peaks at {median(peaks['small']) / 1e6:.0f} MB",),
        )
    ]


def bench_many_steps(runs: int) -> list[Figure]:
    with sandbox() as (root, env):
        workflow = root / "many.toml"
        workflow.write_text(many_steps_workflow(STEPS), encoding="utf-8")

        walls: list[float] = []

        def ours() -> float:
            done = run([*LLM_MUX, "--output", "json", "run", str(workflow)], cwd=root, env=env)
            document = json.loads(done.stdout or "{}")
            if done.code != 0 or not document.get("success"):
                raise RuntimeError(f"many-steps failed ({done.code}): {done.stderr}")
            walls.append(done.seconds * 1000)
            return float(document["duration_ms"])

        def xargs() -> float:
            argv = ["xargs", "-P", "2", "-I", "{}", "sh", "-c", "{}"]
            done = run(argv, cwd=root, env=env, stdin="true\n" * STEPS)
            if done.code != 0:
                raise RuntimeError(f"xargs failed: {done.stderr}")
            return done.seconds * 1000

        times = interleave(runs, ours=ours, xargs=xargs)
    value, baseline = median(times["ours"]), median(times["xargs"])
    return [
        Figure(
            f"{STEPS} independent `true` shell steps (run duration_ms)",
            value,
            baseline,
            f"xargs -P 2 running {STEPS} sh -c true",
            "ms",
            "≤ 2×",
            value <= 2 * baseline,
            (
                f"the whole `llm-mux run` (start-up, compile, run, ledger, report) took "
                f"{median(walls):.0f} ms",
            ),
        )
    ]
