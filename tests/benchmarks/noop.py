"""A no-op run: an unchanged, cached workflow run a second time, against `validate`.

The workflow (a shell step, a query step to the real test server on 127.0.0.1, and a
for_each of three queries, all `cache = true`) is run once to fill the step cache and
the compiled-plan cache; then `llm-mux run` and `llm-mux validate` on the same file are
timed from a cold interpreter, interleaved. Goal (issue 16): the no-op run calls no
backend and takes ≤ 1.5× validate's cold start. A second figure shows the fixed start-up
of any run — one uncached shell step — against the same validate (it was ~2.5× before
the plan cache).
"""

from __future__ import annotations

from support.openai_server import ModelServer

from .backends import backend_config
from .harness import LLM_MUX, Figure, interleave, median, run, sandbox

NOOP_RATIO = 1.5


def noop_workflow(url: str) -> str:
    return (
        'name = "noop"\ncache = true\n\n'
        + backend_config("model", url)
        + '[[steps]]\nname = "files"\ntype = "shell"\nrun = "printf \'a\\\\nb\\\\nc\\\\n\'"\n\n'
        + '[[steps]]\nname = "summary"\ntype = "query"\nbackend = "model"\n'
        + 'prompt = "Summarise {{ steps.files.output }}"\n\n'
        + '[[steps]]\nname = "each"\ntype = "query"\nbackend = "model"\n'
        + 'for_each = "steps.files.output | lines"\nprompt = "About {{ item }}"\n'
    )


SHELL = 'name = "start"\n\n[[steps]]\nname = "hello"\ntype = "shell"\nrun = "echo hello"\n'


def bench_noop(runs: int) -> list[Figure]:
    with sandbox() as (root, env), ModelServer() as server:
        workflow, shell = root / "noop.toml", root / "start.toml"
        workflow.write_text(noop_workflow(server.url), encoding="utf-8")
        shell.write_text(SHELL, encoding="utf-8")

        def timed(*argv: str) -> float:
            done = run([*LLM_MUX, *argv], cwd=root, env=env)
            if done.code != 0:
                raise RuntimeError(f"{argv} exited {done.code}: {done.stderr}")
            return done.seconds * 1000

        timed("run", str(workflow))  # fills the step cache and the plan cache
        timed("run", str(shell))
        asked = len(server.requests())
        times = interleave(
            runs,
            validate=lambda: timed("validate", str(workflow)),
            noop=lambda: timed("run", str(workflow)),
            start=lambda: timed("run", str(shell)),
        )
        again = len(server.requests()) - asked
    validate, noop, start = (median(times[k]) for k in ("validate", "noop", "start"))
    notes = (f"backend calls during the no-op runs: {again} (the first run made {asked})",)
    return [
        Figure(
            "no-op run of a cached workflow (cold start)",
            noop,
            validate,
            "llm-mux validate on the same file (cold start)",
            "ms",
            f"≤ {NOOP_RATIO}× and no backend call",
            noop <= NOOP_RATIO * validate and again == 0,
            notes,
        ),
        Figure(
            "run of one shell step (cold start, plan reused)",
            start,
            validate,
            "llm-mux validate (cold start)",
            "ms",
            "cheaper than 2.5× (before the plan cache)",
            start < 2.5 * validate,
        ),
    ]
