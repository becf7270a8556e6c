"""Compile time of generated 50-, 500- and 5,000-step workflows: linear scaling.

Each workflow mixes what real ones hold — shell steps quoting earlier outputs, query
steps through a role, conditions, `depends_on`, for_each over lines — so every pass
(decode, templates, expressions, references, cycles, ordering, lowering) has work.
`llm-mux plan --debug` prints its compile time (config, reading, every pass); the
baseline is the same for a 1-step workflow, measured in the same run. Goal: net
5,000-step compile ≤ 1 s and net 5,000 / net 500 ≤ 12×.
"""

from __future__ import annotations

import re
from pathlib import Path

from .harness import LLM_MUX, Figure, interleave, median, run, sandbox

SIZES = (1, 50, 500, 5000)
_COMPILED = re.compile(r"compiled in ([0-9.]+) ms")

_HEAD = """\
name = "generated"
description = "A generated workflow for the compile benchmark"

[args.topic]
default = "benchmarks"

[backends.local]
command = "cat"

[roles.default]
backends = ["local"]
"""


def workflow(steps: int) -> str:
    """A workflow of `steps` steps, each depending on earlier ones."""
    return _HEAD + "".join(_step(i) for i in range(steps))


def _step(i: int) -> str:
    name = f"s{i}"
    if i == 0:
        return f'\n[[steps]]\nname = "{name}"\ntype = "shell"\nrun = "echo {{{{ args.topic }}}}"\n'
    previous = f"steps.s{i - 1}"
    match i % 4:
        case 0:
            run = f"echo {{{{ args.topic }}}} {{{{ {previous}.output }}}}"
            body = f'type = "shell"\nrun = "{run}"\n'
        case 1:
            prompt = f"Summarise this:\n{{{{ {previous}.output | truncate_chars(200) }}}}\n"
            body = f'type = "query"\nrole = "default"\nprompt = """{prompt}"""\n'

        case 2:
            body = (
                f'type = "shell"\nif = "not {previous}.failed and args.topic != \'skip\'"\n'
                f'depends_on = ["s{i // 2}"]\nrun = "wc -c <<< {{{{ {previous}.output }}}}"\n'
                'shell = "bash"\n'
            )
        case _:
            body = (
                f'type = "shell"\nfor_each = "steps.s{i - 2}.output | lines"\nconcurrency = 4\n'
                'run = "echo {{ loop.index }}: {{ item }}"\ncontinue_on_error = true\n'
            )
    return f'\n[[steps]]\nname = "{name}"\n{body}'


def bench_compile(runs: int) -> list[Figure]:
    compiled: dict[int, list[float]] = {}
    walls: dict[int, list[float]] = {}
    with sandbox() as (root, env):
        paths = {n: _write(root / f"wf{n}.toml", workflow(n)) for n in SIZES}

        def plan(steps: int) -> float:
            done = run([*LLM_MUX, "plan", str(paths[steps]), "--debug"], cwd=root, env=env)
            found = _COMPILED.search(done.stderr)
            if done.code != 0 or found is None:
                raise RuntimeError(f"plan of {steps} steps failed ({done.code}): {done.stderr}")
            walls.setdefault(steps, []).append(done.seconds * 1000)
            return float(found.group(1))

        compiled = interleave(runs, **{str(n): (lambda n=n: plan(n)) for n in SIZES})  # type: ignore[misc]
    one = median(compiled["1"])
    net = {n: median(compiled[str(n)]) - one for n in SIZES}
    wall_net = {n: median(walls[n]) - median(walls[1]) for n in SIZES}
    notes = (
        "compile net of a 1-step workflow ("
        + ", ".join(f"{n:,} steps: {net[n]:.0f} ms" for n in SIZES[1:])
        + f"; 1 step: {one:.1f} ms)",
        "whole `plan` wall time net of the 1-step one ("
        + ", ".join(f"{n:,}: {wall_net[n]:.0f} ms" for n in SIZES[1:])
        + f"; 1 step: {median(walls[1]):.0f} ms)",
    )
    return [
        Figure(
            "compile 5,000 steps, net of 1 step",
            net[5000],
            median(walls[1]),
            "plan of a 1-step workflow (wall)",
            "ms",
            "≤ 1 s",
            net[5000] <= 1000,
            notes,
        ),
        Figure(
            "compile scaling: net 5,000 steps",
            net[5000],
            net[500],
            "net 500 steps",
            "ms",
            "≤ 12×",
            net[5000] <= 12 * net[500],
        ),
    ]


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path
